import Foundation
import PHRApp
import PHRAppCommands
import PHRServer
import Synchronization
import TrubiZoneProtocol

/// The attacker reads every log: the app's, the daemon's (at debug level), the server's.
enum LoggingAttacks {
    static var all: [Attack] {
        [
            Attack("logging-scan", "Run the whole demo with debug logging; search every log of the phone and the server", .logging, .disclosure,
                   defense: "logs name counts, codes and kinds; never a record, value, name, PIN, code, key or token", play: scan),
            Attack("logging-after-attacks", "After every attack, search every phone's logs and REE files and the server's log", .logging, .disclosure,
                   defense: "refusals and errors are logged by code and kind; no attack makes a secret reach a log or a file",
                   play: scanEverything),
        ]
    }

    /// What the attacker collected from one full session of the demo (socket transport, debug
    /// logging): the REE files, the wire, the phone's logs and the server's log, and what of the
    /// patients' data, the PIN, the code and the reading appeared in any of them.
    struct FullSession: Sendable {
        let sources: [AttackerView.Source]
        let findings: [AttackerView.Finding]
        let needles: Int
    }

    private static let cache = Mutex<[String: FullSession]>([:])

    static func fullSession(_ lab: AttackLab) async throws -> FullSession {
        // One session per lab, and another for each set of defences a negative control turns off.
        let directory = lab.root + "/demo" + Weakening.allOff(at: lab.root + "/demo/").map { "-" + $0.rawValue }.sorted().joined()
        if let session = cache.withLock({ $0[directory] }) { return session }
        let wire = WireLog()
        var options = DemoStory.Options(directory: directory)
        options.transport = .socket
        options.records = .seeded(patients: 3)
        options.wire = wire
        options.say = { _ in }
        let report = try await DemoStory(options: options).run()
        guard report.synced.records > 0, report.uploaded == 1, report.grant != nil else { throw AttackFailure("the demo did not run to its end") }
        // Every patient of the clinic, not only the demo's, plus what the demo typed.
        let store = try RecordStore(path: directory + "/server/phr.sqlite")
        var view = AttackerView()
        for id in try store.patientIDs() {
            try view.addRecords(of: "Patient/\(id)", from: store)
            view.add("a patient ID", id, minimumLength: 8)
        }
        view.add("the PIN", PHRStage.pin)
        view.add("the new reading", "128/82")
        let phone = directory + "/phone"
        let sources = AttackerView.files(under: phone + "/ree", label: "REE", sealed: true) + AttackerView.wire(wire)
            + AttackerView.files(under: phone + "/logs", label: "logs") + AttackerView.files(under: directory + "/server", label: "server").filter { $0.name.hasSuffix(".log") }
        // The demo's own search adds the enrollment code, which only it saw.
        let findings = view.scan(sources) + report.findings
        let session = FullSession(sources: sources, findings: findings, needles: view.needles.count + 2)
        cache.withLock { $0[directory] = session }
        return session
    }

    static func scan(_ lab: AttackLab) async throws -> Verdict {
        let session = try await fullSession(lab)
        let logs = session.sources.filter { $0.name.hasPrefix("logs/") || $0.name.hasPrefix("server/") }
        let lines = logs.reduce(0) { $0 + $1.bytes.count { $0 == 0x0A } }
        guard logs.count >= 3, lines > 20 else { throw AttackFailure("only \(logs.count) logs with \(lines) lines to search") }
        let found = session.findings.filter { $0.source.hasPrefix("logs/") || $0.source.hasPrefix("server/") }
        if !found.isEmpty { return .leaked(found.prefix(5).map(\.description).joined(separator: "; ")) }
        return .defended("\(logs.count) logs, \(lines) lines (\(logs.map(\.name).joined(separator: ", "))): none of \(session.needles) needles")
    }

    /// The suite's own system after the attacks: every phone's normal-world files and logs and the
    /// server's log, searched for every patient's data, the PIN, every enrollment code and
    /// practitioner token handed out, and the server's channel key.
    static func scanEverything(_ lab: AttackLab) async throws -> Verdict {
        let view = try lab.everySecret()
        let phones = lab.root + "/system/phones"
        var sources: [AttackerView.Source] = []
        for phone in (try? FileManager.default.contentsOfDirectory(atPath: phones))?.sorted() ?? [] {
            sources += AttackerView.files(under: "\(phones)/\(phone)/ree", label: "\(phone)/ree", sealed: true)
            sources += AttackerView.files(under: "\(phones)/\(phone)/logs", label: "\(phone)/logs")
        }
        sources += AttackerView.files(under: lab.root + "/system/server", label: "server").filter { $0.name.hasSuffix(".log") }
        let logs = sources.filter { $0.name.contains("/logs/") || $0.name.hasPrefix("server/") }
        let lines = logs.reduce(0) { $0 + $1.bytes.count { $0 == 0x0A } }
        guard logs.count > 2, lines > 20 else {
            throw AttackFailure("only \(logs.count) logs with \(lines) lines to search: play this attack after the others, whose traces it searches")
        }
        let found = view.scan(sources)
        if !found.isEmpty { return .leaked(found.prefix(5).map(\.description).joined(separator: "; ")) }
        return .defended("\(sources.count) files of \(Set(sources.map { $0.name.split(separator: "/")[0] }).count - 1) phones and the server, "
                         + "\(lines) log lines: none of \(view.needles.count) needles")
    }
}
