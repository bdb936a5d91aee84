import Foundation
import PHRApp
import PHRAppCommands
import PHRContract
import PHRProtocol
import PHRServer
import Synchronization
import Testing
import TrubiZoneClient
import TrubiZoneEmulatedDevice
import TrubiZoneProtocol
@testable import TrubiZoneSecureWorld
import TrubiZoneTesting

/// The PHR app end to end: the signed trustlet on an emulated phone, the app, and a provider
/// server on loopback.
@Suite(.serialized) struct PHRAppTests {
    /// Collects the demo's narrative.
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var text: String { lines.withLock { $0.joined(separator: "\n") } }
    }

    @Test(arguments: DemoStory.Transport.allCases) func theDemoStoryHoldsEndToEnd(_ transport: DemoStory.Transport) async throws {
        let directory = TemporaryDirectory("phr-demo")
        defer { withExtendedLifetime(directory) {} }
        let lines = Lines()
        var options = DemoStory.Options(directory: directory.path)
        options.transport = transport
        options.say = { lines.append($0) }
        let report = try await DemoStory(options: options).run()
        #expect(report.synced.records > 0 && report.synced.records == report.patientRecords, "every record of the patient arrives")
        #expect(report.indexed == report.synced.records)
        #expect(report.summaryLines > 10 && report.trustedScreens.contains { $0.contains("Health summary") })
        #expect(report.uploaded == 1 && report.grant?.resources == 1 && report.practitionerRead)
        #expect(report.serverAudit?.verified == true && (report.serverAudit?.entries ?? 0) >= 5 && report.localAuditVerified)
        #expect(report.sources > 10)
        #expect(report.findings.isEmpty, "the attacker found \(report.findings)")
        #expect(report.succeeded)
        #expect(lines.text.contains("What an attacker who owns Android saw"))
    }
}

/// The trustlet's policy and its PIN, against a compromised normal world.
@Suite struct PHRTrustletPolicyTests {
    static func stage(_ directory: TemporaryDirectory, records: ProviderHarness.Records = .seeded(patients: 2)) async throws -> PHRStage {
        try await PHRStage.start(root: directory.path, records: records)
    }

    /// Two sessions adding readings at once (the normal world can open several): each reads the
    /// trustlet's state, waits for the patient and writes it back, so without one call at a time
    /// one reading would silently replace the other.
    @Test func readingsAddedFromTwoSessionsAtOnceAreBothKept() async throws {
        let directory = TemporaryDirectory("phr-concurrent")
        let stage = try await Self.stage(directory, records: .seeded(patients: 1))
        defer { withExtendedLifetime(directory) {} }
        let (phone, app) = try await stage.enrolledPhone("phone", answers: [.pin(Array(PHRStage.pin.utf8)), .text("121/81"), .confirm(true),
                                                                            .text("122/82"), .confirm(true)])
        defer { phone.shutdown() }
        _ = try await app.sync()
        let other = try await PHRDevice.open(phone.context)
        try await other.unlock()
        async let first = app.device.addReading(.bloodPressure)
        async let second = other.addReading(.bloodPressure)
        let sequences = try await [first, second].sorted()
        #expect(sequences == [1, 2])
        #expect(try await app.device.status().pendingUploads == 2)
        #expect(try await app.uploadQueued() == 2)
    }

    /// The phone's clock is the normal world's. A grant's prompt is dated from the server's clock,
    /// fetched just before, and a grant held back (with the phone's clock set ahead so that its
    /// signed time still passes) is refused for its stale clock instead of starting late.
    @Test func aGrantIsDatedByTheServersClockAndOneHeldBackIsRefused() async throws {
        let directory = TemporaryDirectory("phr-clock")
        let offset = Mutex<TimeInterval>(0)
        let stage = try await PHRStage.start(root: directory.path, records: .seeded(patients: 1)) { Date().addingTimeInterval(offset.withLock { $0 }) }
        defer { withExtendedLifetime(directory) {} }
        let (phone, app) = try await stage.enrolledPhone("phone", answers: [.confirm(true), .confirm(true)])
        defer { phone.shutdown() }
        _ = try await app.sync()
        let record = try #require(try await app.device.query(PHRDevice.Query(offset: 1, limit: 1)).entries.first)
        let trustlet = try #require(phone.world.trustlet(PHRTrustlet.uuid) as? WasmTrustlet)
        let share = PHRDevice.ShareRequest(practitioner: "Practitioner/clinic-1", records: [record.n], hours: 24)

        // The clock comes in; then the normal world sets the phone 11 minutes ahead and holds the grant back.
        let asked = Date().timeIntervalSince1970
        let clock = try await app.server.send(try await app.device.clockRequest()).checked().body
        let served = Date().timeIntervalSince1970
        trustlet.wallClockShift.withLock { $0 = 660 }
        let held = try await app.device.share(share, clock: clock)
        let answered = Date().timeIntervalSince1970
        let prompt = phone.screen.record.joined(separator: "\n")
        #expect(prompt.contains("Share with Practitioner/clinic-1"))
        func minute(_ seconds: TimeInterval) -> String { String(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: seconds)).prefix(16)) }
        // The server's time when it answered, plus what the secure world's clock counted since the
        // trustlet asked (the round trip counts as elapsed, so holding the answer back never
        // dates a grant earlier): somewhere between the answer's arrival and the share's return
        // plus that round trip (a loaded machine is slow; whole seconds on both sides can round
        // the prompt up to 2 s further).
        let latest = answered + (served - asked) + 3
        let minutes = Set(stride(from: served - 1, through: latest, by: 10).map { minute($0 + 86_400) } + [minute(latest + 86_400)])
        #expect(minutes.contains { prompt.contains($0) }, "dated from the server's time: \(prompt) vs \(minutes.sorted())")
        #expect(!prompt.contains(minute(served + 660 + 86_400)), "not from the phone's clock")
        offset.withLock { $0 = 660 }
        let late = try await app.server.send(held)
        #expect(late.status == 400)
        let refusal = try? JSONDecoder().decode(ErrorBody.self, from: Data(late.body))
        #expect(refusal?.error == "stale-clock", "a grant held back starts nowhere: \(refusal?.message ?? "")")

        // Positive control: with the clocks agreeing, a fresh clock and a grant sent at once are taken.
        trustlet.wallClockShift.withLock { $0 = 660 }
        let receipt = try await app.share(share)
        #expect(receipt.resources == 1)
    }

    /// A receipt whose release does not fit its buffer changes nothing: the same receipt again,
    /// as GP's short-buffer retry sends it, is audited once, for a grant and for its revocation.
    @Test func aReceiptRetriedForItsBufferIsAuditedOnce() async throws {
        let directory = TemporaryDirectory("phr-receipt-retry")
        let stage = try await Self.stage(directory, records: .seeded(patients: 1))
        defer { withExtendedLifetime(directory) {} }
        let (phone, app) = try await stage.enrolledPhone("phone", answers: [.confirm(true), .confirm(true)])
        defer { phone.shutdown() }
        _ = try await app.sync()
        let records = try await app.device.query(PHRDevice.Query(offset: 1, limit: 25)).entries.map(\.n)
        #expect(records.count == 25)
        func audited(_ action: String) async throws -> Int { try await app.device.localAudit().actions.count { $0.action == action } }

        let clock = try await app.server.send(try await app.device.clockRequest()).checked().body
        let grant = try await app.device.share(PHRDevice.ShareRequest(practitioner: "Practitioner/clinic-1", records: records, hours: 24), clock: clock)
        // Every record shared is on the screen the patient confirmed, none summed up as "more".
        let prompt = phone.screen.record.drop { !$0.contains("Share with") }
        #expect(prompt.count { $0.contains("]   ") } == 25 && !prompt.contains { $0.contains(" more") }, "\(prompt)")
        let granted = try await app.server.send(grant).checked().body
        // `call` answers a short buffer by sending the same receipt again with the size asked for.
        let released = try await app.device.call(.shareDone, [.input(granted), .output(capacity: 8)]).bytes(1) ?? []
        let receipt = try JSONDecoder().decode(GrantReceipt.self, from: Data(released))
        #expect(try await audited("shared") == 1)

        let revoke = try await app.device.revoke(grant: receipt.grant)
        let revoked = try await app.server.send(revoke).checked().body
        _ = try await app.device.call(.revokeDone, [.input(revoked), .output(capacity: 8)])
        #expect(try await audited("revoked") == 1)
        // And a receipt once taken is not taken again.
        await #expect(throws: PHRAppError.refused(.security, PHRAppError.meaning(.security, command: .revokeDone))) {
            try await app.device.revokeDone(receipt: revoked)
        }
        #expect(try await audited("revoked") == 1)
    }

    /// Everything the normal world can get without the trusted UI: status, the index with every
    /// filter, and what commands answer when the patient does not confirm.
    @Test func aNormalWorldCallNeverGetsAValueOrNoteWithoutATrustedUIConfirmation() async throws {
        let directory = TemporaryDirectory("phr-policy")
        let stage = try await Self.stage(directory)
        defer { withExtendedLifetime(directory) {} }
        let patient = try stage.provider.largestPatient()
        let (phone, app) = try await stage.enrolledPhone("phone", patient: patient, answers: [.confirm(false), .confirm(true)])
        defer { phone.shutdown() }
        _ = try await app.sync()
        var attacker = AttackerView()
        try attacker.addRecords(of: patient, from: stage.provider.store)
        #expect(attacker.needles.count > 20)

        // A second session, as any app on the phone could open: it has not entered the PIN.
        let stranger = try await PHRDevice.open(phone.context)
        var released: [AttackerView.Source] = []
        let status = try await stranger.status()
        released.append(.init(name: "status", bytes: Array(try JSONEncoder().encode(status))))
        // Its fields are PHRContract's, on the trustlet's side and the app's.
        let rawStatus = try await stranger.call(.status, [.output(capacity: 1024)]).bytes(0) ?? []
        #expect((try JSONSerialization.jsonObject(with: Data(rawStatus)) as? [String: Any]).map { Set($0.keys) } == Set(PHRStatusField.all))
        #expect((try JSONSerialization.jsonObject(with: JSONEncoder().encode(status)) as? [String: Any]).map { Set($0.keys) } == Set(PHRStatusField.all))
        for query in [PHRDevice.Query(), PHRDevice.Query(type: "Observation", limit: 1000), PHRDevice.Query(category: "laboratory"),
                      PHRDevice.Query(type: "Patient"), PHRDevice.Query(since: "2000-01-01", until: "2100-01-01", offset: 3, limit: 7)] {
            let result = try await stranger.query(query)
            let raw = try await stranger.call(.query, [.input(Array(try JSONEncoder().encode(query))), .output(capacity: 64 << 10)]).bytes(1) ?? []
            released.append(.init(name: "query", bytes: raw))
            // Exactly the four released fields, nothing else.
            let object = try #require(try JSONSerialization.jsonObject(with: Data(raw)) as? [String: Any])
            for entry in object["entries"] as? [[String: Any]] ?? [] { #expect(Set(entry.keys) == ["n", "type", "date", "category"]) }
            #expect(result.entries.allSatisfy { $0.date.isEmpty || $0.date.count == 10 })
        }
        released.append(.init(name: "local audit", bytes: try await stranger.call(.localAudit, [.output(capacity: 1 << 20)]).bytes(0) ?? []))
        #expect(attacker.scan(released).isEmpty, "released without the trusted UI: \(attacker.scan(released))")

        // In the unlocked session, a release needs the patient's yes; a no releases nothing.
        let lab = try #require(try await app.device.query(PHRDevice.Query(category: "laboratory", limit: 1)).entries.first)
        await #expect(throws: PHRAppError.refused(.cancel, PHRAppError.meaning(.cancel, command: .release))) { _ = try await app.device.release(lab.n) }
        let record = try await app.device.release(lab.n)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(record)) as? [String: Any])
        let id = try #require(object["id"] as? String)
        let stored = try #require(try stage.provider.store.resource(type: lab.type, id: id))
        #expect(NSDictionary(dictionary: object) == NSDictionary(dictionary: try #require(try JSONSerialization.jsonObject(with: stored) as? [String: Any])))
        let actions = try await app.device.localAudit().actions.map(\.action)
        #expect(actions.contains("release-declined") && actions.last == "released")
        #expect(phone.screen.record.contains { $0.contains("Give the app on this phone a copy of this record?") })

        // Commands that show or release records ask for the PIN first; the script has no answer
        // left for the stranger's session, so the patient "walks away" and nothing comes back.
        for (command, parameters) in [(PHRTrustlet.Command.show, [TEEParameter.valueInput(1)]), (.summary, [.valueOutput]),
                                      (.release, [.valueInput(1), .output(capacity: 64 << 10)]), (.addReading, [.valueInput(1), .valueOutput])] {
            await #expect(throws: PHRAppError.refused(.cancel, PHRAppError.meaning(.cancel, command: command)), "\(command)") {
                _ = try await stranger.call(command, parameters)
            }
        }
        // Out-of-range handles and malformed filters are refused, not answered.
        await #expect(throws: PHRAppError.refused(.itemNotFound, PHRAppError.meaning(.itemNotFound, command: .release))) {
            _ = try await app.device.release(100_000)
        }
        await #expect(throws: PHRAppError.refused(.badParameters, PHRAppError.meaning(.badParameters, command: .query))) {
            _ = try await stranger.call(.query, [.input(Array(#"{"type": 7}"#.utf8)), .output(capacity: 1024)])
        }
    }

    /// Wrong PINs are counted in replay-protected counters before they are compared: waits grow,
    /// the fifth locks, and neither a restart nor a rollback of the REE directory gives one back.
    @Test func wrongPINsWaitThenLockAcrossRestartAndRollback() async throws {
        let directory = TemporaryDirectory("phr-pin")
        let stage = try await Self.stage(directory, records: .seeded(patients: 1))
        defer { withExtendedLifetime(directory) {} }
        let wrong = ScriptedTrustedUI.Answer.pin(Array("000000".utf8))
        let (phone, _) = try await stage.enrolledPhone("phone", answers: [wrong, wrong, wrong, wrong, wrong, .pin(Array(PHRStage.pin.utf8))])
        defer { phone.shutdown() }
        let snapshot = EmulatedDevice.files(under: phone.ree)
        let device = try await PHRDevice.open(phone.context)
        func unlock() async -> ReturnCode {
            do throws(PHRAppError) {
                try await device.unlock()
                return .success
            } catch {
                if case let .refused(code, _) = error { return code }
                return .generic
            }
        }
        #expect(await unlock() == .accessDenied)
        #expect(await unlock() == .accessDenied)
        // From the second wrong PIN, the next attempt waits; asking early costs no attempt.
        #expect(await unlock() == .busy)
        #expect(try await device.status().waitSeconds >= 1)
        for wait in [1.1, 2.1, 4.1] {
            try await Task.sleep(for: .seconds(wait))
            #expect(await unlock() == .accessDenied)
        }
        let status = try await device.status()
        #expect(status.locked && status.attemptsLeft == 0 && status.wrongPINs == 5)
        // Locked: the right PIN is not even asked for.
        #expect(await unlock() == .security)
        #expect(phone.screen.remainingAnswers == 1)

        // A restart of the secure world, then a rollback of the whole REE directory.
        let trust = TrustPolicy(trustedSigners: [stage.developer.publicKey])
        let restarted = try SecureWorld.emulated(stateDirectory: phone.secureState, reeDirectory: phone.ree, trustPolicy: trust)
        let again = try await PHRDevice.open(try TEEContext.inProcess(restarted))
        #expect(try await again.status().locked)
        try FileManager.default.removeItem(atPath: phone.ree)
        for file in snapshot {
            try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: file.path).deletingLastPathComponent().path, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: file.path, contents: Data(file.bytes))
        }
        let rolledBack = try SecureWorld.emulated(stateDirectory: phone.secureState, reeDirectory: phone.ree, trustPolicy: trust)
        do {
            let status = try await PHRDevice.open(try TEEContext.inProcess(rolledBack)).status()
            #expect(status.locked, "a rolled-back REE directory must not unlock the PIN")
        } catch {
            // Or the runtime refuses the rolled-back store outright: either way, no attempt comes back.
            #expect("\(error)".contains("SECURITY") || "\(error)".contains("CORRUPT"), "\(error)")
        }
    }
}

/// Sync against real-world records: every Synthea patient, and a sync cut short.
@Suite struct PHRSyncTests {
    static func synthea() throws -> [String] {
        try SharedData.files(in: "synthea/fhir-data-pipes", withExtension: ".json") + SharedData.files(in: "synthea/iris-fhir-template", withExtension: ".json")
    }

    /// Counts of each type the server holds for a patient.
    static func serverCounts(_ stage: PHRStage, _ patient: String) throws -> [String: Int] {
        try stage.provider.store.resources(ofPatient: patient).reduce(into: [:]) { $0[String($1.split(separator: "/")[0]), default: 0] += 1 }
    }

    /// What the phone's index holds, counted by type, from the normal world's side.
    static func phoneCounts(_ device: PHRDevice) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        var offset = 0
        while true {
            let page = try await device.query(PHRDevice.Query(offset: offset, limit: 1000))
            for entry in page.entries { counts[entry.type, default: 0] += 1 }
            offset += page.entries.count
            if page.entries.isEmpty || offset >= page.total { return counts }
        }
    }

    @Test func everySyntheaPatientSyncsWithTheCountsTheServerHolds() async throws {
        let directory = TemporaryDirectory("phr-synthea")
        defer { withExtendedLifetime(directory) {} }
        let stage = try await PHRStage.start(root: directory.path, records: .files(try Self.synthea()))
        let patients = try stage.provider.store.patientIDs()
        #expect(patients.count >= 10)
        // Two phones at a time (the machine's cores), the largest patients first so both stay busy.
        let ordered = try patients.map { (id: $0, size: try Self.serverCounts(stage, "Patient/\($0)").values.reduce(0, +)) }
            .sorted { $0.size > $1.size }.enumerated().map { ($0.offset, $0.element.id) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var queue = ordered[...]
            func next() {
                guard let (index, id) = queue.popFirst() else { return }
                group.addTask {
                    let patient = "Patient/\(id)"
                    let (phone, app) = try await stage.enrolledPhone("phone-\(index)", patient: patient)
                    defer { phone.shutdown() }
                    let outcome = try await app.sync()
                    let expected = try Self.serverCounts(stage, patient)
                    #expect(outcome.records == expected.values.reduce(0, +), "\(patient)")
                    #expect(try await Self.phoneCounts(app.device) == expected, "\(patient): the index holds each record once")
                }
            }
            next(); next()
            while try await group.next() != nil { next() }
        }
    }

    /// The secure world stopped before each host call of keeping a page, until one stop comes
    /// after the page is kept: each later page first deletes what the stop left, so in the end
    /// every sealed page is one the index uses (a page left behind would count against the
    /// trustlet's quota, and outlive a reset, for good).
    @Test func aStopAtEveryStepOfKeepingAPageLeavesNoPageBehind() async throws {
        let directory = TemporaryDirectory("phr-stop-sync")
        defer { withExtendedLifetime(directory) {} }
        let stage = try await PHRStage.start(root: directory.path, records: .seeded(patients: 1))
        let pin = ScriptedTrustedUI.Answer.pin(Array(PHRStage.pin.utf8))
        let (phone, app) = try await stage.enrolledPhone("phone", answers: Array(repeating: pin, count: 120))
        defer { phone.shutdown() }
        let trustlet = try #require(phone.world.trustlet(PHRTrustlet.uuid) as? WasmTrustlet)
        func pages() throws -> Int { try phone.world.storage.list(trustlet.namespace).filter { $0.count == 9 && $0[0] == 0x70 && $0[1] == 0 }.count }  // "p" and a page number, not "pin-tried"
        // Only a write or a delete changes what is kept, so the stops come before each of those.
        let changes: Set<String> = ["storage_write", "storage_delete", "counter_increment"]
        var stops = 0
        for allowed in 0..<100 {
            let device = try await PHRDevice.open(phone.context)
            try await device.unlock()
            let page = try await app.server.send(try await device.syncRequest()).checked().body
            trustlet.plannedKill.withLock { $0 = .init(remaining: allowed, only: changes) }
            let kept = try? await device.syncPage(page)
            trustlet.plannedKill.withLock { $0.remaining = nil }
            try? await device.session.close()  // a stopped session is gone already
            let reader = try await PHRDevice.open(phone.context)
            let cursor = try await reader.status().cursor
            try await reader.session.close()
            if kept != nil || !cursor.isEmpty { break }
            stops += 1
            // At most the page just stopped, and the one before it if that stop was its own.
            let objects = try phone.world.storage.list(trustlet.namespace).map { Hex.encode($0) }
            #expect(try pages() <= 2, "stopped before write \(allowed + 1): \(objects)")
        }
        #expect(stops >= 4, "the stops came before the page's state, page, index and state again were kept")
        let resumed = PatientApp(device: try await PHRDevice.open(phone.context), server: app.server)
        try await resumed.device.unlock()
        let outcome = try await resumed.sync()
        #expect(outcome.records > 0 && outcome.records <= 100)
        // One more page through the same path (empty or not) sweeps what the last stop left.
        _ = try await resumed.sync()
        #expect(try pages() == 1, "one page holds every record; no other is left")
    }

    @Test func anInterruptedSyncResumesWithoutLossOrDuplicates() async throws {
        let directory = TemporaryDirectory("phr-resume")
        defer { withExtendedLifetime(directory) {} }
        let file = try #require(try Self.synthea().first { $0.contains("Cecelia") })
        let stage = try await PHRStage.start(root: directory.path, records: .files([file]))
        let patient = try stage.provider.largestPatient()
        let expected = try Self.serverCounts(stage, patient)
        let (phone, app) = try await stage.enrolledPhone("phone", patient: patient)
        defer { phone.shutdown() }

        // The first page is kept; the second is lost on the way (the app dies, the network drops).
        let first = try await app.server.send(try await app.device.syncRequest()).checked()
        let kept = try await app.device.syncPage(first.body)
        #expect(kept.more && kept.stored == 100)
        let lost = try await app.server.send(try await app.device.syncRequest()).checked()
        // A page already kept cannot be fed again.
        await #expect(throws: PHRAppError.refused(.security, PHRAppError.meaning(.security, command: .syncPage))) {
            _ = try await app.device.syncPage(first.body)
        }

        // The secure world restarts; the app syncs again from the trustlet's cursor.
        phone.shutdown()
        let restarted = try SecureWorld.emulated(stateDirectory: phone.secureState, reeDirectory: phone.ree,
                                                 trustPolicy: TrustPolicy(trustedSigners: [stage.developer.publicKey]))
        let context = try TEEContext.inProcess(restarted)
        defer { context.close() }
        let resumed = PatientApp(device: try await PHRDevice.open(context), server: app.server)
        let outcome = try await resumed.sync()
        #expect(outcome.records == expected.values.reduce(0, +))
        #expect(try await Self.phoneCounts(resumed.device) == expected, "nothing lost, nothing twice")
        // The lost page, delivered late, is older than what was kept since.
        await #expect(throws: PHRAppError.refused(.security, PHRAppError.meaning(.security, command: .syncPage))) {
            _ = try await resumed.device.syncPage(lost.body)
        }
        // A sync with nothing new keeps everything as it is.
        let again = try await resumed.sync()
        #expect(again.stored == 0 && again.records == outcome.records)
    }
}
