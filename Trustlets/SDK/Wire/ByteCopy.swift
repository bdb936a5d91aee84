// Byte copies for both worlds, written once (compiled into TrustletKit and TrubiZoneWire).
//
// In a trustlet, `Array(slice)` compiles to a copy loop of one byte per step, which an
// interpreter runs slowly on a page of records; these compile to one `memory.copy`.

extension Array where Element == UInt8 {
    /// A copy of `bytes`, moved as one block.
    public init(copying bytes: ArraySlice<UInt8>) {
        self = bytes.withUnsafeBufferPointer { source in
            [UInt8](unsafeUninitializedCapacity: source.count) { buffer, count in
                if let from = source.baseAddress, let to = buffer.baseAddress, source.count > 0 {
                    UnsafeMutableRawPointer(to).copyMemory(from: UnsafeRawPointer(from), byteCount: source.count)
                }
                count = source.count
            }
        }
    }

    /// Whether every byte from `start` on is zero, read a word at a time (with no early exit).
    public func isZero(from start: Int) -> Bool {
        guard start < count else { return true }
        return withUnsafeBytes { raw in
            var accumulated: UInt64 = 0
            var index = start
            while index + 8 <= raw.count {
                accumulated |= raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                index += 8
            }
            while index < raw.count {
                accumulated |= UInt64(raw[index])
                index += 1
            }
            return accumulated == 0
        }
    }
}

/// Whether two buffers hold the same bytes, compared a word at a time (no early exit).
public func sameBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt64 = 0
    var index = 0
    while index + 8 <= a.count {
        difference |= a.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ b.loadUnaligned(fromByteOffset: index, as: UInt64.self)
        index += 8
    }
    while index < a.count {
        difference |= UInt64(a[index] ^ b[index])
        index += 1
    }
    return difference == 0
}

extension String {
    /// Whether both strings hold the same UTF-8 bytes, compared as two buffers (in a trustlet,
    /// `utf8.elementsEqual` costs a generic iterator step per byte).
    public func sameUTF8(_ other: String) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        var a = self, b = other
        return a.withUTF8 { x in b.withUTF8 { y in sameBytes(UnsafeRawBufferPointer(x), UnsafeRawBufferPointer(y)) } }
    }
}
