import Foundation
import Logging
import PHRApp
import PHRAppCommands
import TrubiZoneSecureWorld

/// `swift run -c release phr-bench`: the PHR app's numbers.
///
/// - End-to-end sync of the largest Synthea patient: records per second from the server's answer
///   to sealed storage, and how the time splits between the server's side (a signed request, the
///   page read, sealed and sent) and the trustlet's (opening, parsing, storing, indexing).
/// - Index queries per second from the normal world, against a status call (the smallest round
///   trip to the trustlet) in the same process.
/// - The time `phr demo` takes, seeded, as the README runs it.
@main
struct PHRBench {
    static func main() async {
        do {
            try await run()
        } catch {
            FileHandle.standardError.write(Data("phr-bench: \(error)\n".utf8))
            exit(1)
        }
    }

    static func run() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        let synthea = value(arguments, "--synthea") ?? sharedData() + "/synthea"
        let runs = Int(value(arguments, "--runs") ?? "2") ?? 2
        let queries = Int(value(arguments, "--queries") ?? "300") ?? 300
        let files = try FileManager.default.subpathsOfDirectory(atPath: synthea).filter { $0.hasSuffix(".json") }.sorted().map { synthea + "/" + $0 }
        guard !files.isEmpty else { throw BenchError("no Synthea bundles under \(synthea); give --synthea DIR") }
        let root = NSTemporaryDirectory() + "phr-bench-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        var rows: [(String, String)] = []

        log("importing \(files.count) Synthea files into the provider server…")
        let stage = try await PHRStage.start(root: root, records: .files(files))
        let patient = try stage.provider.largestPatient()
        log("the largest patient has \(try stage.provider.store.resources(ofPatient: patient).count) records")
        for run in 1...runs {
            let phone = try await stage.enrolledPhone("run-\(run)", patient: patient)
            var serverTime = Duration.zero, trustletTime = Duration.zero, bytes = 0, stored = 0, pages = 0
            let clock = ContinuousClock()
            while true {
                var answer: PHRConnection.Answer? = nil
                serverTime += try await clock.measure {
                    let request = try await phone.app.device.syncRequest()
                    answer = try await phone.app.server.send(request).checked()
                }
                var page = (stored: 0, more: false)
                trustletTime += try await clock.measure { page = try await phone.app.device.syncPage(answer!.body) }
                bytes += answer!.body.count
                stored += page.stored
                pages += 1
                if !page.more { break }
            }
            let total = seconds(serverTime + trustletTime)
            rows.append(("sync of the largest Synthea patient, run \(run)",
                         String(format: "%.0f records/s (%d records, %d pages, %.1f MiB sealed, %.2f s); trustlet %.2f s = %.2f× the server's side",
                                Double(stored) / total, stored, pages, Double(bytes) / 1_048_576, total, seconds(trustletTime),
                                seconds(trustletTime) / seconds(serverTime))))
            if run == runs {
                let filters: [PHRDevice.Query] = [
                    PHRDevice.Query(limit: 20), PHRDevice.Query(type: "Observation", limit: 50), PHRDevice.Query(category: "laboratory", limit: 10),
                    PHRDevice.Query(since: "2015-01-01", until: "2020-01-01", limit: 100), PHRDevice.Query(type: "Immunization"),
                ]
                var matched = 0
                let statusTime = try await clock.measure { for _ in 0..<queries { _ = try await phone.app.device.status() } }
                let queryTime = try await clock.measure {
                    for index in 0..<queries { matched += try await phone.app.device.query(filters[index % filters.count]).entries.count }
                }
                rows.append(("index queries from the normal world (\(stored) records indexed)",
                             String(format: "%.0f queries/s (%d answered, %d entries); a status call: %.0f/s, so a query costs %.1f× a status call",
                                    Double(queries) / seconds(queryTime), queries, matched, Double(queries) / seconds(statusTime),
                                    seconds(queryTime) / seconds(statusTime))))
            }
            phone.phone.shutdown()
        }

        await stage.provider.stop()
        if !arguments.contains("--skip-demo") {
            log("running the demo (seeded, in process)…")
            var options = DemoStory.Options(directory: root + "/demo")
            options.say = { _ in }
            try FileManager.default.createDirectory(atPath: root + "/demo", withIntermediateDirectories: true)
            let report = try await DemoStory(options: options).run()
            rows.append(("phr demo (5 seeded patients, in process)", String(format: "%.1f s, %@", report.seconds, report.succeeded ? "succeeded" : "FAILED")))
        }
        for (name, result) in rows { print("\(name): \(result)") }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func value(_ arguments: ArraySlice<String>, _ name: String) -> String? {
        guard let index = arguments.firstIndex(of: name), arguments.index(after: index) < arguments.endIndex else { return nil }
        return arguments[arguments.index(after: index)]
    }

    static func sharedData() -> String {
        ProcessInfo.processInfo.environment["TRUBIZONE_SHARED_DATA"] ?? FileManager.default.currentDirectoryPath + "/../shared/data"
    }

    static func log(_ text: String) { FileHandle.standardError.write(Data("\(text)\n".utf8)) }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
