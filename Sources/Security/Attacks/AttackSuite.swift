import Foundation

/// Where an attack comes from: the mHealth attack surfaces of ARCHITECTURE.md.
public enum AttackSurface: String, Codable, Sendable, CaseIterable {
    case internet = "Internet"
    case thirdParty = "third party"
    case sensor = "Bluetooth/sensor"
    case logging
    case storage
    case exportedComponents = "exported components"
    case sideChannel = "side channel"
}

/// What the attacker is after: the threat categories of ARCHITECTURE.md.
public enum ThreatCategory: String, Codable, Sendable, CaseIterable {
    /// Being someone (a device, a trustlet, a patient) one is not.
    case identity
    /// Doing what one may not: reading, changing, acting without the patient.
    case access
    /// Learning health data or secrets.
    case disclosure
}

/// What an attack achieved.
public enum AttackOutcome: String, Codable, Sendable {
    /// The system refused or noticed, and nothing was learned or changed.
    case defended
    /// Health data or a secret reached the attacker.
    case leaked = "LEAKED"
    /// The system took something it should have refused.
    case accepted = "ACCEPTED"
    /// The attack could not be played to the end (the harness failed): not evidence of a defence.
    case failed = "FAILED"
}

/// One attack's result, with the evidence for it. Evidence names kinds, codes and counts, never
/// the health data or secret it looked for, so the report itself can be published.
public struct AttackReport: Codable, Sendable {
    public let id: String
    public let attack: String
    public let surface: AttackSurface
    public let category: ThreatCategory
    public let defense: String
    public let outcome: AttackOutcome
    public let evidence: String
    public let seconds: Double
}

/// An attack's verdict, as the attack itself judged it.
public enum Verdict: Sendable {
    case defended(String)
    case leaked(String)
    case accepted(String)
}

/// One attack: what it tries, against which surface, what a defended system does, and the attempt.
public struct Attack: Sendable {
    public let id: String
    public let name: String
    public let surface: AttackSurface
    public let category: ThreatCategory
    public let defense: String
    let play: @Sendable (AttackLab) async throws -> Verdict

    public init(_ id: String, _ name: String, _ surface: AttackSurface, _ category: ThreatCategory, defense: String,
         play: @escaping @Sendable (AttackLab) async throws -> Verdict) {
        (self.id, self.name, self.surface, self.category, self.defense, self.play) = (id, name, surface, category, defense, play)
    }
}

/// The whole attack suite against a real system (daemon, PHR trustlet, provider server) that it
/// starts in a directory of its own.
public enum AttackSuite {
    public static var all: [Attack] {
        StorageAttacks.all + NetworkAttacks.all + ForgeAttacks.all + IdentityAttacks.all + AccessAttacks.all + InterfaceAttacks.all + ResourceAttacks.all + LoggingAttacks.all
    }

    /// Plays `attacks` in order, each on the same system, and reports each as it ends.
    public static func run(_ attacks: [Attack] = all, directory: String, progress: @Sendable (AttackReport) -> Void = { _ in }) async throws -> [AttackReport] {
        let lab = try await AttackLab.start(root: directory)
        var reports: [AttackReport] = []
        for attack in attacks {
            let report = await play(attack, in: lab)
            progress(report)
            reports.append(report)
        }
        await lab.stop()
        return reports
    }

    /// Plays one attack against `lab`'s system and judges it.
    static func play(_ attack: Attack, in lab: AttackLab) async -> AttackReport {
        let started = ContinuousClock.now
        let outcome: AttackOutcome
        let evidence: String
        do {
            switch try await attack.play(lab) {
            case let .defended(text): (outcome, evidence) = (.defended, text)
            case let .leaked(text): (outcome, evidence) = (.leaked, text)
            case let .accepted(text): (outcome, evidence) = (.accepted, text)
            }
        } catch {
            (outcome, evidence) = (.failed, "the attack could not be played: \(error)")
        }
        lab.resetClock()
        let elapsed = (ContinuousClock.now - started).components
        return AttackReport(id: attack.id, attack: attack.name, surface: attack.surface, category: attack.category, defense: attack.defense,
                            outcome: outcome, evidence: evidence, seconds: Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
    }

    /// The reports as a Markdown table, one row per attack.
    public static func markdown(_ reports: [AttackReport]) -> String {
        table(reports.map { (row($0), $0.outcome == .defended) })
    }

    /// `table`'s rows with those of `reports` put in place of their attacks' earlier rows, in the
    /// suite's order: what `--only … --update` writes, so playing a few attacks keeps the others'.
    /// Throws, naming it, for an attack of the suite the table has no row for.
    public static func merging(_ reports: [AttackReport], into table: String) throws(TableError) -> String {
        let earlier = numberedRows(table).map(\.row)
        let played = Dictionary(uniqueKeysWithValues: reports.map { ($0.id, $0) })
        var rows: [(text: String, defended: Bool)] = []
        for attack in all {
            if let report = played[attack.id] {
                rows.append((row(report), report.outcome == .defended))
            } else if let text = earlier.first(where: { $0.hasPrefix(cell(attack.name) + " | ") }) {
                rows.append((String(text), text.contains(" | defended | ")))
            } else {
                throw TableError(attack: attack.id)
            }
        }
        return Self.table(rows)
    }

    /// The table's numbered rows: each whole line, and what `row` wrote in it (a numbered row is
    /// "| n | ", that, and " |").
    public static func numberedRows(_ table: String) -> [(line: Substring, row: Substring)] {
        table.split(separator: "\n").compactMap { line -> (Substring, Substring)? in
            let cells = line.split(separator: " | ", maxSplits: 1)
            guard cells.count == 2, cells[0].hasPrefix("| "), Int(cells[0].dropFirst(2)) != nil, cells[1].hasSuffix(" |") else { return nil }
            return (line, cells[1].dropLast(2))
        }
    }

    /// An attack of the suite with no row in the table being merged into.
    public struct TableError: Error, CustomStringConvertible {
        public let attack: String
        public var description: String { "the table has no row for \(attack); play the whole suite to write it" }
    }

    /// A report's row without its number (and without the closing " |").
    static func row(_ report: AttackReport) -> String {
        let result = report.outcome == .defended ? "defended" : "**\(report.outcome.rawValue)**"
        return "\(cell(report.attack)) | \(report.surface.rawValue) | \(report.category.rawValue) | \(cell(report.defense)) | \(result) | \(cell(report.evidence))"
    }

    static func cell(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }

    static func table(_ rows: [(text: String, defended: Bool)]) -> String {
        var lines = ["| # | Attack | Surface | Threat | A defended system | Result | Evidence |", "|---|---|---|---|---|---|---|"]
        for (index, row) in rows.enumerated() { lines.append("| \(index + 1) | \(row.text) |") }
        lines.append("")
        lines.append("\(rows.count { $0.defended }) of \(rows.count) attacks defended.")
        return lines.joined(separator: "\n")
    }
}
