import ArgumentParser
import Foundation
import PHRServer
import TrubiZoneCLISupport

/// `phr-server`: the provider's side of the Personal Health Record.
public struct PHRServerCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "phr-server",
        abstract: "The PHR provider server: FHIR R4 records for patients' attested devices.",
        discussion: "Exit codes: 0 success, 1 refused or failed, 64 bad usage (an option, a file), 69 the PostgreSQL server does not answer.",
        subcommands: [Serve.self, Import.self, Seed.self, Stats.self, Patient.self, Practitioner.self, DeviceCommand.self, Audit.self])

    public init() {}

    struct DatabaseOptions: ParsableArguments {
        @Option(name: .long, help: ArgumentHelp("A SQLite database file, or postgres://user[:password]@host[:port]/database (created or migrated as needed).",
                                                valueName: "path-or-url"))
        var database: String = ProcessInfo.processInfo.environment["PHR_DATABASE"] ?? "phr-server.sqlite"

        @Flag(name: .long, help: "Print machine-readable JSON.")
        var json = false

        /// The database as it may be printed: a URL without its password.
        var displayName: String {
            guard var components = URLComponents(string: database), components.scheme?.hasPrefix("postgres") == true else { return database }
            if components.password != nil { components.password = "…" }
            return components.string ?? "the PostgreSQL database"
        }

        func open() async throws -> any PHRStore {
            do {
                if database.hasPrefix("postgres://") || database.hasPrefix("postgresql://") {
                    return try await PostgresRecordStore(url: database)
                }
                return try RecordStore(path: database)
            } catch let unreachable as PostgresUnreachable {
                throw fail("\(unreachable); is it running, and is --database right?", code: ExitStatus.unavailable)
            } catch {
                FileHandle.standardError.write(Data("error: cannot open the database \(displayName): \(String(describing: error).prefix(300))\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import FHIR R4 JSON files: Bundles (Synthea output included) or single resources.",
            discussion: "Each file is imported whole or not at all; importing the same content again changes nothing. "
                + "Exit status 1 if any file was refused (the others are imported), 64 for bad usage.")

        @Argument(help: "FHIR JSON files.") var files: [String]
        @OptionGroup var options: DatabaseOptions

        func validate() throws {
            guard !files.isEmpty else { throw ValidationError("name at least one FHIR JSON file") }
            // A name that is no file is a mistyped argument: nothing is imported until each is one.
            for file in files {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else { throw ValidationError("\(file) does not exist") }
                guard !isDirectory.boolValue else { throw ValidationError("\(file) is a folder; name the JSON files in it (e.g. \(file)/*.json)") }
            }
        }

        func run() async throws {
            let store = try await options.open()
            var total = RecordStore.FileResult()
            var refused: [String] = []
            let started = Date()
            var readable: [(name: String, data: Data)] = []
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else {
                    refused.append("\(file): cannot be read")
                    continue
                }
                readable.append((URL(fileURLWithPath: file).lastPathComponent, data))
            }
            if !options.json { FileHandle.standardError.write(Data("checking \(readable.count) files…\n".utf8)) }
            _ = try await store.importFiles(readable) { index, outcome in
                let name = readable[index].name
                switch outcome {
                case let .success(result):
                    total.resources += result.resources
                    total.new += result.new
                    total.updated += result.updated
                    total.unchanged += result.unchanged
                    total.skippedEntries += result.skippedEntries
                    total.unresolvedConditional += result.unresolvedConditional
                    if !options.json {
                        FileHandle.standardError.write(Data("[\(index + 1)/\(readable.count)] \(name): \(result.resources) resources (\(result.new) new, \(result.updated) updated)\n".utf8))
                    }
                case let .failure(error):
                    refused.append(error.description)
                    if !options.json { FileHandle.standardError.write(Data("[\(index + 1)/\(readable.count)] refused: \(error)\n".utf8)) }
                }
            }
            let seconds = Date().timeIntervalSince(started)
            let counts = try await store.counts()
            if options.json {
                let object: [String: Any] = [
                    "files": files.count, "refused": refused, "resources": total.resources, "new": total.new, "updated": total.updated,
                    "unchanged": total.unchanged, "skippedEntries": total.skippedEntries, "unresolvedConditionalReferences": total.unresolvedConditional,
                    "stored": counts, "seconds": seconds,
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("imported \(total.resources) resources from \(files.count - refused.count) of \(files.count) files in \(String(format: "%.1f", seconds)) s: "
                    + "\(total.new) new, \(total.updated) updated, \(total.unchanged) unchanged; \(total.skippedEntries) entries without a resource skipped; "
                    + "\(total.unresolvedConditional) conditional references left unresolved")
                for line in refused { print("refused: \(line)") }
            }
            if !refused.isEmpty { throw ExitCode(1) }
        }
    }

    struct Seed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate realistic synthetic patients (deterministic for a seed) and import them.")
        @Option(name: .long, help: "How many patients.") var patients: Int = 10
        @Option(name: .long, help: "The seed: the same seed gives the same patients.") var seed: UInt64 = 1
        @Option(name: .long, help: ArgumentHelp("Also write each patient's bundle into this directory.", valueName: "dir")) var out: String?
        @OptionGroup var options: DatabaseOptions

        func validate() throws {
            guard (1...100_000).contains(patients) else { throw ValidationError("--patients must be 1 to 100000") }
        }

        func run() async throws {
            // The folder first: a path that cannot be written is refused before anything is stored.
            if let out { try CommandFile.makeDirectory(out) }
            let store = try await options.open()
            var generator = PatientGenerator(seed: seed)
            var files: [(name: String, data: Data)] = [("clinic.json", PatientGenerator.clinicBundle())]
            if let out { try CommandFile.write(files[0].data, to: out + "/clinic.json") }
            for index in 0..<patients {
                let bundle = generator.nextBundle()
                let name = String(format: "patient-%05d.json", index + 1)
                files.append((name, bundle))
                if let out { try CommandFile.write(bundle, to: out + "/" + name) }
            }
            var resources = 0
            _ = try await store.importFiles(files) { index, outcome in
                if case let .success(result) = outcome { resources += result.resources }
                if !options.json, index > 0, index % max(1, patients / 10) == 0 || index == patients {
                    FileHandle.standardError.write(Data("[\(index)/\(patients)] patients\n".utf8))
                }
            }
            if options.json {
                let data = try JSONSerialization.data(withJSONObject: ["patients": patients, "seed": seed, "resources": resources], options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("seeded \(patients) patients (seed \(seed)): \(resources) resources")
            }
        }
    }

    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The hash-chained audit log.", subcommands: [Verify.self])

        struct Verify: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Walk the audit chain; exit status 1 at the first entry that does not follow from the one before.")
            @OptionGroup var options: DatabaseOptions

            func run() async throws {
                do {
                    let count = try await options.open().verifyChain()
                    if options.json { print(#"{"entries":\#(count),"verified":true}"#) } else { print("the audit chain holds: \(count) entries verified") }
                } catch let broken as AuditChainBroken {
                    if options.json { print(#"{"verified":false,"brokenAt":\#(broken.sequence)}"#) }
                    FileHandle.standardError.write(Data("error: \(broken)\n".utf8))
                    throw ExitCode(1)
                }
            }
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "How many resources of each type the database holds.")
        @OptionGroup var options: DatabaseOptions

        func run() async throws {
            let counts = try await options.open().counts()
            if options.json {
                let data = try JSONSerialization.data(withJSONObject: counts, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                for (type, count) in counts.sorted(by: { $0.key < $1.key }) { print("\(type.padding(toLength: 24, withPad: " ", startingAt: 0)) \(count)") }
            }
        }
    }
}
