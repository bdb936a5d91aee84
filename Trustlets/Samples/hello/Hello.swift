import TrustletKit

/// `hello`: echoes what it is given and counts its invocations in sealed storage.
///
/// Command 0: [0] memref input → [1] memref output (the same bytes), [2] value output a = how many
/// times this trustlet has been invoked, across sessions and restarts.
@main
struct Hello: Trustlet {
    static let counterID: [UInt8] = [0x63, 0x6F, 0x75, 0x6E, 0x74]  // "count"

    init() throws(TrustletError) {}

    mutating func invoke(command: UInt32, parameters: inout Parameters) throws(TrustletError) {
        guard command == 0 else { throw .notSupported }
        try parameters.expect(.memrefInput, .memrefOutput, .valueOutput)
        let count = try Self.bumpCounter()
        try parameters.setValue(2, a: count)
        try parameters.setBytes(1, try parameters.bytes(0))
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
