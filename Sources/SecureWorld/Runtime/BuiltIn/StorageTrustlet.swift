import Crypto
import TrubiZoneProtocol

/// The signer ID of trustlets compiled into the runtime: no developer key signed them, so they get
/// a fixed ID no developer key can hash to.
enum BuiltInSigner {
    static let id = Array(SHA256.hash(data: Array("TrubiZone built-in trustlet".utf8)))
}

extension StorageNamespace {
    /// The namespace a built-in trustlet keeps for one client: built-in trustlets serve every
    /// client, so the client's identity is part of whose objects these are.
    static func builtIn(_ uuid: TrustletUUID, client: ClientIdentity) -> StorageNamespace {
        StorageNamespace(signerID: BuiltInSigner.id, uuid: uuid.bytes, subject: client.subject)
    }
}

/// GP-style persistent objects for the calling client: the sealed storage of an app that has no
/// trustlet of its own. Each client identity (`user:1000`, an application, …) has its own namespace.
struct StorageTrustlet: NativeTrustlet {
    typealias Command = BuiltInTrustlets.Storage.Command
    let storage: SealedStorage
    let clients: BuiltInClients
    var uuid: TrustletUUID { BuiltInTrustlets.Storage.uuid }
    var name: String { "TrubiZone storage" }

    func openSession(client: ClientIdentity, parameters: inout TrustletParameters) throws(TrustletError) -> any TrustletSession {
        try parameters.expect()
        return Session(storage: storage, namespace: try clients.namespace(of: client, with: uuid, name: "storage"))
    }

    struct Session: TrustletSession {
        let storage: SealedStorage
        let namespace: StorageNamespace

        func invoke(command: UInt32, parameters p: inout TrustletParameters, cancellation: Cancellation) throws(TrustletError) {
            guard let command = Command(rawValue: command) else {
                throw TrustletError(.notSupported, "the storage trustlet has no command \(command)")
            }
            switch command {
            case .put:
                try p.expect(.memrefInput, .memrefInput)
                let (id, data) = (try p.bytes(0), try p.bytes(1))
                try sealed { () throws(StorageError) in try storage.put(namespace, id: id, data: data, quota: BuiltInQuota.of(namespace)) }
            case .get:
                try p.expect(.memrefInput, .memrefOutput)
                let id = try p.bytes(0)
                // Answer a short buffer from the index alone: no need to decrypt the object.
                let size = try sealed { () throws(StorageError) in try storage.size(namespace, id: id) }
                guard size <= p.capacity(1) else { return try p.setBytes(1, [UInt8](repeating: 0, count: size)) }
                try p.setBytes(1, try sealed { () throws(StorageError) in try storage.get(namespace, id: id) })
            case .delete:
                try p.expect(.memrefInput)
                let id = try p.bytes(0)
                try sealed { () throws(StorageError) in try storage.delete(namespace, id: id) }
            case .list:
                try p.expect(.memrefOutput)
                try p.setBytes(0, BuiltInTrustlets.encodeList(try sealed { () throws(StorageError) in try storage.list(namespace) }))
            case .reset:
                try p.expect()
                try sealed { () throws(StorageError) in try storage.reset(namespace) }
            case .size:
                try p.expect(.memrefInput, .valueOutput)
                let id = try p.bytes(0)
                try p.setValue(1, a: UInt32(try sealed { () throws(StorageError) in try storage.size(namespace, id: id) }))
            }
        }

        func close() {}
    }
}


/// What one client of a built-in trustlet (the storage or the keystore) may keep in its namespace:
/// a wasm trustlet's default quota.
enum BuiltInQuota {
    static func of(_ namespace: StorageNamespace) -> StorageQuota {
        let limits = TrustletLimits()
        return StorageQuota(objects: limits.objects, bytes: limits.sealedBytes, namespaces: [namespace])
    }
}
