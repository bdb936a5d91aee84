/// A keyed multiset digest: the sum, modulo 2^256, of an HMAC of every live object version.
///
/// Adding or replacing one object changes the digest in constant time (subtract the old element,
/// add the new one), so the namespace state root can be updated on every write without rewriting a
/// directory file. Because the elements are HMACs under a key only the secure world holds, the
/// attacker cannot compute any element, let alone find a different set with the same sum
/// (the MSet-Add-Hash construction of Clarke et al.).
struct StateDigest: Equatable {
    static let zero = StateDigest(Array(repeating: 0, count: 32))
    private(set) var bytes: [UInt8]

    init(_ bytes: [UInt8]) {
        precondition(bytes.count == 32)
        self.bytes = bytes
    }

    static func + (lhs: StateDigest, rhs: StateDigest) -> StateDigest {
        var out = [UInt8](repeating: 0, count: 32)
        var carry: UInt16 = 0
        for i in stride(from: 31, through: 0, by: -1) {
            let sum = UInt16(lhs.bytes[i]) + UInt16(rhs.bytes[i]) + carry
            out[i] = UInt8(sum & 0xFF)
            carry = sum >> 8
        }
        return StateDigest(out)
    }

    static func - (lhs: StateDigest, rhs: StateDigest) -> StateDigest {
        var out = [UInt8](repeating: 0, count: 32)
        var borrow: Int16 = 0
        for i in stride(from: 31, through: 0, by: -1) {
            var difference = Int16(lhs.bytes[i]) - Int16(rhs.bytes[i]) - borrow
            borrow = difference < 0 ? 1 : 0
            if difference < 0 { difference += 256 }
            out[i] = UInt8(difference)
        }
        return StateDigest(out)
    }
}
