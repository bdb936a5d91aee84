import ArgumentParser
import Foundation
import Synchronization

/// `trubizone-attacks`: plays the attack suite against a system it starts, and reports.
public struct AttacksCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "trubizone-attacks",
        abstract: "Attack a running TrubiZone system (daemon, PHR trustlet, provider server) from a compromised normal world.",
        discussion: """
            Starts a system in a temporary directory, plays every attack with full control of the normal world, and prints \
            a Markdown table (or JSON with --json). Exits 1 if any attack leaked, was accepted, or could not be played.
            """
    )

    @Flag(help: "Print the reports as JSON.")
    var json = false

    @Flag(help: "List the attacks and exit.")
    var list = false

    @Option(name: .customLong("only"), help: "Play only this attack (repeatable; see --list).")
    var only: [String] = []

    @Option(help: "Keep the system in this directory instead of a temporary one.")
    var dir: String?

    @Option(help: "Rewrite the table between the attack markers of this Markdown file (SECURITY.md); with --only, just those attacks' rows.")
    var update: String?

    public init() {}

    public func validate() throws {
        let known = Set(AttackSuite.all.map(\.id))
        for id in only where !known.contains(id) { throw ValidationError("no attack named '\(id)'; see --list") }
        if let update, FileManager.default.contents(atPath: update).map({ Self.markers(in: String(decoding: $0, as: UTF8.self)) }) == nil {
            throw ValidationError("cannot read \(update)")
        }
    }

    public func run() async throws {
        let attacks = only.isEmpty ? AttackSuite.all : AttackSuite.all.filter { only.contains($0.id) }
        if list {
            for attack in attacks { write("\(attack.id)\t\(attack.surface.rawValue)\t\(attack.category.rawValue)\t\(attack.name)\n") }
            return
        }
        let directory: String
        let temporary: Bool
        if let dir {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            (directory, temporary) = (dir, false)
        } else {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("trubizone-attacks-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            temporary = true
        }
        defer { if temporary { try? FileManager.default.removeItem(atPath: directory) } }
        let total = attacks.count
        let counter = Counter()
        let reports = try await AttackSuite.run(attacks, directory: directory) { report in
            let index = counter.next()
            let line = "[\(index)/\(total)] \(report.id): \(report.outcome.rawValue) (\(String(format: "%.1f", report.seconds)) s)\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
        let table = AttackSuite.markdown(reports)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            write(String(decoding: try encoder.encode(reports), as: UTF8.self) + "\n")
        } else {
            write(table + "\n")
        }
        if let update { try Self.replaceTable(in: update) { earlier in only.isEmpty ? table : try AttackSuite.merging(reports, into: earlier) } }
        let failed = reports.filter { $0.outcome != .defended }
        if !failed.isEmpty {
            FileHandle.standardError.write(Data("error: \(failed.count) attack(s) not defended: \(failed.map(\.id).joined(separator: ", "))\n".utf8))
            throw ExitCode(1)
        }
    }

    static let begin = "<!-- attacks:begin -->"
    static let end = "<!-- attacks:end -->"

    static func markers(in text: String) -> (Range<String.Index>, Range<String.Index>)? {
        guard let begin = text.range(of: begin), let end = text.range(of: end), begin.upperBound <= end.lowerBound else { return nil }
        return (begin, end)
    }

    /// Puts `table(the table there now)` between the markers of the file at `path`.
    static func replaceTable(in path: String, with table: (String) throws -> String) throws {
        let text = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        guard let (begin, end) = markers(in: text) else {
            throw ValidationError("\(path) has no \(Self.begin) … \(Self.end) markers; add them where the table goes")
        }
        let updated = String(text[..<begin.upperBound]) + "\n" + (try table(String(text[begin.upperBound..<end.lowerBound]))) + "\n"
            + String(text[end.lowerBound...])
        try Data(updated.utf8).write(to: URL(fileURLWithPath: path))
    }

    func write(_ text: String) { FileHandle.standardOutput.write(Data(text.utf8)) }
}

private final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int {
        value.withLock { count in
            count += 1
            return count
        }
    }
}
