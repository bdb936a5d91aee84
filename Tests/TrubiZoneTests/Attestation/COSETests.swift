import Crypto
import Foundation
import Testing
import TrubiZoneCBOR
import TrubiZoneCOSE
import TrubiZoneTesting

/// COSE_Sign1 against the COSE WG examples in `../shared/data/cose` and the RFC 8392 CWT.
@Suite struct COSETests {
    struct Example {
        let title: String
        let message: [UInt8]
        let key: P256.Signing.PublicKey?
        let externalAAD: [UInt8]
        let fails: Bool
    }

    static func example(_ path: String) throws -> Example {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: SharedData.path(path)))) as? [String: Any] ?? [:]
        let input = object["input"] as? [String: Any] ?? [:]
        let sign0 = input["sign0"] as? [String: Any] ?? [:]
        let jwk = sign0["key"] as? [String: String] ?? [:]
        func coordinate(_ name: String) -> [UInt8] {
            if let hex = jwk[name + "_hex"] { return hexBytes(hex) }
            return base64URL(jwk[name] ?? "")
        }
        let key = jwk["crv"] == "P-256" ? try? P256.Signing.PublicKey(x963Representation: [0x04] + coordinate("x") + coordinate("y")) : nil
        let output = object["output"] as? [String: Any] ?? [:]
        return Example(title: object["title"] as? String ?? path, message: hexBytes(output["cbor"] as? String ?? ""), key: key,
                       externalAAD: hexBytes(sign0["external"] as? String ?? ""), fails: object["fail"] as? Bool ?? false)
    }

    /// What each example must give: nil to verify, else the error.
    @Test(arguments: [
        ("sign1-tests/sign-pass-02.json", nil), ("sign1-tests/sign-pass-03.json", nil), ("ecdsa-examples/ecdsa-sig-01.json", nil),
        ("CWT/A_3.json", nil),
        // Decision: refused. Its algorithm travels unprotected, which RFC 9052 §3.1 forbids where
        // protection exists, and its signature covers an empty protected bucket while the message
        // carries h'A0'. See COSESign1's documentation.
        ("sign1-tests/sign-pass-01.json", COSEError.malformed("the algorithm and the critical list must be protected")),
        ("sign1-tests/sign-fail-01.json", .wrongTag(998)), ("sign1-tests/sign-fail-02.json", .signatureInvalid),
        ("sign1-tests/sign-fail-03.json", .unsupportedAlgorithm("-999")), ("sign1-tests/sign-fail-04.json", .unsupportedAlgorithm("\"unknown\"")),
        ("sign1-tests/sign-fail-06.json", .signatureInvalid), ("sign1-tests/sign-fail-07.json", .signatureInvalid),
        ("ecdsa-examples/ecdsa-sig-02.json", .unsupportedAlgorithm("-35")), ("ecdsa-examples/ecdsa-sig-03.json", .unsupportedAlgorithm("-36")),
        ("ecdsa-examples/ecdsa-sig-04.json", .unsupportedAlgorithm("-36")),
    ] as [(String, COSEError?)])
    func coseWorkingGroupExamples(path: String, expected: COSEError?) throws {
        let example = try Self.example("cose/" + path)
        do throws(COSEError) {
            let message = try COSESign1(decoding: example.message)
            guard let key = example.key else { throw .unsupportedAlgorithm("no P-256 key in the example") }
            try message.verify(with: key, externalAAD: example.externalAAD)
            #expect(expected == nil, "\(example.title) verified but must fail with \(String(describing: expected))")
            #expect(!example.fails)
        } catch {
            #expect(error == expected, "\(example.title): \(error)")
        }
    }

    @Test func theRFC8392CWTCarriesItsClaims() throws {
        let example = try Self.example("cose/CWT/A_3.json")
        let message = try COSESign1(decoding: example.message)
        let claims = try CBORDecoder().decode(message.payload ?? [])
        #expect(claims[1]?.text == "coap://as.example.com")
        #expect(claims[2]?.text == "erikw")
        #expect(claims[4]?.int == 1_444_064_944)
        #expect(claims[7]?.bytes == [0x0B, 0x71])
    }

    @Test func signedMessagesVerifyAndCarryTheirHeaders() throws {
        let key = P256.Signing.PrivateKey()
        let chain: [[UInt8]] = [[0x30, 0x01], [0x30, 0x02]]
        let message = try COSESign1.sign(
            payload: Array("claims".utf8), key: key,
            protected: [CBORMapEntry(key: .int(COSE.Label.x5chain), value: .array(chain.map(CBOR.bytes)))],
            unprotected: [CBORMapEntry(key: .int(COSE.Label.keyID), value: .bytes([0x11]))], externalAAD: [9])
        let read = try COSESign1(decoding: message.encoded())
        try read.verify(with: key.publicKey, externalAAD: [9])
        #expect(read.x5chain == chain)
        #expect(read.keyID == [0x11])
        #expect(throws: COSEError.signatureInvalid) { try read.verify(with: key.publicKey) }
        #expect(throws: COSEError.signatureInvalid) { try read.verify(with: P256.Signing.PrivateKey().publicKey, externalAAD: [9]) }
        // Untagged is accepted too (the tag is optional where the context says what it is).
        try COSESign1(decoding: message.encoded(tagged: false)).verify(with: key.publicKey, externalAAD: [9])
    }

    @Test func badStructuresAreRefusedWithAPreciseReason() throws {
        let key = P256.Signing.PrivateKey()
        let good = try COSESign1.sign(payload: [1, 2, 3], key: key)
        let protectedBytes = CBOR.bytes(good.protectedBytes)
        func message(_ parts: [CBOR], tag: UInt64 = 18) -> [UInt8] { CBOR.tagged(tag, .array(parts)).encoded() }
        let signature = CBOR.bytes(good.signature)
        let cases: [([UInt8], COSEError)] = [
            (Array(good.encoded().dropLast(5)), .malformed("CBOR: the input ends inside an item (at byte 13)")),
            (message([protectedBytes, .map([CBORMapEntry]()), .bytes([1])]), .malformed("a COSE_Sign1 is an array of four, not of 3")),
            (message([.text("x"), .map([CBORMapEntry]()), .bytes([1]), signature]), .malformed("the protected header is a text string, not a byte string")),
            (message([protectedBytes, .array([]), .bytes([1]), signature]), .malformed("the unprotected header is a array, not a map")),
            (message([protectedBytes, .map([CBORMapEntry]()), .int(5), signature]), .malformed("the payload is a integer, not a byte string or nil")),
            (message([.bytes([]), .map([CBORMapEntry]()), .bytes([1]), signature]), .missingAlgorithm),
            (message([.bytes(CBOR.map([.int(1): .int(-7), .int(2): .array([.int(99)])]).encoded()), .map([CBORMapEntry]()), .bytes([1]), signature]),
             .unknownCriticalHeader("99")),
            (message([protectedBytes, .map([.int(1): .int(-7)]), .bytes([1]), signature]), .malformed("header 1 appears in both buckets")),
            (message([.bytes(CBOR.map([.int(1): .int(-7), .int(4): .bytes([1])]).encoded()), .map([.int(4): .bytes([1])]), .bytes([1]), signature]),
             .malformed("header 4 appears in both buckets")),
            (message([protectedBytes, .map([CBORMapEntry]()), .bytes([1]), .bytes([1, 2])]), .badSignatureLength(2)),
            (message([protectedBytes, .map([CBORMapEntry]()), .bytes([1]), signature], tag: 17), .wrongTag(17)),
            // A protected header with the same label twice, and bytes after the message.
            ([0xD2, 0x84, 0x45, 0xA2, 0x01, 0x26, 0x01, 0x26] + Array(good.encoded(tagged: false).dropFirst(1 + protectedBytes.encoded().count)),
             .malformed("the protected header: CBOR: a map with the same key twice (at byte 3)")),
            (good.encoded() + [0x00], .malformed("CBOR: bytes after the item (at byte \(good.encoded().count))")),
            // Indefinite lengths are not COSE.
            ([0xD2, 0x9F] + Array(good.encoded(tagged: false).dropFirst()) + [0xFF], .malformed("CBOR: an indefinite length, which this format forbids (at byte 1)")),
        ]
        for (bytes, expected) in cases {
            #expect(throws: expected) { try COSESign1(decoding: bytes) }
        }
        // A detached payload verifies only with the payload supplied.
        let detached = try COSESign1(decoding: message([protectedBytes, .map([CBORMapEntry]()), .null, signature]))
        #expect(throws: COSEError.detachedPayload) { try detached.verify(with: key.publicKey) }
        try detached.verify(with: key.publicKey, detachedPayload: [1, 2, 3])
    }
}

func base64URL(_ text: String) -> [UInt8] {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.count % 4 != 0 { base64 += "=" }
    return Array(Data(base64Encoded: base64) ?? Data())
}
