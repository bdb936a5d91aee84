import Crypto
import Foundation
import Testing
import TrubiZoneChannel
import TrubiZoneClient
import TrubiZoneProtocol
import TrubiZoneTesting

/// The end-to-end channel: swift-crypto's HPKE against the RFC 9180 vectors of our suite, the
/// message format's defences, and a trustlet and the server opening each other's messages.
@Suite struct ChannelTests {
    @Test func hpkeOpensTheRFC9180VectorsOfOurSuite() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: SharedData.path("hpke/rfc9180-test-vectors-subset.json")))
        let vectors = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] ?? []
        // Base mode, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM: RFC 9180 §A.3.1.
        let ours = vectors.filter { $0["mode"] as? Int == 0 && $0["kem_id"] as? Int == 16 && $0["kdf_id"] as? Int == 1 && $0["aead_id"] as? Int == 1 }
        #expect(ours.count == 1)
        for vector in ours {
            let key = try P256.KeyAgreement.PrivateKey(rawRepresentation: hexBytes(vector["skRm"] as? String ?? ""))
            #expect(Array(key.publicKey.x963Representation) == hexBytes(vector["pkRm"] as? String ?? ""))
            var recipient = try HPKE.Recipient(privateKey: key, ciphersuite: SealedEnvelope.suite, info: Data(hexBytes(vector["info"] as? String ?? "")),
                                               encapsulatedKey: Data(hexBytes(vector["enc"] as? String ?? "")))
            let encryptions = vector["encryptions"] as? [[String: String]] ?? []
            #expect(encryptions.count == 257)
            // In order: the context's sequence number goes past one byte of the nonce.
            for (index, encryption) in encryptions.enumerated() {
                let opened = try recipient.open(Data(hexBytes(encryption["ct"] ?? "")), authenticating: Data(hexBytes(encryption["aad"] ?? "")))
                #expect(Array(opened) == hexBytes(encryption["pt"] ?? ""), "encryption \(index)")
            }
        }
    }

    @Test func messagesFallIntoSizeBuckets() throws {
        let key = P256.KeyAgreement.PrivateKey()
        var sizes: [Int: Int] = [:]
        for count in [0, 1, 100, 1019, 1020, 1021, 5000, 70_000, (1 << 20) - 4, (1 << 20) - 3, 3 << 20] {
            let message = try SealedEnvelope.seal([UInt8](repeating: 7, count: count), to: key.publicKey, purpose: "sync", sequence: 1)
            sizes[count] = message.count
            #expect(try SealedEnvelope.open(message, with: key, purpose: "sync", after: nil).payload.count == count)
        }
        let overhead = sizes[0]! - 1024
        #expect(sizes[0] == sizes[1] && sizes[1] == sizes[100] && sizes[100] == sizes[1020], "everything up to 1 KiB looks the same")
        #expect(sizes[1021] == 2048 + overhead)
        #expect(sizes[5000] == 8192 + overhead)
        #expect(sizes[70_000] == 131_072 + overhead)
        #expect(sizes[(1 << 20) - 4] == (1 << 20) + overhead && sizes[(1 << 20) - 3] == (2 << 20) + overhead)
        #expect(sizes[3 << 20] == (4 << 20) + overhead)
    }

    @Test func eachAttackOnAMessageIsDetectedAndNamed() throws {
        let key = P256.KeyAgreement.PrivateKey(), other = P256.KeyAgreement.PrivateKey()
        let payload = Array(#"{"resourceType":"Observation","id":"bp-7"}"#.utf8)
        let first = try SealedEnvelope.seal(payload, to: key.publicKey, purpose: "sync", sequence: 41)
        let second = try SealedEnvelope.seal(payload, to: key.publicKey, purpose: "sync", sequence: 42)
        let opened = try SealedEnvelope.open(second, with: key, purpose: "sync", after: 41)
        #expect(opened.payload == payload && opened.sequence == 42)
        // Replay, and reordering (the older message after the newer one).
        #expect(throws: ChannelError.replayed(sequence: 42, last: 42)) { try SealedEnvelope.open(second, with: key, purpose: "sync", after: 42) }
        #expect(throws: ChannelError.replayed(sequence: 41, last: 42)) { try SealedEnvelope.open(first, with: key, purpose: "sync", after: 42) }
        #expect(throws: ChannelError.wrongRecipient) { try SealedEnvelope.open(first, with: other, purpose: "sync", after: nil) }
        #expect(throws: ChannelError.wrongPurpose(expected: "upload", found: "sync")) { try SealedEnvelope.open(first, with: key, purpose: "upload", after: nil) }
        // A bit flipped anywhere: in the sequence number, the encapsulated key or the ciphertext
        // (a flip in the recipient hint or the purpose is reported as those).
        let purposeEnd = 27 + 4
        for index in [20, purposeEnd + 3, purposeEnd + 70, first.count - 1] {
            var flipped = first
            flipped[index] ^= 0x01
            #expect(throws: ChannelError.authenticationFailed, "bit flip at \(index)") { try SealedEnvelope.open(flipped, with: key, purpose: "sync", after: nil) }
        }
        // The sequence number in the header is authenticated too: raising it is caught.
        var renumbered = first
        renumbered[25] = 0xFF
        #expect(throws: ChannelError.authenticationFailed) { try SealedEnvelope.open(renumbered, with: key, purpose: "sync", after: 41) }
        #expect(throws: ChannelError.authenticationFailed) { try SealedEnvelope.open(Array(first.dropLast(1)), with: key, purpose: "sync", after: nil) }
        #expect(throws: ChannelError.malformed("the message is truncated")) { try SealedEnvelope.open(Array(first.prefix(60)), with: key, purpose: "sync", after: nil) }
        #expect(throws: ChannelError.malformed("not a TrubiZone channel message (no TZE1)")) { try SealedEnvelope.open([UInt8](repeating: 0, count: 200), with: key, purpose: "sync", after: nil) }
        var otherSuite = first
        otherSuite[5] = 0x20
        #expect(throws: ChannelError.unsupportedSuite) { try SealedEnvelope.open(otherSuite, with: key, purpose: "sync", after: nil) }
        #expect(throws: ChannelError.badPurpose) { try SealedEnvelope.seal(payload, to: key.publicKey, purpose: "has space", sequence: 1) }
    }

    @Test func aTrustletAndTheServerOpenEachOthersMessages() async throws {
        let probe = try await InternalAPITests.Probe()
        let trustletKey = try P256.KeyAgreement.PublicKey(x963Representation: try await probe.generate("inbox", kind: 2))
        let record = Array(#"{"resourceType":"Condition","id":"c1","code":{"text":"Asthma"}}"#.utf8)
        func control(_ number: UInt64, _ purpose: String) -> [UInt8] { (0..<8).map { UInt8((number >> UInt64(56 - 8 * $0)) & 0xFF) } + Array(purpose.utf8) }
        // Server → trustlet.
        let message = try SealedEnvelope.seal(record, to: trustletKey, purpose: "sync", sequence: 9)
        let opened = try await probe.call(16, [.input(Array("inbox".utf8)), .input(message), .input(control(8, "sync")), .output(capacity: 4096)]).bytes(3)
        #expect(opened == record)
        #expect(await probe.code(16, [.input(Array("inbox".utf8)), .input(message), .input(control(9, "sync")), .output(capacity: 4096)]) == .security)
        #expect(await probe.code(16, [.input(Array("inbox".utf8)), .input(message), .input(control(UInt64.max, "share")), .output(capacity: 4096)]) == .badParameters)
        // Padded to a larger bucket than the record needs: it opens the same, in the trustlet too.
        let padded = try SealedEnvelope.seal(record, to: trustletKey, purpose: "sync", sequence: 10, minimumBucket: 64 << 10)
        #expect(try SealedEnvelope.outside(padded).paddedSize == 64 << 10)
        #expect(try await probe.call(16, [.input(Array("inbox".utf8)), .input(padded), .input(control(9, "sync")), .output(capacity: 4096)]).bytes(3) == record)
        #expect(throws: ChannelError.self) { try SealedEnvelope.seal(record, to: trustletKey, purpose: "sync", sequence: 11, minimumBucket: 5000) }
        var flipped = message
        flipped[flipped.count - 5] ^= 0x80
        #expect(await probe.code(16, [.input(Array("inbox".utf8)), .input(flipped), .input(control(UInt64.max, "sync")), .output(capacity: 4096)]) == .macInvalid)
        // Trustlet → server.
        let server = P256.KeyAgreement.PrivateKey()
        let sealed = try await probe.call(17, [.input(Array(server.publicKey.x963Representation)), .input(record), .input(control(3, "upload")),
                                               .output(capacity: 4096)]).bytes(3) ?? []
        #expect(sealed.count == message.count - 4 + 6, "the same bucket (purpose 'upload' is two bytes longer than 'sync')")
        let back = try SealedEnvelope.open(sealed, with: server, purpose: "upload", after: 2)
        #expect(back.payload == record && back.sequence == 3)
    }
}
