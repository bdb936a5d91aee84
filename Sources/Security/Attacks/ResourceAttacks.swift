import Crypto
import Foundation
import PHRApp
import PHRAppCommands
import TrubiZoneClient
import TrubiZoneProtocol
import TrubiZoneSampleTrustlets
import TrubiZoneSecureWorld

/// Taking more than one's share of the secure world: its state, its connections, a trustlet's
/// sessions.
enum ResourceAttacks {
    static var all: [Attack] {
        [
            Attack("api-state-flood", "As a second trusted developer, ask for more than the policy allows, take counters, objects, keys and secure-log lines without end, and multiply them with more trustlets",
                   .exportedComponents, .access,
                   defense: "the trust policy caps what a manifest asks for and how many trustlets a signer keeps; each trustlet's quotas refuse the rest with their GP code, and its log lines push out only its own",
                   play: stateFlood),
            Attack("api-connection-hog", "From one app, take every connection to the secure world and every session of the PHR trustlet",
                   .exportedComponents, .access,
                   defense: "one user holds at most three quarters of the connections and of a trustlet's sessions; the rest are kept for other apps",
                   play: connectionHog),
            Attack("api-builtin-namespaces", "Make the built-in storage keep a namespace, and a replay-protected counter, for each copy of one app at another path, and for each of as many users",
                   .exportedComponents, .access,
                   defense: "the built-in storage and keystore give namespaces from a sealed register, at most 32 per user and 256 in all, and refuse the rest with TEE_ERROR_STORAGE_NO_SPACE",
                   play: builtInNamespaces),
        ]
    }

    static let floodUUID = TrustletUUID("0badc0de-0000-4000-8000-00000000f100")!

    static func stateFlood(_ lab: AttackLab) async throws -> Verdict {
        let rogue = P256.Signing.PrivateKey()
        // The second developer is trusted (another app on the phone), within the default caps.
        let rogueTrusted = try await lab.phone("state-flood-rogue", alsoTrusting: [rogue.publicKey], answers: [])
        defer { rogueTrusted.shutdown() }
        func package(_ limits: TrustletManifest.Limits, version: String) throws -> TrustletPackage {
            let manifest = TrustletManifest(uuid: floodUUID.description, name: "flood", version: version, capabilities: Capabilities.names.map(\.0), limits: limits)
            return try TrustletPackage.sign(manifest: manifest, wasm: try SampleTrustlets.wasm("hostile"), key: rogue)
        }
        var verdicts: [Verdict] = []
        for (what, limits) in [("1024 pages of memory", TrustletManifest.Limits(memoryPages: 1024)),
                               ("4 GiB of sealed storage", TrustletManifest.Limits(sealedBytes: 4 << 30)),
                               ("65,536 counters", TrustletManifest.Limits(counters: 65_536))] {
            verdicts.append(try await AccessAttacks.refusedInstall("a manifest asking for \(what)", .accessDenied, saying: "trust policy allows") {
                try await rogueTrusted.install(try package(limits, version: "1.0.0"))
            })
        }
        // Within the caps, as much as it likes of each; small numbers keep the attack quick, the
        // quotas are what stop it.
        try await rogueTrusted.install(try package(.init(fuelPerCall: 2_000_000_000, sealedBytes: 20 << 10, objects: 16, counters: 8, logLines: 16),
                                                   version: "1.0.0"))
        let session = try await rogueTrusted.context.openSession(uuid: floodUUID)
        func flood(_ kind: UInt32, _ count: UInt32, _ what: String, expecting: (UInt32, ReturnCode)) async throws -> Verdict {
            guard let value = try await session.invoke(command: 40, parameters: [.valueInput(kind, count), .valueOutput]).value(1) else {
                throw AttackFailure("the flood trustlet gave no count")
            }
            let (taken, code) = (value.a, ReturnCode(rawValue: value.b))
            if code == .success, expecting.1 != .success { return .accepted("\(taken) \(what) taken, none refused") }
            guard taken == expecting.0, code == expecting.1 else {
                throw AttackFailure("\(what): expected \(expecting.0) then \(expecting.1.name), got \(taken) then \(code.name)")
            }
            return .defended(expecting.1 == .success ? "\(taken) \(what)" : "\(taken) \(what), then \(code.name)")
        }
        // The first flood taken whole is the verdict: the rest would only take longer.
        let floods = try await eachHolds([
            { try await flood(0, 1_000, "counters", expecting: (8, .outOfMemory)) },
            { try await flood(1, 1_000, "objects of 1 KiB", expecting: (16, .storageNoSpace)) },
            { try await flood(2, 1, "objects of 64 KiB (over its 20 KiB)", expecting: (0, .storageNoSpace)) },
            { try await flood(3, 1_000, "keys (counted with its objects)", expecting: (0, .storageNoSpace)) },
            { try await flood(4, 10_000, "secure-log lines", expecting: (10_000, .success)) },
        ])
        guard case .defended = floods else { return floods }
        verdicts.append(floods)
        // Its 10,000 lines pushed out only its own: the runtime's record of the installs is still there.
        let log = rogueTrusted.world.secureLog.all
        guard log.contains(where: { $0.trustlet == "installer" && $0.message.contains("installed phr") }) else {
            return .accepted("the flood's log lines pushed the installer's out of the secure log")
        }
        // Its own lines (the flood writes bytes 0xC5, kept as U+FFFD), not the runtime's lines about it.
        let kept = log.count { $0.trustlet == "flood" && $0.message.hasPrefix("\u{FFFD}") }
        guard kept <= 16 else { return .accepted("the flooding trustlet keeps \(kept) lines, above its share of 16") }
        // More UUIDs, each with quotas of its own: the policy keeps the signer to its count of trustlets.
        var installed = 1
        let refusal: Verdict? = try await {
            for index in 1...TrustPolicy.defaultMaxTrustlets {
                let manifest = TrustletManifest(uuid: "0badc0de-0000-4000-8000-00000000f1\(String(format: "%02d", index))", name: "flood",
                                                version: "1.0.0", capabilities: ["storage"])
                let package = try TrustletPackage.sign(manifest: manifest, wasm: try SampleTrustlets.wasm("hostile"), key: rogue)
                if index < TrustPolicy.defaultMaxTrustlets {
                    try await rogueTrusted.install(package)
                    installed += 1
                } else {
                    return try await AccessAttacks.refusedInstall("its \(installed + 1)th trustlet", .accessDenied, saying: "as many as its trust policy allows") {
                        try await rogueTrusted.install(package)
                    }
                }
            }
            return nil
        }()
        guard let refusal else { throw AttackFailure("the count of trustlets was never reached") }
        verdicts.append(refusal)
        // Positive control: the PHR trustlet beside it still opens and answers.
        _ = try await PHRDevice.open(rogueTrusted.context).status()
        return allHold(verdicts + [.defended("it keeps \(kept) log lines; the installer's lines are kept and the PHR trustlet still answers")])
    }

    static func connectionHog(_ lab: AttackLab) async throws -> Verdict {
        let (phone, app) = try await lab.enrolledPhone("connection-hog")
        defer { phone.shutdown() }
        let before = try await app.device.status()
        // Another app on the phone: its own user, through the same world-switch entry the daemon uses.
        let hog = PeerIdentity(uid: 7001, gid: 7001, application: "/data/app/hog")
        var connections: [TEEContext] = []
        defer { for context in connections { context.close() } }
        var verdicts: [Verdict] = []
        var refusal = await takeUntilRefused { () async throws(TEEError) in
            guard connections.count < phone.world.limits.maxConnections else { return false }
            connections.append(try TEEContext.inProcess(phone.world, peer: hog))
            return true
        }
        verdicts.append(try judged("connections", connections.count, refusal))
        guard case .defended = verdicts[0] else { return verdicts[0] }
        var sessions = 0
        refusal = await takeUntilRefused { () async throws(TEEError) in
            guard sessions < connections.count else { return false }
            _ = try await connections[sessions].openSession(uuid: PHRTrustlet.uuid)
            sessions += 1
            return true
        }
        verdicts.append(try judged("PHR sessions", sessions, refusal))
        guard case .defended = verdicts[1] else { return verdicts[1] }
        // Positive control: the patient's app connects again and opens a new session.
        let patient = try TEEContext.inProcess(phone.world)
        defer { patient.close() }
        let now = try await PHRDevice.open(patient).status()
        guard now.enrolled, now.device == before.device, now.records == before.records else {
            throw AttackFailure("the patient's new session answers differently")
        }
        return allHold(verdicts + [.defended("the patient's app still connected and opened a PHR session")])
    }

    static func builtInNamespaces(_ lab: AttackLab) async throws -> Verdict {
        let phone = try await lab.phone("builtin-namespaces", installing: false, answers: [])
        defer { phone.shutdown() }
        let limits = phone.world.limits
        let storage = BuiltInTrustlets.Storage.self
        /// Puts one object as the application at `path` of user `uid` (or reads it back).
        func client(_ uid: UInt32, _ path: String, reading: Bool = false) async throws(TEEError) -> [UInt8] {
            let context = try TEEContext.inProcess(phone.world, peer: PeerIdentity(uid: uid, gid: uid, application: path))
            defer { context.close() }
            let session = try await context.openSession(uuid: storage.uuid, login: .userApplication)
            if reading {
                return try await session.invoke(command: storage.Command.get.rawValue, parameters: [.input([0x6E]), .output(capacity: 16)]).bytes(1) ?? []
            }
            _ = try await session.invoke(command: storage.Command.put.rawValue, parameters: [.input([0x6E]), .input([UInt8(truncatingIfNeeded: uid)])])
            return []
        }
        /// A bound's refusal, after `count`, is defended; none is ACCEPTED; another is FAILED.
        func judge(_ what: String, _ count: Int, _ refusal: TEEError?, saying reason: String) throws -> Verdict {
            guard let refusal else { return .accepted("the built-in storage kept \(count) namespaces for \(what)") }
            guard refusal.code == .storageNoSpace, refusal.message.contains(reason) else {
                throw AttackFailure("\(what): expected TEE_ERROR_STORAGE_NO_SPACE, got \(refusal.code.name): \(refusal.message)")
            }
            return .defended("\(count) namespaces for \(what), then \(refusal.code.name)")
        }
        var copies = 0
        let copyRefused = await takeUntilRefused { () async throws(TEEError) in
            guard copies < limits.builtInClientsPerUser * 2 else { return false }
            _ = try await client(7101, "/data/local/tmp/copy-\(copies)/app")
            copies += 1
            return true
        }
        let perUser = try judge("one app at many paths", copies, copyRefused, saying: "clients of one user")
        guard case .defended = perUser else { return perUser }
        // As many users as it likes: the normal world's root can be any uid.
        var users = 0
        let userRefused = await takeUntilRefused { () async throws(TEEError) in
            guard users < limits.builtInClients * 2 else { return false }
            _ = try await client(7200 + UInt32(users), "/data/app/a")
            users += 1
            return true
        }
        let total = try judge("many users", users, userRefused, saying: "clients, its most")
        guard case .defended = total else { return total }
        // Positive control: a client served before still opens its namespace and reads its object.
        guard try await client(7200, "/data/app/a", reading: true) == [UInt8(truncatingIfNeeded: 7200)] else {
            throw AttackFailure("a client served before lost its object")
        }
        return allHold([perUser, total, .defended("a client served before still reads its object")])
    }

    /// Takes one more until `take` is refused (or has nothing left to take): the refusal.
    static func takeUntilRefused(_ take: () async throws(TEEError) -> Bool) async -> TEEError? {
        do throws(TEEError) {
            while try await take() {}
            return nil
        } catch {
            return error
        }
    }

    /// A fair-share refusal after `count` taken is defended; none, or the secure world's own cap
    /// once the app took every slot left, is ACCEPTED; another is FAILED.
    static func judged(_ what: String, _ count: Int, _ refusal: TEEError?) throws -> Verdict {
        guard let refusal else { return .accepted("one app holds all \(count) \(what)") }
        let wholeCap = refusal.message.contains("at most; try again later") || refusal.message.hasPrefix("\(PHRTrustlet.name) already has")
        if refusal.code == .busy, wholeCap {
            return .accepted("one app took all \(count) \(what) that were left: \(refusal.message)")
        }
        guard refusal.code == .busy, refusal.message.contains("kept for other apps") else {
            throw AttackFailure("\(what): expected a fair-share TEEC_ERROR_BUSY, got \(refusal.code.name): \(refusal.message)")
        }
        return .defended("\(count) \(what), then \(refusal.code.name) (the rest kept for other apps)")
    }
}
