import Crypto
import Foundation
import Testing
import TrubiZoneCBOR
import TrubiZoneCOSE
import TrubiZoneEAT
import TrubiZoneEmulatedDevice
import TrubiZoneManufacturer
import TrubiZoneSampleTrustlets
import TrubiZoneSecureWorld
import TrubiZoneTesting
import TrubiZoneVerifier
import SwiftASN1
import X509

/// The verifier: a genuine token from a trustlet is affirmed; each way a token can be wrong is
/// named in the appraisal.
@Suite struct VerifierTests {
    final class Setup {
        let probe: InternalAPITests.Probe
        let nonce = (0..<32).map { UInt8(255 - $0) }
        let token: [UInt8]
        let root: Certificate
        let reference: ReferenceValues

        init() async throws {
            probe = try await InternalAPITests.Probe()
            _ = try await probe.generate("signing", kind: 1)
            _ = try await probe.generate("hpke", kind: 2)
            token = try await probe.call(15, [.input(nonce), .input(Array("signing".utf8)), .input(Array("hpke".utf8)),
                                              .output(capacity: 4096)]).bytes(3) ?? []
            root = try Certificate(pemEncoded: String(contentsOfFile: probe.device.caDirectory + "/" + Manufacturer.caCertificateFile, encoding: .utf8))
            reference = ReferenceValues(
                trustlets: [.init(measurement: hexString(SHA256.hash(data: try SampleTrustlets.wasm("probe"))), signer: hexString(Samples.developer))],
                runtimeImplementationIDs: [hexString(EmulatedRootOfTrust.executableMeasurement)])
        }

        func policy(roots: [Certificate]? = nil, reference: ReferenceValues? = nil, nonce: [UInt8]? = nil, now: Date = Date(),
                    lifecycles: [ClosedRange<UInt64>] = [0x3000...0x30FF]) -> AttestationPolicy {
            AttestationPolicy(trustedRoots: roots ?? [root], reference: reference ?? self.reference, expectedNonce: nonce ?? self.nonce,
                              acceptedLifecycles: lifecycles, now: now)
        }

        func appraise(_ token: [UInt8]? = nil, _ policy: AttestationPolicy? = nil) async -> Appraisal {
            await AttestationVerifier(policy: policy ?? self.policy()).appraise(token ?? self.token)
        }
    }

    static func status(_ appraisal: Appraisal, _ check: String) -> Appraisal.Status? {
        appraisal.checks.first { $0.name.hasPrefix(check) }?.status
    }

    @Test func aGenuineTokenIsAffirmedWithItsKeys() async throws {
        let setup = try await Setup()
        let appraisal = await setup.appraise()
        #expect(appraisal.status == .affirming, "\(appraisal.problems)")
        #expect(appraisal.checks.map(\.name) == ["format", "chain", "signature", "instance", "kid", "nonce", "freshness", "lifecycle", "implementation",
                                                 "component 0 (runtime)", "component 1 (trustlet:probe)", "keys"])
        #expect(appraisal.boundKeys.map(\.use) == ["signing", "hpke"])
        // A token that binds no key is only a warning: nothing to send records to.
        let keyless = try await setup.probe.call(15, [.input(setup.nonce), .input([]), .input([]), .output(capacity: 4096)]).bytes(3) ?? []
        let warned = await setup.appraise(keyless)
        #expect(warned.status == .warning && Self.status(warned, "keys") == .warning, "\(warned.problems)")
        // Runtime measurements other than the implementation ID: the runtime component is checked against them.
        var other = setup.reference
        other.runtimeMeasurements = [String(repeating: "cd", count: 32)]
        let pinned = await setup.appraise(nil, setup.policy(reference: other))
        #expect(Self.status(pinned, "component 0") == .contraindicated)
    }

    @Test func eachWrongnessIsNamed() async throws {
        let setup = try await Setup()
        let otherCA = try Manufacturer.provision(stateDirectory: TemporaryDirectory("tz-other").appending("s"),
                                                 caDirectory: TemporaryDirectory("tz-other-ca").path)
        let otherRoot = try Certificate(pemEncoded: String(contentsOfFile: otherCA.caCertificatePath, encoding: .utf8))
        let genuine = setup.reference.trustlets[0], other = String(repeating: "ab", count: 32)
        var noTrustlet = setup.reference
        noTrustlet.trustlets = [.init(measurement: other, signer: genuine.signer)]
        var noSigner = setup.reference
        noSigner.trustlets = [.init(measurement: genuine.measurement, signer: other)]
        // Two trustlets listed: the probe's build under the other's signer, the other's build under the probe's signer.
        var mixed = setup.reference
        mixed.trustlets = [.init(measurement: genuine.measurement, signer: other), .init(measurement: other, signer: genuine.signer)]
        var noImplementation = setup.reference
        noImplementation.runtimeImplementationIDs = []
        let cases: [(AttestationPolicy, String)] = [
            (setup.policy(roots: [otherRoot]), "chain"),
            (setup.policy(nonce: [UInt8](repeating: 0, count: 32)), "nonce"),
            (setup.policy(now: Date().addingTimeInterval(3600)), "freshness"),
            (setup.policy(now: Date().addingTimeInterval(30 * 365 * 86400)), "chain"),
            (setup.policy(lifecycles: [0x4000...0x40FF]), "lifecycle"),
            (setup.policy(reference: noTrustlet), "component 1"),
            (setup.policy(reference: noSigner), "component 1"),
            (setup.policy(reference: mixed), "component 1"),
            (setup.policy(reference: noImplementation), "implementation"),
        ]
        for (policy, check) in cases {
            let appraisal = await setup.appraise(nil, policy)
            #expect(appraisal.status == .contraindicated && Self.status(appraisal, check) == .contraindicated, "\(check): \(appraisal.problems)")
        }
        // Garbage is refused at the format check.
        let garbage = await setup.appraise([0xD2, 0x84, 0x01])
        #expect(garbage.status == .contraindicated && garbage.checks.map(\.name) == ["format"])
    }

    @Test func forgedTokensAreContraindicated() async throws {
        let setup = try await Setup()
        let original = try AttestationToken(setup.token)
        // Claims re-signed with an attacker's own key, the genuine device certificate kept.
        let attacker = P256.Signing.PrivateKey()
        var claims = original.claims
        claims.softwareComponents[1].measurementValue = [UInt8](repeating: 0xEE, count: 32)
        let forged = try AttestationToken.issue(claims, keyID: original.message.keyID, certificateChain: original.message.x5chain ?? []) {
            try attacker.signature(for: $0)
        }
        let appraisal = await setup.appraise(forged)
        #expect(Self.status(appraisal, "signature") == .contraindicated)
        // The attacker's own certificate, self-made: the chain fails, and the instance is not the device.
        let selfSigned = try AttestationToken.issue(original.claims, keyID: nil, certificateChain: []) { try attacker.signature(for: $0) }
        let noChain = await setup.appraise(selfSigned)
        #expect(Self.status(noChain, "chain") == .contraindicated && noChain.status == .contraindicated)
        // Signed by the device itself, but its kid names another key: refused by name; no kid at all is not a fault.
        let device = setup.probe.world.rootOfTrust
        let otherKid = try AttestationToken.issue(original.claims, keyID: Array(SHA256.hash(data: attacker.publicKey.x963Representation)),
                                                  certificateChain: original.message.x5chain ?? []) { try device.signWithAttestationKey($0) }
        let misnamed = await setup.appraise(otherKid)
        #expect(Self.status(misnamed, "kid") == .contraindicated && misnamed.status == .contraindicated)
        #expect(Self.status(await setup.appraise(setup.token), "kid") == .affirming)
        let noKid = try AttestationToken.issue(original.claims, keyID: nil, certificateChain: original.message.x5chain ?? []) { try device.signWithAttestationKey($0) }
        let unnamed = await setup.appraise(noKid)
        #expect(!unnamed.checks.contains { $0.name == "kid" } && Self.status(unnamed, "signature") == .affirming)
    }

    @Test func mutatedTokensNeverCrashTheDecoderOrTheVerifier() async throws {
        let setup = try await Setup()
        let verifier = AttestationVerifier(policy: setup.policy())
        var generator = SystemRandomNumberGenerator()
        let deviceKey = setup.probe.world.rootOfTrust.attestationPublicKey
        let payload = try AttestationToken(setup.token).message.payload
        for round in 0..<100_000 {
            var bytes = setup.token
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: bytes[index] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
                case 2: bytes.removeSubrange(index..<min(bytes.count, index + Int.random(in: 1...8, using: &generator)))
                default: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: index)
                }
                if bytes.isEmpty { bytes = [0] }
            }
            // Every mutation goes through the decoder; those that still decode, through the whole
            // appraisal (every 50th, to keep the run short; decoding is where hostile bytes land).
            guard let token = try? AttestationToken(bytes) else { continue }
            if (try? token.message.verify(with: deviceKey)) != nil {
                // Only changes outside what is signed may still verify: the claims are the same.
                #expect(token.message.payload == payload, "round \(round)")
            }
            if round % 50 == 0 {
                let appraisal = await verifier.appraise(bytes)
                if appraisal.status == .affirming { #expect(token.message.payload == payload, "round \(round) was affirmed") }
            }
        }
    }
}

func hexString<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    bytes.map { String(format: "%02x", $0) }.joined()
}

extension VerifierTests {
    @Test func aDeviceKeyOnAnotherCurveIsRefused() async throws {
        let setup = try await Setup()
        // A chain whose device certificate holds a P-384 key, under a CA the verifier trusts.
        let caKey = P256.Signing.PrivateKey(), deviceKey = P384.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("test CA") }
        let now = Date()
        let ca = try Certificate(version: .v3, serialNumber: .init(), publicKey: .init(caKey.publicKey), notValidBefore: now - 3600,
                                 notValidAfter: now + 3600, issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                                 extensions: try Certificate.Extensions { Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil)) },
                                 issuerPrivateKey: .init(caKey))
        let device = try Certificate(version: .v3, serialNumber: .init(), publicKey: .init(deviceKey.publicKey), notValidBefore: now - 3600,
                                     notValidAfter: now + 3600, issuer: name, subject: try DistinguishedName { CommonName("device") },
                                     signatureAlgorithm: .ecdsaWithSHA256, extensions: Certificate.Extensions(), issuerPrivateKey: .init(caKey))
        var serializer = DER.Serializer()
        try serializer.serialize(device)
        let claims = try AttestationToken(setup.token).claims
        let token = try AttestationToken.issue(claims, keyID: nil, certificateChain: [serializer.serializedBytes]) {
            try setup.probe.world.rootOfTrust.signWithAttestationKey($0)
        }
        let appraisal = await setup.appraise(token, setup.policy(roots: [ca]))
        #expect(appraisal.status == .contraindicated)
        #expect(appraisal.checks.contains { $0.name == "chain" && $0.reason == "the device key is not a P-256 key" })
    }
}
