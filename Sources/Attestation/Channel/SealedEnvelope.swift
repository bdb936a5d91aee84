import Crypto
import Foundation

/// The end-to-end channel's message: HPKE (RFC 9180) base mode with DHKEM(P-256, HKDF-SHA256),
/// HKDF-SHA256 and AES-128-GCM, to one recipient key, for one purpose, with a sequence number,
/// its plaintext padded to a size bucket.
///
///     "TZE1" | kem u16 | kdf u16 | aead u16 | recipient hint (8) | sequence u64 |
///     purpose length u8 | purpose | encapsulated key (65) | ciphertext
///
/// Everything before the encapsulated key is the AEAD's associated data, so no byte of it can be
/// changed unnoticed. The HPKE `info` binds the message to the recipient: it holds SHA-256 of the
/// recipient's public key, of which the header's hint repeats the first 8 bytes so a message for
/// another key is reported as such instead of as a failed decryption. The plaintext is the payload
/// length (u32), the payload, and zeros up to the bucket: powers of two from 1 KiB to 1 MiB, then
/// whole MiB, so the size of a message says no more than its bucket. A sender may pad to a larger
/// bucket than the payload needs (sync pages all use one), so that its size says nothing at all.
public enum SealedEnvelope {
    public static let magic: [UInt8] = Array("TZE1".utf8)
    public static let suite = HPKE.Ciphersuite(kem: .P256_HKDF_SHA256, kdf: .HKDF_SHA256, aead: .AES_GCM_128)
    static let suiteIDs: [UInt8] = [0x00, 0x10, 0x00, 0x01, 0x00, 0x01]
    static let encapsulatedKeyLength = 65
    static let tagLength = 16
    /// The largest payload a message carries.
    public static let maxPayload = 64 << 20
    public static let maxPurposeLength = 64

    /// The padded plaintext size for a payload of `count` bytes.
    public static func bucket(for count: Int) -> Int {
        let needed = count + 4
        var size = 1024
        while size < needed && size < 1 << 20 { size <<= 1 }
        if needed <= size { return size }
        return (needed + (1 << 20) - 1) / (1 << 20) * (1 << 20)
    }

    /// Whether `size` is a bucket: a padded plaintext may have no other size.
    public static func isBucket(_ size: Int) -> Bool {
        size >= 1024 && (size <= 1 << 20 ? size & (size - 1) == 0 : size % (1 << 20) == 0)
    }

    /// Seals `payload` to `recipient` for `purpose`, as message number `sequence` of that purpose.
    /// - Parameter minimumBucket: pad to at least this bucket, whatever the payload's size.
    public static func seal(_ payload: [UInt8], to recipient: P256.KeyAgreement.PublicKey, purpose: String, sequence: UInt64,
                            minimumBucket: Int = 0) throws(ChannelError) -> [UInt8] {
        guard payload.count <= maxPayload else { throw .tooLarge(payload.count) }
        guard minimumBucket == 0 || isBucket(minimumBucket) else { throw .malformed("\(minimumBucket) bytes is not a bucket") }
        let prefix = try header(recipient: recipient.x963Representation, purpose: purpose, sequence: sequence)
        var plaintext = [UInt8](repeating: 0, count: max(bucket(for: payload.count), minimumBucket))
        plaintext.replaceSubrange(0..<4, with: be32(UInt32(payload.count)))
        plaintext.replaceSubrange(4..<(4 + payload.count), with: payload)
        do {
            var sender = try HPKE.Sender(recipientKey: recipient, ciphersuite: suite, info: Data(info(recipient.x963Representation)))
            let ciphertext = try sender.seal(plaintext, authenticating: prefix)
            return prefix + Array(sender.encapsulatedKey) + Array(ciphertext)
        } catch {
            throw .sealingFailed
        }
    }

    /// Opens a message sent to `privateKey`.
    /// - Parameters:
    ///   - purpose: the purpose the receiver expects.
    ///   - after: the last sequence number accepted for this purpose; the message must be later.
    /// - Returns: the payload and the message's sequence number (to remember for the next call).
    public static func open(_ message: [UInt8], with privateKey: P256.KeyAgreement.PrivateKey, purpose: String,
                            after lastSequence: UInt64?) throws(ChannelError) -> (payload: [UInt8], sequence: UInt64) {
        let parsed = try Parsed(message)
        let recipient = privateKey.publicKey.x963Representation
        guard parsed.hint == Array(SHA256.hash(data: recipient).prefix(8)) else { throw .wrongRecipient }
        guard parsed.purpose == purpose else { throw .wrongPurpose(expected: purpose, found: parsed.purpose) }
        if let lastSequence, parsed.sequence <= lastSequence { throw .replayed(sequence: parsed.sequence, last: lastSequence) }
        let plaintext: [UInt8]
        do {
            var receiver = try HPKE.Recipient(privateKey: privateKey, ciphersuite: suite, info: Data(info(recipient)),
                                              encapsulatedKey: Data(parsed.encapsulatedKey))
            plaintext = Array(try receiver.open(parsed.ciphertext, authenticating: parsed.prefix))
        } catch {
            throw .authenticationFailed
        }
        return (try unpad(plaintext), parsed.sequence)
    }

    /// What anyone on the path reads of a message without its key.
    public struct Outside: Sendable, Equatable {
        public let purpose: String
        public let sequence: UInt64
        /// The padded plaintext's size: the bucket, all the message says about its payload's size.
        public let paddedSize: Int
    }

    /// A message's clear header and padded size, as an observer sees them.
    public static func outside(_ message: [UInt8]) throws(ChannelError) -> Outside {
        let parsed = try Parsed(message)
        return Outside(purpose: parsed.purpose, sequence: parsed.sequence, paddedSize: parsed.ciphertext.count - tagLength)
    }

    // MARK: Format

    static func info(_ recipient: some DataProtocol) -> [UInt8] {
        Array("TrubiZone channel v1".utf8) + [0] + Array(SHA256.hash(data: Array(recipient)))
    }

    static func header(recipient: some DataProtocol, purpose: String, sequence: UInt64) throws(ChannelError) -> [UInt8] {
        let label = Array(purpose.utf8)
        guard !label.isEmpty, label.count <= maxPurposeLength, label.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw .badPurpose }
        return magic + suiteIDs + Array(SHA256.hash(data: Array(recipient)).prefix(8)) + be64(sequence) + [UInt8(label.count)] + label
    }

    static func unpad(_ plaintext: [UInt8]) throws(ChannelError) -> [UInt8] {
        guard plaintext.count >= 4 else { throw .malformed("the plaintext has no length") }
        let length = Int(plaintext[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        guard length <= plaintext.count - 4, isBucket(plaintext.count), plaintext.count >= bucket(for: length) else {
            throw .malformed("the padding does not match the payload length")
        }
        return Array(plaintext[4..<(4 + length)])
    }

    struct Parsed {
        let prefix: [UInt8]
        let hint: [UInt8]
        let sequence: UInt64
        let purpose: String
        let encapsulatedKey: [UInt8]
        let ciphertext: [UInt8]

        init(_ message: [UInt8]) throws(ChannelError) {
            let fixed = 4 + 6 + 8 + 8 + 1
            guard message.count >= fixed else { throw .malformed("\(message.count) bytes is shorter than any message") }
            guard Array(message[0..<4]) == SealedEnvelope.magic else { throw .malformed("not a TrubiZone channel message (no TZE1)") }
            guard Array(message[4..<10]) == SealedEnvelope.suiteIDs else { throw .unsupportedSuite }
            hint = Array(message[10..<18])
            sequence = message[18..<26].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let purposeLength = Int(message[26])
            let end = fixed + purposeLength
            guard purposeLength > 0, purposeLength <= SealedEnvelope.maxPurposeLength,
                  message.count >= end + SealedEnvelope.encapsulatedKeyLength + SealedEnvelope.tagLength
            else { throw .malformed("the message is truncated") }
            purpose = String(decoding: message[fixed..<end], as: UTF8.self)
            prefix = Array(message[0..<end])
            encapsulatedKey = Array(message[end..<(end + SealedEnvelope.encapsulatedKeyLength)])
            ciphertext = Array(message[(end + SealedEnvelope.encapsulatedKeyLength)...])
        }
    }
}

/// Why a channel message was refused.
public enum ChannelError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    case unsupportedSuite
    /// The message was sealed to another key.
    case wrongRecipient
    case wrongPurpose(expected: String, found: String)
    /// Not later than the last message accepted for its purpose: a replay, or a reordering.
    case replayed(sequence: UInt64, last: UInt64)
    /// The ciphertext or the header was altered, or truncated.
    case authenticationFailed
    case badPurpose
    case tooLarge(Int)
    case sealingFailed

    public var description: String {
        switch self {
        case let .malformed(detail): "channel message malformed: \(detail)"
        case .unsupportedSuite: "channel message uses an HPKE suite other than DHKEM(P-256), HKDF-SHA256, AES-128-GCM"
        case .wrongRecipient: "channel message is for another recipient key"
        case let .wrongPurpose(expected, found): "channel message is for '\(found)', not '\(expected)'"
        case let .replayed(sequence, last): "channel message \(sequence) is not after \(last): a replay or a reordering"
        case .authenticationFailed: "channel message does not authenticate: altered, truncated or sealed with other parameters"
        case .badPurpose: "a purpose is 1 to 64 printable ASCII characters without spaces"
        case let .tooLarge(count): "a payload of \(count) bytes is larger than \(SealedEnvelope.maxPayload)"
        case .sealingFailed: "HPKE sealing failed"
        }
    }
}

func be32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8((value >> UInt32(24 - 8 * $0)) & 0xFF) } }
func be64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8((value >> UInt64(56 - 8 * $0)) & 0xFF) } }
