import Builtin

// The trustlet's heap: size-classed free lists over pages taken with `memory.grow`.
//
// Freed blocks go back on their class's list and are reused, so a trustlet that allocates the same
// sizes on every invocation keeps a flat footprint however many invocations it serves. Blocks of
// more than 64 KiB are whole page runs, kept on a list of their own and reused first-fit.
// Single-threaded: a trustlet instance runs one call at a time.

private let headerSize = 16
private let pageSize = 65536
private let classCount = 13  // 16 B … 64 KiB

/// Free-list heads per size class, and one list for large runs.
nonisolated(unsafe) private var freeLists = (
    UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0), UInt(0)
)
nonisolated(unsafe) private var largeFree: UInt = 0
nonisolated(unsafe) private var bumpNext: UInt = 0
nonisolated(unsafe) private var bumpEnd: UInt = 0

@inline(__always)
private func freeHead(_ index: Int) -> UnsafeMutablePointer<UInt> {
    withUnsafeMutablePointer(to: &freeLists) { UnsafeMutableRawPointer($0).assumingMemoryBound(to: UInt.self) + index }
}

private func sizeClass(_ size: Int) -> Int? {
    var capacity = 16
    var index = 0
    while capacity < size {
        capacity <<= 1
        index += 1
        if index >= classCount { return nil }
    }
    return index
}

/// Takes `count` fresh pages from the host; `nil` when the memory cap is reached.
private func growPages(_ count: Int) -> UInt? {
    let previous = Int32(Builtin.int_wasm_memory_grow_Int32(Int32(0)._value, Int32(count)._value))
    if previous < 0 { return nil }
    return UInt(previous) * UInt(pageSize)
}

/// A block of at least `size` bytes, 16-byte aligned; `nil` when memory is exhausted.
func trustletAllocate(_ size: Int) -> UnsafeMutableRawPointer? {
    if size < 0 { return nil }
    if let index = sizeClass(size) {
        let head = freeHead(index)
        if head.pointee != 0 {
            let block = head.pointee
            head.pointee = UnsafeMutablePointer<UInt>(bitPattern: block)!.pointee
            return UnsafeMutableRawPointer(bitPattern: block + UInt(headerSize))
        }
        let total = UInt(headerSize + (16 << index))
        if bumpNext + total > bumpEnd {
            let pages = (Int(total) + pageSize - 1) / pageSize
            guard let start = growPages(pages) else { return nil }
            if start != bumpEnd { bumpNext = start }
            bumpEnd = start + UInt(pages * pageSize)
        }
        let block = bumpNext
        bumpNext += total
        UnsafeMutablePointer<Int>(bitPattern: block + UInt(MemoryLayout<UInt>.size))!.pointee = index
        return UnsafeMutableRawPointer(bitPattern: block + UInt(headerSize))
    }
    // Large: a run of whole pages; the header holds its page count.
    let pages = (size + headerSize + pageSize - 1) / pageSize
    var previous: UInt = 0
    var candidate = largeFree
    while candidate != 0 {
        let header = UnsafeMutablePointer<Int>(bitPattern: candidate + UInt(MemoryLayout<UInt>.size))!
        let next = UnsafeMutablePointer<UInt>(bitPattern: candidate)!.pointee
        if -header.pointee >= pages {
            if previous == 0 { largeFree = next } else { UnsafeMutablePointer<UInt>(bitPattern: previous)!.pointee = next }
            return UnsafeMutableRawPointer(bitPattern: candidate + UInt(headerSize))
        }
        previous = candidate
        candidate = next
    }
    guard let start = growPages(pages) else { return nil }
    UnsafeMutablePointer<Int>(bitPattern: start + UInt(MemoryLayout<UInt>.size))!.pointee = -pages
    return UnsafeMutableRawPointer(bitPattern: start + UInt(headerSize))
}

func trustletFree(_ pointer: UnsafeMutableRawPointer?) {
    guard let pointer else { return }
    let block = UInt(bitPattern: pointer) - UInt(headerSize)
    let index = UnsafeMutablePointer<Int>(bitPattern: block + UInt(MemoryLayout<UInt>.size))!.pointee
    if index >= 0 && index < classCount {
        let head = freeHead(index)
        UnsafeMutablePointer<UInt>(bitPattern: block)!.pointee = head.pointee
        head.pointee = block
    } else {
        UnsafeMutablePointer<UInt>(bitPattern: block)!.pointee = largeFree
        largeFree = block
    }
}

// MARK: What the Embedded Swift runtime needs from its platform

@_cdecl("posix_memalign")
public func posix_memalign(_ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ alignment: Int, _ size: Int) -> Int32 {
    guard alignment <= 16, let block = trustletAllocate(size) else { return 12 }  // ENOMEM
    out.pointee = block
    return 0
}

/// `free` itself is reserved to the C library; the link wraps it (`--wrap=free`).
@_cdecl("__wrap_free")
public func __wrap_free(_ pointer: UnsafeMutableRawPointer?) {
    trustletFree(pointer)
}

@_cdecl("memcpy")
public func memcpy(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer, _ count: Int) -> UnsafeMutableRawPointer {
    destination.copyMemory(from: source, byteCount: count)  // lowers to memory.copy
    return destination
}

@_cdecl("memmove")
public func memmove(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer, _ count: Int) -> UnsafeMutableRawPointer {
    destination.copyMemory(from: source, byteCount: count)  // memory.copy handles overlap
    return destination
}

@_cdecl("memset")
public func memset(_ destination: UnsafeMutableRawPointer, _ value: Int32, _ count: Int) -> UnsafeMutableRawPointer {
    destination.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: value), count: count)  // memory.fill
    return destination
}

@_cdecl("memcmp")
public func memcmp(_ lhs: UnsafeRawPointer, _ rhs: UnsafeRawPointer, _ count: Int) -> Int32 {
    var index = 0
    while index < count {
        let a = lhs.load(fromByteOffset: index, as: UInt8.self)
        let b = rhs.load(fromByteOffset: index, as: UInt8.self)
        if a != b { return a < b ? -1 : 1 }
        index += 1
    }
    return 0
}

/// Hash seeding for `Dictionary` and `Set`, from the runtime's random source.
@_cdecl("arc4random_buf")
public func arc4random_buf(_ buffer: UnsafeMutableRawPointer, _ count: Int) {
    // The stdlib cannot be told of a failure here: without randomness the call traps (ending the
    // session) rather than hand out zeros.
    if tz_random(buffer: buffer, bufferLength: Int32(count)) != 0 { fatalError("no randomness: the trustlet needs the random capability") }
}

/// This trustlet's linear memory, as the runtime granted it.
public enum TrustletMemory {
    /// The size of linear memory, in 64 KiB pages. It only grows; a trustlet whose allocations are
    /// reused keeps it flat however many calls it serves.
    public static var pages: Int {
        Int(Int32(Builtin.int_wasm_memory_size_Int32(Int32(0)._value)))
    }
}
