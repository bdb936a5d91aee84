import Crypto
import Foundation
import Testing
import TrubiZoneClient
import TrubiZoneProtocol
@testable import TrubiZoneSecureWorld
import TrubiZoneTesting

/// The internal API's crypto and keys groups, called from a trustlet (`probe`) and checked against
/// swift-crypto on the host and the Wycheproof vectors in `../shared/data`.
@Suite struct InternalAPITests {
    /// The probe with room for JSON documents and crypto in a debug build.
    static let probeLimits = TrustletLimits(memoryPages: 64, fuelPerCall: 400_000_000, maxSessions: 8)

    final class Probe {
        let device: EmulatedDevice
        let world: SecureWorld
        let session: TEESession

        init(capabilities: Capabilities = .all, signer: [UInt8] = Samples.developer, device: EmulatedDevice? = nil) async throws {
            let device = try device ?? EmulatedDevice()
            self.device = device
            world = try device.secureWorld()
            try Samples.install("probe", as: Samples.probe, in: world, signer: signer, limits: InternalAPITests.probeLimits,
                                capabilities: capabilities)
            session = try await TEEContext.inProcess(world).openSession(uuid: Samples.probe)
        }

        func call(_ command: UInt32, _ parameters: [TEEParameter]) async throws -> TEEResult {
            try await session.invoke(command: command, parameters: parameters)
        }

        func code(_ command: UInt32, _ parameters: [TEEParameter]) async -> ReturnCode {
            do {
                _ = try await session.invoke(command: command, parameters: parameters)
                return .success
            } catch {
                return error.code
            }
        }

        func generate(_ id: String, kind: UInt32) async throws -> [UInt8] {
            try await call(3, [.input(Array(id.utf8)), .valueInput(kind), .output(capacity: 65)]).bytes(2) ?? []
        }
    }

    @Test func hmacMatchesSwiftCrypto() async throws {
        let probe = try await Probe()
        for (keyLength, dataLength) in [(0, 0), (16, 3), (32, 1000), (100, 70_000)] {
            let key = (0..<keyLength).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let data = (0..<dataLength).map { UInt8(truncatingIfNeeded: $0 &* 13) }
            let mac = try await probe.call(1, [.input(key), .input(data), .output(capacity: 32)]).bytes(2)
            #expect(mac == Array(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: key))))
        }
    }

    @Test func hkdfPassesWycheproof() async throws {
        struct Vectors: Decodable {
            struct Group: Decodable { let tests: [Case] }
            struct Case: Decodable { let tcId: Int; let ikm, salt, info, okm, result: String; let size: Int }
            let testGroups: [Group]
        }
        let vectors = try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: URL(fileURLWithPath: SharedData.path("wycheproof/hkdf_sha256_test.json"))))
        let probe = try await Probe()
        var checked = 0
        for vector in vectors.testGroups.flatMap(\.tests) {
            let parameters: [TEEParameter] = [.input(hexBytes(vector.ikm)), .input(hexBytes(vector.salt)), .input(hexBytes(vector.info)),
                                              .output(capacity: vector.size)]
            if vector.result == "valid" {
                let okm = try await probe.call(2, parameters).bytes(3)
                #expect(okm == hexBytes(vector.okm), "Wycheproof HKDF case \(vector.tcId)")
            } else {
                #expect(await probe.code(2, parameters) == .badParameters, "Wycheproof HKDF case \(vector.tcId) must be refused")
            }
            checked += 1
        }
        #expect(checked == 86)
    }

    /// A recipient key comes from the other side of the wire; the runtime's hpke_seal takes only a
    /// point on P-256, uncompressed, as Wycheproof's ECDH point vectors tell them apart.
    @Test func hpkeSealTakesOnlyAValidRecipientPointAsWycheproofSays() async throws {
        struct Vectors: Decodable {
            struct Group: Decodable { let tests: [Case] }
            struct Case: Decodable { let tcId: Int; let `public`: String; let result: String }
            let testGroups: [Group]
        }
        let file = SharedData.path("wycheproof/ecdh_secp256r1_ecpoint_test.json")
        let vectors = try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
        let probe = try await Probe()
        var sealed = 0, refused = 0
        for vector in vectors.testGroups.flatMap(\.tests) {
            let code = await probe.code(8, [.input(hexBytes(vector.public)), .input([]), .input([1, 2, 3]), .output(capacity: 256)])
            switch vector.result {
            case "valid":
                #expect(code == .success, "Wycheproof ECDH point case \(vector.tcId) is a valid key")
                sealed += 1
            case "invalid":
                #expect(code == .badParameters, "Wycheproof ECDH point case \(vector.tcId) must be refused")
                refused += 1
            default:
                #expect(code == .success || code == .badParameters, "case \(vector.tcId)")
            }
        }
        #expect(sealed == 330 && refused == 24)
    }

    /// aead_open with a runtime-held AES-256-GCM key, through a trustlet: Wycheproof's boxes of a
    /// 96-bit nonce and a 128-bit tag open exactly when valid. Each key is planted in the probe's
    /// key namespace as the runtime would have kept it (no API imports a key).
    @Test func aeadOpenTakesExactlyWycheproofsValidAES256GCMBoxes() async throws {
        struct Vectors: Decodable {
            struct Group: Decodable { let keySize: Int; let ivSize: Int; let tagSize: Int; let tests: [Case] }
            struct Case: Decodable { let tcId: Int; let key: String; let iv: String; let aad: String; let msg: String; let ct: String; let tag: String; let result: String }
            let testGroups: [Group]
        }
        let vectors = try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: URL(fileURLWithPath: SharedData.path("wycheproof/aes_gcm_test.json"))))
        let probe = try await Probe()
        let trustlet = try #require(probe.world.trustlet(Samples.probe) as? WasmTrustlet)
        var opened = 0, refused = 0
        for group in vectors.testGroups where group.keySize == 256 && group.ivSize == 96 && group.tagSize == 128 {
            for vector in group.tests {
                let id = Array("wycheproof-\(vector.tcId)".utf8)
                try trustlet.storage.put(trustlet.keysNamespace, id: id, data: [UInt8(KeyRing.Kind.aead.rawValue)] + hexBytes(vector.key))
                let box = hexBytes(vector.iv) + hexBytes(vector.ct) + hexBytes(vector.tag)
                let parameters: [TEEParameter] = [.input(id), .input(hexBytes(vector.aad)), .input(box), .output(capacity: box.count + 16)]
                if vector.result == "invalid" {
                    #expect(await probe.code(6, parameters) == .macInvalid, "Wycheproof AES-GCM case \(vector.tcId) must be refused")
                    refused += 1
                } else {
                    #expect((try await probe.call(6, parameters).bytes(3) ?? []) == hexBytes(vector.msg), "Wycheproof AES-GCM case \(vector.tcId)")
                    opened += 1
                }
            }
        }
        #expect(opened == 39 && refused == 27, "opened \(opened), refused \(refused)")
    }

    @Test func signingKeysStayInTheRuntimeAndSignES256() async throws {
        let probe = try await Probe()
        let publicKey = try P256.Signing.PublicKey(x963Representation: try await probe.generate("signer", kind: 1))
        let message = Array("an attested reading".utf8)
        let signature = try await probe.call(4, [.input(Array("signer".utf8)), .input(message), .output(capacity: 64)]).bytes(2) ?? []
        #expect(publicKey.isValidSignature(try P256.Signing.ECDSASignature(rawRepresentation: signature), for: message))
        let fetched = try await probe.call(10, [.input(Array("signer".utf8)), .output(capacity: 65)]).bytes(1)
        #expect(fetched == Array(publicKey.x963Representation))
        // The ID is taken; an unknown kind is refused.
        #expect(await probe.code(3, [.input(Array("signer".utf8)), .valueInput(1), .output(capacity: 65)]) == .accessConflict)
        #expect(await probe.code(3, [.input(Array("x".utf8)), .valueInput(9), .output(capacity: 65)]) == .badParameters)
        // Another signer's trustlet with the same UUID has other keys.
        let other = try await Probe(signer: Samples.otherDeveloper, device: probe.device)
        #expect(await other.code(4, [.input(Array("signer".utf8)), .input(message), .output(capacity: 64)]) == .itemNotFound)
        // Deleted, it signs no more.
        _ = try await probe.call(11, [.input(Array("signer".utf8))])
        #expect(await probe.code(4, [.input(Array("signer".utf8)), .input(message), .output(capacity: 64)]) == .itemNotFound)
    }

    @Test func aeadSealsAndRefusesAlteredBoxes() async throws {
        let probe = try await Probe()
        #expect(try await probe.generate("box", kind: 3).isEmpty)
        let id: TEEParameter = .input(Array("box".utf8))
        let plaintext = Array("Observation/bp-1: 128/82 mmHg".utf8)
        let aad = Array("record 1".utf8)
        let sealed = try await probe.call(5, [id, .input(aad), .input(plaintext), .output(capacity: 256)]).bytes(3) ?? []
        #expect(sealed.count == plaintext.count + 28)
        #expect(try await probe.call(6, [id, .input(aad), .input(sealed), .output(capacity: 256)]).bytes(3) == plaintext)
        var altered = sealed
        altered[20] ^= 1
        #expect(await probe.code(6, [id, .input(aad), .input(altered), .output(capacity: 256)]) == .macInvalid)
        #expect(await probe.code(6, [id, .input(Array("record 2".utf8)), .input(sealed), .output(capacity: 256)]) == .macInvalid)
        #expect(await probe.code(6, [id, .input(aad), .input(Array(sealed.prefix(10))), .output(capacity: 256)]) == .macInvalid)
        // An AEAD key does not sign, and a signing key does not seal.
        #expect(await probe.code(4, [id, .input(plaintext), .output(capacity: 64)]) == .accessDenied)
        _ = try await probe.generate("signer", kind: 1)
        #expect(await probe.code(5, [.input(Array("signer".utf8)), .input(aad), .input(plaintext), .output(capacity: 256)]) == .accessDenied)
    }

    @Test func hpkeInteroperatesWithSwiftCrypto() async throws {
        let probe = try await Probe()
        let suite = HPKE.Ciphersuite(kem: .P256_HKDF_SHA256, kdf: .HKDF_SHA256, aead: .AES_GCM_128)
        let info = Data("trubizone phr sync".utf8)
        let trustletKey = try P256.KeyAgreement.PublicKey(x963Representation: try await probe.generate("inbox", kind: 2))
        // The server seals to the trustlet's key; only the trustlet opens it.
        var sender = try HPKE.Sender(recipientKey: trustletKey, ciphersuite: suite, info: info)
        let record = Data(#"{"resourceType":"Observation","id":"bp-1"}"#.utf8)
        let message = Array(sender.encapsulatedKey) + Array(try sender.seal(record, authenticating: Data("probe".utf8)))
        let opened = try await probe.call(7, [.input(Array("inbox".utf8)), .input(Array(info)), .input(message), .output(capacity: 256)]).bytes(3)
        #expect(opened == Array(record))
        var altered = message
        altered[message.count - 1] ^= 1
        #expect(await probe.code(7, [.input(Array("inbox".utf8)), .input(Array(info)), .input(altered), .output(capacity: 256)]) == .macInvalid)
        #expect(await probe.code(7, [.input(Array("inbox".utf8)), .input(Array("other".utf8)), .input(message), .output(capacity: 256)]) == .macInvalid)
        // The trustlet seals to the server's key.
        let server = P256.KeyAgreement.PrivateKey()
        let sealed = try await probe.call(8, [.input(Array(server.publicKey.x963Representation)), .input(Array(info)), .input(Array(record)),
                                              .output(capacity: 512)]).bytes(3) ?? []
        var recipient = try HPKE.Recipient(privateKey: server, ciphersuite: suite, info: info, encapsulatedKey: Data(sealed.prefix(65)))
        #expect(try recipient.open(Data(sealed.dropFirst(65)), authenticating: Data("probe".utf8)) == record)
        #expect(await probe.code(8, [.input([4, 1, 2]), .input(Array(info)), .input(Array(record)), .output(capacity: 512)]) == .badParameters)
    }

    @Test func keysAndCryptoNeedTheirCapabilities() async throws {
        let probe = try await Probe(capabilities: [.log, .crypto])
        #expect(await probe.code(3, [.input(Array("k".utf8)), .valueInput(1), .output(capacity: 65)]) == .accessDenied)
        let noCrypto = try await Probe(capabilities: [.keys], device: probe.device)
        #expect(await noCrypto.code(1, [.input([1]), .input([2]), .output(capacity: 32)]) == .accessDenied)
        #expect(await noCrypto.code(8, [.input([4]), .input([]), .input([1]), .output(capacity: 512)]) == .accessDenied)
    }

    @Test func keyObjectsAreOutOfReachOfTheTrustletsStorage() async throws {
        // The probe generates a key; hello, given the same signer and UUID, sees no object of that ID.
        let probe = try await Probe()
        _ = try await probe.generate("count", kind: 3)
        try Samples.install("hostile", as: Samples.probe, in: probe.world)
        let hostile = try await TEEContext.inProcess(probe.world).openSession(uuid: Samples.probe)
        let found = try await hostile.invoke(command: 20, parameters: [.none, .valueOutput]).value(1)?.a
        #expect(found == 0, "the key object must not be readable as the trustlet's own object")
    }
}

func hexBytes(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex, let next = text.index(index, offsetBy: 2, limitedBy: text.endIndex), let byte = UInt8(text[index..<next], radix: 16) {
        out.append(byte)
        index = next
    }
    return out
}
