import Foundation
import Testing
import TrubiZoneClient
import TrubiZoneProtocol
@testable import TrubiZoneSecureWorld
import TrubiZoneTesting

/// Throws 10,000 random and mutated frames at a running daemon from several connections at once,
/// then checks that the daemon still serves an honest client and that none of its stored objects
/// changed. (The register of the storage's clients may grow: a fuzzer's first session with a
/// client identity of its own is given a namespace, as any client's is.)
@Suite struct FrameFuzzTests {
    /// Valid frames to mutate: every message type with every parameter type.
    static func seeds() -> [[UInt8]] {
        let storage = BuiltInTrustlets.Storage.uuid
        let keystore = BuiltInTrustlets.Keystore.uuid
        let requests: [Request] = [
            .openSession(uuid: storage, login: .user, connectionData: 0, parameters: Parameters(), cancellationToken: .none),
            .openSession(uuid: keystore, login: .public, connectionData: 0, parameters: Parameters([.valueInput(a: 1, b: 2)]),
                         cancellationToken: .random()),
            .invokeCommand(session: 1, command: 0, parameters: Parameters([.memrefInput(Array("fuzz-id".utf8)), .memrefInput([1, 2, 3])]),
                           cancellationToken: .none),
            .invokeCommand(session: 1, command: 1, parameters: Parameters([.memrefInput(Array("fuzz-id".utf8)), .memrefOutput(capacity: 16)]),
                           cancellationToken: .none),
            .invokeCommand(session: 2, command: 0, parameters: Parameters([.memrefInput(Array("key".utf8)), .valueInput(a: 1, b: 0),
                                                                            .memrefOutput(capacity: 65)]), cancellationToken: .none),
            .invokeCommand(session: 1, command: 3, parameters: Parameters([.memrefInout([9, 9], capacity: 64), .valueOutput,
                                                                            .valueInout(a: 3, b: 4), .none]), cancellationToken: .none),
            .closeSession(session: 1),
            .requestCancellation(token: .random()),
        ]
        return requests.enumerated().map { WorldSwitchCodec.encode($1, requestID: UInt32($0 + 1)) }
    }

    struct Mutator {
        var random: SystemRandomNumberGenerator

        /// A mutated frame, and whether its header still states its true length.
        mutating func mutate(_ seed: [UInt8]) -> (bytes: [UInt8], consistent: Bool) {
            var frame = seed
            switch Int.random(in: 0..<10, using: &random) {
            case 0:  // pure garbage
                return ((0..<Int.random(in: 0...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }, false)
            case 1:  // header field damage
                frame[Int.random(in: 0..<16, using: &random)] = UInt8.random(in: 0...255, using: &random)
                return (frame, false)
            case 2:  // truncation
                return (Array(frame.prefix(Int.random(in: 0..<frame.count, using: &random))), false)
            default:  // body mutations with a correct length
                var body = Array(frame[16...])
                for _ in 0..<Int.random(in: 1...6, using: &random) {
                    switch Int.random(in: 0..<4, using: &random) {
                    case 0 where !body.isEmpty:
                        body[Int.random(in: 0..<body.count, using: &random)] ^= 1 << UInt8.random(in: 0...7, using: &random)
                    case 1 where !body.isEmpty:
                        body[Int.random(in: 0..<body.count, using: &random)] = [0, 0xFF, 0x7F, 0x80, 5, 6, 7][Int.random(in: 0..<7, using: &random)]
                    case 2:
                        body.insert(contentsOf: (0..<Int.random(in: 1...8, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) },
                                    at: Int.random(in: 0...body.count, using: &random))
                    default:
                        if !body.isEmpty { body.removeSubrange(Int.random(in: 0..<body.count, using: &random)..<body.count) }
                    }
                }
                if Int.random(in: 0..<5, using: &random) == 0 { frame[5] = UInt8.random(in: 0...6, using: &random) }
                var header = Array(frame[0..<12])
                header += [UInt8(body.count >> 24 & 0xFF), UInt8(body.count >> 16 & 0xFF), UInt8(body.count >> 8 & 0xFF), UInt8(body.count & 0xFF)]
                return (header + body, true)
            }
        }
    }

    @Test func tenThousandHostileFramesChangeNothing() async throws {
        let daemon = try DaemonHarness { $0.frameTimeout = .milliseconds(300) }
        defer { daemon.stop() }
        // The honest app is another user, so nothing the fuzzers may legitimately do touches it.
        let honest = try TEEContext.inProcess(daemon.world, peer: PeerIdentity(uid: 4242, gid: 4242, application: "/usr/bin/phr"))
        let session = try await honest.openSession(uuid: BuiltInTrustlets.Storage.uuid)
        var records: [String: [UInt8]] = [:]
        for i in 0..<10 {
            records["record-\(i)"] = Array("honest record \(i) \(UUID())".utf8)
            try await session.put("record-\(i)", records["record-\(i)"]!)
        }
        let honestDirectory = daemon.world.storage.directory(
            of: .builtIn(BuiltInTrustlets.Storage.uuid, client: ClientIdentity(login: .user, subject: "user:4242", uid: 4242)))
        let before = EmulatedDevice.files(under: honestDirectory)
        #expect(before.count >= records.count, "the honest records are found where the test looks for them")

        let seeds = Self.seeds()
        let counts = try await withThrowingTaskGroup(of: (sent: Int, replies: Int).self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var mutator = Mutator(random: SystemRandomNumberGenerator())
                    var sent = 0, replies = 0
                    var connection = try RawSocket(daemon.socketPath)
                    while sent < 2_500 {
                        let (bytes, consistent) = mutator.mutate(seeds[(sent + worker) % seeds.count])
                        connection.send(bytes)
                        sent += 1
                        if !consistent {
                            // The stream may be out of step now: end it, drain, start a new connection.
                            connection.finishSending()
                            while connection.reply(timeoutMilliseconds: 2_000) != nil { replies += 1 }
                            connection.close()
                            connection = try RawSocket(daemon.socketPath)
                        } else if connection.reply(timeoutMilliseconds: 2_000) != nil {
                            replies += 1
                        } else {
                            connection.close()
                            connection = try RawSocket(daemon.socketPath)
                        }
                    }
                    connection.close()
                    return (sent, replies)
                }
            }
            var total = (sent: 0, replies: 0)
            for try await count in group { total = (total.sent + count.sent, total.replies + count.replies) }
            return total
        }
        #expect(counts.sent == 10_000)
        #expect(counts.replies > 5_000, "most framable requests must get an answer, got \(counts.replies)")

        // An honest client over the socket still works...
        let fresh = try daemon.client()
        defer { fresh.close() }
        let probe = try await fresh.openSession(uuid: BuiltInTrustlets.Storage.uuid)
        try await probe.put("after-fuzz", [1, 2, 3])
        #expect(try await probe.get("after-fuzz") == [1, 2, 3])
        // ...and the honest records are unchanged, to the byte on disk.
        for (id, value) in records { #expect(try await session.get(id) == value) }
        let after = EmulatedDevice.files(under: honestDirectory)
        #expect(after.count == before.count)
        for file in before { #expect(after.contains { $0.path == file.path && $0.bytes == file.bytes }, "\(file.path) changed") }
        honest.close()
    }
}
