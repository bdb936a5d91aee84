import ArgumentParser
import Foundation
import TrubiZoneCLISupport

/// `phr demo`: the whole PHR story on this machine, in a temporary directory.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the PHR story end to end: server, phone, trustlet, enroll, sync, read, share, audit — and what an attacker saw.",
        discussion: "It exits 1 if any step fails, any audit trail does not verify, or the attacker's view holds anything from the records.")

    @Option(name: .long, help: ArgumentHelp("Work in this directory instead of a temporary one (kept afterwards).", valueName: "dir"))
    var dir: String?

    @Option(name: .customLong("import"), parsing: .upToNextOption,
            help: ArgumentHelp("FHIR files (e.g. Synthea bundles) for the server instead of seeded patients.", valueName: "file"))
    var imports: [String] = []

    @Option(name: .long, help: "How many seeded patients the server holds (1 to 100).") var patients = 5

    @Option(name: .long, help: "How the app reaches the secure world: in-process or socket.") var transport = "in-process"

    func validate() throws {
        guard (1...100).contains(patients) else { throw ValidationError("--patients must be 1 to 100") }
        guard DemoStory.Transport(rawValue: transport) != nil else { throw ValidationError("--transport must be in-process or socket") }
        for file in imports where !FileManager.default.isReadableFile(atPath: file) { throw ValidationError("cannot read \(file)") }
        if let dir, FileManager.default.fileExists(atPath: dir + "/phone") {
            throw ValidationError("\(dir) already holds a demo; give an empty or new directory")
        }
    }

    func run() async throws {
        let root = dir ?? NSTemporaryDirectory() + "phr-demo-\(getpid())"
        try CommandFile.makeDirectory(root)
        defer { if dir == nil { try? FileManager.default.removeItem(atPath: root) } }
        var options = DemoStory.Options(directory: root)
        options.records = imports.isEmpty ? .seeded(patients: patients) : .files(imports)
        options.transport = DemoStory.Transport(rawValue: transport) ?? .inProcess
        // Straight to the descriptor, so the narrative keeps pace when piped.
        options.say = { line in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        options.say("TrubiZone PHR demo: a health record whose data, PIN and keys live in the phone's secure world")
        let report = try await DemoStory(options: options).run()
        options.say("\n" + (report.succeeded ? "Done" : "FAILED") + String(format: " in %.1f s. ", report.seconds)
              + "Everything ran in \(root)\(dir == nil ? " (removed)" : "").")
        if !report.succeeded { throw ExitCode(1) }
    }
}
