import Crypto
import Foundation
import PHRApp
import PHRAppCommands
import PHRProtocol
import TrubiZoneClient
import TrubiZoneEmulatedDevice
import TrubiZoneProtocol
import TrubiZoneSampleTrustlets
import TrubiZoneSecureWorld

/// Doing what only the patient, the right practitioner or the genuine developer may.
enum AccessAttacks {
    static var all: [Attack] {
        [
            Attack("access-no-pin", "Call every PHR trustlet command from a session that never entered the PIN", .exportedComponents, .access,
                   defense: "records, values and actions need the PIN on the trusted UI; the rest releases counts and categories only",
                   play: withoutPIN),
            Attack("access-pin-brute-force", "Guess the PIN; restart the secure world and roll back the REE directory to guess again",
                   .exportedComponents, .access, defense: "growing waits, then a lockout after 5 wrong PINs that survives restarts and rollbacks",
                   play: bruteForce),
            Attack("access-other-patient", "Read another patient's record from the server with a practitioner's grant for someone else",
                   .thirdParty, .access, defense: "a practitioner reads only the records a live grant names", play: otherPatient),
            Attack("access-expired-grant", "Read a shared record after the grant expired", .thirdParty, .access,
                   defense: "the server checks the grant's expiry on every read", play: expiredGrant),
            Attack("identity-uuid-takeover", "With a second trusted developer, take the PHR trustlet's UUID (before and after it is installed) and the runtime's own; re-sign other code as the installed version",
                   .exportedComponents, .identity,
                   defense: "the trust policy gives the PHR UUID to its developer, any other UUID belongs to its first signer, the runtime's UUIDs are reserved, a version's code cannot change, and the display names the signer by 80 bits of its ID beside an ASCII-only name",
                   play: uuidTakeover),
            Attack("access-revoked-grant", "Read a shared record after the patient revoked the grant", .thirdParty, .access,
                   defense: "a revoked grant reads nothing", play: revokedGrant),
            Attack("access-downgrade", "Install an older version of the PHR trustlet over the current one", .exportedComponents, .access,
                   defense: "the installer keeps each trustlet's highest version in a replay-protected counter", play: downgrade),
            Attack("access-unsigned-trustlet", "Install a trustlet signed by an unknown key, and a package with one byte changed",
                   .exportedComponents, .access, defense: "only packages signed by a trusted developer key, intact, are installed", play: unsigned),
        ]
    }

    /// What a session that never entered the PIN may get: the index and counts, signed and sealed
    /// requests it can only relay (sync, readings the patient already confirmed, the audit trail),
    /// and the audit log's action names. Everything else must be refused.
    static let releasedWithoutPIN: Set<PHRTrustlet.Command> = [.status, .syncRequest, .query, .uploadRequest, .auditRequest, .localAudit, .clockRequest]
    /// Commands that only take the server's sealed answer to a request this session made: their
    /// gate is the server's key (the forge attacks build such answers), not the PIN.
    static let relays: Set<PHRTrustlet.Command> = [.syncPage, .uploadDone, .serverAudit, .shareDone, .revokeDone]

    static func withoutPIN(_ lab: AttackLab) async throws -> Verdict {
        let patient = try lab.patients().last!
        let (phone, app) = try await lab.enrolledPhone("no-pin", patient: patient)
        defer { phone.shutdown() }
        _ = try await app.sync()
        let stranger = try await PHRDevice.open(phone.context)
        guard let record = try await stranger.query(PHRDevice.Query(limit: 1)).entries.first?.n else { throw AttackFailure("no record") }
        let share = Array(try JSONEncoder().encode(PHRDevice.ShareRequest(practitioner: "Practitioner/clinic-1", records: [record], hours: 24)))
        let garbage = Array(#"{"sequence": 1, "observation": "Observation/x", "device": "d", "channelKey": "k"}"#.utf8)
        let buffer = TEEParameter.output(capacity: 64 << 10)
        let calls: [(PHRTrustlet.Command, [TEEParameter])] = [
            (.status, [buffer]), (.setPIN, []), (.unlock, []), (.enrollBegin, [.input(Array(#"{"challenge": "AAAA"}"#.utf8)), buffer]),
            (.enrollFinish, [.input(garbage)]), (.syncRequest, [buffer, buffer]), (.syncPage, [.input(garbage), .valueOutput]),
            (.query, [.input(Array("{}".utf8)), buffer]), (.show, [.valueInput(UInt32(record))]), (.summary, [.valueOutput]),
            (.release, [.valueInput(UInt32(record)), buffer]), (.addReading, [.valueInput(1), .valueOutput]),
            (.uploadRequest, [buffer, buffer, .valueOutput]), (.uploadDone, [.input(garbage)]), (.share, [.input(share), buffer, buffer, .input(garbage)]),
            (.revoke, [.input(Array(String(repeating: "a", count: 32).utf8)), buffer]), (.auditRequest, [buffer]),
            (.serverAudit, [.input(garbage), buffer]), (.localAudit, [buffer]), (.reset, []),
            (.shareDone, [.input(garbage), buffer]), (.revokeDone, [.input(garbage), buffer]), (.clockRequest, [buffer]),
        ]
        var refusals: [String] = []
        var released: [AttackerView.Source] = []
        for (command, parameters) in calls {
            let result: TEEResult
            do throws(PHRAppError) {
                result = try await stranger.call(command, parameters)
            } catch {
                // Each call is well formed, so its refusal is the gate's: a PIN prompt nobody
                // answers (CANCEL), a PIN already set, or a relay without its request pending.
                guard case let .refused(code, _) = error else { throw AttackFailure("\(command): \(error)") }
                let expected: Set<ReturnCode> = command == .setPIN ? [.badState] : relays.contains(command) ? [.security, .badFormat] : [.cancel]
                // Any other refusal comes from the command's own work, past the gate.
                guard expected.contains(code) || releasedWithoutPIN.contains(command) && code == .itemNotFound else {
                    return .accepted("\(command) got past the PIN gate without the PIN (it answered \(code.name))")
                }
                refusals.append("\(command) \(code.name)")
                continue
            }
            guard releasedWithoutPIN.contains(command) else { return .accepted("\(command) answered without the PIN") }
            released.append(.init(name: "\(command)", bytes: (0..<4).flatMap { result.bytes($0) ?? [] }))
        }
        // What the trustlet does release to anyone: searched for the patient's data.
        let needles = try lab.needles(for: [patient])
        let found = needles.scan(released)
        if !found.isEmpty { return .leaked(found.map(\.description).joined(separator: "; ")) }
        guard try await stranger.status().records > 0 else { throw AttackFailure("the phone holds no records to protect") }
        return .defended("all \(calls.count) commands: \(refusals.count) refused (\(refusals.joined(separator: ", "))); "
                         + "\(released.map(\.name).joined(separator: ", ")) answered with none of \(needles.needles.count) needles")
    }

    static func bruteForce(_ lab: AttackLab) async throws -> Verdict {
        // Five wrong guesses, then the right PIN: once locked, the lock refuses even that.
        let guesses = (0..<5).map { ScriptedTrustedUI.Answer.pin(Array(String(format: "%06d", 111_111 * ($0 + 1)).utf8)) } + [.pin(Array(PHRStage.pin.utf8))]
        let (phone, _) = try await lab.enrolledPhone("brute-force", answers: guesses)
        let snapshot = StorageAttacks.snapshot(under: phone.ree)
        let device = try await PHRDevice.open(phone.context)
        var codes: [String] = []
        for wait in [0, 0, 1.1, 2.1, 4.1, 0] {
            if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
            do {
                try await device.unlock()
                return .accepted("a guessed PIN unlocked the trustlet")
            } catch {
                if case let .refused(code, _) = error { codes.append("\(code)") } else { throw error }
            }
        }
        let status = try await device.status()
        guard status.locked else { return .accepted("after \(status.wrongPINs) wrong PINs the trustlet is not locked") }
        let expected = Array(repeating: "\(ReturnCode.accessDenied)", count: 5) + ["\(ReturnCode.security)"]
        guard codes == expected else { throw AttackFailure("the guesses were answered \(codes), not five wrong PINs and the lock") }
        let restarted = try lab.restart(phone, answers: guesses)
        let afterRestart = try await PHRDevice.open(restarted).status()
        restarted.close()
        try StorageAttacks.restore(snapshot, at: phone.ree)
        let rolledBack = try lab.restart(phone, answers: guesses)
        defer { rolledBack.close() }
        let afterRollback: String
        do {
            let device = try await PHRDevice.open(rolledBack)
            let status = try await device.status()
            guard status.locked else { return .accepted("the REE rollback unlocked the PIN (\(status.attemptsLeft) attempts)") }
            let again = try await refused("a guess after the rollback", expecting: .security) { try await device.unlock() }
            guard case .defended = again else { return again }
            afterRollback = "still locked"
        } catch {
            afterRollback = "refused (\(brief(error)))"
        }
        guard afterRestart.locked else { return .accepted("a restart unlocked the PIN") }
        return .defended("guesses answered \(codes.joined(separator: ", ")) (the last was the right PIN); locked after 5; after a restart still locked; after an REE rollback \(afterRollback)")
    }

    /// A phone that shared its `index`th record with the clinic's practitioner for `hours`. Each
    /// attack shares another record, so no other attack's grant can answer for it.
    static func shared(_ lab: AttackLab, _ base: String, index: Int, hours: Int) async throws -> (EmulatedPhone, PatientApp, GrantReceipt, token: String, resource: String) {
        let patient = try lab.patients()[1]
        let (phone, app) = try await lab.enrolledPhone(base, patient: patient, answers: [.confirm(true), .confirm(true)])
        _ = try await app.sync()
        guard let record = try await app.device.query(PHRDevice.Query(offset: index, limit: 1)).entries.first else { throw AttackFailure("nothing to share") }
        let receipt = try await app.share(PHRDevice.ShareRequest(practitioner: "Practitioner/clinic-1", display: "Dr. Ada Okafor", records: [record.n], hours: hours))
        let token = try lab.stage.provider.store.issuePractitionerToken("Practitioner/clinic-1")
        lab.remember("a practitioner token", token)
        let grants = try JSONDecoder().decode([Grant].self, from: Data(try await lab.connection().send("GET", "/v1/shared", headers: bearer(token)).checked().body))
        guard let resource = grants.first(where: { $0.grant == receipt.grant })?.resources.first else { throw AttackFailure("the grant is not listed") }
        return (phone, app, receipt, token, resource)
    }

    static func bearer(_ token: String) -> [(String, String)] { [("Authorization", "Bearer \(token)")] }

    static func otherPatient(_ lab: AttackLab) async throws -> Verdict {
        let (phone, _, _, token, resource) = try await shared(lab, "other-patient", index: 1, hours: 24)
        defer { phone.shutdown() }
        let server = lab.connection()
        guard try await server.send("GET", "/v1/shared/\(resource)", headers: bearer(token)).status == 200 else { throw AttackFailure("the shared record cannot be read") }
        let other = try lab.patients()[0]
        guard let foreign = try lab.stage.provider.store.resources(ofPatient: other).first(where: { !$0.hasPrefix("Patient/") }) else {
            throw AttackFailure("the other patient has no records")
        }
        return allHold([
            try refusedByServer("another patient's record with a grant for someone else", try await server.send("GET", "/v1/shared/\(foreign)", headers: bearer(token)), expecting: 403, "forbidden"),
            try refusedByServer("the shared record without a token", try await server.send("GET", "/v1/shared/\(resource)"), expecting: 401, "unauthenticated"),
            try refusedByServer("the shared record with a made-up token", try await server.send("GET", "/v1/shared/\(resource)", headers: bearer("tzp_" + String(repeating: "0", count: 40))), expecting: 401, "unauthenticated"),
        ])
    }

    static func expiredGrant(_ lab: AttackLab) async throws -> Verdict {
        let (phone, _, receipt, token, resource) = try await shared(lab, "expired-grant", index: 2, hours: 1)
        defer { phone.shutdown() }
        let server = lab.connection()
        guard try await server.send("GET", "/v1/shared/\(resource)", headers: bearer(token)).status == 200 else { throw AttackFailure("the shared record cannot be read") }
        lab.advanceClock(by: 3600 + 60)
        return try refusedByServer("a read 61 minutes into a 1-hour grant (\(receipt.grant.prefix(8))…)", try await server.send("GET", "/v1/shared/\(resource)", headers: bearer(token)),
                                   expecting: 403, "grant-ended")
    }

    static func revokedGrant(_ lab: AttackLab) async throws -> Verdict {
        let (phone, app, receipt, token, resource) = try await shared(lab, "revoked-grant", index: 3, hours: 24)
        defer { phone.shutdown() }
        let server = lab.connection()
        guard try await server.send("GET", "/v1/shared/\(resource)", headers: bearer(token)).status == 200 else { throw AttackFailure("the shared record cannot be read") }
        _ = try await app.revoke(grant: receipt.grant)
        return try refusedByServer("a read after the revocation", try await server.send("GET", "/v1/shared/\(resource)", headers: bearer(token)), expecting: 403, "grant-ended")
    }

    static func downgrade(_ lab: AttackLab) async throws -> Verdict {
        let (phone, _) = try await lab.enrolledPhone("downgrade")
        defer { phone.shutdown() }
        let newer = try PHRPackage.signed(with: lab.stage.developer, version: "1.1.0")
        try await phone.install(newer)
        let older = try PHRPackage.signed(with: lab.stage.developer, version: "1.0.0")
        return try await refused("version 1.0.0 over 1.1.0, signed by the genuine developer", expecting: .code(.accessDenied, saying: "downgrade")) { try await phone.install(older) }
    }

    static func unsigned(_ lab: AttackLab) async throws -> Verdict {
        let (phone, _) = try await lab.enrolledPhone("unsigned")
        defer { phone.shutdown() }
        // Under a UUID of its own: the PHR trustlet's is the genuine developer's, and that refusal
        // (a UUID given to another signer) is the takeover attack's.
        var manifest = try PHRPackage.manifest(version: "2.0.0")
        manifest.uuid = "4a0d6f0e-7c1b-4e55-8f3a-5048520000b1"
        let foreign = try TrustletPackage.sign(manifest: manifest, wasm: try PHRPackage.wasm(), key: P256.Signing.PrivateKey())
        var bytes = try PHRPackage.signed(with: lab.stage.developer, version: "2.0.0").bytes
        bytes[bytes.count / 2] ^= 0x01
        let changed = bytes
        return try await eachHolds([
            { try await refused("a package signed by an unknown key", expecting: .code(.security, saying: "which this device does not trust")) { try await phone.install(foreign) } },
            { try await refused("a genuine package with one byte changed", expecting: .code(.security, saying: "signature does not verify")) { try await install(phone, changed) } },
        ])
    }

    /// A second developer the device also trusts takes the PHR trustlet's UUID and the runtime's
    /// own; the genuine developer re-signs other code as the installed version.
    static func uuidTakeover(_ lab: AttackLab) async throws -> Verdict {
        let rogue = P256.Signing.PrivateKey()
        let phone = try await lab.phone("uuid-takeover", alsoTrusting: [rogue.publicKey], answers: [])
        defer { phone.shutdown() }
        func package(_ uuid: TrustletUUID, name: String, version: String, wasm: String = PHRTrustlet.name, key: P256.Signing.PrivateKey) throws -> TrustletPackage {
            var manifest = try PHRPackage.manifest(version: version)
            (manifest.uuid, manifest.name) = (uuid.description, name)
            return try TrustletPackage.sign(manifest: manifest, wasm: try SampleTrustlets.wasm(wasm), key: key)
        }
        var verdicts: [Verdict] = []
        // First, on a new phone, before the genuine trustlet is installed.
        let fresh = try await lab.phone("uuid-first", alsoTrusting: [rogue.publicKey], installing: false, answers: [])
        defer { fresh.shutdown() }
        verdicts.append(try await refusedInstall("the second developer's 9.0.0 under the PHR trustlet's UUID, installed first", .accessConflict,
                                                 saying: "given to another signer") {
            try await fresh.install(try package(PHRTrustlet.uuid, name: "phr", version: "9.0.0", key: rogue))
        })
        if case .accepted = verdicts[0] { return verdicts[0] }
        try await fresh.install(lab.stage.package)  // positive control: the genuine trustlet then installs
        verdicts.append(try await refusedInstall("the second developer's 9.0.0 under the PHR trustlet's UUID", .accessConflict) {
            try await phone.install(try package(PHRTrustlet.uuid, name: "phr", version: "9.0.0", key: rogue))
        })
        for (what, uuid) in [("storage", BuiltInTrustlets.Storage.uuid), ("keystore", BuiltInTrustlets.Keystore.uuid), ("installer", BuiltInTrustlets.Installer.uuid)] {
            for (who, key) in [("the second developer", rogue), ("the genuine developer", lab.stage.developer)] {
                verdicts.append(try await refusedInstall("\(who)'s package under the \(what)'s UUID", .accessConflict) {
                    try await phone.install(try package(uuid, name: what, version: "1.0.0", key: key))
                })
            }
        }
        verdicts.append(try await refusedInstall("other code as the installed 1.0.0, by the genuine developer", .accessDenied) {
            try await phone.install(try package(PHRTrustlet.uuid, name: "phr", version: "1.0.0", wasm: "hello", key: lab.stage.developer))
        })
        // Under a UUID of its own the second developer may call its trustlet "phr", but the trusted
        // display names the signer too, which no package chooses (and no manifest name draws the
        // label's separator: the runtime's manifest check, `PackageTests`).
        let lookalike = TrustletUUID("4a0d6f0e-7c1b-4e55-8f3a-5048520000a2")!
        try await phone.install(try package(lookalike, name: "phr", version: "1.0.0", key: rogue))
        guard let genuine = phone.world.trustlet(PHRTrustlet.uuid) as? WasmTrustlet, let other = phone.world.trustlet(lookalike) as? WasmTrustlet,
              genuine.signerID == Array(SHA256.hash(data: lab.stage.developer.publicKey.x963Representation)) else {
            return .accepted("the PHR trustlet's UUID no longer runs the genuine developer's code")
        }
        guard genuine.displayName != other.displayName else { return .accepted("the trusted display labels both trustlets \(genuine.displayName)") }
        // Positive control: the genuine developer's update installs.
        try await phone.install(try PHRPackage.signed(with: lab.stage.developer, version: "1.1.0"))
        guard (phone.world.trustlet(PHRTrustlet.uuid) as? WasmTrustlet)?.version == "1.1.0" else { throw AttackFailure("the genuine update did not install") }
        return allHold(verdicts + [.defended("the look-alike is labelled \"\(other.displayName)\", the genuine one \"\(genuine.displayName)\"; the genuine 1.1.0 then installed")])
    }

    static func refusedInstall(_ what: String, _ code: ReturnCode, saying reason: String? = nil, _ attempt: () async throws -> Void) async throws -> Verdict {
        do {
            try await attempt()
            return .accepted("\(what) was installed")
        } catch let error as TEEError where error.code == code && reason.map(error.message.contains) != false {
            return .defended("\(what): \(code.name)")
        } catch {
            throw AttackFailure("\(what): expected \(code.name), got \(brief(error))")
        }
    }

    static func install(_ phone: EmulatedPhone, _ bytes: [UInt8]) async throws {
        let installer = try await phone.context.openSession(uuid: BuiltInTrustlets.Installer.uuid)
        defer { Task { try? await installer.close() } }
        _ = try await installer.invoke(command: BuiltInTrustlets.Installer.Command.install.rawValue, parameters: [.input(bytes), .output(capacity: 64)])
    }
}
