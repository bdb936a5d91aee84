import WasmKit

/// Why a trustlet's call into the runtime ended its session.
struct SandboxFault: Error, CustomStringConvertible {
    let description: String

    static func badPointer(_ function: String, _ what: String, address: UInt32, length: UInt32) -> SandboxFault {
        SandboxFault(description: "tz.\(function) was given \(what) at \(address) of \(length) bytes outside the trustlet's memory")
    }
}

/// The work one host call did, in bytes moved through the guest's memory.
final class WorkMeter {
    var bytes: UInt64 = 0
}

/// A trustlet's linear memory as the runtime touches it: every access is checked first, in 64-bit
/// arithmetic, so no guest pointer can reach outside the guest (WasmKit's own check would crash
/// the whole runtime instead).
struct GuestMemory {
    let memory: Memory
    let function: String
    /// Counts the bytes a host call reads and writes, so that its fuel grows with its work.
    var meter: WorkMeter? = nil

    var size: UInt64 { UInt64(memory.byteCount) }

    func check(_ address: UInt32, _ length: UInt32, _ what: String) throws(SandboxFault) {
        guard UInt64(address) + UInt64(length) <= size else {
            throw .badPointer(function, what, address: address, length: length)
        }
    }

    func read(_ address: UInt32, _ length: UInt32, _ what: String) throws(SandboxFault) -> [UInt8] {
        try check(address, length, what)
        meter?.bytes += UInt64(length)
        if length == 0 { return [] }
        return memory.withUnsafeBufferPointer(offset: UInt(address), count: Int(length)) { Array($0) }
    }

    /// Runs `body` over guest bytes in place, without copying them out (large inputs to crypto).
    func withBytes<R>(_ address: UInt32, _ length: UInt32, _ what: String, _ body: (UnsafeRawBufferPointer) -> R) throws(SandboxFault) -> R {
        try check(address, length, what)
        meter?.bytes += UInt64(length)
        if length == 0 { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return memory.withUnsafeBufferPointer(offset: UInt(address), count: Int(length)) { body($0) }
    }

    func write(_ address: UInt32, _ bytes: [UInt8], _ what: String) throws(SandboxFault) {
        try check(address, UInt32(clamping: bytes.count), what)
        meter?.bytes += UInt64(bytes.count)
        if bytes.isEmpty { return }
        memory.withUnsafeMutableBufferPointer(offset: UInt(address), count: bytes.count) { target in
            bytes.withUnsafeBytes { target.copyMemory(from: $0) }
        }
    }

    func readU32(_ address: UInt32, _ what: String) throws(SandboxFault) -> UInt32 {
        let bytes = try read(address, 4, what)
        return UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
    }

    func writeU64(_ address: UInt32, _ value: UInt64, _ what: String) throws(SandboxFault) {
        try write(address, (0..<8).map { UInt8((value >> UInt64(8 * $0)) & 0xFF) }, what)
    }

    func writeU32(_ address: UInt32, _ value: UInt32, _ what: String) throws(SandboxFault) {
        try write(address, [UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF), UInt8((value >> 16) & 0xFF), UInt8(value >> 24)], what)
    }
}
