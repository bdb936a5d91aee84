import Crypto
import Foundation
import Testing
import TrubiZoneProtocol
@testable import TrubiZoneSecureWorld
import TrubiZoneTesting

/// The runtime's own ECDSA verification against Wycheproof's vectors: the signature check of every
/// trustlet package (raw r ‖ s, IEEE P1363), over bytes the normal world chose. (The internal
/// API's AES-GCM, HKDF and ECDH meet theirs through a trustlet, in `InternalAPITests`.)
@Suite struct WycheproofRuntimeTests {
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
