import TrubiZoneEAT
import TrubiZoneProtocol
import WasmKit

/// The attestation group: a token, signed by the device, that names the runtime and this trustlet
/// (measurement, signer, version) and binds keys the runtime holds for it.
extension HostAPI {
    func defineAttestation(_ imports: inout Imports, _ store: Store) {
        let trustlet = self.trustlet
        // An empty key ID binds no key of that use.
        define(&imports, store, "attest") { memory, args in
            let nonce = try memory.input(args, "nonce")
            let signingKey = try memory.input(args, "signingKey")
            let hpkeKey = try memory.input(args, "hpkeKey")
            try memory.checkOutput(args, "token")
            guard let attester = trustlet.attester else { return .notSupported }
            var bound: [BoundKey] = []
            for (id, use, kind) in [(signingKey, BoundKey.Use.signing, KeyRing.Kind.signing), (hpkeKey, .hpke, .hpke)] where !id.isEmpty {
                let (actual, publicKey) = try trustlet.keys.publicKey(id)
                guard actual == kind else { return .badParameters }
                bound.append(BoundKey(use: use, publicKey: publicKey))
            }
            let caller = SoftwareComponent(measurementType: "trustlet:" + trustlet.name, measurementValue: trustlet.measurement,
                                           version: trustlet.version, signerID: trustlet.signerID)
            let token = try attester.issue(nonce: nonce, caller: caller, clientID: Attester.clientID(for: trustlet.uuid), boundKeys: bound)
            return try memory.output(token, args, "token")
        }
    }
}
