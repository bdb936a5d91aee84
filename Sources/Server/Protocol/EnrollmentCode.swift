import Crypto
import Foundation

/// A one-time enrollment code, as the clinic hands it to a patient: `ABCD-EFGH-JKMN-PQRS`.
///
/// Sixteen characters of Crockford's base32 (80 bits). The first group names the code to the
/// server; the whole code is the secret. The patient types it on the trusted UI, so it never
/// passes through the normal world: the PHR trustlet proves it knows the code with an HMAC over
/// the enrollment challenge and its own attestation token, and sends only the first group.
public struct EnrollmentCode: Sendable, Equatable, CustomStringConvertible {
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// The 16 characters, upper case, without separators.
    public let characters: String

    /// Reads a code as typed: case, dashes and spaces do not matter, and `O`, `I`, `L` are read
    /// as `0`, `1`, `1` as Crockford's base32 says.
    public init?(_ typed: String) {
        var out: [UInt8] = []
        for byte in typed.uppercased().utf8 where byte != UInt8(ascii: "-") && byte != UInt8(ascii: " ") {
            let mapped: UInt8 = switch byte {
            case UInt8(ascii: "O"): UInt8(ascii: "0")
            case UInt8(ascii: "I"), UInt8(ascii: "L"): UInt8(ascii: "1")
            default: byte
            }
            guard Self.alphabet.contains(mapped) else { return nil }
            out.append(mapped)
        }
        guard out.count == 16 else { return nil }
        characters = String(decoding: out, as: UTF8.self)
    }

    /// A new random code.
    public static func random() -> EnrollmentCode {
        var generator = SystemRandomNumberGenerator()
        let text = String(decoding: (0..<16).map { _ in alphabet[Int(generator.next(upperBound: UInt32(alphabet.count)))] }, as: UTF8.self)
        return EnrollmentCode(text)!
    }

    /// The first group, which names the code (not secret).
    public var id: String { String(characters.prefix(4)) }

    /// The code as printed for a person.
    public var formatted: String {
        stride(from: 0, to: 16, by: 4).map { start in
            String(characters.dropFirst(start).prefix(4))
        }.joined(separator: "-")
    }

    /// Never the code itself: a description may end up in a log.
    public var description: String { "enrollment code \(id)-…" }

    /// The HMAC key both sides derive from the code; the server stores this, not the code.
    public var proofKey: [UInt8] {
        Array(SHA256.hash(data: Array("TrubiZone PHR enrollment code v1".utf8) + [0] + Array(characters.utf8)))
    }

    /// The proof of the code for one enrollment: HMAC-SHA256 under `proofKey` of the challenge's
    /// nonce followed by SHA-256 of the attestation token, so a proof cannot be moved to another
    /// challenge or another device's token.
    public static func proof(key: [UInt8], nonce: [UInt8], token: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: nonce + Array(SHA256.hash(data: token)), using: SymmetricKey(data: key)))
    }

    /// The server's proof, in its enrollment answer, that its channel key and the device ID are
    /// the clinic's: only the clinic and the patient know the code. HMAC-SHA256 under `proofKey` of
    /// "TrubiZone PHR server key v2" ‖ 0 ‖ the challenge's nonce ‖ the key (SEC1, 65 bytes) ‖ the
    /// device ID (32 ASCII hex digits).
    public static func serverKeyProof(key: [UInt8], nonce: [UInt8], channelKey: [UInt8], device: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array("TrubiZone PHR server key v2".utf8) + [0] + nonce + channelKey + Array(device.utf8),
                                              using: SymmetricKey(data: key)))
    }
}
