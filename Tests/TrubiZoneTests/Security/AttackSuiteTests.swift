import Foundation
import PHRAppCommands
import PHRServer
import Testing
import TrubiZoneAttacks
import TrubiZoneTesting

/// The attack suite, played whole against a system it starts, as `trubizone-attacks` plays it.
@Suite(.serialized) struct AttackSuiteTests {
    @Test func everyAttackOfTheSuiteIsDefended() async throws {
        let directory = TemporaryDirectory("attacks")
        defer { withExtendedLifetime(directory) {} }
        let reports = try await AttackSuite.run(directory: directory.path)
        #expect(reports.count == AttackSuite.all.count && reports.count >= 35)
        for report in reports {
            #expect(report.outcome == .defended, "\(report.id): \(report.outcome.rawValue): \(report.evidence)")
            #expect(report.evidence.count > 20, "\(report.id) says why")
        }
        // Every attack surface and threat category of ARCHITECTURE.md is attacked.
        #expect(Set(reports.map(\.surface)) == Set(AttackSurface.allCases))
        #expect(Set(reports.map(\.category)) == Set(ThreatCategory.allCases))

        // The report can be published: it names none of what the attacks looked for.
        var needles = AttackerView()
        let store = try RecordStore(path: directory.path + "/system/server/phr.sqlite")
        for id in try store.patientIDs() { try needles.addRecords(of: "Patient/\(id)", from: store) }
        needles.add("the PIN", PHRStage.pin)
        let table = AttackSuite.markdown(reports)
        let json = try JSONEncoder().encode(reports)
        #expect(needles.scan([.init(name: "table", bytes: Array(table.utf8)), .init(name: "json", bytes: Array(json))]).isEmpty)
        #expect(table.contains("\(reports.count) of \(reports.count) attacks defended."))
    }

    /// An attack that gets through, or cannot be played, is reported as such, never as defended.
    @Test func anAttackThatSucceedsOrFailsToRunIsNotReportedDefended() async throws {
        let directory = TemporaryDirectory("attacks-negative")
        defer { withExtendedLifetime(directory) {} }
        let attacks = [
            Attack("accepted", "an attack the system took", .internet, .access, defense: "refuse it") { _ in .accepted("the server said 200") },
            Attack("leaked", "an attack that learned something", .logging, .disclosure, defense: "say nothing") { _ in .leaked("a value in a log") },
            Attack("broken", "an attack that could not run", .storage, .access, defense: "—") { _ in throw CancellationError() },
        ]
        let reports = try await AttackSuite.run(attacks, directory: directory.path)
        #expect(reports.map(\.outcome) == [.accepted, .leaked, .failed])
        let table = AttackSuite.markdown(reports)
        #expect(table.contains("**ACCEPTED**") && table.contains("**LEAKED**") && table.contains("**FAILED**"))
        #expect(table.contains("0 of 3 attacks defended."))
    }

    /// The attacker's search finds what is there, wherever it is, and names only its kind.
    @Test func theAttackersSearchFindsEveryNeedleWhereverItIs() {
        var view = AttackerView()
        view.add("a condition", "Hypertension")
        view.add("a short one", "abc", minimumLength: 3)
        view.add("a value", "120/80 mmHg")
        let sources: [AttackerView.Source] = [
            .init(name: "start", bytes: Array("Hypertension, then more".utf8)),
            .init(name: "end", bytes: Array("…diagnosed: HypHypertension".utf8)),
            .init(name: "binary", bytes: [0, 0xFF] + Array("120/80 mmHg".utf8) + [0] + Array("xabcx".utf8)),
            .init(name: "near misses", bytes: Array("Hypertensio 120/80 mmH ab c".utf8)),
            .init(name: "tiny", bytes: Array("ab".utf8)),
        ]
        let found = view.scan(sources).map(\.description)
        #expect(found == ["a condition in start", "a condition in end", "a short one in binary", "a value in binary"])

        // In a sealed file only needles of six bytes or more count: shorter ones turn up by chance.
        var names = AttackerView()
        names.add("a short name", "Anna", minimumLength: 4)
        names.add("a long name", "Annabel", minimumLength: 4)
        let sealed = names.scan([.init(name: "sealed", bytes: [0x9C] + Array("Anna".utf8) + [0x01, 0x7F], sealed: true),
                                 .init(name: "sealed too", bytes: Array("Annabel".utf8), sealed: true),
                                 .init(name: "a log", bytes: Array("Anna".utf8))]).map(\.description)
        #expect(sealed == ["a long name in sealed too", "a short name in a log"])

        // The same needles in the encodings a careless log or file would use.
        var named = AttackerView()
        named.add("a name", "Zoë Ålund")
        named.add("a condition", "Hypertension")
        named.add("a value", "120/80 mmHg")
        func base64(_ text: String, after prefix: String) -> [UInt8] { Array(Data(Array((prefix + text + "--").utf8)).base64EncodedString().utf8) }
        let encoded: [(String, [UInt8])] = [
            ("lower-cased", Array("…HYPERTENSION… and hypertension".utf8)),
            ("JSON-escaped", Array(#"{"name":"Zoë Ålund","v":"120\/80 mmHg"}"#.utf8)),
            ("hex", Array(("id=" + Array("Hypertension".utf8).map { String(format: "%02x", $0) }.joined()).utf8)),
            ("HEX", Array(Array("Zoë Ålund".utf8).map { String(format: "%02X", $0) }.joined().utf8)),
            ("base64 aligned", base64("Hypertension", after: "")),
            ("base64 after one byte", base64("Hypertension", after: "x")),
            ("base64 after two bytes", base64("120/80 mmHg", after: "xy")),
            ("base64url", Array(Data(Array("?>?Zoë Ålund".utf8)).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").utf8)),
            ("percent-encoded", Array("GET /search?q=120%2F80%20mmHg".utf8)),
            ("none of them", Array("Hypertensive 120/81 mmHg Zoe Alund SHlwZXJ0ZW5zaW9".utf8)),
        ]
        let hits = named.scan(encoded.map { AttackerView.Source(name: $0.0, bytes: $0.1) })
        for (name, _) in encoded.dropLast() { #expect(hits.contains { $0.source == name }, "nothing found in the \(name) source") }
        #expect(!hits.contains { $0.source == "none of them" }, "\(hits)")
        #expect(hits.count == encoded.count - 1 + 1, "\(hits.map(\.description))")  // the JSON source holds two
    }

    /// SECURITY.md shows the table as the suite last generated it: every attack has its row.
    static func securityMD() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent("SECURITY.md"), encoding: .utf8)
    }

    @Test func securityMDHasARowForEveryAttack() throws {
        let text = try Self.securityMD()
        for attack in AttackSuite.all {
            #expect(text.contains("| \(attack.name.replacingOccurrences(of: "|", with: "\\|")) |"), "SECURITY.md has no row for \(attack.id); run trubizone-attacks --update SECURITY.md")
        }
    }

    /// `--only … --update` rewrites the rows of the attacks it played and keeps every other row.
    @Test func updatingTheTableWithSomeAttacksKeepsTheOthersRows() async throws {
        let text = try Self.securityMD()
        let table = String(text[text.range(of: "<!-- attacks:begin -->")!.upperBound..<text.range(of: "<!-- attacks:end -->")!.lowerBound])
        let target = AttackSuite.all[3]
        let replayed = Attack(target.id, target.name, target.surface, target.category, defense: target.defense) { _ in .accepted("taken, for this test") }
        let directory = TemporaryDirectory("attacks-merge")
        defer { withExtendedLifetime(directory) {} }
        let reports = try await AttackSuite.run([replayed], directory: directory.path)

        let merged = try AttackSuite.merging(reports, into: table)
        let rows = { (table: String) in AttackSuite.numberedRows(table).map(\.line) }
        #expect(rows(merged).count == AttackSuite.all.count)
        for (index, (before, after)) in zip(rows(table), rows(merged)).enumerated() {
            if index == 3 {
                #expect(after.hasPrefix("| 4 | \(target.name.replacingOccurrences(of: "|", with: "\\|")) | ") && after.hasSuffix(" | **ACCEPTED** | taken, for this test |"))
            } else {
                #expect(before == after, "row \(index + 1) kept")
            }
        }
        #expect(merged.hasSuffix("\(AttackSuite.all.count - 1) of \(AttackSuite.all.count) attacks defended."))
        // An attack the table has no row for cannot be kept: the whole suite must be played.
        let shorter = rows(table).filter { !$0.contains(AttackSuite.all[5].name.replacingOccurrences(of: "|", with: "\\|")) }.joined(separator: "\n")
        #expect(throws: AttackSuite.TableError.self) { try AttackSuite.merging(reports, into: shorter) }
    }
}
