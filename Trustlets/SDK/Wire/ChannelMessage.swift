// The end-to-end channel's message, written once for both worlds: this file is compiled into
// TrustletKit (Embedded Swift, wasm32) and into the host module `TrubiZoneWire`, so the trustlet,
// the server, the app and the attack suite cannot drift apart. It knows the layout and the order
// of the checks; the cryptography is passed in (`ChannelCrypto`): swift-crypto on the host, the
// runtime's internal API in a trustlet, whose private keys never enter its memory.
//
// Bytes only: no Foundation, no existentials, no string formatting, so Embedded Swift builds it.

/// One message of the end-to-end channel: HPKE (RFC 9180) in **Auth mode** (mode 0x02) with
/// DHKEM(P-256, HKDF-SHA256), HKDF-SHA256 and AES-128-GCM, from one long-term sender key to one
/// recipient key, for one purpose, answering one request, with a sequence number, its plaintext
/// padded to a size bucket.
///
///     "TZE2" | kem u16 | kdf u16 | aead u16 | recipient hint (8) | sender hint (8) |
///     sequence u64 | purpose length u8 | purpose | request length u8 | request |
///     encapsulated key (65) | ciphertext
///
/// - Everything before the encapsulated key is the AEAD's associated data.
/// - `info` = "TrubiZone channel v2" ‖ 0x00 ‖ SHA-256(recipient key) ‖ SHA-256(sender key), the
///   keys as SEC1 uncompressed points (65 bytes). The hints are the first 8 bytes of those hashes.
/// - Auth mode is the point: the recipient's public key is public (it travels in the attestation
///   token), so base mode would let anyone seal a message; in Auth mode only the holder of the
///   sender's private key can make one that opens with the sender's public key.
/// - `request` is the nonce of the signed request the message answers (the `TZ-Nonce` header's
///   32 hex digits as ASCII), or empty for a message that answers none. The receiver says which
///   request it is waiting for; any other is refused.
/// - The plaintext is the payload length (u32), the payload and zeros up to the bucket: powers of
///   two from 1 KiB to 1 MiB, then whole MiB; a sender may choose a larger bucket.
/// - All integers are big-endian.
public enum ChannelMessage {
    public static let magic: [UInt8] = [0x54, 0x5A, 0x45, 0x32]  // "TZE2"
    /// KEM 0x0010 DHKEM(P-256, HKDF-SHA256), KDF 0x0001 HKDF-SHA256, AEAD 0x0001 AES-128-GCM.
    public static let suite: [UInt8] = [0x00, 0x10, 0x00, 0x01, 0x00, 0x01]
    public static let infoLabel: [UInt8] = [
        0x54, 0x72, 0x75, 0x62, 0x69, 0x5A, 0x6F, 0x6E, 0x65, 0x20, 0x63, 0x68, 0x61, 0x6E, 0x6E, 0x65, 0x6C, 0x20, 0x76, 0x32, 0x00,
    ]  // "TrubiZone channel v2" ‖ 0
    public static let keyLength = 65
    public static let encapsulatedKeyLength = 65
    public static let tagLength = 16
    public static let maxPurposeLength = 64
    public static let maxRequestLength = 64
    /// The largest payload a message carries.
    public static let maxPayload = 64 << 20
    /// magic, suite, two hints, sequence and the purpose's length byte.
    static let fixedLength = 4 + 6 + 8 + 8 + 8 + 1

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

    /// A message's clear part, as anyone on the path reads it.
    public struct Header: Equatable {
        public let recipientHint: [UInt8]
        public let senderHint: [UInt8]
        public let sequence: UInt64
        public let purpose: [UInt8]
        public let request: [UInt8]
        /// Where the associated data ends and the encapsulated key starts.
        public let associatedDataLength: Int
        /// The padded plaintext's size: all the message says about its payload's size.
        public let paddedSize: Int
    }

    /// Reads the clear part of a message, checking its layout.
    public static func header(of message: [UInt8]) throws(ChannelFormatError) -> Header {
        guard message.count >= fixedLength else { throw .malformed }
        guard message[0] == magic[0], message[1] == magic[1], message[2] == magic[2] else { throw .malformed }
        guard message[3] == magic[3] else { throw .unsupportedVersion }
        guard same(message, 4, suite) else { throw .unsupportedSuite }
        let sequence = readUInt64(message, 26)
        let purposeLength = Int(message[34])
        guard purposeLength >= 1, purposeLength <= maxPurposeLength, message.count > fixedLength + purposeLength else { throw .malformed }
        let requestAt = fixedLength + purposeLength
        let requestLength = Int(message[requestAt])
        let aadLength = requestAt + 1 + requestLength
        guard requestLength <= maxRequestLength, message.count >= aadLength + encapsulatedKeyLength + tagLength else { throw .malformed }
        let purpose = Array(message[fixedLength..<requestAt])
        guard isPrintable(purpose) else { throw .badPurpose }
        return Header(recipientHint: Array(message[10..<18]), senderHint: Array(message[18..<26]), sequence: sequence, purpose: purpose,
                      request: Array(message[(requestAt + 1)..<aadLength]), associatedDataLength: aadLength,
                      paddedSize: message.count - aadLength - encapsulatedKeyLength - tagLength)
    }

    /// The associated data of a message from `senderHash` to `recipientHash` (SHA-256 of each key).
    public static func associatedData(recipientHash: [UInt8], senderHash: [UInt8], sequence: UInt64, purpose: [UInt8],
                                      request: [UInt8]) throws(ChannelFormatError) -> [UInt8] {
        guard !purpose.isEmpty, purpose.count <= maxPurposeLength, isPrintable(purpose) else { throw .badPurpose }
        guard request.count <= maxRequestLength, request.isEmpty || isPrintable(request) else { throw .badRequest }
        guard recipientHash.count == 32, senderHash.count == 32 else { throw .badKey }
        var bytes = magic + suite
        bytes += recipientHash[0..<8]
        bytes += senderHash[0..<8]
        bytes += bigEndian(sequence)
        bytes.append(UInt8(purpose.count))
        bytes += purpose
        bytes.append(UInt8(request.count))
        bytes += request
        return bytes
    }

    /// The HPKE `info`: the label, then SHA-256 of the recipient's and the sender's keys.
    public static func info(recipientHash: [UInt8], senderHash: [UInt8]) -> [UInt8] {
        infoLabel + recipientHash + senderHash
    }

    /// The padded plaintext: the payload's length, the payload, zeros up to the bucket.
    public static func pad(_ payload: [UInt8], minimumBucket: Int = 0) throws(ChannelFormatError) -> [UInt8] {
        guard payload.count <= maxPayload else { throw .tooLarge }
        guard minimumBucket == 0 || isBucket(minimumBucket) else { throw .badBucket }
        let size = bucket(for: payload.count)
        var plaintext = bigEndian(UInt32(truncatingIfNeeded: payload.count))
        plaintext.reserveCapacity(size > minimumBucket ? size : minimumBucket)
        plaintext += payload
        plaintext += [UInt8](repeating: 0, count: (size > minimumBucket ? size : minimumBucket) - plaintext.count)
        return plaintext
    }

    /// The payload of a padded plaintext; anything but a bucket of zeros after it is refused.
    public static func unpad(_ plaintext: [UInt8]) throws(ChannelFormatError) -> [UInt8] {
        guard plaintext.count >= 4 else { throw .malformed }
        // Compared as UInt32 first: in a trustlet Int is 32 bits, and a length of 2³¹ or more must
        // be refused, not trap.
        let declared = UInt32(plaintext[0]) << 24 | UInt32(plaintext[1]) << 16 | UInt32(plaintext[2]) << 8 | UInt32(plaintext[3])
        guard UInt64(declared) <= UInt64(plaintext.count - 4) else { throw .badPadding }
        let length = Int(declared)
        guard isBucket(plaintext.count), plaintext.count >= bucket(for: length) else { throw .badPadding }
        guard plaintext.isZero(from: 4 + length) else { throw .badPadding }
        return [UInt8](copying: plaintext[4..<(4 + length)])
    }

    /// Seals `payload` from `crypto`'s key to `recipient` (65 bytes).
    /// - Parameters:
    ///   - request: the nonce of the request this message answers; empty if it answers none.
    ///   - minimumBucket: pad to at least this bucket, whatever the payload's size.
    public static func seal<Crypto: ChannelCrypto>(_ payload: [UInt8], to recipient: [UInt8], purpose: [UInt8], sequence: UInt64,
                                                   request: [UInt8], minimumBucket: Int = 0, crypto: Crypto) throws(ChannelFormatError) -> [UInt8] {
        guard recipient.count == keyLength else { throw .badKey }
        let recipientHash = try crypto.sha256(recipient)
        let senderHash = try crypto.sha256(try crypto.ownPublicKey())
        let aad = try associatedData(recipientHash: recipientHash, senderHash: senderHash, sequence: sequence, purpose: purpose, request: request)
        let sealed = try crypto.sealAuth(to: recipient, info: info(recipientHash: recipientHash, senderHash: senderHash), aad: aad,
                                         plaintext: try pad(payload, minimumBucket: minimumBucket))
        return aad + sealed
    }

    /// Opens a message sent to `crypto`'s key by the holder of `sender` (65 bytes).
    ///
    /// The checks, in this order, each with its own error: layout, version and suite; recipient;
    /// sender; purpose; the request answered; the sequence (later than `last`); then HPKE Auth
    /// mode, which proves the sender and every header byte; then the padding.
    /// - Parameters:
    ///   - request: the nonce of the request the receiver is waiting for an answer to; empty for
    ///     a message that answers none.
    ///   - last: the last sequence number accepted for this purpose, or `nil`.
    public static func open<Crypto: ChannelCrypto>(_ message: [UInt8], from sender: [UInt8], purpose: [UInt8], request: [UInt8],
                                                   after last: UInt64?, crypto: Crypto) throws(ChannelFormatError) -> (payload: [UInt8], sequence: UInt64) {
        guard sender.count == keyLength else { throw .badKey }
        let header = try header(of: message)
        let recipientHash = try crypto.sha256(try crypto.ownPublicKey())
        let senderHash = try crypto.sha256(sender)
        guard same(header.recipientHint, 0, Array(recipientHash[0..<8])) else { throw .wrongRecipient }
        guard same(header.senderHint, 0, Array(senderHash[0..<8])) else { throw .wrongSender }
        guard header.purpose == purpose else { throw .wrongPurpose }
        guard header.request == request else { throw .wrongRequest }
        if let last, header.sequence <= last { throw .replayed }
        let plaintext = try crypto.openAuth(from: sender, info: info(recipientHash: recipientHash, senderHash: senderHash),
                                            aad: [UInt8](copying: message[0..<header.associatedDataLength]),
                                            sealed: [UInt8](copying: message[header.associatedDataLength...]))
        return (try unpad(plaintext), header.sequence)
    }

    // MARK: Bytes

    static func isPrintable(_ bytes: [UInt8]) -> Bool {
        for byte in bytes where byte <= 0x20 || byte >= 0x7F { return false }
        return true
    }

    static func same(_ bytes: [UInt8], _ offset: Int, _ expected: [UInt8]) -> Bool {
        guard bytes.count >= offset + expected.count else { return false }
        var index = 0
        while index < expected.count {
            if bytes[offset + index] != expected[index] { return false }
            index += 1
        }
        return true
    }

    static func readUInt64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        var value: UInt64 = 0
        var index = offset
        while index < offset + 8 {
            value = value << 8 | UInt64(bytes[index])
            index += 1
        }
        return value
    }

    static func bigEndian(_ value: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 8)
        var index = 0
        while index < 8 {
            bytes[index] = UInt8(truncatingIfNeeded: value >> UInt64(56 - 8 * index))
            index += 1
        }
        return bytes
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }
}

/// The cryptography a channel endpoint brings: its own P-256 key (held wherever it is held), SHA-256
/// and HPKE Auth mode with the channel's suite.
public protocol ChannelCrypto {
    /// This endpoint's public key, SEC1 uncompressed (65 bytes).
    func ownPublicKey() throws(ChannelFormatError) -> [UInt8]
    func sha256(_ bytes: [UInt8]) throws(ChannelFormatError) -> [UInt8]
    /// HPKE Auth mode, sender = this endpoint's key: the encapsulated key (65 bytes) ‖ ciphertext.
    func sealAuth(to recipient: [UInt8], info: [UInt8], aad: [UInt8], plaintext: [UInt8]) throws(ChannelFormatError) -> [UInt8]
    /// Opens what `sealAuth` made with `sender`'s key; `authenticationFailed` if it does not open.
    func openAuth(from sender: [UInt8], info: [UInt8], aad: [UInt8], sealed: [UInt8]) throws(ChannelFormatError) -> [UInt8]
}

/// Why a channel message was refused or could not be made.
public enum ChannelFormatError: Error, Equatable {
    /// Not a channel message, or truncated.
    case malformed
    /// A channel message of another version ("TZE1", base mode, is no longer accepted).
    case unsupportedVersion
    case unsupportedSuite
    /// Sealed to another key.
    case wrongRecipient
    /// From another sender than the one the receiver trusts for it.
    case wrongSender
    case wrongPurpose
    /// It answers another request than the one the receiver is waiting for.
    case wrongRequest
    /// Not later than the last message accepted for its purpose: a replay, or a reordering.
    case replayed
    /// The sender's key, the ciphertext or a header byte does not check out: forged or altered.
    case authenticationFailed
    case badPadding
    /// A purpose is 1 to 64 printable ASCII characters without spaces.
    case badPurpose
    /// A request binding is at most 64 printable ASCII characters.
    case badRequest
    case badBucket
    /// A key that is not a 65-byte SEC1 uncompressed P-256 point.
    case badKey
    case tooLarge
    /// The cryptography itself failed (a key missing, the sealing refused).
    case cryptoFailed
}
