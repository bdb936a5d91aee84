import Crypto
import Foundation
import Testing
import TrubiZoneCBOR
import TrubiZoneCOSE
import TrubiZoneEAT
import TrubiZoneTesting

/// Real PSA attestation tokens (`../shared/data/psa`): the RFC 9783 example and two produced by
/// Trusted Firmware-M, decoded and verified with their published keys.
@Suite struct PSATokenTests {
    static func pemKey(_ path: String) throws -> P256.Signing.PublicKey {
        try P256.Signing.PublicKey(pemRepresentation: String(contentsOfFile: SharedData.path(path), encoding: .utf8))
    }

    @Test func theRFC9783ExampleTokenVerifiesWithTheTFMKey() throws {
        let jwk = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: SharedData.path("psa/rfc9783-example/tfm-es-iak.json")))) as? [String: String] ?? [:]
        let key = try P256.Signing.PublicKey(x963Representation: [0x04] + base64URL(jwk["x"] ?? "") + base64URL(jwk["y"] ?? ""))
        let token = try AttestationToken(Array(Data(contentsOf: URL(fileURLWithPath: SharedData.path("psa/rfc9783-example/psa-sign1.cbor")))))
        try token.message.verify(with: key)
        #expect(token.claims.profile == "tag:psacertified.org,2023:psa#tfm")
        #expect(token.claims.clientID == 2_147_483_647)
        #expect(token.claims.securityLifecycle == 0x3000)
        #expect(token.claims.nonce == [UInt8](repeating: 1, count: 32))
        #expect(token.claims.instanceID == [0x01] + [UInt8](repeating: 2, count: 32))
        #expect(token.claims.bootSeed == [UInt8](repeating: 0, count: 8))
        #expect(token.claims.softwareComponents == [SoftwareComponent(measurementType: "PRoT", measurementValue: [UInt8](repeating: 3, count: 32),
                                                                      version: nil, signerID: [UInt8](repeating: 4, count: 32), measurementDescription: nil)])
        // Another key does not verify it.
        #expect(throws: COSEError.signatureInvalid) { try token.message.verify(with: P256.Signing.PrivateKey().publicKey) }
    }

    @Test(arguments: ["psa-2_0_0_sign1.bin", "psa-iot-1_sign1.bin"])
    func trustedFirmwareTokensVerify(file: String) throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: SharedData.path("psa/veraison-psatoken-tfm/" + file))))
        let token = try AttestationToken(bytes)
        try token.message.verify(with: try Self.pemKey("psa/veraison-psatoken-tfm/public.pem"))
        #expect(token.claims.nonce.count == 64 || token.claims.nonce.count == 32)
        #expect(token.claims.softwareComponents.count == 2)
        #expect(token.claims.softwareComponents.allSatisfy { $0.version != nil && $0.signerID.count == 32 })
        // A flipped bit anywhere in the signed part is caught.
        // (A flip the parser refuses is caught too; the count shows most flips reach the signature.)
        var verified = 0
        for index in stride(from: 1, to: bytes.count - 70, by: 37) {
            var tampered = bytes
            tampered[index] ^= 0x01
            guard let read = try? AttestationToken(tampered) else { continue }
            verified += 1
            #expect(throws: COSEError.signatureInvalid, "bit flip at \(index)") { try read.message.verify(with: try Self.pemKey("psa/veraison-psatoken-tfm/public.pem")) }
        }
        #expect(verified >= 8, "only \(verified) flipped tokens parsed, so few reached the signature check")
    }

    @Test func claimsThatBreakTheProfileAreRefusedByName() throws {
        let good = try AttestationToken(Array(Data(contentsOf: URL(fileURLWithPath: SharedData.path("psa/rfc9783-example/psa-sign1.cbor"))))).claims.cbor
        func without(_ key: Int64) -> CBOR { .map(good.entries!.filter { $0.key != .int(key) }) }
        func with(_ key: Int64, _ value: CBOR) -> CBOR { .map(good.entries!.map { $0.key == .int(key) ? CBORMapEntry(key: $0.key, value: value) : $0 }) }
        let cases: [(CBOR, String)] = [
            (without(10), "the nonce (10) is missing"),
            (with(10, .bytes([1, 2, 3])), "the nonce (10) is 3 bytes, not 32 or 48 or 64"),
            (with(256, .bytes([UInt8](repeating: 2, count: 33))), "the instance ID (256) is not a RAND UEID (first byte 0x01)"),
            (with(2396, .text("x")), "the implementation ID (2396) is a text string, not a byte string"),
            (with(2399, .array([])), "the software components (2399) are missing or empty"),
            (with(2399, .array([.map([.int(5): .bytes([UInt8](repeating: 4, count: 32))])])), "software component 0 has no 32, 48 or 64-byte measurement value (2)"),
            (with(2394, .int(0)), "the client ID (2394) is missing or not a non-zero 32-bit integer"),
            (with(2395, .int(-1)), "the security lifecycle (2395) is missing or not a 16-bit unsigned integer"),
            (with(268, .bytes([1])), "the boot seed (268) is 1 bytes, not 8 to 32"),
            (.map(good.entries! + [CBORMapEntry(key: .int(2397), value: .bytes([UInt8](repeating: 9, count: 32)))]),
             "the boot seed (268) and PSA 2.0.0's boot seed (2397) differ"),
            (.array([]), "the claims set is a array, not a map"),
        ]
        for (claims, reason) in cases {
            #expect(throws: TokenError.claims(reason)) { try AttestationClaims(claims) }
        }
        // Both keys with the same seed, as TrubiZone's tokens carry it, read as one.
        let seed = try #require(try AttestationClaims(good).bootSeed)
        let both = try AttestationClaims(.map(good.entries! + [CBORMapEntry(key: .int(2397), value: .bytes(seed))]))
        #expect(both.bootSeed == seed)
    }

    @Test func aKeyIDIsAByteString() throws {
        let key = P256.Signing.PrivateKey()
        let payload = try #require(try? AttestationToken(Array(Data(contentsOf: URL(fileURLWithPath: SharedData.path("psa/rfc9783-example/psa-sign1.cbor")))))
            .message.payload)
        let text = try COSESign1.sign(payload: payload, protected: [CBORMapEntry(key: .int(COSE.Label.keyID), value: .text("device"))]) {
            try key.signature(for: $0)
        }.encoded()
        #expect(throws: COSEError.malformed("the key ID (kid) is a text string, not a byte string")) { try COSESign1(decoding: text) }
        let bytes = try COSESign1.sign(payload: payload, protected: [CBORMapEntry(key: .int(COSE.Label.keyID), value: .bytes([1, 2]))]) {
            try key.signature(for: $0)
        }.encoded()
        #expect(try COSESign1(decoding: bytes).keyID == [1, 2])
    }
}
