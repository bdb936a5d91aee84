import Crypto
import Foundation
import Testing
import TrubiZoneCBOR
import TrubiZoneClient
import TrubiZoneCOSE
import TrubiZoneEAT
import TrubiZoneEmulatedDevice
import TrubiZoneProtocol
import TrubiZoneSampleTrustlets
@testable import TrubiZoneSecureWorld
import TrubiZoneTesting
import X509

/// Tokens the secure world issues, for a wasm trustlet (internal API `attest`) and for the built-in
/// keystore, read back with the device certificate they carry.
@Suite struct TokenIssuanceTests {
    static func deviceKey(_ token: AttestationToken) throws -> P256.Signing.PublicKey {
        let certificate = try Certificate(derEncoded: try #require(token.message.x5chain?.first))
        return try #require(P256.Signing.PublicKey(certificate.publicKey))
    }

    @Test func aTrustletsTokenNamesItAndBindsItsRuntimeHeldKeys() async throws {
        let probe = try await InternalAPITests.Probe()
        let signing = try await probe.generate("signing", kind: 1)
        let hpke = try await probe.generate("hpke", kind: 2)
        let nonce = (0..<32).map { UInt8($0) }
        let bytes = try await probe.call(15, [.input(nonce), .input(Array("signing".utf8)), .input(Array("hpke".utf8)), .output(capacity: 4096)]).bytes(3) ?? []
        let token = try AttestationToken(bytes)
        let deviceKey = try Self.deviceKey(token)
        try token.message.verify(with: deviceKey)
        #expect(deviceKey.x963Representation == probe.world.rootOfTrust.attestationPublicKey.x963Representation)
        let claims = token.claims
        #expect(claims.nonce == nonce)
        #expect(claims.profile == AttestationClaims.psaProfile, "RFC 9783's profile, which independent PSA verifiers know")
        // RFC 9783's boot seed, also under PSA 2.0.0's key (TF-M's tools want it there), the same bytes.
        #expect(claims.bootSeed?.count == 32)
        let raw = try COSESign1.decoder.decode(try #require(token.message.payload))
        #expect(raw[Int64(2397)] == .bytes(claims.bootSeed ?? []) && raw[Int64(268)] == raw[Int64(2397)])
        // The kid names the attestation key; the protected header is alg, kid, x5chain, in that order.
        #expect(token.message.keyID == Array(SHA256.hash(data: deviceKey.x963Representation)))
        #expect(token.message.protectedHeader.entries?.map(\.key) == [.int(1), .int(4), .int(33)])
        // The device certificate's common name fits X.520's 64 characters: the kid, in hex.
        let certificate = try Certificate(derEncoded: try #require(token.message.x5chain?.first))
        #expect(certificate.subject.description.contains("CN=\(Hex.encode(Array(SHA256.hash(data: deviceKey.x963Representation))))"),
                "\(certificate.subject)")
        #expect(claims.instanceID == [0x01] + Array(SHA256.hash(data: deviceKey.x963Representation)))
        #expect(claims.implementationID == EmulatedRootOfTrust.executableMeasurement)
        #expect(claims.clientID > 0, "a trustlet is a secure-world caller")
        #expect(claims.softwareComponents.count == 2)
        #expect(claims.softwareComponents[0] == SoftwareComponent(measurementType: "runtime", measurementValue: EmulatedRootOfTrust.executableMeasurement,
                                                                      version: Attester.runtimeVersion, signerID: Attester.builtInSignerID))
        let component = claims.softwareComponents[1]
        #expect(component.measurementType == "trustlet:probe")
        #expect(component.measurementValue == Array(SHA256.hash(data: try SampleTrustlets.wasm("probe"))))
        #expect(component.signerID == Samples.developer)
        #expect(claims.boundKeys == [BoundKey(use: .signing, publicKey: signing), BoundKey(use: .hpke, publicKey: hpke)])
        #expect(abs((claims.issuedAt ?? 0) - Int64(Date().timeIntervalSince1970)) < 60)
    }

    @Test func theBootSeedIsOnePerBootAndClientIDsStayInPSAsRange() async throws {
        func seed(_ probe: InternalAPITests.Probe) async throws -> [UInt8]? {
            let bytes = try await probe.call(15, [.input([UInt8](repeating: 3, count: 32)), .input([]), .input([]), .output(capacity: 4096)]).bytes(3) ?? []
            return try AttestationToken(bytes).claims.bootSeed
        }
        let probe = try await InternalAPITests.Probe()
        let first = try await seed(probe)
        #expect(first != nil)
        #expect(try await seed(probe) == first, "one seed for the whole boot")
        #expect(try await seed(try await InternalAPITests.Probe()) != first, "another boot, another seed")

        // Normal-world callers: −2 − uid for a user, −1 for a login that names nobody, and no uid
        // beyond the range folded into another caller's ID.
        #expect(Attester.clientID(for: ClientIdentity(login: .user, subject: "user:0", uid: 0)) == -2)
        #expect(Attester.clientID(for: ClientIdentity(login: .user, subject: "user:2147483646", uid: 0x7FFF_FFFE)) == Int64(Int32.min))
        #expect(Attester.clientID(for: ClientIdentity(login: .user, subject: "user:2147483647", uid: 0x7FFF_FFFF)) == nil)
        #expect(Attester.clientID(for: ClientIdentity(login: .user, subject: "user:4294967295", uid: .max)) == nil)
        #expect(Attester.clientID(for: ClientIdentity(login: .public, subject: "public", uid: 1000)) == -1)
        let trustlets = (0..<64).map { _ in Attester.clientID(for: TrustletUUID(bytes: (0..<16).map { _ in UInt8.random(in: 0...255) })!) }
        #expect(trustlets.allSatisfy { $0 >= 1 && $0 <= Int64(Int32.max) })
    }

    @Test func badRequestsForATokenAreRefused() async throws {
        let probe = try await InternalAPITests.Probe()
        _ = try await probe.generate("box", kind: 3)
        _ = try await probe.generate("signing", kind: 1)
        func attest(_ nonce: [UInt8], _ signing: String = "", _ hpke: String = "") async -> ReturnCode {
            await probe.code(15, [.input(nonce), .input(Array(signing.utf8)), .input(Array(hpke.utf8)), .output(capacity: 4096)])
        }
        #expect(await attest([UInt8](repeating: 1, count: 31)) == .badParameters)
        #expect(await attest([]) == .badParameters)
        #expect(await attest([UInt8](repeating: 1, count: 48)) == .success)
        #expect(await attest([UInt8](repeating: 1, count: 64)) == .success)
        #expect(await attest([UInt8](repeating: 1, count: 32), "box") == .badParameters, "an AEAD key is not a signing key")
        #expect(await attest([UInt8](repeating: 1, count: 32), "", "signing") == .badParameters, "a signing key is not an HPKE key")
        #expect(await attest([UInt8](repeating: 1, count: 32), "missing") == .itemNotFound)
        let denied = try await InternalAPITests.Probe(capabilities: Capabilities.all.subtracting(.attestation), device: probe.device)
        #expect(await denied.code(15, [.input([UInt8](repeating: 1, count: 32)), .input([]), .input([]), .output(capacity: 4096)]) == .accessDenied)
    }

    @Test(arguments: TransportKind.allCases)
    func theKeystoreIssuesTokensForTheNormalWorld(_ kind: TransportKind) async throws {
        let world = try World(kind)
        let keystore = try await world.context().openSession(uuid: BuiltInTrustlets.Keystore.uuid)
        let generate = BuiltInTrustlets.Keystore.Command.generate.rawValue, attest = BuiltInTrustlets.Keystore.Command.attest.rawValue
        let publicKey = try await keystore.invoke(command: generate, parameters: [.input(Array("inbox".utf8)), .valueInput(2), .output(capacity: 65)]).bytes(2)
        let nonce = [UInt8](repeating: 7, count: 48)
        let bytes = try await keystore.invoke(command: attest, parameters: [.input(nonce), .input(Array("inbox".utf8)), .output(capacity: 4096)]).bytes(2) ?? []
        let token = try AttestationToken(bytes)
        try token.message.verify(with: try Self.deviceKey(token))
        #expect(token.claims.nonce == nonce)
        #expect(token.claims.clientID < 0, "the keystore attests for a normal-world caller")
        #expect(token.claims.softwareComponents.map(\.measurementType) == ["runtime", "builtin:keystore"])
        #expect(token.claims.boundKeys == [BoundKey(use: .hpke, publicKey: publicKey ?? [])])
        let error = await #expect(throws: TEEError.self) {
            try await keystore.invoke(command: attest, parameters: [.input([1, 2, 3]), .input([]), .output(capacity: 4096)])
        }
        #expect(error?.code == .badParameters)
    }
}
