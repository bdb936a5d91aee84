import Foundation
import Testing
import TrubiZoneClient
import TrubiZoneDaemon
import TrubiZoneEmulatedDevice
import TrubiZoneProtocol
import TrubiZoneSecureWorld
import TrubiZoneTesting

@Suite struct DaemonTests {
    @Test func socketIsCreatedOwnerOnly() throws {
        let daemon = try DaemonHarness()
        defer { daemon.stop() }
        let mode = try FileManager.default.attributesOfItem(atPath: daemon.socketPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func manyClientsWithManySessionsAtOnce() async throws {
        let daemon = try DaemonHarness()
        defer { daemon.stop() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<16 {
                group.addTask {
                    let context = try daemon.client()
                    defer { context.close() }
                    var sessions: [TEESession] = []
                    for _ in 0..<4 { sessions.append(try await context.openSession(uuid: BuiltInTrustlets.Storage.uuid)) }
                    for round in 0..<25 {
                        let session = sessions[round % sessions.count]
                        let value = Array("client \(client) round \(round)".utf8)
                        try await session.put("c\(client)", value)
                        let back = try await session.get("c\(client)")
                        if back != value { throw TEEError(code: .generic, origin: .api, message: "client \(client) read another value") }
                    }
                }
            }
            try await group.waitForAll()
        }
        let context = try daemon.client()
        defer { context.close() }
        let listed = try await context.openSession(uuid: BuiltInTrustlets.Storage.uuid)
            .invoke(command: StorageCommand.list.rawValue, parameters: [.output(capacity: 4096)])
        #expect(BuiltInTrustlets.decodeList(listed.bytes(0) ?? [])?.count == 16)
    }

    @Test func oversizedFrameClosesOnlyItsConnection() async throws {
        let daemon = try DaemonHarness { $0.maxFrameSize = 64 * 1024 }
        defer { daemon.stop() }
        let honest = try daemon.client()
        defer { honest.close() }
        let session = try await honest.openSession(uuid: BuiltInTrustlets.Storage.uuid)

        let attacker = try RawSocket(daemon.socketPath)
        var header = ByteWriter()
        header.raw(WorldSwitchCodec.magic); header.u8(1); header.u8(2); header.u16(0); header.u32(9); header.u32(1 << 30)
        attacker.send(header.bytes)
        let answer = attacker.reply()
        #expect(answer?.reply.code == .excessData)
        #expect(answer?.reply.message.contains("exceeds the limit") == true)
        #expect(attacker.isClosedByPeer(timeoutMilliseconds: 2_000))

        // A put whose frame is over the daemon's limit: refused, and the honest session is unharmed.
        let error = await #expect(throws: TEEError.self) { try await session.put("big", [UInt8](repeating: 1, count: 100_000)) }
        #expect(error?.code == .excessData)
        let again = try daemon.client()
        defer { again.close() }
        try await again.openSession(uuid: BuiltInTrustlets.Storage.uuid).put("small", [1])
    }

    @Test func garbageGetsAnErrorAndAClosedConnection() throws {
        let daemon = try DaemonHarness()
        defer { daemon.stop() }
        let attacker = try RawSocket(daemon.socketPath)
        attacker.send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(attacker.reply()?.reply.code == .badFormat)
        #expect(attacker.isClosedByPeer(timeoutMilliseconds: 2_000))
    }

    @Test func malformedButFramableRequestsGetGPErrorsAndTheConnectionStays() throws {
        let daemon = try DaemonHarness()
        defer { daemon.stop() }
        let client = try RawSocket(daemon.socketPath)
        defer { client.close() }
        // Unknown message type.
        client.send([UInt8]("TZWS".utf8) + [1, 0x42, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0])
        var answer = client.reply()
        #expect(answer?.requestID == 7)
        #expect(answer?.reply.code == .notSupported)
        // A truncated open-session body.
        client.send([UInt8]("TZWS".utf8) + [1, 1, 0, 0, 0, 0, 0, 8, 0, 0, 0, 3, 1, 2, 3])
        answer = client.reply()
        #expect(answer?.requestID == 8)
        #expect(answer?.reply.code == .badFormat)
        // An invoke on a session that does not exist.
        client.send(WorldSwitchCodec.encode(.invokeCommand(session: 77, command: 0, parameters: Parameters(), cancellationToken: .none), requestID: 9))
        answer = client.reply()
        #expect(answer?.reply.code == .badParameters)
        // Still served after all that.
        client.send(WorldSwitchCodec.encode(.openSession(uuid: BuiltInTrustlets.Storage.uuid, login: .user, connectionData: 0,
                                                         parameters: Parameters(), cancellationToken: .none), requestID: 10))
        #expect(client.reply()?.reply.code == .success)
    }

    @Test func connectionClosedMidFrameHarmsNobody() async throws {
        let daemon = try DaemonHarness()
        defer { daemon.stop() }
        // An honest session open before, with the session number the cut frames name.
        let honest = try daemon.client()
        defer { honest.close() }
        let session = try await honest.openSession(uuid: BuiltInTrustlets.Storage.uuid)
        try await session.put("before", [9])
        let frame = WorldSwitchCodec.encode(.invokeCommand(session: 1, command: 0, parameters: Parameters([.memrefInput([UInt8](repeating: 1, count: 1000))]),
                                                           cancellationToken: .none), requestID: 1)
        for cut in [3, 16, 40, 500] {
            let attacker = try RawSocket(daemon.socketPath)
            attacker.send(Array(frame.prefix(cut)))
            attacker.close()
        }
        // Once the daemon has read each cut frame and let its connection go (only the honest
        // one is left), the honest session, its data and the daemon are as they were.
        let deadline = ContinuousClock.now + .seconds(20)
        while daemon.server.openConnections > 1 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(daemon.server.openConnections == 1, "the cut connections were let go")
        #expect(try await session.get("before") == [9])
        try await session.put("after", [1])
        #expect(try await session.get("after") == [1])
        #expect(daemon.world.invokesRunning == 0)
        #expect(try await daemon.client().openSession(uuid: BuiltInTrustlets.Storage.uuid).get("before") == [9])
    }

    /// A client that hangs up while its call runs takes the call with it: the hostile trustlet's
    /// loop of host calls (with fuel for hours of it) stops within moments, not at its budget.
    @Test func anInvokeStopsWhenItsClientHangsUp() async throws {
        let daemon = try DaemonHarness()
        defer { daemon.stop() }
        try Samples.install("hostile", as: Samples.hostile, in: daemon.world,
                            limits: TrustletLimits(memoryPages: 32, fuelPerCall: 1 << 50, maxSessions: 8))
        // A raw client, so no task of this process blocks on the reply that never comes (with two
        // cores the test process has two cooperative threads; a blocked one can starve the rest).
        let client = try RawSocket(daemon.socketPath)
        client.send(WorldSwitchCodec.encode(.openSession(uuid: Samples.hostile, login: .user, connectionData: 0, parameters: Parameters([]),
                                                         cancellationToken: .none), requestID: 1))
        let session = try #require(client.reply(timeoutMilliseconds: 20_000)?.reply.session)
        client.send(WorldSwitchCodec.encode(.invokeCommand(session: session, command: 4, parameters: Parameters([]), cancellationToken: .none),
                                            requestID: 2))
        // Hung up before it began, the call would not run at all; here it must be running.
        for _ in 0..<200 where daemon.world.invokesRunning == 0 { try await Task.sleep(for: .milliseconds(50)) }
        #expect(daemon.world.invokesRunning == 1)
        try await Task.sleep(for: .milliseconds(200))
        #expect(!daemon.world.secureLog.all.contains { $0.message.contains("the client is gone") }, "still running while the client waits")
        client.close()
        var stopped = false
        for _ in 0..<200 where !stopped {
            try await Task.sleep(for: .milliseconds(100))
            stopped = daemon.world.secureLog.all.contains { $0.trustlet == "hostile" && $0.message.contains("the client is gone") }
        }
        #expect(stopped, "the invoke ran on after its client hung up")
        // The trustlet serves the next client.
        let next = try daemon.client()
        defer { next.close() }
        let fresh = try await next.openSession(uuid: Samples.hostile)
        #expect(try await fresh.invoke(command: 20, parameters: [.none, .valueOutput]).value(1)?.a == 0)

        // Hanging up before the call has even begun, and half-closing behind two queued calls:
        // a connection whose client is gone runs nothing more, whenever the hang-up came.
        for queued in [1, 2] {
            func stops() -> Int {
                daemon.world.secureLog.all.filter { $0.message.contains("the client is gone") }.count
                    + daemon.logs.all.filter { $0.contains("a call it left behind is not run") }.count
            }
            let before = stops()
            let raw = try RawSocket(daemon.socketPath)
            raw.send(WorldSwitchCodec.encode(.openSession(uuid: Samples.hostile, login: .public, connectionData: 0, parameters: Parameters([]),
                                                          cancellationToken: .none), requestID: 1))
            let session = try #require(raw.reply()?.reply.session)
            for request in 0..<queued {
                raw.send(WorldSwitchCodec.encode(.invokeCommand(session: session, command: 4, parameters: Parameters([]), cancellationToken: .none),
                                                 requestID: UInt32(2 + request)))
            }
            if queued == 1 { raw.close() } else { raw.finishSending() }
            var ended = false
            for _ in 0..<200 where !ended {
                try await Task.sleep(for: .milliseconds(100))
                ended = stops() >= before + queued
            }
            #expect(ended, "\(queued) call(s), then a hang-up: a call ran on")
            guard ended else { continue }
            // Nothing queued behind it runs either: the trustlet answers the next client at once.
            let again = try daemon.client()
            defer { again.close() }
            #expect(try await again.openSession(uuid: Samples.hostile).invoke(command: 20, parameters: [.none, .valueOutput]).value(1)?.a == 0)
            if queued != 1 { raw.close() }
        }
    }

    @Test func idleAndStalledConnectionsAreClosed() throws {
        let daemon = try DaemonHarness {
            $0.idleTimeout = .seconds(1)
            $0.frameTimeout = .seconds(1)
        }
        defer { daemon.stop() }
        let idle = try RawSocket(daemon.socketPath)
        #expect(idle.isClosedByPeer(timeoutMilliseconds: 4_000))
        // A frame that begins and never ends (slowloris).
        let stalled = try RawSocket(daemon.socketPath)
        stalled.send(Array(WorldSwitchCodec.encode(.closeSession(session: 1), requestID: 1).prefix(10)))
        #expect(stalled.isClosedByPeer(timeoutMilliseconds: 4_000))
    }

    @Test func connectionsBeyondTheLimitAreRefusedWithBusy() async throws {
        // Four connections: one user holds three, the fourth is kept for another app.
        let daemon = try DaemonHarness(limits: .init(maxConnections: 4))
        defer { daemon.stop() }
        let mine = try (0..<3).map { _ in try daemon.client() }
        for client in mine { _ = try await client.openSession(uuid: BuiltInTrustlets.Storage.uuid) }
        let fourth = try daemon.client()
        let error = await #expect(throws: TEEError.self) { try await fourth.openSession(uuid: BuiltInTrustlets.Storage.uuid) }
        #expect(error?.code == .busy)
        #expect(error?.message.contains("kept for other apps") == true)
        let otherApp = try TEEContext.inProcess(daemon.world, peer: PeerIdentity(uid: 6001, gid: 6001, application: nil))
        _ = try await otherApp.openSession(uuid: BuiltInTrustlets.Storage.uuid)
        let full = #expect(throws: TEEError.self) { try TEEContext.inProcess(daemon.world, peer: PeerIdentity(uid: 6002, gid: 6002, application: nil)) }
        #expect(full?.code == .busy)
        #expect(full?.message.contains("4 connections at most") == true)
        // A closed connection's place is free again.
        mine[0].close()
        var reopened = false
        for _ in 0..<200 where !reopened {
            let again = try daemon.client()
            if (try? await again.openSession(uuid: BuiltInTrustlets.Storage.uuid)) != nil { reopened = true } else { again.close(); usleep(10_000) }
        }
        #expect(reopened)
    }

    @Test func anInsecureStateDirectoryIsRefusedWithTheFix() throws {
        let device = try EmulatedDevice()
        chmod(device.stateDirectory, 0o755)
        let error = #expect(throws: SecureStateError.self) {
            _ = try SecureWorld.emulated(stateDirectory: device.stateDirectory, reeDirectory: device.reeDirectory)
        }
        #expect(error?.description.contains("chmod 700") == true)
        chmod(device.stateDirectory, 0o700)
        chmod(device.stateDirectory + "/huk", 0o644)
        let fileError = #expect(throws: SecureStateError.self) {
            _ = try SecureWorld.emulated(stateDirectory: device.stateDirectory, reeDirectory: device.reeDirectory)
        }
        #expect(fileError?.description.contains("chmod 600") == true)
        chmod(device.stateDirectory + "/huk", 0o600)
        chmod(device.stateDirectory + "/counters", 0o777)
        let countersError = #expect(throws: SecureStateError.self) {
            _ = try SecureWorld.emulated(stateDirectory: device.stateDirectory, reeDirectory: device.reeDirectory)
        }
        #expect(countersError?.description.contains("chmod 700") == true)
    }

    @Test func aSecondDaemonOnTheSameSocketIsRefused() async throws {
        let daemon = try DaemonHarness()
        defer { daemon.stop() }
        let first = try daemon.client()
        defer { first.close() }
        let session = try await first.openSession(uuid: BuiltInTrustlets.Storage.uuid)
        try await session.put("first", [1])
        let second = WorldSwitchServer(endpoint: daemon.world, configuration: .init(socketPath: daemon.socketPath))
        let error = #expect(throws: WorldSwitchServer.StartError.self) { try second.start() }
        guard case .inUse(let path)? = error else {
            Issue.record("expected inUse, got \(String(describing: error))")
            return
        }
        #expect(path == daemon.socketPath)
        // The first daemon keeps its socket and its clients: an open session and a new one.
        var status = stat()
        #expect(stat(daemon.socketPath, &status) == 0)
        let mode: mode_t = status.st_mode & 0o777
        #expect(mode == 0o600)
        #expect(try await session.get("first") == [1])
        #expect(try await daemon.client().openSession(uuid: BuiltInTrustlets.Storage.uuid).get("first") == [1])
    }
}

extension DaemonTests {
    @Test func theClientRefusesARequestOverItsFrameLimitBeforeSending() async throws {
        let daemon = try DaemonHarness()
        defer { daemon.stop() }
        let context = TEEContext(transport: try SocketTransport(path: daemon.socketPath, maxFrameSize: 4096))
        defer { context.close() }
        let session = try await context.openSession(uuid: BuiltInTrustlets.Storage.uuid)
        let error = await #expect(throws: TEEError.self) { try await session.put("big", [UInt8](repeating: 1, count: 5000)) }
        #expect(error?.code == .excessData)
        #expect(error?.origin == .api)
        try await session.put("fits", [UInt8](repeating: 1, count: 1000))
    }
}
