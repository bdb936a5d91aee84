// phr-server-bench: the PHR server's performance goals. Build in release:
// `swift run -c release phr-server-bench [--data DIR] [--runs N] [--devices 1,16,64] [--requests N] [--json]`.
//
// Import throughput (resources per second) on the Synthea bundles and on seeded patients, and the
// load of N enrolled devices doing sync and upload against a real server on loopback.
import Foundation
import PHRServer

var dataDirectory = "../shared/data"
var runs = 3
var json = false
var importOnly = false, loadOnly = false
var deviceCounts = [1, 16, 64]
var requestsPerLevel = 2000
var postgres: String? = nil
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--data": dataDirectory = arguments.next() ?? dataDirectory
    case "--runs": runs = max(1, Int(arguments.next() ?? "") ?? runs)
    case "--json": json = true
    case "--import-only": importOnly = true
    case "--postgres":
        guard let url = arguments.next(), url.hasPrefix("postgres://") else {
            FileHandle.standardError.write(Data("error: --postgres takes a server URL, postgres://user@host:port\n".utf8))
            exit(64)
        }
        postgres = url
    case "--load-only": loadOnly = true
    case "--devices":
        let counts = (arguments.next() ?? "").split(separator: ",").compactMap { Int($0) }
        guard !counts.isEmpty, counts.allSatisfy({ (1...512).contains($0) }) else {
            FileHandle.standardError.write(Data("error: --devices takes counts of 1 to 512, comma-separated (1,16,64)\n".utf8))
            exit(64)
        }
        deviceCounts = counts
    case "--requests":
        guard let count = Int(arguments.next() ?? ""), count > 0 else {
            FileHandle.standardError.write(Data("error: --requests takes a positive count\n".utf8))
            exit(64)
        }
        requestsPerLevel = count
    case "-h", "--help":
        print("""
            USAGE: phr-server-bench [--data DIR] [--runs N] [--devices 1,16,64] [--requests N]
                                    [--import-only | --load-only] [--postgres postgres://user@host:port] [--json]

            Measures import throughput (resources per second, into a fresh SQLite database) on the
            Synthea bundles under DIR/synthea (default ../shared/data) and on 200 seeded patients;
            then, for each device count, N requests (default 2000) of sync and of upload from that
            many enrolled devices at once against a server on loopback: requests per second and
            p50/p99 latency. With --postgres, the load runs on PostgreSQL (a new database on that
            server) instead of SQLite; `.ci/postgres.sh start DIR PORT` starts a local one.
            """)
        exit(0)
    default:
        FileHandle.standardError.write(Data("error: unknown argument \(argument); see --help\n".utf8))
        exit(64)
    }
}

func synthea(_ dataDirectory: String) throws -> [(name: String, data: Data)] {
    var files: [(String, Data)] = []
    for folder in ["iris-fhir-template", "fhir-data-pipes"] {
        let path = dataDirectory + "/synthea/" + folder
        for name in try FileManager.default.contentsOfDirectory(atPath: path).filter({ $0.hasSuffix(".json") }).sorted() {
            files.append((name, try Data(contentsOf: URL(fileURLWithPath: path + "/" + name))))
        }
    }
    return files
}

/// Resources per second for importing `files` into a fresh database, best of `runs`.
func throughput(_ files: [(name: String, data: Data)], runs: Int) throws -> (perSecond: Double, resources: Int) {
    var best = 0.0
    var resources = 0
    for run in 0..<runs {
        let path = NSTemporaryDirectory() + "phr-bench-\(getpid())-\(run).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try RecordStore(path: path)
        let start = ContinuousClock.now
        let results = try store.importFiles(files)
        let elapsed = ContinuousClock.now - start
        resources = try results.reduce(0) { $0 + (try $1.get()).resources }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        best = max(best, Double(resources) / seconds)
    }
    return (best, resources)
}

var results: [[String: Any]] = []
@MainActor func report(_ name: String, _ value: Double, _ unit: String, _ note: String) {
    results.append(["name": name, "value": value, "unit": unit, "note": note])
    if !json { print("  \(name.padding(toLength: 52, withPad: " ", startingAt: 0)) \(String(format: "%10.0f", value)) \(unit)  \(note)") }
}

if !loadOnly {
    let bundles = try synthea(dataDirectory)
    let imported = try throughput(bundles, runs: runs)
    report("import, Synthea bundles (\(bundles.count) files)", imported.perSecond, "resources/s", "\(imported.resources) resources, best of \(runs)")
    var generator = PatientGenerator(seed: 1)
    let seeded = (0..<200).map { ("patient-\($0).json", generator.nextBundle()) }
    let seededImport = try throughput(seeded, runs: runs)
    report("import, 200 seeded patients", seededImport.perSecond, "resources/s", "\(seededImport.resources) resources, best of \(runs)")
}
if !importOnly {
    let workspace = NSTemporaryDirectory() + "phr-load-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: workspace) }
    do {
        for (name, value, unit, note) in try await measureLoad(workspace: workspace, deviceCounts: deviceCounts, requestsPerLevel: requestsPerLevel, postgres: postgres) {
            report(name, value, unit, note)
        }
    } catch {
        FileHandle.standardError.write(Data("error: the load run failed: \(error)\n".utf8))
        exit(1)
    }
}
if json {
    print(String(decoding: try JSONSerialization.data(withJSONObject: ["results": results], options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
}
