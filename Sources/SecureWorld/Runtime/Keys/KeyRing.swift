import Crypto
import Foundation
import TrubiZoneProtocol

/// Keys the runtime holds for one owner — a wasm trustlet, or a client of the built-in keystore —
/// under IDs the owner chooses. The private parts live as sealed objects in a namespace of their
/// own, which the owner's storage API cannot reach; the owner only ever gets public keys,
/// signatures and the results of encryption.
struct KeyRing {
    /// What a key is for. The raw values are the internal API's and the keystore's.
    enum Kind: UInt32, Sendable {
        /// A P-256 ECDSA (SHA-256) signing key.
        case signing = 1
        /// A P-256 key for HPKE: DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode.
        case hpke = 2
        /// An AES-256-GCM key for sealing data the owner keeps elsewhere.
        case aead = 3

        var name: String {
            switch self {
            case .signing: "signing"
            case .hpke: "HPKE"
            case .aead: "AEAD"
            }
        }
    }

    /// The HPKE suite of the end-to-end channel (ARCHITECTURE.md): RFC 9180 base mode with
    /// DHKEM(P-256, HKDF-SHA256), HKDF-SHA256 and AES-128-GCM.
    static let hpkeSuite = HPKE.Ciphersuite(kem: .P256_HKDF_SHA256, kdf: .HKDF_SHA256, aead: .AES_GCM_128)
    /// The length of an HPKE encapsulated key for that suite (an uncompressed P-256 point).
    static let encapsulatedKeyLength = 65
    /// Key IDs are 1 to 64 bytes.
    static let maxIDLength = 64
    /// AES-GCM nonce and tag: a sealed box is nonce ‖ ciphertext ‖ tag.
    static let aeadOverhead = 12 + 16

    let storage: SealedStorage
    let namespace: StorageNamespace
    /// What the owner may keep, its keys counted with its objects; none for the keystore's clients.
    var quota: StorageQuota? = nil

    /// Creates a key. Its public key (empty for an AEAD key) is returned.
    /// - Throws: `accessConflict` if the ID is taken, `badParameters` for an ID of the wrong size.
    func generate(_ id: [UInt8], kind: Kind) throws(TrustletError) -> [UInt8] {
        try Self.check(id)
        if (try? storage.size(namespace, id: id)) != nil {
            throw TrustletError(.accessConflict, "a key with that ID exists; delete it first")
        }
        let secret: [UInt8]
        let publicKey: [UInt8]
        switch kind {
        case .signing, .hpke:
            let key = P256.Signing.PrivateKey()
            secret = Array(key.rawRepresentation)
            publicKey = Array(key.publicKey.x963Representation)
        case .aead:
            secret = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
            publicKey = []
        }
        try sealed { () throws(StorageError) in try storage.put(namespace, id: id, data: [UInt8(kind.rawValue)] + secret, quota: quota) }
        return publicKey
    }

    /// A key's kind and public key (SEC1 uncompressed; empty for an AEAD key).
    func publicKey(_ id: [UInt8]) throws(TrustletError) -> (Kind, [UInt8]) {
        let (kind, secret) = try load(id)
        switch kind {
        case .signing, .hpke:
            return (kind, Array(try p256(secret).publicKey.x963Representation))
        case .aead:
            return (kind, [])
        }
    }

    /// An ES256 signature (raw r ‖ s, 64 bytes, as COSE wants it) over `message`.
    func sign(_ id: [UInt8], _ message: [UInt8]) throws(TrustletError) -> [UInt8] {
        let secret = try load(id, expecting: .signing)
        guard let signature = try? p256(secret).signature(for: message) else {
            throw TrustletError(.generic, "signing failed")
        }
        return Array(signature.rawRepresentation)
    }

    /// AES-256-GCM with a fresh random nonce: nonce ‖ ciphertext ‖ tag.
    func seal(_ id: [UInt8], _ plaintext: [UInt8], authenticating aad: [UInt8]) throws(TrustletError) -> [UInt8] {
        let key = SymmetricKey(data: try load(id, expecting: .aead))
        guard let box = try? AES.GCM.seal(plaintext, using: key, authenticating: aad), let combined = box.combined else {
            throw TrustletError(.generic, "sealing failed")
        }
        return Array(combined)
    }

    /// Opens what `seal` made with the same key and associated data.
    /// - Throws: `macInvalid` when the box was altered, made with another key or other data.
    func open(_ id: [UInt8], _ box: [UInt8], authenticating aad: [UInt8]) throws(TrustletError) -> [UInt8] {
        let key = SymmetricKey(data: try load(id, expecting: .aead))
        guard box.count >= Self.aeadOverhead else {
            throw TrustletError(.macInvalid, "a sealed box is at least \(Self.aeadOverhead) bytes")
        }
        guard let sealedBox = try? AES.GCM.SealedBox(combined: box), let plaintext = try? AES.GCM.open(sealedBox, using: key, authenticating: aad) else {
            throw TrustletError(.macInvalid, "the sealed box does not open with this key and associated data")
        }
        return Array(plaintext)
    }

    /// Opens an HPKE message (encapsulated key ‖ ciphertext) sent to this HPKE key.
    func hpkeOpen(_ id: [UInt8], _ message: [UInt8], info: [UInt8], authenticating aad: [UInt8]) throws(TrustletError) -> [UInt8] {
        let secret = try load(id, expecting: .hpke)
        guard message.count >= Self.encapsulatedKeyLength + 16 else {
            throw TrustletError(.macInvalid, "an HPKE message is at least \(Self.encapsulatedKeyLength + 16) bytes")
        }
        do {
            let key = try P256.KeyAgreement.PrivateKey(rawRepresentation: secret)
            var recipient = try HPKE.Recipient(privateKey: key, ciphersuite: Self.hpkeSuite, info: Data(info),
                                               encapsulatedKey: Data(message.prefix(Self.encapsulatedKeyLength)))
            return Array(try recipient.open(Data(message.dropFirst(Self.encapsulatedKeyLength)), authenticating: Data(aad)))
        } catch {
            throw TrustletError(.macInvalid, "the HPKE message does not open with this key, info and associated data")
        }
    }

    /// HPKE Auth mode (RFC 9180 §5.1.3) with this HPKE key as the sender's: only its holder can
    /// make a message that opens with its public key. Encapsulated key ‖ ciphertext.
    func hpkeSealAuth(_ id: [UInt8], to recipient: [UInt8], _ plaintext: [UInt8], info: [UInt8], authenticating aad: [UInt8]) throws(TrustletError) -> [UInt8] {
        let secret = try load(id, expecting: .hpke)
        guard let key = try? P256.KeyAgreement.PrivateKey(rawRepresentation: secret) else { throw TrustletError(.generic, "HPKE sealing failed") }
        return try Self.hpkeSeal(to: recipient, plaintext, info: info, authenticating: aad, from: key)
    }

    /// Opens an HPKE Auth-mode message sent to this HPKE key by the holder of `sender`'s key.
    func hpkeOpenAuth(_ id: [UInt8], from sender: [UInt8], _ message: [UInt8], info: [UInt8], authenticating aad: [UInt8]) throws(TrustletError) -> [UInt8] {
        let secret = try load(id, expecting: .hpke)
        guard let senderKey = try? P256.KeyAgreement.PublicKey(x963Representation: sender) else {
            throw TrustletError(.badParameters, "the sender is not an uncompressed P-256 public key")
        }
        guard message.count >= Self.encapsulatedKeyLength + 16 else {
            throw TrustletError(.macInvalid, "an HPKE message is at least \(Self.encapsulatedKeyLength + 16) bytes")
        }
        do {
            let key = try P256.KeyAgreement.PrivateKey(rawRepresentation: secret)
            var recipient = try HPKE.Recipient(privateKey: key, ciphersuite: Self.hpkeSuite, info: Data(info),
                                               encapsulatedKey: Data(message.prefix(Self.encapsulatedKeyLength)), authenticatedBy: senderKey)
            return Array(try recipient.open(Data(message.dropFirst(Self.encapsulatedKeyLength)), authenticating: Data(aad)))
        } catch {
            throw TrustletError(.macInvalid, "the HPKE message does not open with this key and sender, info and associated data")
        }
    }

    /// Seals `plaintext` to a recipient's HPKE public key: encapsulated key ‖ ciphertext. In base
    /// mode, or in Auth mode `from` a sender's key.
    static func hpkeSeal(to recipient: [UInt8], _ plaintext: [UInt8], info: [UInt8], authenticating aad: [UInt8],
                         from senderKey: P256.KeyAgreement.PrivateKey? = nil) throws(TrustletError) -> [UInt8] {
        guard let publicKey = try? P256.KeyAgreement.PublicKey(x963Representation: recipient) else {
            throw TrustletError(.badParameters, "the recipient is not an uncompressed P-256 public key")
        }
        do {
            var sender = if let senderKey {
                try HPKE.Sender(recipientKey: publicKey, ciphersuite: hpkeSuite, info: Data(info), authenticatedBy: senderKey)
            } else {
                try HPKE.Sender(recipientKey: publicKey, ciphersuite: hpkeSuite, info: Data(info))
            }
            let ciphertext = try sender.seal(Data(plaintext), authenticating: Data(aad))
            return Array(sender.encapsulatedKey) + Array(ciphertext)
        } catch {
            throw TrustletError(.generic, "HPKE sealing failed")
        }
    }

    func delete(_ id: [UInt8]) throws(TrustletError) {
        try Self.check(id)
        try sealed { () throws(StorageError) in try storage.delete(namespace, id: id) }
    }

    func list() throws(TrustletError) -> [[UInt8]] {
        try sealed { () throws(StorageError) in try storage.list(namespace) }
    }

    // MARK: Loading

    private static func check(_ id: [UInt8]) throws(TrustletError) {
        guard !id.isEmpty, id.count <= maxIDLength else {
            throw TrustletError(.badParameters, "a key ID is 1 to \(maxIDLength) bytes")
        }
    }

    private func load(_ id: [UInt8]) throws(TrustletError) -> (Kind, [UInt8]) {
        try Self.check(id)
        let blob = try sealed { () throws(StorageError) in try storage.get(namespace, id: id) }
        guard blob.count == 33, let kind = Kind(rawValue: UInt32(blob[0])) else {
            throw TrustletError(.corruptObject, "the stored key is malformed")
        }
        return (kind, Array(blob[1...]))
    }

    private func load(_ id: [UInt8], expecting wanted: Kind) throws(TrustletError) -> [UInt8] {
        let (kind, secret) = try load(id)
        guard kind == wanted else {
            throw TrustletError(.accessDenied, "that key is a \(kind.name) key, not a \(wanted.name) key")
        }
        return secret
    }

    private func p256(_ secret: [UInt8]) throws(TrustletError) -> P256.Signing.PrivateKey {
        guard let key = try? P256.Signing.PrivateKey(rawRepresentation: secret) else {
            throw TrustletError(.corruptObject, "the stored key is malformed")
        }
        return key
    }
}
