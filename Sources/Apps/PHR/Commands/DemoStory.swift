import Crypto
import Foundation
import Logging
import PHRApp
import PHRProtocol
import PHRServer
import TrubiZoneClient
import TrubiZoneDaemon
import TrubiZoneManufacturer
import TrubiZoneProtocol
import TrubiZoneSecureWorld
import TrubiZoneVerifier
import X509

/// The PHR story end to end, on one machine: a provider server, an emulated phone whose secure
/// world runs the signed PHR trustlet, and the patient's app between them. `phr demo` tells it;
/// the end-to-end tests run it and check its report.
public struct DemoStory: Sendable {
    public enum Transport: String, Sendable, CaseIterable {
        /// The secure world in this process (a direct call is the world switch).
        case inProcess = "in-process"
        /// The secure world behind the world-switch socket, as `trubizoned` runs it.
        case socket
    }

    public struct Options: Sendable {
        public var directory: String
        public var records: ProviderHarness.Records = .seeded(patients: 5)
        public var transport: Transport = .inProcess
        /// Where the narrative goes (one line a call).
        public var say: @Sendable (String) -> Void = { print($0) }
        /// Where to keep a copy of every message between app and server (the attack suite reads it).
        public var wire: WireLog? = nil

        public init(directory: String) { self.directory = directory }
    }

    /// What happened, for the tests and the exit status.
    public struct Report: Sendable {
        public var patientRecords = 0
        public var synced = PatientApp.SyncOutcome()
        public var indexed = 0
        public var summaryLines = 0
        public var uploaded = 0
        public var grant: GrantReceipt? = nil
        public var practitionerRead = false
        public var serverAudit: PHRDevice.ServerAudit? = nil
        public var serverChainEntries = 0
        public var localAuditVerified = false
        public var localAuditEntries = 0
        public var sources = 0
        public var findings: [AttackerView.Finding] = []
        public var trustedScreens: [String] = []
        public var seconds = 0.0

        /// Whether the story held: every step done, every audit verified, nothing leaked.
        public var succeeded: Bool {
            findings.isEmpty && synced.records > 0 && synced.records == patientRecords && uploaded == 1 && grant != nil && practitionerRead
                && serverAudit?.verified == true && localAuditVerified && serverChainEntries > 0
        }
    }

    /// The reading the scripted patient types on the trusted UI.
    static let reading = "128/82"

    public let options: Options

    public init(options: Options) { self.options = options }

    public func run() async throws -> Report {
        let started = ContinuousClock.now
        var report = Report()
        let say = options.say
        func step(_ number: Int, _ text: String) { say("\n[\(number)/8] \(text)") }
        func detail(_ text: String) { say("       \(text)") }

        step(1, "The developer signs the PHR trustlet; the clinic's server starts (SQLite, loopback) with its patients")
        let stage = try await PHRStage.start(root: options.directory, records: options.records)
        do {
            try await tell(stage: stage, report: &report, step: step, detail: detail)
        } catch {
            await stage.provider.stop()
            throw error
        }
        await stage.provider.stop()
        let elapsed = (ContinuousClock.now - started).components
        report.seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        return report
    }

    private func tell(stage: PHRStage, report: inout Report, step: (Int, String) -> Void, detail: (String) -> Void) async throws {
        let provider = stage.provider
        detail("phr \(stage.package.manifest.version): \(stage.package.wasm.count / 1024) KiB of wasm, measurement \(Hex.encode(stage.package.measurement).prefix(16))…; "
               + "the server accepts only this build, from this developer, on phones from this manufacturer")
        let patient = try provider.largestPatient()
        let patientID = String(patient.dropFirst("Patient/".count))
        report.patientRecords = try provider.store.resources(ofPatient: patient).count
        let counts = try provider.store.counts()
        detail("\(counts.values.reduce(0, +)) records of \(counts["Patient"] ?? 0) patients; our patient has \(report.patientRecords)")

        step(2, "Provision a phone, start its secure world (\(options.transport.rawValue)), install the trustlet, enroll")
        detail("the clinic hands the patient a one-time enrollment code on paper; the patient types it on the trusted display")
        let wire = options.wire ?? WireLog()
        let code = try await provider.service.issueEnrollmentCode(patient: patientID).code
        let (phone, app) = try await stage.enrolledPhone("phone", patient: patient, code: code, transport: options.transport,
                                                         answers: [.text(Self.reading), .confirm(true), .confirm(true)], wire: wire)
        defer { phone.shutdown() }
        let screen = phone.screen
        var shown = 0
        func showScreens() {
            let record = screen.record
            for line in record.dropFirst(shown) { detail("  ┃ " + line) }
            report.trustedScreens += record.dropFirst(shown)
            shown = record.count
        }

        showScreens()
        detail("enrolled as device \(try await app.device.status().device.prefix(8))…; keys attested; the server proved its channel key with the code")

        step(3, "Sync: pages sealed to the trustlet's key, opened and kept in sealed storage")
        report.synced = try await app.sync { outcome in
            detail("page \(outcome.pages): \(outcome.stored) records so far (\(outcome.bytes / 1024) KiB of ciphertext)")
        }
        detail("\(report.synced.records) records in sealed storage; the server holds \(report.patientRecords) for this patient")

        step(4, "The summary, on the trusted display only")
        report.summaryLines = try await app.device.summary()
        showScreens()
        let everything = try await app.device.query(PHRDevice.Query(limit: 1000))
        report.indexed = everything.total
        var byCategory: [String: Int] = [:]
        for entry in everything.entries { byCategory[entry.category, default: 0] += 1 }
        detail("what the app itself may know (the index without values): "
               + byCategory.sorted { $0.value > $1.value }.prefix(6).map { "\($0.value) \($0.key)" }.joined(separator: ", "))

        step(5, "A blood-pressure reading, typed on the trusted display, signed, sealed and uploaded")
        let sequence = try await app.device.addReading(.bloodPressure)
        showScreens()
        report.uploaded = try await app.uploadQueued()
        detail("reading \(sequence) uploaded; the server checked the trustlet's signature and stored it as patient-reported")

        step(6, "Share the last lab report with a practitioner for 24 hours")
        var lab = try await app.device.query(PHRDevice.Query(type: "DiagnosticReport", category: "laboratory", limit: 1)).entries.first
        if lab == nil { lab = try await app.device.query(PHRDevice.Query(category: "laboratory", limit: 1)).entries.first }
        guard let lab else { throw HarnessFailure("the patient has no lab result to share") }
        let grant = try await app.share(PHRDevice.ShareRequest(practitioner: "Practitioner/clinic-1", display: "Dr. Ada Okafor", records: [lab.n], hours: 24))
        report.grant = grant
        showScreens()
        detail("grant \(grant.grant.prefix(8))… for \(grant.resources) record until \(Date(timeIntervalSince1970: TimeInterval(grant.expiresAt)))")
        let practitioner = PHRConnection(baseURL: provider.baseURL)
        let token = try await provider.store.issuePractitionerToken("Practitioner/clinic-1")
        let bearer = [("Authorization", "Bearer \(token)")]
        let grants = try JSONDecoder().decode([Grant].self, from: Data(try await practitioner.send("GET", "/v1/shared", headers: bearer).checked().body))
        if let shared = grants.first?.resources.first {
            let read = try await practitioner.send("GET", "/v1/shared/\(shared)", headers: bearer)
            report.practitionerRead = read.status == 200
            detail("on the clinic's side, Dr. Okafor reads the shared \(shared.split(separator: "/")[0]) (\(read.body.count) bytes): HTTP \(read.status)")
        }

        step(7, "Both audit trails, verified")
        report.serverAudit = try await app.serverAudit()
        showScreens()
        report.serverChainEntries = try provider.store.verifyAuditTrail()
        if let audit = report.serverAudit {
            detail("server: \(audit.entries) entries about this patient, each hash checked in the trustlet (\(audit.verified ? "verified" : "BROKEN")); "
                   + "the whole chain of \(report.serverChainEntries) verifies on the server")
        }
        let local = try await app.device.localAudit()
        report.localAuditEntries = local.entries
        report.localAuditVerified = local.verified && local.verifiesIndependently()
        detail("phone: \(local.entries) entries (\(local.actions.map(\.action).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }.joined(separator: ", ")))"
               + "; chain \(report.localAuditVerified ? "verified here, from the released entries alone" : "BROKEN")")

        options.say("\nWhat an attacker who owns Android saw")
        var attacker = AttackerView()
        try attacker.addRecords(of: patient, from: provider.store)
        attacker.add("the patient ID", patientID, minimumLength: 8)
        attacker.add("the PIN", PHRStage.pin)
        attacker.add("the enrollment code", code.characters)
        attacker.add("the enrollment code", code.formatted)
        attacker.add("the new reading", Self.reading)
        let files = AttackerView.files(under: phone.ree, label: "REE", sealed: true)
        let messages = AttackerView.wire(wire)
        let logs = AttackerView.files(under: phone.logs, label: "logs")
        report.sources = files.count + messages.count + logs.count
        report.findings = attacker.scan(files + messages + logs)
        for (name, sources) in [("REE directory", files), ("the wire", messages), ("the app's and the daemon's logs", logs)] {
            let found = report.findings.filter { finding in sources.contains { $0.name == finding.source } }
            let bytes = sources.reduce(0) { $0 + $1.bytes.count }
            detail("\(name): \(sources.count) \(name == "the wire" ? "messages" : "files"), \(bytes / 1024) KiB — "
                   + (found.isEmpty ? "none of the \(attacker.needles.count) names, values and identifiers searched for" : "LEAKED: \(found.map(\.description).joined(separator: "; "))"))
        }
        if let sample = files.first(where: { $0.name.contains("/") && $0.bytes.count > 64 }) {
            detail("for example \(sample.name.prefix(60))…: " + Hex.encode(sample.bytes.suffix(24)) + "…")
        }
    }
}
