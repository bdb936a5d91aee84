import Foundation
import Testing
import TrubiZoneClient
import TrubiZoneProtocol
import TrubiZoneSampleTrustlets
import TrubiZoneSecureWorld
import TrubiZoneTesting
import WAT

@Suite struct WasmTrustletTests {
    @Test(arguments: TransportKind.allCases)
    func helloEchoesAndCountsInSealedStorage(_ kind: TransportKind) async throws {
        let world = try World(kind)
        try Samples.installAll(in: world.runtime)
        let context = try world.context()
        defer { context.close() }
        let session = try await context.openSession(uuid: Samples.hello)
        let first = try await session.hello(Array("ping".utf8))
        #expect(first.echo == Array("ping".utf8))
        #expect(first.count == 1)
        #expect(try await session.hello([1, 2, 3]).count == 2)
        try await session.close()
        // The count is in sealed storage: a new session, and a restarted runtime, continue it.
        #expect(try await context.openSession(uuid: Samples.hello).hello([]).count == 3)
        let restarted = try world.device.secureWorld()
        try Samples.install("hello", as: Samples.hello, in: restarted)
        let again = try TEEContext.inProcess(restarted)
        #expect(try await again.openSession(uuid: Samples.hello).hello([9]).count == 4)
    }

    @Test func helloFollowsTheShortBufferRuleAndChecksParameterTypes() async throws {
        let world = try World(.inProcess)
        try Samples.installAll(in: world.runtime)
        let session = try await world.context().openSession(uuid: Samples.hello)
        var error = await #expect(throws: TEEError.self) {
            try await session.invoke(command: 0, parameters: [.input(Array("twelve bytes".utf8)), .output(capacity: 4), .valueOutput])
        }
        #expect(error?.code == .shortBuffer)
        #expect(error?.requiredSize(1) == 12)
        error = await #expect(throws: TEEError.self) { try await session.invoke(command: 0, parameters: [.valueInput(1)]) }
        #expect(error?.code == .badParameters)
        error = await #expect(throws: TEEError.self) { try await session.invoke(command: 7) }
        #expect(error?.code == .notSupported)
    }

    // Command 2, the memory bomb, is what holds the memory cap (WasmKit's `resourceLimiter` SPI,
    // with WasmKit pinned in Package.swift) to its word.
    @Test(arguments: [(1, "execution budget"), (2, "ran out of its 2048 KiB of memory"), (3, "trapped"), (4, "execution budget"),
                      (10, "bad pointer"), (11, "bad pointer"), (12, "bad pointer"), (13, "bad pointer"),
                      (14, "bad pointer"), (15, "bad pointer"), (16, "bad pointer"), (17, "bad pointer"),
                      (18, "bad pointer"), (19, "bad pointer"), (21, "bad pointer")])
    func hostileCommandEndsOnlyItsOwnSession(command: UInt32, reason: String) async throws {
        let world = try World(.inProcess)
        try Samples.installAll(in: world.runtime)
        let context = try world.context()
        defer { context.close() }
        let honest = try await context.openSession(uuid: Samples.hello)
        #expect(try await honest.hello([1]).count == 1)

        let hostile = try await context.openSession(uuid: Samples.hostile)
        let error = await #expect(throws: TEEError.self) { try await hostile.invoke(command: command) }
        #expect(error?.code == .targetDead)
        #expect(error?.origin == .trustedApp)
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")")
        // The dead session stays dead; the honest one goes on; the trustlet opens again.
        let again = await #expect(throws: TEEError.self) { try await hostile.invoke(command: 20, parameters: [.none, .valueOutput]) }
        #expect(again?.code == .targetDead)
        #expect(try await honest.hello([2]).count == 2)
        let fresh = try await context.openSession(uuid: Samples.hostile)
        #expect(try await fresh.invoke(command: 20, parameters: [.none, .valueOutput]).value(1)?.a == 0)
        // The runtime's reason is in the secure log.
        #expect(world.runtime.secureLog.all.contains { $0.trustlet == "hostile" && $0.message.contains("session ended in invoke") })
    }

    static var hostFunctions: [(name: String, arguments: Int)] { SampleTrustlets.hostileHostFunctions }

    @Test func everyPointerAndLengthOfEveryHostFunctionIsChecked() async throws {
        #expect(Set(Self.hostFunctions.map(\.name)) == WasmTrustlet.internalAPI, "the hostile trustlet must call every host function")
        let world = try World(.inProcess)
        try Samples.installAll(in: world.runtime)
        let context = try world.context()
        defer { context.close() }
        let honest = try await context.openSession(uuid: Samples.hello)
        var session = try await context.openSession(uuid: Samples.hostile)
        for (index, function) in Self.hostFunctions.enumerated() {
            // With every argument in bounds the call returns, whatever its answer.
            _ = try await session.invoke(command: 30, parameters: [.valueInput(UInt32(index), 99)])
            // key_generate's first argument is the key kind, not a pointer or a length.
            for argument in 0..<function.arguments where SampleTrustlets.isAddressOrLength(function.name, argument) {
                let error = await #expect(throws: TEEError.self, "tz.\(function.name) argument \(argument)") {
                    try await session.invoke(command: 30, parameters: [.valueInput(UInt32(index), UInt32(argument))])
                }
                #expect(error?.code == .targetDead && error?.message.contains("bad pointer") == true, "tz.\(function.name) argument \(argument)")
                try await session.close()
                session = try await context.openSession(uuid: Samples.hostile)
            }
        }
        #expect(try await honest.hello([7]).count == 1)
    }

    @Test func trapsInEveryEntryPointAreContained() async throws {
        let world = try World(.inProcess)
        try Samples.installAll(in: world.runtime)
        let context = try world.context()
        defer { context.close() }
        var error = await #expect(throws: TEEError.self) { try await context.openSession(uuid: Samples.hostileCreate) }
        #expect(error?.code == .targetDead)
        #expect(error?.message.contains("create") == true)
        error = await #expect(throws: TEEError.self) { try await context.openSession(uuid: Samples.hostile, parameters: [.valueInput(1)]) }
        #expect(error?.code == .targetDead)
        #expect(error?.message.contains("open session") == true)
        let trapsOnClose = try await context.openSession(uuid: Samples.hostile, parameters: [.valueInput(2)])
        try await trapsOnClose.close()
        #expect(world.runtime.secureLog.all.contains { $0.message.contains("close session") })
        // Nothing of it leaked: sessions are counted back, the trustlet still opens all of them
        // (one user its share, another user the rest).
        let share = SecureWorld.Limits.share(of: Samples.testLimits.maxSessions)
        for _ in 0..<share { _ = try await context.openSession(uuid: Samples.hostile) }
        let otherUser = try TEEContext.inProcess(world.runtime, peer: PeerIdentity(uid: 4242, gid: 4242, application: nil))
        for _ in share..<Samples.testLimits.maxSessions { _ = try await otherUser.openSession(uuid: Samples.hostile) }
    }

    @Test func aTrustletCannotSeeAnotherTrustletsObjects() async throws {
        let world = try World(.inProcess)
        try Samples.installAll(in: world.runtime)
        let context = try world.context()
        defer { context.close() }
        _ = try await context.openSession(uuid: Samples.hello).hello([])  // hello stores "count"
        let snoop = try await context.openSession(uuid: Samples.hostile)
        #expect(try await snoop.invoke(command: 20, parameters: [.none, .valueOutput]).value(1)?.a == 0)
    }

    @Test func anotherSignerWithTheSameUUIDGetsAnotherNamespace() async throws {
        let world = try World(.inProcess)
        try Samples.install("hello", as: Samples.hello, in: world.runtime)
        let context = try world.context()
        defer { context.close() }
        for _ in 0..<3 { _ = try await context.openSession(uuid: Samples.hello).hello([]) }
        // An update by the same signer keeps the data...
        try Samples.install("hello", as: Samples.hello, in: world.runtime)
        #expect(try await context.openSession(uuid: Samples.hello).hello([]).count == 4)
        // ...a different signer with the same UUID starts from nothing.
        try Samples.install("hello", as: Samples.hello, in: world.runtime, signer: Samples.otherDeveloper)
        #expect(try await context.openSession(uuid: Samples.hello).hello([]).count == 1)
    }

    @Test func aCapabilityOutsideTheManifestIsDenied() async throws {
        let world = try World(.inProcess)
        try Samples.install("hello", as: Samples.hello, in: world.runtime, capabilities: [.log])
        let session = try await world.context().openSession(uuid: Samples.hello)
        let error = await #expect(throws: TEEError.self) { _ = try await session.hello([1]) }
        #expect(error?.code == .accessDenied)
    }

    @Test func sessionsPerTrustletAreLimited() async throws {
        let world = try World(.inProcess)
        try Samples.install("hello", as: Samples.hello, in: world.runtime,
                            limits: TrustletLimits(memoryPages: 32, fuelPerCall: 3_000_000, maxSessions: 2))
        // Two sessions: one user may hold one (the other is kept for other users), so three users.
        let users = try (1...3).map { try TEEContext.inProcess(world.runtime, peer: PeerIdentity(uid: 4300 + $0, gid: 0, application: nil)) }
        let a = try await users[0].openSession(uuid: Samples.hello)
        _ = try await users[1].openSession(uuid: Samples.hello)
        let error = await #expect(throws: TEEError.self) { try await users[2].openSession(uuid: Samples.hello) }
        #expect(error?.code == .busy)
        #expect(error?.message.contains("already has 2 sessions open") == true)
        try await a.close()
        _ = try await users[2].openSession(uuid: Samples.hello)
    }

    @Test func memoryIsReusedAcrossInvocations() async throws {
        // 2,000 echoes of 16 KiB allocate ~100 MiB in all; the trustlet has 2 MiB. Without reuse it dies.
        let world = try World(.inProcess)
        try Samples.install("hello", as: Samples.hello, in: world.runtime)
        let session = try await world.context().openSession(uuid: Samples.hello)
        let payload = [UInt8](repeating: 0x5A, count: 16 * 1024)
        var first: UInt32?
        for i in 0..<2_000 {
            let result = try await session.invoke(command: 0, parameters: [.input(payload), .output(capacity: payload.count), .valueOutput])
            let count: UInt32 = try #require(result.value(2)?.a)
            let start: UInt32 = first ?? count
            first = start
            if i % 250 == 0 || i == 1_999 {
                let echoed: [UInt8]? = result.bytes(1)
                #expect(echoed == payload, "echo \(i) is whole")
                let expected: UInt32 = start + UInt32(i)
                #expect(count == expected, "invocation \(i) counted once")
            }
        }
    }

    @Test func linearMemoryStaysFlatOver100000Calls() async throws {
        // Parameters of many sizes placed by the runtime and copied through the guest's heap, and
        // now and then a JSON tree: after warming up, not one more page in 100,000 calls.
        let probe = try await InternalAPITests.Probe()
        let sizes = [0, 1, 17, 100, 255, 1000, 4096, 16384]
        let document = Array(#"{"resourceType":"Observation","id":"bp","valueQuantity":{"value":128.0,"unit":"mmHg"},"code":[1,2,3]}"#.utf8)
        func pages() async throws -> UInt32 { try await probe.call(13, [.valueOutput]).value(0)?.a ?? 0 }
        var warm: UInt32 = 0
        for call in 0..<100_000 {
            if call == 1_000 { warm = try await pages() }
            if call % 100 == 0 {
                _ = try await probe.call(0, [.input(document), .output(capacity: 256), .valueInput(0, 0), .valueOutput])
            } else {
                let size = call % 5_000 == 1 ? 200 * 1024 : sizes[call % sizes.count]
                _ = try await probe.call(14, [.input([UInt8](repeating: UInt8(truncatingIfNeeded: call), count: size)), .output(capacity: size)])
            }
        }
        #expect(warm > 0)
        #expect(try await pages() == warm, "linear memory grew after warm-up")
    }

    @Test func modulesThatAreNotTrustletsAreRefused() throws {
        let world = try World(.inProcess)
        func load(_ wasm: [UInt8]) throws {
            _ = try WasmTrustlet(wasm: wasm, uuid: Samples.hello, name: "x", signerID: Samples.developer, capabilities: [],
                                 storage: world.runtime.storage, secureLog: world.runtime.secureLog)
        }
        #expect(throws: TrustletLoadError.self) { try load(Array("not wasm".utf8)) }
        #expect(throws: TrustletLoadError.self) { try load(Array(try SampleTrustlets.wasm("hello").prefix(200))) }
        let foreignImport = try wat2wasm(#"(module (import "env" "system" (func (param i32))) (memory (export "memory") 1))"#)
        let error = #expect(throws: TrustletLoadError.self) { try load(foreignImport) }
        #expect(error?.description.contains("env.system") == true)
        let noEntryPoints = try wat2wasm(#"(module (memory (export "memory") 1))"#)
        #expect(throws: TrustletLoadError.self) { try load(noEntryPoints) }
    }
}

extension WasmTrustletTests {
    func visits(_ session: TEESession) async throws -> UInt64 {
        let value = try await session.invoke(command: 1, parameters: [.valueOutput]).value(0)
        return UInt64(value?.a ?? 0) << 32 | UInt64(value?.b ?? 0)
    }

    @Test func countersOnlyGoUpAcrossRestartsAndREERollback() async throws {
        let world = try World(.inProcess)
        try Samples.install("hello", as: Samples.hello, in: world.runtime)
        let session = try await world.context().openSession(uuid: Samples.hello)
        #expect(try await visits(session) == 1)
        let snapshot = world.device.reeFiles()
        #expect(try await visits(session) == 2)
        // Roll the whole REE directory back, restart: the counter is in replay-protected memory.
        try world.device.restoreREE(snapshot)
        let restarted = try world.device.secureWorld()
        try Samples.install("hello", as: Samples.hello, in: restarted)
        #expect(try await visits(try TEEContext.inProcess(restarted).openSession(uuid: Samples.hello)) == 3)
        // Another signer's trustlet with the same UUID has its own counter.
        try Samples.install("hello", as: Samples.hello, in: restarted, signer: Samples.otherDeveloper)
        #expect(try await visits(try TEEContext.inProcess(restarted).openSession(uuid: Samples.hello)) == 1)
    }

    @Test func trustedTimeIsTheSecureWorldsAndMonotonic() async throws {
        let world = try World(.inProcess)
        try Samples.install("hello", as: Samples.hello, in: world.runtime)
        let session = try await world.context().openSession(uuid: Samples.hello)
        func times() async throws -> (wall: UInt32, monotonic: UInt64) {
            let result = try await session.invoke(command: 2, parameters: [.valueOutput, .valueOutput])
            let high = UInt64(result.value(1)?.a ?? 0), low = UInt64(result.value(1)?.b ?? 0)
            return (result.value(0)?.a ?? 0, high << 32 | low)
        }
        let first = try await times()
        let second = try await times()
        let now = UInt32(truncatingIfNeeded: UInt64(Date().timeIntervalSince1970))
        #expect(now &- first.wall < 5)
        #expect(second.monotonic > first.monotonic)
        // Without the capabilities, both are denied.
        try Samples.install("hello", as: Samples.hello, in: world.runtime, capabilities: [.storage])
        let denied = try await world.context().openSession(uuid: Samples.hello)
        var error = await #expect(throws: TEEError.self) { try await denied.invoke(command: 2, parameters: [.valueOutput, .valueOutput]) }
        #expect(error?.code == .accessDenied)
        error = await #expect(throws: TEEError.self) { try await denied.invoke(command: 1, parameters: [.valueOutput]) }
        #expect(error?.code == .accessDenied)
    }
}
