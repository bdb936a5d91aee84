import TrustletKit

// Workloads for `trubizone-bench`.
//   0  no-op
//   1  hash the 1 MiB buffer with FNV-1a in Swift, here in the guest → [0] value output (high, low)
//   2  hash the 1 MiB buffer with SHA-256 through the internal API → [0] memref output (32 bytes)

nonisolated(unsafe) var buffer: [UInt8] = []

/// FNV-1a 64 — the same Swift as `trubizone-bench` runs natively, to compare like with like.
func fnv1a(_ bytes: [UInt8]) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01B3
    }
    return hash
}

@main
struct Bench: Trustlet {
    init() throws(TrustletError) {
        buffer = [UInt8](repeating: 0, count: 1 << 20)
        for index in 0..<buffer.count { buffer[index] = UInt8(truncatingIfNeeded: index &* 31 &+ 7) }
    }

    mutating func invoke(command: UInt32, parameters: inout Parameters) throws(TrustletError) {
        switch command {
        case 0:
            return
        case 1:
            let hash = fnv1a(buffer)
            try parameters.setValue(0, a: UInt32(truncatingIfNeeded: hash >> 32), b: UInt32(truncatingIfNeeded: hash))
        case 2:
            try parameters.setBytes(0, try Digest.sha256(buffer))
        default:
            throw .notSupported
        }
    }
}
