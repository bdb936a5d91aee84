import Foundation
import Synchronization
import PHRApp
import PHRAppCommands
import TrubiZoneClient
import TrubiZoneProtocol
import TrubiZoneSampleTrustlets
import TrubiZoneSecureWorld

/// The secure world's exported interface, abused: the world-switch socket with any bytes, the
/// client API with any parameters, other clients' sessions, and hostile trustlets.
enum InterfaceAttacks {
    static var all: [Attack] {
        [
            Attack("api-foreign-client", "Open sessions to the PHR trustlet from another app while the patient's session is unlocked",
                   .exportedComponents, .access, defense: "an unlock belongs to the session that entered the PIN; another client gets no record",
                   play: foreignClient),
            Attack("api-session-hijack", "Invoke other connections' session IDs over a new connection to the daemon", .exportedComponents, .access,
                   defense: "a session belongs to the connection that opened it", play: sessionHijack),
            Attack("api-malformed-frames", "Send garbage, a bad magic, a 4 GiB length, a truncated frame and unknown kinds to the daemon",
                   .exportedComponents, .access, defense: "refused or disconnected with nothing allocated; honest sessions go on", play: malformedFrames),
            Attack("api-invalid-parameters", "Call PHR commands with wrong parameter types, unknown commands and malformed inputs",
                   .exportedComponents, .access, defense: "each call refused with a specific code; the session goes on", play: invalidParameters),
            Attack("api-huge-allocations", "Ask for 4 GiB output buffers and oversized inputs", .exportedComponents, .access,
                   defense: "refused against the frame and object limits before anything is allocated", play: hugeAllocations),
            Attack("api-hostile-trustlets", "Run an endless loop, a memory bomb, traps and out-of-bounds host calls beside an honest session",
                   .exportedComponents, .access, defense: "fuel, memory limits and bounds checks stop the hostile trustlet; the honest session answers",
                   play: hostileTrustlets),
        ]
    }

    /// An enrolled phone whose secure world is behind the world-switch socket, and the socket.
    static func socketPhone(_ lab: AttackLab, _ base: String) async throws -> (EmulatedPhone, PatientApp, String) {
        let (phone, app) = try await lab.enrolledPhone(base, transport: .socket)
        guard let path = phone.socketPath else {
            phone.shutdown()
            throw AttackFailure("the phone has no socket")
        }
        return (phone, app, path)
    }

    static func foreignClient(_ lab: AttackLab) async throws -> Verdict {
        let (phone, app) = try await lab.enrolledPhone("foreign", patient: try lab.patients().last)
        defer { phone.shutdown() }
        _ = try await app.sync()
        guard let record = try await app.device.query(PHRDevice.Query(limit: 1)).entries.first?.n else { throw AttackFailure("no record") }
        try await app.device.show(record)  // the patient's session is unlocked and in use
        let malware = PeerIdentity(uid: 10_666, gid: 10_666, application: "/data/app/com.example.flashlight/base.apk")
        let context = try TEEContext.inProcess(phone.world, peer: malware)
        defer { context.close() }
        var verdicts: [Verdict] = []
        for login in [LoginMethod.public, .user, .application] {
            let device = PHRDevice(session: try await context.openSession(uuid: PHRTrustlet.uuid, login: login))
            verdicts.append(try await refused("show from another app (\(login) login)", expecting: .cancel) { try await device.show(record) })
            verdicts.append(try await refused("release from another app (\(login) login)", expecting: .cancel) { _ = try await device.release(record) })
        }
        return allHold(verdicts)
    }

    static func sessionHijack(_ lab: AttackLab) async throws -> Verdict {
        let (phone, app, path) = try await socketPhone(lab, "hijack")
        defer { phone.shutdown() }
        let socket = try RawConnection(path)
        defer { socket.close() }
        var answered: [String] = []
        for session in UInt32(0)..<64 {
            let reply = try socket.exchange(.invokeCommand(session: session, command: 0, parameters: Parameters([.memrefOutput(capacity: 4096)]),
                                                           cancellationToken: .none))
            if reply.code == .success { answered.append("session \(session)") } else if reply.code != .badParameters {
                throw AttackFailure("session \(session) from a new connection: expected \(ReturnCode.badParameters.name), got \(reply.code.name)")
            }
        }
        guard answered.isEmpty else { return .accepted("another connection's \(answered.joined(separator: ", ")) answered") }
        _ = try await app.device.status()
        return .defended("64 session IDs tried from a new connection: each \(ReturnCode.badParameters.name) (no such session on it); the patient's own session still does")
    }

    static func malformedFrames(_ lab: AttackLab) async throws -> Verdict {
        let (phone, app, path) = try await socketPhone(lab, "frames")
        defer { phone.shutdown() }
        let open = WorldSwitchCodec.encode(.closeSession(session: 1), requestID: 1)
        var header = open
        header[0] = UInt8(ascii: "X")
        var huge = Array(open.prefix(WorldSwitchCodec.headerSize))
        huge.replaceSubrange(12..<16, with: [0xFF, 0xFF, 0xFF, 0xF0])
        var unknownKind = open
        unknownKind[5] = 0x42
        let truncated = Array(WorldSwitchCodec.encode(.requestCancellation(token: .none), requestID: 2).dropLast(5))
        let cases: [(String, [UInt8])] = [
            ("garbage", (0..<256).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }), ("a bad magic", header), ("a 4 GiB length", huge),
            ("an unknown kind", unknownKind), ("a truncated frame", truncated),
        ]
        var outcomes: [String] = []
        for (name, bytes) in cases {
            let socket = try RawConnection(path)
            defer { socket.close() }
            try socket.send(bytes)
            if name == "a truncated frame" { socket.finishSending() }
            switch socket.next(timeoutMilliseconds: 3_000) {
            case let .reply(reply): outcomes.append("\(name): \(reply.code)")
            case .closed: outcomes.append("\(name): disconnected")
            case .silent: return .accepted("\(name): the daemon neither answered nor disconnected")
            }
            if case let .reply(reply) = socket.next(timeoutMilliseconds: 1), reply.code == .success { return .accepted("\(name) got a success") }
        }
        let status = try await app.device.status()
        let fresh = try TEEContext.socket(path: path)
        defer { fresh.close() }
        _ = try await PHRDevice.open(fresh).status()
        return .defended(outcomes.joined(separator: "; ") + "; then the patient's session (\(status.records) records) and a new connection both answered")
    }

    static func invalidParameters(_ lab: AttackLab) async throws -> Verdict {
        let (phone, app) = try await lab.enrolledPhone("parameters")
        defer { phone.shutdown() }
        let session = app.device.session
        let garbage = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 97) }
        let calls: [(String, UInt32, [TEEParameter])] = [
            ("an unknown command", 999, []),
            ("query with a value for its filter", PHRTrustlet.Command.query.rawValue, [.valueInput(1), .output(capacity: 1024)]),
            ("query with malformed JSON", PHRTrustlet.Command.query.rawValue, [.input(Array(#"{"limit": -1, "type": [}"#.utf8)), .output(capacity: 1024)]),
            ("release with a buffer for its number", PHRTrustlet.Command.release.rawValue, [.input([1, 2, 3, 4]), .output(capacity: 1024)]),
            ("a sync page of garbage", PHRTrustlet.Command.syncPage.rawValue, [.input(garbage), .valueOutput]),
            ("an enrollment answer of garbage", PHRTrustlet.Command.enrollFinish.rawValue, [.input(garbage)]),
            ("a server audit trail of garbage", PHRTrustlet.Command.serverAudit.rawValue, [.input(garbage), .output(capacity: 4096)]),
            ("a receipt of garbage", PHRTrustlet.Command.uploadDone.rawValue, [.input(garbage)]),
            ("status with no room for its answer", PHRTrustlet.Command.status.rawValue, [.valueInput(7)]),
        ]
        var codes: [String] = []
        for (name, command, parameters) in calls {
            do {
                _ = try await session.invoke(command: command, parameters: parameters)
                return .accepted("\(name) succeeded")
            } catch {
                codes.append("\(name): \(error.code)")
            }
        }
        let status = try await app.device.status()
        guard status.enrolled else { return .accepted("the calls undid the enrollment") }
        return .defended(codes.joined(separator: "; ") + "; the session still answers")
    }

    static func hugeAllocations(_ lab: AttackLab) async throws -> Verdict {
        let (phone, app, path) = try await socketPhone(lab, "allocations")
        defer { phone.shutdown() }
        let socket = try RawConnection(path)
        defer { socket.close() }
        let opened = try socket.exchange(.openSession(uuid: PHRTrustlet.uuid, login: .user, connectionData: 0, parameters: Parameters(), cancellationToken: .none))
        guard opened.code == .success else { throw AttackFailure("cannot open a session: \(opened.code)") }
        var codes: [String] = []
        for (name, parameters) in [
            ("a 4 GiB output buffer", Parameters([.memrefOutput(capacity: 0xFFFF_FFFF)])),
            ("a 4 GiB in-out buffer", Parameters([.memrefInout([1, 2, 3], capacity: 0xFFFF_FFFF)])),
            ("four 1 GiB outputs", Parameters(Array(repeating: .memrefOutput(capacity: 1 << 30), count: 4))),
        ] {
            let reply = try socket.exchange(.invokeCommand(session: opened.session, command: PHRTrustlet.Command.status.rawValue, parameters: parameters,
                                                           cancellationToken: .none))
            guard reply.code != .success else { return .accepted("\(name) was served") }
            codes.append("\(name): \(reply.code)")
        }
        // 5 MiB in one frame: more than the daemon reads.
        let big = WorldSwitchCodec.encode(.invokeCommand(session: opened.session, command: PHRTrustlet.Command.syncPage.rawValue,
                                                         parameters: Parameters([.memrefInput(Array(repeating: 0x41, count: 5 << 20))]), cancellationToken: .none),
                                          requestID: 9)
        let bigSocket = try RawConnection(path)
        defer { bigSocket.close() }
        try? bigSocket.send(big)
        switch bigSocket.next(timeoutMilliseconds: 3_000) {
        case let .reply(reply) where reply.code == .success: return .accepted("a 5 MiB frame was served")
        case let .reply(reply): codes.append("a 5 MiB frame: \(reply.code)")
        case .closed: codes.append("a 5 MiB frame: disconnected")
        case .silent: return .accepted("a 5 MiB frame: no answer and no disconnect")
        }
        _ = try await app.device.status()
        return .defended(codes.joined(separator: "; ") + "; the patient's session still answers")
    }

    static func hostileTrustlets(_ lab: AttackLab) async throws -> Verdict {
        let (phone, app) = try await lab.enrolledPhone("hostile")
        defer { phone.shutdown() }
        let uuid = TrustletUUID("0badc0de-0000-4000-8000-00000000beef")!
        let manifest = TrustletManifest(uuid: uuid.description, name: "hostile", version: "1.0.0", capabilities: Capabilities.names.map(\.0),
                                        limits: .init(memoryPages: 32, fuelPerCall: 5_000_000, maxSessions: 4))
        try await phone.install(try TrustletPackage.sign(manifest: manifest, wasm: try SampleTrustlets.wasm("hostile"), key: lab.stage.developer))
        let before = try await app.device.status()
        // Every argument of every host function, one at a time, made a far pointer (or length).
        let sweep = SampleTrustlets.hostileHostFunctions.enumerated().flatMap { index, function in
            (0..<function.arguments).filter { SampleTrustlets.isAddressOrLength(function.name, $0) }.map {
                ("tz.\(function.name) with argument \($0) far out of bounds", UInt32(30), [TEEParameter.valueInput(UInt32(index), UInt32($0))], "bad pointer")
            }
        }
        // Each must end its own session, for the reason named; anything else proves nothing.
        let commands: [(String, UInt32, [TEEParameter], String)] = [
            ("an endless loop", 1, [], "execution budget"), ("a memory bomb", 2, [], "ran out of its"), ("a trap", 3, [], "trapped"),
            ("an endless loop of host calls hashing 1 MiB each", 4, [], "execution budget"),
        ] + (10...21).filter { $0 != 20 }.map { ("out-of-bounds host call \($0 - 10)", UInt32($0), [], "bad pointer") } + sweep
        // Positive control: the same host calls with every argument in bounds return to the guest.
        let control = try await phone.context.openSession(uuid: uuid)
        for index in SampleTrustlets.hostileHostFunctions.indices where !SampleTrustlets.hostileHostFunctions[index].name.hasPrefix("ui_") {
            do {
                _ = try await control.invoke(command: 30, parameters: [.valueInput(UInt32(index), 99)])
            } catch {
                throw AttackFailure("tz.\(SampleTrustlets.hostileHostFunctions[index].name) in bounds did not return: \(error.code)")
            }
        }
        try? await control.close()
        var stopped: [String: Int] = [:]
        var honestCalls = 0
        for (name, command, parameters, reason) in commands {
            // Each attack in its own session of its own client, while the honest session keeps
            // asking. A call still running after 20 s (each stops in well under a second) is
            // what the attacker wanted, a core held; its client then hangs up.
            async let honest = app.device.status()
            let client = try TEEContext.inProcess(phone.world)
            defer { client.close() }
            let session = try await client.openSession(uuid: uuid)
            let watchdog = Watchdog(after: 20, client)
            do {
                _ = try await session.invoke(command: command, parameters: parameters)
                return .accepted("\(name) returned to the trustlet instead of ending its session")
            } catch where watchdog.disarm() {
                return .accepted("\(name) still ran after 20 s, until its client hung up (\(error.message))")
            } catch where error.code == .targetDead && error.message.contains(reason) {
                stopped["\(error.code.name) (\(reason))", default: 0] += 1
            } catch {
                throw AttackFailure("\(name): expected TEEC_ERROR_TARGET_DEAD (\(reason)), got \(error.code.name): \(error.message)")
            }
            try? await session.close()
            guard try await honest == before else { return .accepted("the honest session's state changed during \(name)") }
            honestCalls += 1
        }
        return .defended("\(commands.count) hostile calls ended as " + stopped.sorted { $0.key < $1.key }.map { "\($0.value)× \($0.key)" }.joined(separator: ", ")
                         + "; the honest session answered all \(honestCalls) calls made beside them, unchanged")
    }
}

/// Hangs up a client whose call has not returned in time, as a client that stops waiting would.
final class Watchdog: Sendable {
    private let state = Mutex<(done: Bool, fired: Bool)>((false, false))

    init(after seconds: Double, _ client: TEEContext) {
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            let fire = self.state.withLock { state in
                if !state.done { state.fired = true }
                return state.fired
            }
            if fire { client.close() }
        }
    }

    /// Stops it: whether it had already hung up.
    func disarm() -> Bool { state.withLock { $0.done = true; return $0.fired } }
}

/// A hostile client on the world-switch socket: raw frames, no client library.
struct RawConnection {
    let socket: FrameSocket

    init(_ path: String) throws { socket = try FrameSocket.connect(path: path) }

    func send(_ bytes: [UInt8]) throws { try socket.write(bytes) }

    func finishSending() { shutdown(socket.fd, Int32(SHUT_WR)) }

    func exchange(_ request: Request) throws -> Reply {
        try send(WorldSwitchCodec.encode(request, requestID: 1))
        guard case let .reply(reply) = next(timeoutMilliseconds: 10_000) else { throw AttackFailure("the daemon did not answer") }
        return reply
    }

    enum Next { case reply(Reply), closed, silent }

    func next(timeoutMilliseconds: Int32) -> Next {
        var poller = pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, timeoutMilliseconds) == 1 else { return .silent }
        guard let (header, body) = try? socket.readFrame(maxFrameSize: 1 << 22, idleTimeout: timeoutMilliseconds, frameTimeout: timeoutMilliseconds),
              let reply = try? WorldSwitchCodec.decodeReply(kind: header.kind, body: body) else { return .closed }
        return .reply(reply)
    }

    func close() { socket.close() }
}
