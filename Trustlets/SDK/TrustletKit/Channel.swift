// The end-to-end channel, trustlet side: the same message format as the server's
// `SealedEnvelope` (HPKE base mode, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM):
//
//     "TZE1" | kem u16 | kdf u16 | aead u16 | recipient hint (8) | sequence u64 |
//     purpose length u8 | purpose | encapsulated key (65) | ciphertext
//
// The header before the encapsulated key is the associated data; `info` is
// "TrubiZone channel v1" ‖ 0 ‖ SHA-256(recipient public key); the plaintext is the payload length
// (u32), the payload and zeros up to its size bucket (1 KiB … 1 MiB by powers of two, then whole
// MiB), or to any larger bucket the sender chose. The private key stays in the runtime: opening
// goes through `RuntimeKey.hpkeOpen`.

public enum Channel {
    static let magic: [UInt8] = [0x54, 0x5A, 0x45, 0x31]  // "TZE1"
    static let suite: [UInt8] = [0x00, 0x10, 0x00, 0x01, 0x00, 0x01]
    static let infoLabel: [UInt8] = Bytes.utf8("TrubiZone channel v1") + [0]

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

    /// Opens a message sent to `key` (an HPKE runtime key of this trustlet).
    /// - Parameters:
    ///   - purpose: the purpose expected.
    ///   - last: the last sequence number accepted for this purpose; the message must be later.
    /// - Throws: `badFormat` for a malformed message, `badParameters` for another recipient or
    ///   purpose, `security` for a replayed or reordered one, `macInvalid` for an altered one.
    public static func open(_ message: [UInt8], key: RuntimeKey, purpose: String, after last: UInt64?) throws(TrustletError) -> (payload: [UInt8], sequence: UInt64) {
        let fixed = 27
        guard message.count >= fixed, Array(message[0..<4]) == magic, Array(message[4..<10]) == suite else { throw .badFormat }
        let recipient = try key.publicKey()
        let recipientHash = try Digest.sha256(recipient)
        guard Array(message[10..<18]) == Array(recipientHash[0..<8]) else { throw .badParameters }
        var sequence: UInt64 = 0
        for byte in message[18..<26] { sequence = sequence << 8 | UInt64(byte) }
        let purposeLength = Int(message[26])
        let end = fixed + purposeLength
        guard purposeLength > 0, message.count >= end + 65 + 16 else { throw .badFormat }
        guard Array(message[fixed..<end]) == Bytes.utf8(purpose) else { throw .badParameters }
        if let last, sequence <= last { throw .security }
        let plaintext = try key.hpkeOpen(Array(message[end...]), info: infoLabel + recipientHash, aad: Array(message[0..<end]))
        guard plaintext.count >= 4, let length = Bytes.readUInt32(plaintext), Int(length) <= plaintext.count - 4,
              isBucket(plaintext.count), plaintext.count >= bucket(for: Int(length)) else { throw .badFormat }
        return (Array(plaintext[4..<(4 + Int(length))]), sequence)
    }

    /// Seals `payload` to `recipient` (a P-256 public key, 65 bytes) for `purpose`, as message
    /// number `sequence` of that purpose.
    public static func seal(_ payload: [UInt8], to recipient: [UInt8], purpose: String, sequence: UInt64) throws(TrustletError) -> [UInt8] {
        let label = Bytes.utf8(purpose)
        guard !label.isEmpty, label.count <= 64, recipient.count == 65 else { throw .badParameters }
        let recipientHash = try Digest.sha256(recipient)
        let header = magic + suite + Array(recipientHash[0..<8]) + Bytes.bigEndian(sequence) + [UInt8(label.count)] + label
        var plaintext = [UInt8](repeating: 0, count: bucket(for: payload.count))
        let length = Bytes.bigEndian(UInt32(truncatingIfNeeded: payload.count))
        var index = 0
        while index < 4 { plaintext[index] = length[index]; index += 1 }
        index = 0
        while index < payload.count { plaintext[4 + index] = payload[index]; index += 1 }
        return header + (try HPKE.seal(to: recipient, plaintext, info: infoLabel + recipientHash, aad: header))
    }
}
