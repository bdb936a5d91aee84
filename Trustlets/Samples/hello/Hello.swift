import TrustletKit

/// `hello`: echoes what it is given and counts its invocations in sealed storage.
///
/// Command 0: [0] memref input → [1] memref output (the same bytes), [2] value output a = how many
/// times this trustlet has been invoked, across sessions and restarts.
/// Command 1: [0] value output (high, low) = its "visits" monotonic counter, incremented.
/// Command 2: [0] value output a = wall-clock seconds (low 32 bits), [1] value output (high, low) =
/// monotonic nanoseconds.
@main
struct Hello: Trustlet {
    static let counterID: [UInt8] = [0x63, 0x6F, 0x75, 0x6E, 0x74]  // "count"

    init() throws(TrustletError) {}

    mutating func invoke(command: UInt32, parameters: inout Parameters) throws(TrustletError) {
        switch command {
        case 0:
            try parameters.expect(.memrefInput, .memrefOutput, .valueOutput)
            let count = try Self.bumpCounter()
            try parameters.setValue(2, a: count)
            try parameters.setBytes(1, try parameters.bytes(0))
        case 1:
            try parameters.expect(.valueOutput)
            let visits = try MonotonicCounter.increment([0x76, 0x69, 0x73, 0x69, 0x74, 0x73])  // "visits"
            try parameters.setValue(0, a: UInt32(truncatingIfNeeded: visits >> 32), b: UInt32(truncatingIfNeeded: visits))
        case 2:
            try parameters.expect(.valueOutput, .valueOutput)
            let wall = try TrustedTime.wallClockSeconds()
            let monotonic = try TrustedTime.monotonicNanoseconds()
            try parameters.setValue(0, a: UInt32(truncatingIfNeeded: wall))
            try parameters.setValue(1, a: UInt32(truncatingIfNeeded: monotonic >> 32), b: UInt32(truncatingIfNeeded: monotonic))
        default:
            throw .notSupported
        }
    }

    static func bumpCounter() throws(TrustletError) -> UInt32 {
        var count: UInt32 = 0
        if let stored = try SecureStorage.read(counterID), stored.count == 4 {
            count = UInt32(stored[0]) << 24 | UInt32(stored[1]) << 16 | UInt32(stored[2]) << 8 | UInt32(stored[3])
        }
        count &+= 1
        try SecureStorage.write(counterID, [UInt8(count >> 24), UInt8((count >> 16) & 0xFF), UInt8((count >> 8) & 0xFF), UInt8(count & 0xFF)])
        return count
    }
}
