import Crypto
import Foundation
import TrubiZoneWire

/// The end-to-end channel's message on the host, with swift-crypto: `ChannelMessage` (the one
/// definition of the format, compiled into the trustlets too) sealed and opened with HPKE Auth
/// mode (RFC 9180 §5.1.3), DHKEM(P-256, HKDF-SHA256), HKDF-SHA256 and AES-128-GCM.
///
///     "TZE2" | kem u16 | kdf u16 | aead u16 | recipient hint (8) | sender hint (8) |
///     sequence u64 | purpose length u8 | purpose | request length u8 | request |
///     encapsulated key (65) | ciphertext
///
/// Every message is authenticated by its sender's long-term key: the recipient's public key is
/// public, so base mode would let anyone write to it. The receiver names the sender it trusts for
/// the message, the purpose, the request it answers (a signed request's nonce, or none) and the
/// last sequence it kept; each is checked before the message is opened, and Auth mode proves the
/// rest. See `ChannelMessage` for `info`, the associated data and the padding.
public enum SealedEnvelope {
    public static let magic: [UInt8] = ChannelMessage.magic
    public static let suite = HPKE.Ciphersuite(kem: .P256_HKDF_SHA256, kdf: .HKDF_SHA256, aead: .AES_GCM_128)
    /// The largest payload a message carries.
    public static let maxPayload = ChannelMessage.maxPayload
    public static let maxPurposeLength = ChannelMessage.maxPurposeLength

    /// The padded plaintext size for a payload of `count` bytes.
    public static func bucket(for count: Int) -> Int { ChannelMessage.bucket(for: count) }

    /// Whether `size` is a bucket: a padded plaintext may have no other size.
    public static func isBucket(_ size: Int) -> Bool { ChannelMessage.isBucket(size) }

    /// Seals `payload` from `sender` to `recipient` for `purpose`, as message number `sequence`.
    /// - Parameters:
    ///   - request: the nonce of the signed request this message answers ("" for none).
    ///   - minimumBucket: pad to at least this bucket, whatever the payload's size.
    public static func seal(_ payload: [UInt8], to recipient: P256.KeyAgreement.PublicKey, from sender: P256.KeyAgreement.PrivateKey,
                            purpose: String, sequence: UInt64, answering request: String = "", minimumBucket: Int = 0) throws(ChannelError) -> [UInt8] {
        do throws(ChannelFormatError) {
            return try ChannelMessage.seal(payload, to: Array(recipient.x963Representation), purpose: Array(purpose.utf8), sequence: sequence,
                                           request: Array(request.utf8), minimumBucket: minimumBucket, crypto: SwiftCryptoChannel(key: sender))
        } catch {
            throw ChannelError(error, message: nil, purpose: purpose, payloadSize: payload.count, minimumBucket: minimumBucket)
        }
    }

    /// Opens a message sent to `privateKey` by the holder of `sender`.
    /// - Parameters:
    ///   - purpose: the purpose the receiver expects.
    ///   - request: the nonce of the request the receiver waits for an answer to ("" for none).
    ///   - after: the last sequence number accepted for this purpose; the message must be later.
    /// - Returns: the payload and the message's sequence number (to remember for the next call).
    public static func open(_ message: [UInt8], with privateKey: P256.KeyAgreement.PrivateKey, from sender: P256.KeyAgreement.PublicKey,
                            purpose: String, answering request: String = "", after lastSequence: UInt64?) throws(ChannelError) -> (payload: [UInt8], sequence: UInt64) {
        do throws(ChannelFormatError) {
            return try ChannelMessage.open(message, from: Array(sender.x963Representation), purpose: Array(purpose.utf8), request: Array(request.utf8),
                                           after: lastSequence, crypto: SwiftCryptoChannel(key: privateKey))
        } catch {
            throw ChannelError(error, message: message, purpose: purpose, last: lastSequence)
        }
    }

    /// What anyone on the path reads of a message without its key.
    public struct Outside: Sendable, Equatable {
        public let purpose: String
        public let sequence: UInt64
        /// The nonce of the request it answers ("" for none).
        public let request: String
        /// The first 8 bytes of SHA-256 of the recipient's and the sender's keys.
        public let recipientHint: [UInt8]
        public let senderHint: [UInt8]
        /// The padded plaintext's size: the bucket, all the message says about its payload's size.
        public let paddedSize: Int
    }

    /// A message's clear header and padded size, as an observer sees them.
    public static func outside(_ message: [UInt8]) throws(ChannelError) -> Outside {
        do throws(ChannelFormatError) {
            let header = try ChannelMessage.header(of: message)
            return Outside(purpose: String(decoding: header.purpose, as: UTF8.self), sequence: header.sequence,
                           request: String(decoding: header.request, as: UTF8.self), recipientHint: header.recipientHint,
                           senderHint: header.senderHint, paddedSize: header.paddedSize)
        } catch {
            throw ChannelError(error, message: message, purpose: "", last: nil)
        }
    }
}

/// The channel's cryptography with a key held in software (the server, tests, the attack suite).
struct SwiftCryptoChannel: ChannelCrypto {
    let key: P256.KeyAgreement.PrivateKey

    func ownPublicKey() throws(ChannelFormatError) -> [UInt8] { Array(key.publicKey.x963Representation) }

    func sha256(_ bytes: [UInt8]) throws(ChannelFormatError) -> [UInt8] { Array(SHA256.hash(data: bytes)) }

    func sealAuth(to recipient: [UInt8], info: [UInt8], aad: [UInt8], plaintext: [UInt8]) throws(ChannelFormatError) -> [UInt8] {
        guard let recipientKey = try? P256.KeyAgreement.PublicKey(x963Representation: recipient) else { throw .badKey }
        do {
            var sender = try HPKE.Sender(recipientKey: recipientKey, ciphersuite: SealedEnvelope.suite, info: Data(info), authenticatedBy: key)
            let ciphertext = try sender.seal(plaintext, authenticating: aad)
            return Array(sender.encapsulatedKey) + Array(ciphertext)
        } catch {
            throw .cryptoFailed
        }
    }

    func openAuth(from sender: [UInt8], info: [UInt8], aad: [UInt8], sealed: [UInt8]) throws(ChannelFormatError) -> [UInt8] {
        guard let senderKey = try? P256.KeyAgreement.PublicKey(x963Representation: sender) else { throw .badKey }
        guard sealed.count >= ChannelMessage.encapsulatedKeyLength + ChannelMessage.tagLength else { throw .authenticationFailed }
        do {
            var recipient = try HPKE.Recipient(privateKey: key, ciphersuite: SealedEnvelope.suite, info: Data(info),
                                               encapsulatedKey: Data(sealed.prefix(ChannelMessage.encapsulatedKeyLength)), authenticatedBy: senderKey)
            return Array(try recipient.open(sealed.dropFirst(ChannelMessage.encapsulatedKeyLength), authenticating: aad))
        } catch {
            throw .authenticationFailed
        }
    }
}

/// Why a channel message was refused.
public enum ChannelError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    /// A channel message of another version (base-mode "TZE1" messages are no longer accepted).
    case unsupportedVersion
    case unsupportedSuite
    /// The message was sealed to another key.
    case wrongRecipient
    /// The message names another sender than the one trusted for it.
    case wrongSender
    case wrongPurpose(expected: String, found: String)
    /// The message answers another request than the one the receiver waits for.
    case wrongRequest
    /// Not later than the last message accepted for its purpose: a replay, or a reordering.
    case replayed(sequence: UInt64, last: UInt64)
    /// Not made by the sender's key, or altered, or truncated.
    case authenticationFailed
    case badPurpose
    case badRequest
    case badKey
    case tooLarge(Int)
    case sealingFailed

    init(_ error: ChannelFormatError, message: [UInt8]?, purpose: String, last: UInt64? = nil, payloadSize: Int = 0, minimumBucket: Int = 0) {
        let header = message.flatMap { try? ChannelMessage.header(of: $0) }
        switch error {
        case .malformed:
            let looksLikeOne = message.map { $0.starts(with: ChannelMessage.magic.prefix(3)) } ?? false
            self = .malformed(looksLikeOne ? "the message is truncated" : "not a TrubiZone channel message (no TZE2)")
        case .unsupportedVersion: self = .unsupportedVersion
        case .unsupportedSuite: self = .unsupportedSuite
        case .wrongRecipient: self = .wrongRecipient
        case .wrongSender: self = .wrongSender
        case .wrongPurpose: self = .wrongPurpose(expected: purpose, found: header.map { String(decoding: $0.purpose, as: UTF8.self) } ?? "")
        case .wrongRequest: self = .wrongRequest
        case .replayed: self = .replayed(sequence: header?.sequence ?? 0, last: last ?? 0)
        case .authenticationFailed: self = .authenticationFailed
        case .badPadding: self = .malformed("the padding does not match the payload length")
        case .badPurpose: self = .badPurpose
        case .badRequest: self = .badRequest
        case .badBucket: self = .malformed("\(minimumBucket) bytes is not a bucket")
        case .badKey: self = .badKey
        case .tooLarge: self = .tooLarge(payloadSize)
        case .cryptoFailed: self = .sealingFailed
        }
    }

    public var description: String {
        switch self {
        case let .malformed(detail): "channel message malformed: \(detail)"
        case .unsupportedVersion: "channel message of another version (only TZE2, HPKE Auth mode, is accepted)"
        case .unsupportedSuite: "channel message uses an HPKE suite other than DHKEM(P-256), HKDF-SHA256, AES-128-GCM"
        case .wrongRecipient: "channel message is for another recipient key"
        case .wrongSender: "channel message names another sender than the one trusted for it"
        case let .wrongPurpose(expected, found): "channel message is for '\(found)', not '\(expected)'"
        case .wrongRequest: "channel message answers another request than the one sent"
        case let .replayed(sequence, last): "channel message \(sequence) is not after \(last): a replay or a reordering"
        case .authenticationFailed: "channel message does not authenticate: not from the sender's key, altered or truncated"
        case .badPurpose: "a purpose is 1 to 64 printable ASCII characters without spaces"
        case .badRequest: "a request binding is at most 64 printable ASCII characters"
        case .badKey: "a channel key is a 65-byte uncompressed P-256 point"
        case let .tooLarge(count): "a payload of \(count) bytes is larger than \(SealedEnvelope.maxPayload)"
        case .sealingFailed: "HPKE sealing failed"
        }
    }
}
