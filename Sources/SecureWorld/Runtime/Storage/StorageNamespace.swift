import Crypto

/// Whose objects a namespace holds: a trustlet (by signer and UUID) and, for built-in trustlets that
/// serve many clients, the client it serves.
///
/// Because the namespace key is derived from the hardware unique key with these three values, a
/// trustlet update by the same signer keeps its data, and nobody else can open it.
public struct StorageNamespace: Hashable, Sendable {
    public let signerID: [UInt8]
    public let uuid: [UInt8]
    public let subject: String

    public init(signerID: [UInt8], uuid: [UInt8], subject: String = "") {
        self.signerID = signerID
        self.uuid = uuid
        self.subject = subject
    }

    /// SHA-256 over the length-prefixed parts: what keys and the counter name are bound to.
    var id: [UInt8] {
        var input: [UInt8] = []
        for part in [signerID, uuid, Array(subject.utf8)] {
            input += [UInt8(part.count >> 8), UInt8(part.count & 0xFF)] + part
        }
        return Array(SHA256.hash(data: input))
    }
}

/// The keys of one namespace, all derived from the storage root key.
struct NamespaceKeys {
    let namespaceID: [UInt8]
    let encryption: SymmetricKey
    let fileNames: SymmetricKey
    let digest: SymmetricKey

    init(storageRoot: SymmetricKey, namespace: StorageNamespace) {
        namespaceID = namespace.id
        let key = KeyDerivation.subkey(storageRoot, label: "namespace", context: namespaceID)
        encryption = KeyDerivation.subkey(key, label: "object encryption")
        fileNames = KeyDerivation.subkey(key, label: "file names")
        digest = KeyDerivation.subkey(key, label: "state digest")
    }

    /// The directory of a namespace in the REE file system. It reveals nothing of whose it is.
    static func directoryName(storageRoot: SymmetricKey, namespace: StorageNamespace) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("namespace directory".utf8) + namespace.id, using: storageRoot)
        return hex(Array(mac).prefix(16))
    }

    /// The file name of the object version written with sequence number `seq`. Names depend on
    /// the sequence number only, so the name of an interrupted write is known after a crash.
    func fileName(seq: UInt64) -> String {
        hex(Array(HMAC<SHA256>.authenticationCode(for: Array("object file".utf8) + be64(seq), using: fileNames)).prefix(16))
    }

    /// This object version's element of the namespace's multiset digest.
    func element(seq: UInt64, id: [UInt8]) -> StateDigest {
        StateDigest(Array(HMAC<SHA256>.authenticationCode(for: be64(seq) + [UInt8(id.count)] + id, using: digest)))
    }
}

func be64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8((v >> UInt64(56 - 8 * $0)) & 0xFF) } }

func readBE64(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
}

func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}
