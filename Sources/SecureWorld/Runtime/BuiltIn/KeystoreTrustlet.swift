import TrubiZoneEAT
import TrubiZoneProtocol

/// Keys that never leave the secure world, under aliases chosen by the client (like Android
/// Keystore). Private keys are kept as sealed objects in the client's keystore namespace; only
/// public keys and signatures are returned.
struct KeystoreTrustlet: NativeTrustlet {
    typealias Command = BuiltInTrustlets.Keystore.Command
    typealias KeyKind = BuiltInTrustlets.Keystore.KeyKind
    let storage: SealedStorage
    let clients: BuiltInClients
    let attester: Attester
    var uuid: TrustletUUID { BuiltInTrustlets.Keystore.uuid }
    var name: String { "TrubiZone keystore" }

    func openSession(client: ClientIdentity, parameters: inout TrustletParameters) throws(TrustletError) -> any TrustletSession {
        try parameters.expect()
        return Session(storage: storage, namespace: try clients.namespace(of: client, with: uuid, name: "keystore"), attester: attester, client: client)
    }

    struct Session: TrustletSession {
        let keys: KeyRing
        let attester: Attester
        let client: ClientIdentity

        init(storage: SealedStorage, namespace: StorageNamespace, attester: Attester, client: ClientIdentity) {
            keys = KeyRing(storage: storage, namespace: namespace, quota: BuiltInQuota.of(namespace))
            self.attester = attester
            self.client = client
        }

        func invoke(command: UInt32, parameters p: inout TrustletParameters, cancellation: Cancellation) throws(TrustletError) {
            guard let command = Command(rawValue: command) else {
                throw TrustletError(.notSupported, "the keystore trustlet has no command \(command)")
            }
            switch command {
            case .generate:
                try p.expect(.memrefInput, .valueInput, .memrefOutput)
                let requested = try p.value(1).a
                guard let kind = KeyKind(rawValue: requested), let ringKind = KeyRing.Kind(rawValue: kind.rawValue) else {
                    throw TrustletError(.badParameters, "unknown key kind \(requested); use 1 (signing) or 2 (HPKE)")
                }
                try p.setBytes(2, try keys.generate(try p.bytes(0), kind: ringKind))
            case .publicKey:
                try p.expect(.memrefInput, .memrefOutput, .valueOutput)
                let (kind, publicKey) = try keys.publicKey(try p.bytes(0))
                try p.setValue(2, a: kind.rawValue)
                try p.setBytes(1, publicKey)
            case .sign:
                try p.expect(.memrefInput, .memrefInput, .memrefOutput)
                guard p.capacity(2) >= 64 else { return try p.setBytes(2, [UInt8](repeating: 0, count: 64)) }
                try p.setBytes(2, try keys.sign(try p.bytes(0), try p.bytes(1)))
            case .delete:
                try p.expect(.memrefInput)
                try keys.delete(try p.bytes(0))
            case .list:
                try p.expect(.memrefOutput)
                try p.setBytes(0, BuiltInTrustlets.encodeList(try keys.list()))
            case .attest:
                try p.expect(.memrefInput, .memrefInput, .memrefOutput)
                let alias = try p.bytes(1)
                var bound: [BoundKey] = []
                if !alias.isEmpty {
                    let (kind, publicKey) = try keys.publicKey(alias)
                    guard kind != .aead else { throw TrustletError(.badParameters, "an AEAD key has no public key to bind") }
                    bound.append(BoundKey(use: kind == .signing ? .signing : .hpke, publicKey: publicKey))
                }
                // The keystore is part of the runtime: its component is the runtime's build.
                let caller = SoftwareComponent(measurementType: "builtin:keystore", measurementValue: attester.runtimeComponent.measurementValue,
                                               version: Attester.runtimeVersion, signerID: BuiltInSigner.id)
                guard let clientID = Attester.clientID(for: client) else {
                    throw TrustletError(.badParameters, "this uid is beyond the PSA client IDs a token can name")
                }
                try p.setBytes(2, try attester.issue(nonce: try p.bytes(0), caller: caller, clientID: clientID, boundKeys: bound))
            }
        }

        func close() {}
    }
}
