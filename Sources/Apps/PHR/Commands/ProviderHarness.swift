import Foundation
import Hummingbird
import Logging
import PHRServer
import PHRServerHTTP
import TrubiZoneVerifier
import X509

/// A provider server in this process, on loopback, over SQLite: what `phr demo` and the tests
/// talk to. The app reaches it only over HTTP, as it would reach a real one.
public final class ProviderHarness: @unchecked Sendable {
    public let store: RecordStore
    public let service: PHRService
    public let baseURL: String
    private let task: Task<Void, Error>

    private init(store: RecordStore, service: PHRService, baseURL: String, task: Task<Void, Error>) {
        (self.store, self.service, self.baseURL, self.task) = (store, service, baseURL, task)
    }

    /// Where the records come from.
    public enum Records: Sendable {
        /// This many synthetic patients (seeded, so the same every run) and the clinic.
        case seeded(patients: Int)
        /// FHIR bundles and resources from these files, and the clinic.
        case files([String])
    }

    /// Opens the database, loads the records and starts serving on a free port.
    /// - Parameter challengeBurst: enrollment challenges one address may ask for at once (then one
    ///   each 3 s), the server's default unless many phones share one address, as in the attack suite.
    public static func start(database: String, records: Records, roots: [Certificate], reference: ReferenceValues,
                             clock: @escaping @Sendable () -> Date = { Date() }, challengeBurst: Int = 20, logger: Logger) async throws -> ProviderHarness {
        let store = try RecordStore(path: database)
        var files = [(name: "clinic.json", data: PatientGenerator.clinicBundle())]
        switch records {
        case let .seeded(count):
            var generator = PatientGenerator(seed: 2026)
            for index in 0..<count { files.append(("patient-\(index).json", generator.nextBundle())) }
        case let .files(paths):
            for path in paths {
                guard let data = FileManager.default.contents(atPath: path) else { throw HarnessFailure("cannot read \(path)") }
                files.append((URL(fileURLWithPath: path).lastPathComponent, data))
            }
        }
        for outcome in try store.importFiles(files, progress: { _, _ in }) {
            if case let .failure(error) = outcome { throw HarnessFailure("import refused a file: \(error)") }
        }
        let service = PHRService(store: store, policy: PHRServerPolicy(trustedRoots: roots, reference: reference), clock: clock)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let limiter = RateLimiter(capacity: challengeBurst, perSecond: 1.0 / 3)
        let app = try PHRApplication.application(service: service, host: "127.0.0.1", port: 0, logger: logger, challengeLimiter: limiter) { address in
            continuation.yield(address.port ?? 0)
            continuation.finish()
        }
        let task = Task { try await app.runService() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            task.cancel()
            throw HarnessFailure("the provider server did not start")
        }
        return ProviderHarness(store: store, service: service, baseURL: "http://127.0.0.1:\(port)", task: task)
    }

    /// The patient with the most records (`Patient/id`).
    public func largestPatient() throws -> String {
        var best: (String, Int)? = nil
        for id in try store.patientIDs() {
            let count = try store.resources(ofPatient: "Patient/\(id)").count
            if best == nil || count > best!.1 { best = ("Patient/\(id)", count) }
        }
        guard let best else { throw HarnessFailure("the server holds no patient") }
        return best.0
    }

    public func stop() async {
        task.cancel()
        _ = await task.result
    }
}

struct HarnessFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
