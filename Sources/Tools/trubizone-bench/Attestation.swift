import Crypto
import Foundation
import Logging
import TrubiZoneClient
import TrubiZoneEmulatedDevice
import TrubiZoneManufacturer
import TrubiZoneProtocol
import TrubiZoneSecureWorld
import TrubiZoneVerifier
import X509

/// Token issue (through the keystore, in-process, signature included), a full appraisal (chain
/// included), a whole round; HPKE seal and open against AES-GCM alone on the same bytes.
nonisolated func measureAttestation(workspace: String) async throws -> [Measurement] {
    var out: [Measurement] = []
    let world = try SecureWorld.emulated(stateDirectory: workspace + "/state", reeDirectory: workspace + "/ree-attest", durable: false,
                                         logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
    let keystore = try await TEEContext.inProcess(world).openSession(uuid: BuiltInTrustlets.Keystore.uuid)
    typealias Command = BuiltInTrustlets.Keystore.Command
    _ = try await keystore.invoke(command: Command.generate.rawValue, parameters: [.input(Array("inbox".utf8)), .valueInput(2), .output(capacity: 65)])
    let nonce = [UInt8](repeating: 0x42, count: 32)
    func issue() async throws -> [UInt8] {
        try await keystore.invoke(command: Command.attest.rawValue, parameters: [.input(nonce), .input(Array("inbox".utf8)), .output(capacity: 8192)]).bytes(2) ?? []
    }
    let root = try Certificate(pemEncoded: String(contentsOfFile: workspace + "/ca/" + Manufacturer.caCertificateFile, encoding: .utf8))
    let runtime = Hex.encode(EmulatedRootOfTrust.executableMeasurement)
    let reference = ReferenceValues(trustlets: [.init(measurement: runtime, signer: Hex.encode(Attester.builtInSignerID))],
                                    runtimeImplementationIDs: [runtime])
    let verifier = AttestationVerifier(policy: AttestationPolicy(trustedRoots: [root], reference: reference, expectedNonce: nonce))
    let token = try await issue()
    guard await verifier.appraise(token).status == .affirming else { throw BenchFailure(description: "the bench token was not affirmed") }

    let rounds = 500
    let issueTime = try await perCall(rounds) { _ = try await issue() }
    let verifyTime = await perCall(rounds) { _ = await verifier.appraise(token) }
    let roundTime = try await perCall(rounds) { _ = await verifier.appraise(try await issue()) }
    out.append(Measurement(name: "token issue (keystore, signature included)", value: 1 / issueTime, unit: "/s", note: String(format: "%.0f µs", issueTime * 1e6)))
    out.append(Measurement(name: "token appraisal (chain, signature, claims)", value: 1 / verifyTime, unit: "/s", note: String(format: "%.0f µs", verifyTime * 1e6)))
    out.append(Measurement(name: "a whole attestation round (issue + appraise)", value: roundTime * 1e3, unit: "ms", note: "goal < 2 ms"))

    let suite = HPKE.Ciphersuite(kem: .P256_HKDF_SHA256, kdf: .HKDF_SHA256, aead: .AES_GCM_128)
    let recipient = P256.KeyAgreement.PrivateKey()
    let info = Data("bench".utf8)
    for size in [4096, 1 << 20] {
        let plaintext = Data((0..<size).map { UInt8(truncatingIfNeeded: $0) })
        let aesKey = SymmetricKey(size: .bits128)
        let iterations = size > 65536 ? 50 : 2000
        // Interleave so both see the same machine state.
        var hpkeTotal = 0.0, aesTotal = 0.0
        for _ in 0..<5 {
            hpkeTotal += try await perCall(iterations / 5) {
                var sender = try HPKE.Sender(recipientKey: recipient.publicKey, ciphersuite: suite, info: info)
                let sealed = try sender.seal(plaintext)
                var receiver = try HPKE.Recipient(privateKey: recipient, ciphersuite: suite, info: info, encapsulatedKey: sender.encapsulatedKey)
                _ = try receiver.open(sealed)
            }
            aesTotal += try await perCall(iterations / 5) {
                let box = try AES.GCM.seal(plaintext, using: aesKey)
                _ = try AES.GCM.open(box, using: aesKey)
            }
        }
        let label = size >= 1 << 20 ? "1 MiB" : "\(size / 1024) KiB"
        out.append(Measurement(name: "HPKE seal+open \(label)", value: hpkeTotal / 5 * 1e6, unit: "µs", note: ""))
        out.append(Measurement(name: "AES-128-GCM seal+open \(label)", value: aesTotal / 5 * 1e6, unit: "µs", note: ""))
        out.append(Measurement(name: "HPKE overhead over AES-GCM, \(label)", value: (hpkeTotal / aesTotal - 1) * 100, unit: "%",
                               note: size >= 1 << 20 ? "goal < 10%" : ""))
    }
    return out
}
