import Crypto
import Foundation
import Testing
import TrubiZoneChannel
import TrubiZoneClient
import TrubiZoneProtocol
import TrubiZoneTesting
import TrubiZoneWire

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
        let key = P256.KeyAgreement.PrivateKey(), server = P256.KeyAgreement.PrivateKey()
        var sizes: [Int: Int] = [:]
        for count in [0, 1, 100, 1019, 1020, 1021, 5000, 70_000, (1 << 20) - 4, (1 << 20) - 3, 3 << 20] {
            let message = try SealedEnvelope.seal([UInt8](repeating: 7, count: count), to: key.publicKey, from: server, purpose: "sync", sequence: 1)
            sizes[count] = message.count
            #expect(try SealedEnvelope.open(message, with: key, from: server.publicKey, purpose: "sync", after: nil).payload.count == count)
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
        let server = P256.KeyAgreement.PrivateKey(), attacker = P256.KeyAgreement.PrivateKey()
        let nonce = String(repeating: "5a", count: 16)
        func open(_ message: [UInt8], with recipient: P256.KeyAgreement.PrivateKey? = nil, from sender: P256.KeyAgreement.PublicKey? = nil,
                  purpose: String = "sync", request: String = nonce, after last: UInt64? = nil) throws -> (payload: [UInt8], sequence: UInt64) {
            try SealedEnvelope.open(message, with: recipient ?? key, from: sender ?? server.publicKey, purpose: purpose, answering: request, after: last)
        }
        let payload = Array(#"{"resourceType":"Observation","id":"bp-7"}"#.utf8)
        let first = try SealedEnvelope.seal(payload, to: key.publicKey, from: server, purpose: "sync", sequence: 41, answering: nonce)
        let second = try SealedEnvelope.seal(payload, to: key.publicKey, from: server, purpose: "sync", sequence: 42, answering: nonce)
        let opened = try open(second, after: 41)
        #expect(opened.payload == payload && opened.sequence == 42)
        // Replay, and reordering (the older message after the newer one).
        #expect(throws: ChannelError.replayed(sequence: 42, last: 42)) { try open(second, after: 42) }
        #expect(throws: ChannelError.replayed(sequence: 41, last: 42)) { try open(first, after: 42) }
        #expect(throws: ChannelError.wrongRecipient) { try open(first, with: other) }
        #expect(throws: ChannelError.wrongPurpose(expected: "upload", found: "sync")) { try open(first, purpose: "upload") }
        // An answer to another request, or to none.
        #expect(throws: ChannelError.wrongRequest) { try open(first, request: String(repeating: "a5", count: 16)) }
        #expect(throws: ChannelError.wrongRequest) { try open(first, request: "") }
        // Built from public keys only: sealed by another key, honestly or under the server's name.
        let honest = try SealedEnvelope.seal(payload, to: key.publicKey, from: attacker, purpose: "sync", sequence: 43, answering: nonce)
        #expect(throws: ChannelError.wrongSender) { try open(honest) }
        var posing = honest
        posing.replaceSubrange(18..<26, with: Array(SHA256.hash(data: Array(server.publicKey.x963Representation))).prefix(8))
        #expect(throws: ChannelError.authenticationFailed) { try open(posing) }
        // A bit flipped anywhere: in the sequence number, the request, the encapsulated key or the
        // ciphertext (a flip in a hint or the purpose is reported as those).
        let requestAt = 35 + 4 + 1
        for index in [30, requestAt + 3, requestAt + 32 + 3, first.count - 1] {
            var flipped = first
            flipped[index] ^= 0x01
            #expect(throws: ChannelError.self, "bit flip at \(index)") { try open(flipped) }
            #expect(throws: ChannelError.authenticationFailed, "bit flip at \(index)") { try open(flipped, request: String(decoding: flipped[requestAt..<(requestAt + 32)], as: UTF8.self)) }
        }
        // The sequence number in the header is authenticated too: raising it is caught.
        var renumbered = first
        renumbered[33] = 0xFF
        #expect(throws: ChannelError.authenticationFailed) { try open(renumbered, after: 41) }
        #expect(throws: ChannelError.authenticationFailed) { try open(Array(first.dropLast(1))) }
        #expect(throws: ChannelError.malformed("the message is truncated")) { try open(Array(first.prefix(60))) }
        #expect(throws: ChannelError.malformed("not a TrubiZone channel message (no TZE2)")) { try open([UInt8](repeating: 0, count: 200)) }
        var version1 = first
        version1[3] = 0x31
        #expect(throws: ChannelError.unsupportedVersion) { try open(version1) }
        var otherSuite = first
        otherSuite[5] = 0x20
        #expect(throws: ChannelError.unsupportedSuite) { try open(otherSuite) }
        #expect(throws: ChannelError.badPurpose) { try SealedEnvelope.seal(payload, to: key.publicKey, from: server, purpose: "has space", sequence: 1) }
        #expect(throws: ChannelError.badRequest) { try SealedEnvelope.seal(payload, to: key.publicKey, from: server, purpose: "sync", sequence: 1, answering: "two words") }
    }

    /// The format's deterministic parts, byte for byte: a change to the layout, the labels or the
    /// padding on either side fails here (and in the trustlet, which compiles the same source).
    @Test func theFormatsDeterministicBytesArePinned() throws {
        let recipient = [UInt8](repeating: 0x11, count: 32), sender = [UInt8](repeating: 0x22, count: 32)
        let aad = try ChannelMessage.associatedData(recipientHash: recipient, senderHash: sender, sequence: 0x0102030405060708,
                                                    purpose: Array("phr-sync".utf8), request: Array("ab".utf8))
        #expect(Hex.encode(aad) == "545a4532" + "001000010001" + String(repeating: "11", count: 8) + String(repeating: "22", count: 8)
            + "0102030405060708" + "08" + Hex.encode(Array("phr-sync".utf8)) + "02" + "6162")
        #expect(Hex.encode(ChannelMessage.info(recipientHash: recipient, senderHash: sender))
            == Hex.encode(Array("TrubiZone channel v2".utf8)) + "00" + String(repeating: "11", count: 32) + String(repeating: "22", count: 32))
        let padded = try ChannelMessage.pad([0xAA, 0xBB])
        #expect(padded.count == 1024 && Array(padded.prefix(6)) == [0, 0, 0, 2, 0xAA, 0xBB] && padded.dropFirst(6).allSatisfy { $0 == 0 })
        #expect(try ChannelMessage.unpad(padded) == [0xAA, 0xBB])
        var dirty = padded
        dirty[1000] = 1
        #expect(throws: ChannelFormatError.badPadding) { try ChannelMessage.unpad(dirty) }
        #expect(Hex.encode(SignedRequestMessage.message(method: Array("POST".utf8), target: Array("/v1/sync".utf8), device: Array("d".utf8), time: 1_764_547_200,
                                                        nonce: Array("n".utf8), body: Array("{}".utf8)))
            == Hex.encode(Array("TrubiZone PHR request v1\nPOST\n/v1/sync\nd\n1764547200\nn\n{}".utf8)))
    }

    @Test func aTrustletAndTheServerOpenEachOthersMessages() async throws {
        let probe = try await InternalAPITests.Probe()
        let trustletKey = try P256.KeyAgreement.PublicKey(x963Representation: try await probe.generate("inbox", kind: 2))
        let server = P256.KeyAgreement.PrivateKey(), attacker = P256.KeyAgreement.PrivateKey()
        let record = Array(#"{"resourceType":"Condition","id":"c1","code":{"text":"Asthma"}}"#.utf8)
        let nonce = String(repeating: "0f", count: 16)
        func control(_ number: UInt64, _ peer: P256.KeyAgreement.PublicKey, _ purpose: String, request: String = nonce) -> [UInt8] {
            (0..<8).map { UInt8((number >> UInt64(56 - 8 * $0)) & 0xFF) } + Array(peer.x963Representation) + [UInt8(request.utf8.count)] + Array(request.utf8)
                + Array(purpose.utf8)
        }
        func openInTrustlet(_ message: [UInt8], _ control: [UInt8]) async -> ReturnCode {
            await probe.code(16, [.input(Array("inbox".utf8)), .input(message), .input(control), .output(capacity: 4096)])
        }
        // Server → trustlet.
        let message = try SealedEnvelope.seal(record, to: trustletKey, from: server, purpose: "sync", sequence: 9, answering: nonce)
        let opened = try await probe.call(16, [.input(Array("inbox".utf8)), .input(message), .input(control(8, server.publicKey, "sync")), .output(capacity: 4096)]).bytes(3)
        #expect(opened == record)
        #expect(await openInTrustlet(message, control(9, server.publicKey, "sync")) == .security)
        #expect(await openInTrustlet(message, control(UInt64.max, server.publicKey, "share")) == .badParameters)
        #expect(await openInTrustlet(message, control(UInt64.max, server.publicKey, "sync", request: "")) == .security)
        #expect(await openInTrustlet(message, control(UInt64.max, attacker.publicKey, "sync")) == .security)
        // Sealed to the trustlet's public key by anyone else: refused, whatever sender it names.
        let forged = try SealedEnvelope.seal(record, to: trustletKey, from: attacker, purpose: "sync", sequence: 9, answering: nonce)
        var posing = forged
        posing.replaceSubrange(18..<26, with: Array(SHA256.hash(data: Array(server.publicKey.x963Representation))).prefix(8))
        #expect(await openInTrustlet(forged, control(UInt64.max, server.publicKey, "sync")) == .security)
        #expect(await openInTrustlet(posing, control(UInt64.max, server.publicKey, "sync")) == .macInvalid)
        // Padded to a larger bucket than the record needs: it opens the same, in the trustlet too.
        let padded = try SealedEnvelope.seal(record, to: trustletKey, from: server, purpose: "sync", sequence: 10, answering: nonce, minimumBucket: 64 << 10)
        #expect(try SealedEnvelope.outside(padded).paddedSize == 64 << 10)
        #expect(try await probe.call(16, [.input(Array("inbox".utf8)), .input(padded), .input(control(9, server.publicKey, "sync")), .output(capacity: 4096)]).bytes(3) == record)
        #expect(throws: ChannelError.self) { try SealedEnvelope.seal(record, to: trustletKey, from: server, purpose: "sync", sequence: 11, minimumBucket: 5000) }
        var flipped = message
        flipped[flipped.count - 5] ^= 0x80
        #expect(await openInTrustlet(flipped, control(UInt64.max, server.publicKey, "sync")) == .macInvalid)
        // Trustlet → server, from the trustlet's key.
        let sealed = try await probe.call(17, [.input(Array("inbox".utf8)), .input(record), .input(control(3, server.publicKey, "upload", request: "")),
                                               .output(capacity: 4096)]).bytes(3) ?? []
        #expect(sealed.count == message.count - 4 + 6 - 32, "the same bucket (purpose 'upload' is two bytes longer than 'sync'; no request)")
        let back = try SealedEnvelope.open(sealed, with: server, from: trustletKey, purpose: "upload", after: 2)
        #expect(back.payload == record && back.sequence == 3)
        #expect(throws: ChannelError.wrongSender) { try SealedEnvelope.open(sealed, with: server, from: attacker.publicKey, purpose: "upload", after: 2) }
    }
}
