import Crypto
import Foundation
import Testing
import TrubiZoneEmulatedDevice
import TrubiZoneProtocol
@testable import TrubiZoneSecureWorld
import TrubiZoneTesting

/// The runtime's own uses of AES-GCM and ECDSA against Wycheproof's vectors: the AEAD beneath
/// `aead_open` (a runtime-held key, a box of nonce ‖ ciphertext ‖ tag), and the signature check of
/// every trustlet package (raw r ‖ s, IEEE P1363). Both take bytes the normal world chose.
@Suite struct WycheproofRuntimeTests {
    @Test func theRuntimesAEADOpensExactlyWycheproofsValidAES256GCMBoxes() throws {
        struct Vectors: Decodable {
            struct Group: Decodable { let keySize: Int; let ivSize: Int; let tagSize: Int; let tests: [Case] }
            struct Case: Decodable { let tcId: Int; let key: String; let iv: String; let aad: String; let msg: String; let ct: String; let tag: String; let result: String }
            let testGroups: [Group]
        }
        let vectors = try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: URL(fileURLWithPath: SharedData.path("wycheproof/aes_gcm_test.json"))))
        let device = try EmulatedDevice()
        let world = try device.secureWorld()
        let namespace = StorageNamespace(signerID: Array(repeating: 0xD1, count: 32), uuid: Array(repeating: 0x0A, count: 16), subject: "keys")
        let ring = KeyRing(storage: world.storage, namespace: namespace)
        var opened = 0, refused = 0
        // The runtime's boxes are AES-256 with a 96-bit nonce and a 128-bit tag; other groups do not apply.
        for group in vectors.testGroups where group.keySize == 256 && group.ivSize == 96 && group.tagSize == 128 {
            for vector in group.tests {
                let id = Array("wycheproof-\(vector.tcId)".utf8)
                try world.storage.put(namespace, id: id, data: [UInt8(KeyRing.Kind.aead.rawValue)] + hexBytes(vector.key))
                let box = hexBytes(vector.iv) + hexBytes(vector.ct) + hexBytes(vector.tag)
                do throws(TrustletError) {
                    let plaintext = try ring.open(id, box, authenticating: hexBytes(vector.aad))
                    #expect(vector.result != "invalid" && plaintext == hexBytes(vector.msg), "Wycheproof AES-GCM case \(vector.tcId)")
                    opened += 1
                } catch {
                    #expect(vector.result == "invalid" && error.code == .macInvalid, "Wycheproof AES-GCM case \(vector.tcId): \(error)")
                    refused += 1
                }
            }
        }
        #expect(opened == 39 && refused == 27, "opened \(opened), refused \(refused)")
    }

    @Test func packageSignaturesAreCheckedAsWycheproofsP1363VectorsSay() throws {
        struct Vectors: Decodable {
            struct Group: Decodable { let publicKey: Key; let tests: [Case] }
            struct Key: Decodable { let uncompressed: String }
            struct Case: Decodable { let tcId: Int; let msg: String; let sig: String; let result: String }
            let testGroups: [Group]
        }
        let file = SharedData.path("wycheproof/ecdsa_secp256r1_sha256_p1363_test.json")
        let vectors = try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
        var valid = 0, invalid = 0
        for group in vectors.testGroups {
            let key = try P256.Signing.PublicKey(x963Representation: hexBytes(group.publicKey.uncompressed))
            for vector in group.tests {
                let verifies = TrustletPackage.signatureVerifies(hexBytes(vector.sig), by: key, over: ArraySlice(hexBytes(vector.msg)))
                switch vector.result {
                case "valid":
                    #expect(verifies, "Wycheproof ECDSA P1363 case \(vector.tcId) is a valid signature")
                    valid += 1
                case "invalid":
                    #expect(!verifies, "Wycheproof ECDSA P1363 case \(vector.tcId) must be refused")
                    invalid += 1
                default:
                    break
                }
            }
        }
        #expect(valid == 173 && invalid == 89, "valid \(valid), invalid \(invalid)")
    }
}
