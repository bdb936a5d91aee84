import Crypto
import Synchronization
import TrubiZoneProtocol

/// The clients a built-in trustlet (the storage or the keystore) keeps namespaces for.
///
/// Every namespace costs a replay-protected counter, secure state that outlives every session, and
/// the normal world chooses what a client is (a uid, an executable path): unbounded, one user could
/// make the secure world keep counters without limit by running one binary from many paths. So a
/// client is given its namespace at its first session, from a sealed register per built-in
/// trustlet, at most `Limits.builtInClientsPerUser` for one uid and `Limits.builtInClients` in all.
/// A client keeps its place for good, as its counter does. One beyond either bound is refused
/// with `TEE_ERROR_STORAGE_NO_SPACE` before any namespace of its exists.
///
/// The register is a sealed object (rollback and tampering are detected as for any other); an
/// entry is the client's uid (4 bytes, big-endian) and the SHA-256 of its subject, so entries have
/// one size whatever the normal world names its executables.
final class BuiltInClients: Sendable {
    struct Bounds: Sendable {
        var perUser: Int
        var total: Int
    }

    private static let entrySize = 4 + 32
    private static let objectID = Array("clients".utf8)
    private let storage: SealedStorage
    private let bounds: Bounds
    /// Each built-in's register, once read: subject digest → uid.
    private let registers = Mutex<[TrustletUUID: [[UInt8]: UInt32]]>([:])

    init(storage: SealedStorage, bounds: Bounds) {
        self.storage = storage
        self.bounds = bounds
    }

    /// The namespace `client` keeps with the built-in trustlet `uuid`, given it now if it has none.
    func namespace(of client: ClientIdentity, with uuid: TrustletUUID, name: String) throws(TrustletError) -> StorageNamespace {
        let namespace = StorageNamespace.builtIn(uuid, client: client)
        let digest = Array(SHA256.hash(data: Array(client.subject.utf8)))
        let bounded = !Weakening.isOff(.quotas, at: storage.configuration.reeDirectory)
        let refusal = registers.withLock { registers -> TrustletError? in
            do throws(TrustletError) {
                var register: [[UInt8]: UInt32]
                if let known = registers[uuid] { register = known } else { register = try load(uuid) }
                registers[uuid] = register
                guard register[digest] == nil else { return nil }
                if bounded {
                    guard register.count < bounds.total else {
                        return TrustletError(.storageNoSpace, "the \(name) keeps namespaces for \(bounds.total) clients, its most; use a client identity it already serves")
                    }
                    guard register.values.count(where: { $0 == client.uid }) < bounds.perUser else {
                        return TrustletError(.storageNoSpace, "the \(name) keeps namespaces for \(bounds.perUser) clients of one user, its most; use a login it already serves (user login has one per user)")
                    }
                }
                register[digest] = client.uid
                try save(register, uuid)
                registers[uuid] = register
                return nil
            } catch {
                return error
            }
        }
        if let refusal { throw refusal }
        return namespace
    }

    private func registerNamespace(_ uuid: TrustletUUID) -> StorageNamespace {
        // No client's subject is "clients": theirs are `public`, `user:…`, `group:…`, `application:…`.
        StorageNamespace(signerID: BuiltInSigner.id, uuid: uuid.bytes, subject: "clients")
    }

    private func load(_ uuid: TrustletUUID) throws(TrustletError) -> [[UInt8]: UInt32] {
        let bytes: [UInt8]
        do {
            bytes = try storage.get(registerNamespace(uuid), id: Self.objectID)
        } catch where error.code == .itemNotFound {
            return [:]
        } catch {
            throw TrustletError(error.code, "the register of clients cannot be read: \(error.description)")
        }
        let malformed = TrustletError(.corruptObject, "the register of clients is malformed")
        guard bytes.count % Self.entrySize == 0 else { throw malformed }
        var register: [[UInt8]: UInt32] = [:]
        var reader = ByteReader(bytes)
        do {
            while !reader.isAtEnd {
                let uid = try reader.u32("uid")
                register[try reader.raw(32, "subject digest")] = uid
            }
        } catch {
            throw malformed
        }
        return register
    }

    private func save(_ register: [[UInt8]: UInt32], _ uuid: TrustletUUID) throws(TrustletError) {
        var writer = ByteWriter(capacity: register.count * Self.entrySize)
        for (digest, uid) in register.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            writer.u32(uid)
            writer.raw(digest)
        }
        try sealed { () throws(StorageError) in try storage.put(registerNamespace(uuid), id: Self.objectID, data: writer.bytes) }
    }
}
