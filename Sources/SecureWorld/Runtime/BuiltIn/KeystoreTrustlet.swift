import Crypto
import TrubiZoneProtocol

/// Keys that never leave the secure world, under aliases chosen by the client (like Android
/// Keystore). Private keys are kept as sealed objects in the client's keystore namespace; only
/// public keys and signatures are returned.
struct KeystoreTrustlet: NativeTrustlet {
    typealias Command = BuiltInTrustlets.Keystore.Command
    typealias KeyKind = BuiltInTrustlets.Keystore.KeyKind
    let storage: SealedStorage
    var uuid: TrustletUUID { BuiltInTrustlets.Keystore.uuid }
    var name: String { "TrubiZone keystore" }

    func openSession(client: ClientIdentity, parameters: inout TrustletParameters) throws(TrustletError) -> any TrustletSession {
        try parameters.expect()
        return Session(storage: storage, namespace: .builtIn(uuid, client: client))
    }

    struct Session: TrustletSession {
        let storage: SealedStorage
        let namespace: StorageNamespace

        func invoke(command: UInt32, parameters p: inout TrustletParameters, cancellation: Cancellation) throws(TrustletError) {
            guard let command = Command(rawValue: command) else {
                throw TrustletError(.notSupported, "the keystore trustlet has no command \(command)")
            }
            switch command {
            case .generate:
                try p.expect(.memrefInput, .valueInput, .memrefOutput)
                let alias = try p.bytes(0)
                guard let kind = KeyKind(rawValue: try p.value(1).a) else {
                    throw TrustletError(.badParameters, "unknown key kind \(try p.value(1).a); use 1 (signing) or 2 (HPKE)")
                }
                if (try? storage.size(namespace, id: alias)) != nil {
                    throw TrustletError(.accessConflict, "a key with that alias exists; delete it first")
                }
                let key = P256.Signing.PrivateKey()
                try sealed { () throws(StorageError) in
                    try storage.put(namespace, id: alias, data: [UInt8(kind.rawValue)] + Array(key.rawRepresentation))
                }
                try p.setBytes(2, Array(key.publicKey.x963Representation))
            case .publicKey:
                try p.expect(.memrefInput, .memrefOutput, .valueOutput)
                let (kind, key) = try load(try p.bytes(0))
                try p.setValue(2, a: kind.rawValue)
                try p.setBytes(1, Array(key.publicKey.x963Representation))
            case .sign:
                try p.expect(.memrefInput, .memrefInput, .memrefOutput)
                let (kind, key) = try load(try p.bytes(0))
                guard kind == .signing else {
                    throw TrustletError(.accessDenied, "that key is an HPKE key; only signing keys sign")
                }
                guard p.capacity(2) >= 64 else { return try p.setBytes(2, [UInt8](repeating: 0, count: 64)) }
                guard let signature = try? key.signature(for: try p.bytes(1)) else {
                    throw TrustletError(.generic, "signing failed")
                }
                try p.setBytes(2, Array(signature.rawRepresentation))
            case .delete:
                try p.expect(.memrefInput)
                let alias = try p.bytes(0)
                try sealed { () throws(StorageError) in try storage.delete(namespace, id: alias) }
            case .list:
                try p.expect(.memrefOutput)
                let aliases = try sealed { () throws(StorageError) in try storage.list(namespace) }
                try p.setBytes(0, BuiltInTrustlets.encodeList(aliases))
            }
        }

        func close() {}

        private func load(_ alias: [UInt8]) throws(TrustletError) -> (KeyKind, P256.Signing.PrivateKey) {
            let blob = try sealed { () throws(StorageError) in try storage.get(namespace, id: alias) }
            guard blob.count == 33, let kind = KeyKind(rawValue: UInt32(blob[0])),
                  let key = try? P256.Signing.PrivateKey(rawRepresentation: blob[1...])
            else { throw TrustletError(.corruptObject, "the stored key is malformed") }
            return (kind, key)
        }
    }
}
