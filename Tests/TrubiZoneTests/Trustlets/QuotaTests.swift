import Crypto
import Foundation
import Testing
import TrubiZoneClient
import TrubiZoneEmulatedDevice
import TrubiZoneProtocol
import TrubiZoneSampleTrustlets
@testable import TrubiZoneSecureWorld
import TrubiZoneTesting

/// What one trustlet, or one client, may take of the secure world: quotas on what a trustlet keeps,
/// caps on what its manifest may ask for, UUIDs the trust policy gives a signer, and fair shares of
/// connections and sessions.
@Suite struct QuotaTests {
    let developer = P256.Signing.PrivateKey()
    let stranger = P256.Signing.PrivateKey()

    /// Hostile command 40: take `count` of `kind` (0 counters, 1 1 KiB objects, 2 64 KiB objects,
    /// 3 AEAD keys, 4 log lines) until the first refusal; what was taken and that refusal's code.
    static func flood(_ session: TEESession, _ kind: UInt32, _ count: UInt32) async throws -> (taken: UInt32, code: ReturnCode) {
        let value = try #require(try await session.invoke(command: 40, parameters: [.valueInput(kind, count), .valueOutput]).value(1))
        return (value.a, ReturnCode(rawValue: value.b))
    }

    @Test func eachQuotaRefusesWithItsOwnCodeAndTheRefusedChangeTakesNothing() async throws {
        let world = try World(.inProcess)
        let limits = TrustletLimits(memoryPages: 32, fuelPerCall: 50_000_000, maxSessions: 4, sealedBytes: 1 << 20, objects: 4, counters: 5, logLines: 10)
        let hostile = try Samples.install("hostile", as: Samples.hostile, in: world.runtime, limits: limits)
        let session = try await world.context().openSession(uuid: Samples.hostile)

        // Counters: five, then TEEC_ERROR_OUT_OF_MEMORY; advancing those it has still works.
        #expect(try await Self.flood(session, 0, 100) == (5, .outOfMemory))
        #expect(try await Self.flood(session, 0, 100) == (5, .outOfMemory))
        #expect(world.runtime.secureLog.all.contains { $0.message.contains("quota of 5 counters") })

        // Objects and keys together: four objects, then TEE_ERROR_STORAGE_NO_SPACE, for a key too.
        #expect(try await Self.flood(session, 1, 100) == (4, .storageNoSpace))
        #expect(try await Self.flood(session, 3, 1) == (0, .storageNoSpace))
        #expect(try world.runtime.storage.list(hostile.namespace).count == 4, "the refused writes left nothing")
        // Rewriting an object it has is within the quota.
        #expect(try await Self.flood(session, 1, 4) == (4, .success))

        // Bytes: another UUID with room for 3,000 bytes takes two 1 KiB objects, not a third.
        let small = TrustletUUID("8e0b7a4c-1d2e-4f30-9a1b-0000000000f1")!
        var tight = limits
        tight.sealedBytes = 3000
        tight.objects = 100
        let smallTrustlet = try Samples.install("hostile", as: small, in: world.runtime, limits: tight)
        let smallSession = try await world.context().openSession(uuid: small)
        #expect(try await Self.flood(smallSession, 1, 100) == (2, .storageNoSpace))
        #expect(try await Self.flood(smallSession, 2, 1) == (0, .storageNoSpace), "64 KiB does not fit either")
        #expect(try world.runtime.storage.list(smallTrustlet.namespace).count == 2)

        // Log lines: its own share of ten; the runtime's lines and the other trustlet's stay.
        world.runtime.secureLog.record("runtime", "a line of the runtime's")
        #expect(try await Self.flood(smallSession, 4, 5) == (5, .success))
        #expect(try await Self.flood(session, 4, 1000) == (1000, .success))
        let lines = world.runtime.secureLog.all
        #expect(lines.contains { $0.message == "a line of the runtime's" })
        let flooded = lines.filter { $0.trustlet == "hostile" && $0.message.hasPrefix("\u{FFFD}") }
        #expect(flooded.count == 10 + 5, "ten lines of the flooding trustlet's share, five of the other's")
    }

    @Test func quotasHoldAcrossRestarts() async throws {
        let device = try EmulatedDevice()
        defer { withExtendedLifetime(device) {} }
        let limits = TrustletLimits(memoryPages: 32, fuelPerCall: 50_000_000, maxSessions: 4, objects: 3, counters: 2)
        // The second round, after a restart, finds what the first took under the same IDs: it may
        // advance and rewrite those, and take nothing more (a quota counted in memory would).
        for _ in 0..<2 {
            let world = try device.secureWorld()
            try Samples.install("hostile", as: Samples.hostile, in: world, limits: limits)
            let session = try await TEEContext.inProcess(world).openSession(uuid: Samples.hostile)
            #expect(try await Self.flood(session, 0, 10) == (2, .outOfMemory))
            #expect(try await Self.flood(session, 1, 10) == (3, .storageNoSpace))
        }
    }

    func package(_ limits: TrustletManifest.Limits?, version: String = "1.0.0", key: P256.Signing.PrivateKey? = nil) throws -> [UInt8] {
        let manifest = TrustletManifest(uuid: Samples.hello.description, name: "hello", version: version, capabilities: ["storage"], limits: limits)
        return try TrustletPackage.sign(manifest: manifest, wasm: SampleTrustlets.wasm("hello"), key: key ?? developer).bytes
    }

    @Test func theTrustPolicyCapsWhatAManifestMayAskFor() throws {
        let device = try EmulatedDevice()
        defer { withExtendedLifetime(device) {} }
        var caps = TrustletLimits.defaultCaps
        caps.memoryPages = 16
        caps.sealedBytes = 1 << 20
        let policy = try TrustPolicy(signers: [TrustPolicy.Signer(key: developer.publicKey, caps: caps)])
        let world = try SecureWorld.emulated(stateDirectory: device.stateDirectory, reeDirectory: device.reeDirectory, durable: false, trustPolicy: policy)
        let error = #expect(throws: PackageError.self) { try world.install(package: try package(.init(memoryPages: 32))) }
        #expect(error == .limitAboveCap(name: "memoryPages", asked: 32, cap: 16))
        #expect(error?.code == .accessDenied)
        #expect(error?.description.contains("ask for 16 or less") == true)
        #expect(throws: PackageError.limitAboveCap(name: "sealedBytes", asked: 2 << 20, cap: 1 << 20)) {
            try world.install(package: try package(.init(sealedBytes: 2 << 20)))
        }
        // A manifest that asks for nothing gets the defaults, lowered to the caps.
        let installed = try world.install(package: try package(nil))
        #expect(installed.limits.memoryPages == 16 && installed.limits.sealedBytes == 1 << 20)
        #expect(installed.limits.counters == TrustletLimits().counters)
        // What it asks for within the caps, it gets.
        let asked = try world.install(package: try package(.init(memoryPages: 8, objects: 7, counters: 3, logLines: 20), version: "1.0.1"))
        #expect(asked.limits.memoryPages == 8 && asked.limits.objects == 7 && asked.limits.counters == 3 && asked.limits.logLines == 20)
        // Out of the runtime's own range is malformed, whatever the policy says.
        #expect(throws: PackageError.self) { try world.install(package: try package(.init(counters: -1), version: "1.0.2")) }
    }

    @Test func aUUIDThePolicyGivesToASignerIsThatSignersOnly() async throws {
        let device = try EmulatedDevice()
        defer { withExtendedLifetime(device) {} }
        let trustingBoth = TrustPolicy(trustedSigners: [developer.publicKey, stranger.publicKey])
        let first = try SecureWorld.emulated(stateDirectory: device.stateDirectory, reeDirectory: device.reeDirectory, durable: false, trustPolicy: trustingBoth)
        // The stranger got there first, at a high version.
        try first.install(package: try package(nil, version: "9.0.0", key: stranger))
        // The owner's policy gives the UUID to the developer.
        let policy = try TrustPolicy(signers: [TrustPolicy.Signer(key: developer.publicKey, uuids: [Samples.hello]),
                                               TrustPolicy.Signer(key: stranger.publicKey)])
        let world = try SecureWorld.emulated(stateDirectory: device.stateDirectory, reeDirectory: device.reeDirectory, durable: false, trustPolicy: policy)
        #expect(world.trustlet(Samples.hello) == nil, "the stranger's kept package is not loaded under the developer's UUID")
        let installed = try world.install(package: try package(nil, version: "1.0.0"))
        #expect(installed.signerID == Array(SHA256.hash(data: developer.publicKey.x963Representation)))
        let error = #expect(throws: PackageError.self) { try world.install(package: try package(nil, version: "9.1.0", key: stranger)) }
        #expect(error == .uuidAssigned(uuid: Samples.hello.description))
        #expect(error?.code == .accessConflict)
        // Versions count for the developer alone; a restart keeps all of it.
        let restarted = try SecureWorld.emulated(stateDirectory: device.stateDirectory, reeDirectory: device.reeDirectory, durable: false, trustPolicy: policy)
        #expect((restarted.trustlet(Samples.hello) as? WasmTrustlet)?.signerID == installed.signerID)
        #expect(throws: PackageError.downgrade(installed: "1.0.0", offered: "0.9.0")) { try restarted.install(package: try package(nil, version: "0.9.0")) }
        // A policy cannot give one UUID to two signers, nor give the runtime's away.
        #expect(throws: TrustPolicyError.claimedTwice(Samples.hello.description)) {
            try TrustPolicy(signers: [TrustPolicy.Signer(key: developer.publicKey, uuids: [Samples.hello]),
                                      TrustPolicy.Signer(key: stranger.publicKey, uuids: [Samples.hello])])
        }
        #expect(throws: TrustPolicyError.reserved(BuiltInTrustlets.Installer.uuid.description)) {
            try TrustPolicy(signers: [TrustPolicy.Signer(key: developer.publicKey, uuids: [BuiltInTrustlets.Installer.uuid])])
        }
        // Nor list one key twice (the second entry would silently drop the first one's UUIDs and caps).
        #expect(throws: TrustPolicyError.self) {
            try TrustPolicy(signers: [TrustPolicy.Signer(key: developer.publicKey, uuids: [Samples.hello]), TrustPolicy.Signer(key: developer.publicKey)])
        }
    }

    @Test func givingAUUIDToItsSignerOrTakingItBackNeverForgetsAVersion() throws {
        let device = try EmulatedDevice()
        defer { withExtendedLifetime(device) {} }
        func world(assigning: Bool) throws -> SecureWorld {
            let policy = try TrustPolicy(signers: [TrustPolicy.Signer(key: developer.publicKey, uuids: assigning ? [Samples.hello] : []),
                                                   TrustPolicy.Signer(key: stranger.publicKey)])
            return try SecureWorld.emulated(stateDirectory: device.stateDirectory, reeDirectory: device.reeDirectory, durable: false, trustPolicy: policy)
        }
        try world(assigning: false).install(package: try package(nil, version: "1.2.0"))
        let assigned = try world(assigning: true)
        #expect(throws: PackageError.downgrade(installed: "1.2.0", offered: "1.0.0")) { try assigned.install(package: try package(nil, version: "1.0.0")) }
        try assigned.install(package: try package(nil, version: "1.3.0"))
        let unassigned = try world(assigning: false)
        #expect(throws: PackageError.downgrade(installed: "1.3.0", offered: "1.2.5")) { try unassigned.install(package: try package(nil, version: "1.2.5")) }
        // The developer's first claim still stands against the stranger.
        let error = #expect(throws: PackageError.self) { try unassigned.install(package: try package(nil, version: "9.0.0", key: stranger)) }
        #expect(error?.code == .accessConflict)
    }

    @Test func theSamePackageAgainIsTheSameTrustletAndAnUpdateSharesItsLock() throws {
        let device = try EmulatedDevice()
        defer { withExtendedLifetime(device) {} }
        let world = try SecureWorld.emulated(stateDirectory: device.stateDirectory, reeDirectory: device.reeDirectory, durable: false,
                                             trustPolicy: TrustPolicy(trustedSigners: [developer.publicKey]))
        let first = try world.install(package: try package(nil, version: "1.0.0"))
        #expect(try world.install(package: try package(nil, version: "1.0.0")) === first, "no second instance beside the first")
        let update = try world.install(package: try package(nil, version: "1.1.0"))
        #expect(update !== first && update.slot === first.slot, "sessions on 1.0.0 and 1.1.0 take turns and count together")
    }

    @Test func aSignerKeepsNoMoreTrustletsThanThePolicyAllows() throws {
        let device = try EmulatedDevice()
        defer { withExtendedLifetime(device) {} }
        let policy = try TrustPolicy(signers: [TrustPolicy.Signer(key: developer.publicKey, maxTrustlets: 2)])
        func world() throws -> SecureWorld {
            try SecureWorld.emulated(stateDirectory: device.stateDirectory, reeDirectory: device.reeDirectory, durable: false, trustPolicy: policy)
        }
        func package(_ uuid: TrustletUUID) throws -> [UInt8] {
            try TrustletPackage.sign(manifest: TrustletManifest(uuid: uuid.description, name: "hello", version: "1.0.0", capabilities: []),
                                     wasm: SampleTrustlets.wasm("hello"), key: developer).bytes
        }
        let running = try world()
        try running.install(package: try package(Samples.hello))
        try running.install(package: try package(Samples.vault))
        let error = #expect(throws: PackageError.self) { try running.install(package: try package(Samples.probe)) }
        #expect(error == .tooManyTrustlets(allowed: 2) && error?.code == .accessDenied)
        // Counted from what is kept, so a restart does not reset it; the ones it has still update.
        #expect(throws: PackageError.tooManyTrustlets(allowed: 2)) { try world().install(package: try package(Samples.probe)) }
        try world().install(package: try package(Samples.hello))
    }

    static func user(_ uid: UInt32) -> PeerIdentity { PeerIdentity(uid: uid, gid: uid, application: nil) }

    /// Each namespace a built-in keeps costs a replay-protected counter, and the normal world names
    /// its clients (an executable path is an application): one user gets at most its share of
    /// them, the device at most its total, a client served once keeps its place across restarts,
    /// and a restart does not reset the count.
    @Test func aUserKeepsNoMoreBuiltInNamespacesThanItsShare() async throws {
        let device = try EmulatedDevice()
        defer { withExtendedLifetime(device) {} }
        let limits = SecureWorld.Limits(builtInClientsPerUser: 3, builtInClients: 5)
        func open(_ world: SecureWorld, uid: UInt32, path: String) async throws -> TEESession {
            try await TEEContext.inProcess(world, peer: PeerIdentity(uid: uid, gid: uid, application: path))
                .openSession(uuid: BuiltInTrustlets.Storage.uuid, login: .userApplication)
        }
        let world = try device.secureWorld(limits: limits)
        for index in 0..<3 { try await open(world, uid: 6001, path: "/tmp/copy-\(index)/app").put("note", [UInt8(index)]) }
        let refused = await #expect(throws: TEEError.self) { try await open(world, uid: 6001, path: "/tmp/copy-3/app") }
        #expect(refused?.code == .storageNoSpace)
        #expect(refused?.message.contains("3 clients of one user") == true)
        // The keystore counts its own clients; another user still gets in, up to the total.
        _ = try await TEEContext.inProcess(world, peer: PeerIdentity(uid: 6001, gid: 6001, application: "/tmp/copy-3/app"))
            .openSession(uuid: BuiltInTrustlets.Keystore.uuid, login: .userApplication)
        _ = try await open(world, uid: 6002, path: "/usr/bin/a")
        _ = try await open(world, uid: 6003, path: "/usr/bin/a")
        let full = await #expect(throws: TEEError.self) { try await open(world, uid: 6004, path: "/usr/bin/a") }
        #expect(full?.code == .storageNoSpace)
        #expect(full?.message.contains("5 clients, its most") == true)

        // After a restart the register is read back: known clients keep their objects, new ones are refused.
        let restarted = try device.secureWorld(limits: limits)
        #expect(try await open(restarted, uid: 6001, path: "/tmp/copy-2/app").get("note") == [2])
        await #expect(throws: TEEError.self) { try await open(restarted, uid: 6005, path: "/usr/bin/b") }
    }

    @Test func noUserTakesEveryConnectionOrEverySessionOfATrustlet() async throws {
        let world = try World(.inProcess, limits: .init(maxConnections: 8))
        #expect(SecureWorld.Limits.share(of: 8) == 6 && SecureWorld.Limits.share(of: 4) == 3 && SecureWorld.Limits.share(of: 1) == 1)
        var greedy: [TEEContext] = []
        for _ in 0..<6 { greedy.append(try TEEContext.inProcess(world.runtime, peer: Self.user(5001))) }
        let refused = #expect(throws: TEEError.self) { try TEEContext.inProcess(world.runtime, peer: Self.user(5001)) }
        #expect(refused?.code == .busy)
        #expect(refused?.message.contains("kept for other apps") == true)
        // Another app still gets in, and the total still holds.
        let other = try TEEContext.inProcess(world.runtime, peer: Self.user(5002))
        _ = try TEEContext.inProcess(world.runtime, peer: Self.user(5003))
        #expect(throws: TEEError.self) { try TEEContext.inProcess(world.runtime, peer: Self.user(5004)) }

        // A trustlet of four sessions: one user gets three, however many connections it uses.
        try Samples.install("hello", as: Samples.hello, in: world.runtime,
                            limits: TrustletLimits(memoryPages: 32, fuelPerCall: 3_000_000, maxSessions: 4))
        for index in 0..<3 { _ = try await greedy[index].openSession(uuid: Samples.hello) }
        let fourth = await #expect(throws: TEEError.self) { try await greedy[3].openSession(uuid: Samples.hello) }
        #expect(fourth?.code == .busy)
        #expect(fourth?.message.contains("kept for other apps") == true)
        let served = try await other.openSession(uuid: Samples.hello)
        #expect(try await served.hello([7]).echo == [7])
    }

    @Test func manyOpensAtOnceDoNotTakeMoreThanTheShare() async throws {
        let world = try World(.inProcess)
        try Samples.install("hello", as: Samples.hello, in: world.runtime,
                            limits: TrustletLimits(memoryPages: 32, fuelPerCall: 3_000_000, maxSessions: 8))
        let contexts = try (0..<12).map { _ in try TEEContext.inProcess(world.runtime, peer: Self.user(5101)) }
        let opened = await withTaskGroup(of: Bool.self) { group in
            for context in contexts { group.addTask { (try? await context.openSession(uuid: Samples.hello)) != nil } }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(opened == SecureWorld.Limits.share(of: 8))
        _ = try await TEEContext.inProcess(world.runtime, peer: Self.user(5102)).openSession(uuid: Samples.hello)
    }
}
