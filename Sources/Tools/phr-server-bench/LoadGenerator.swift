import AsyncHTTPClient
import Crypto
import Foundation
import TrubiZoneChannel
import Logging
import NIOCore
import PHRProtocol
import PHRServer
import PHRServerHTTP
import TrubiZoneClient
import TrubiZoneEmulatedDevice
import TrubiZoneProtocol
import TrubiZoneManufacturer
import TrubiZoneSampleTrustlets
import TrubiZoneSecureWorld
import TrubiZoneVerifier
import X509

/// Simulated enrolled devices doing sync and upload against a real server on loopback.
///
/// Each device is a pair of keys in the `probe` test trustlet of one emulated secure world,
/// enrolled through the real path (challenge, attestation token, code proof, appraisal). Every
/// request is signed inside the trustlet before the clock starts, so the numbers are the
/// server's (and the HTTP client's, which shares the machine's two cores with it).
struct LoadGenerator {
    static let probe = TrustletUUID("8e0b7a4c-1d2e-4f30-9a1b-0000000000fd")!
    static let developer = Array(repeating: UInt8(0xD1), count: 32)

    struct Device {
        let index: Int
        let id: String
        let patient: String
        /// The server's channel key, proven at enrollment: readings are sealed to it.
        let serverKey: P256.KeyAgreement.PublicKey
    }

    struct Prepared {
        let method: String
        let target: String
        let body: [UInt8]
        let headers: [(String, String)]
    }

    let workspace: String
    let store: any PHRStore
    let session: TEESession
    let baseURL: String
    let client: HTTPClient

    /// Runs a server on loopback over a fresh SQLite store seeded with `patients`, and the device world.
    /// - Parameter postgres: a PostgreSQL server URL (`postgres://user@host:port`) to run on, in a new database, instead of SQLite.
    static func withServer<T>(workspace: String, patients: Int, postgres: String?, _ body: (LoadGenerator) async throws -> T) async throws -> T {
        let quiet = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        let device = try Manufacturer.provision(stateDirectory: workspace + "/state", caDirectory: workspace + "/ca")
        let world = try SecureWorld.emulated(stateDirectory: workspace + "/state", reeDirectory: workspace + "/ree", durable: false, logger: quiet)
        let wasm = try SampleTrustlets.wasm("probe")
        world.install(try WasmTrustlet(wasm: wasm, uuid: probe, name: "probe", signerID: developer,
                                       limits: TrustletLimits(memoryPages: 64, fuelPerCall: 400_000_000, maxSessions: 8),
                                       capabilities: .all, storage: world.storage, secureLog: world.secureLog, trustedUI: world.trustedUI,
                                       attester: world.attester))
        let session = try await TEEContext.inProcess(world).openSession(uuid: probe)

        let store: any PHRStore
        if let postgres {
            let name = "phr_bench_\(getpid())_\(Int(Date().timeIntervalSince1970))"
            try await PostgresRecordStore.createDatabase(name, server: postgres)
            store = try await PostgresRecordStore(url: postgres + "/" + name)
        } else {
            store = try RecordStore(path: workspace + "/phr.sqlite")
        }
        var generator = PatientGenerator(seed: 5)
        let files = [("clinic.json", PatientGenerator.clinicBundle())] + (0..<patients).map { ("patient-\($0).json", generator.nextBundle()) }
        for outcome in try await store.importFiles(files, progress: { _, _ in }) { _ = try outcome.get() }
        let root = try Certificate(pemEncoded: String(contentsOfFile: device.caCertificatePath, encoding: .utf8))
        let reference = ReferenceValues(trustlets: [.init(measurement: Hex.encode(SHA256.hash(data: wasm)), signer: Hex.encode(developer))],
                                        runtimeImplementationIDs: [Hex.encode(EmulatedRootOfTrust.executableMeasurement)])
        var policy = PHRServerPolicy(trustedRoots: [root], reference: reference)
        policy.syncPageLimit = 5
        let service = PHRService(store: store, policy: policy)

        let (portStream, portContinuation) = AsyncStream<Int>.makeStream()
        // All simulated devices share one address: the per-address challenge limit would throttle their enrollment.
        let app = try PHRApplication.application(service: service, host: "127.0.0.1", port: 0, logger: quiet,
                                             challengeLimiter: RateLimiter(capacity: 1 << 20, perSecond: 1e6)) { address in
            portContinuation.yield(address.port ?? 0)
        }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            var ports = portStream.makeAsyncIterator()
            guard let port = await ports.next() else { throw BenchFailure(description: "the server did not start") }
            let client = HTTPClient(eventLoopGroupProvider: .singleton,
                                    configuration: .init(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 128)))
            let generator = LoadGenerator(workspace: workspace, store: store, session: session, baseURL: "http://127.0.0.1:\(port)", client: client)
            do {
                let result = try await body(generator)
                try await client.shutdown()
                group.cancelAll()
                return result
            } catch {
                try? await client.shutdown()
                group.cancelAll()
                throw error
            }
        }
    }

    func send(_ method: String, _ target: String, body: [UInt8] = [], headers: [(String, String)] = []) async throws -> (status: UInt, body: [UInt8]) {
        var request = HTTPClientRequest(url: baseURL + target)
        request.method = .init(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if !body.isEmpty { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await client.execute(request, timeout: .seconds(30))
        var buffer = try await response.body.collect(upTo: 16 << 20)
        return (response.status.code, buffer.readBytes(length: buffer.readableBytes) ?? [])
    }

    func call(_ command: UInt32, _ parameters: [TEEParameter], output: Int) async throws -> [UInt8] {
        try await session.invoke(command: command, parameters: parameters).bytes(output) ?? []
    }

    /// Enrolls `count` devices, one per patient, through the real path.
    func enroll(_ count: Int) async throws -> [Device] {
        let patients = try await store.patientIDs()
        guard patients.count >= count else { throw BenchFailure(description: "\(count) devices need \(count) patients") }
        let service = PHRService(store: store, policy: PHRServerPolicy(trustedRoots: [], reference: .init()))
        var devices: [Device] = []
        for index in 0..<count {
            _ = try await call(3, [.input(Array("s\(index)".utf8)), .valueInput(1), .output(capacity: 65)], output: 2)
            _ = try await call(3, [.input(Array("h\(index)".utf8)), .valueInput(2), .output(capacity: 65)], output: 2)
            let code = try await service.issueEnrollmentCode(patient: patients[index]).code
            let challenge = try JSONDecoder().decode(Challenge.self, from: Data(try await send("POST", "/v1/enrollment/challenge").body))
            let nonce = Hex.decode(challenge.nonce) ?? []
            let token = try await call(15, [.input(nonce), .input(Array("s\(index)".utf8)), .input(Array("h\(index)".utf8)), .output(capacity: 4096)], output: 3)
            let request = EnrollmentRequest(challenge: challenge.challenge, token: Data(token).base64EncodedString(), code: code.id,
                                            proof: Hex.encode(EnrollmentCode.proof(key: code.proofKey, nonce: nonce, token: token)))
            let answer = try await send("POST", "/v1/enrollment", body: Array(try JSONEncoder().encode(request)))
            guard answer.status == 201 else { throw BenchFailure(description: "enrollment failed: \(String(decoding: answer.body, as: UTF8.self))") }
            let enrollment = try JSONDecoder().decode(Enrollment.self, from: Data(answer.body))
            let channelKey = Hex.decode(enrollment.channelKey) ?? []
            guard Hex.decode(enrollment.keyProof) == EnrollmentCode.serverKeyProof(key: code.proofKey, nonce: nonce, channelKey: channelKey, device: enrollment.device) else {
                throw BenchFailure(description: "the server's channel key proof does not check out")
            }
            devices.append(Device(index: index, id: enrollment.device, patient: "Patient/\(patients[index])",
                                  serverKey: try P256.KeyAgreement.PublicKey(x963Representation: channelKey)))
        }
        return devices
    }

    /// A reading sealed inside the trustlet from the device's HPKE key to the server's channel key.
    func sealed(_ device: Device, _ payload: [UInt8], purpose: String, sequence: UInt64) async throws -> [UInt8] {
        let control = withUnsafeBytes(of: sequence.bigEndian, Array.init) + Array(device.serverKey.x963Representation) + [0] + Array(purpose.utf8)
        return try await call(17, [.input(Array("h\(device.index)".utf8)), .input(payload), .input(control), .output(capacity: 16 << 10)], output: 3)
    }

    /// A request signed inside the trustlet with the device's key.
    func prepare(_ device: Device, _ method: String, _ target: String, body: [UInt8]) async throws -> Prepared {
        let nonce = Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255) })
        let time = Int64(Date().timeIntervalSince1970)
        let message = SignedRequest.message(method: method, target: target, device: device.id, time: time, nonce: nonce, body: body)
        let signature = try await call(4, [.input(Array("s\(device.index)".utf8)), .input(message), .output(capacity: 64)], output: 2)
        return Prepared(method: method, target: target, body: body,
                        headers: SignedRequest(device: device.id, time: time, nonce: nonce, signature: signature).headers)
    }

    static func reading(patient: String, sequence: UInt64) -> [UInt8] {
        let systolic = 110 + Int(sequence % 40), diastolic = 70 + Int(sequence % 20)
        let when = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-Double(sequence)))
        let component = { (code: String, value: Int) in
            #"{"code":{"coding":[{"system":"http://loinc.org","code":"\#(code)"}]},"valueQuantity":{"value":\#(value),"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}"#
        }
        return Array(#"""
            {"sequence":\#(sequence),"observation":{"resourceType":"Observation","status":"final",\#
            "code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"\#(patient)"},\#
            "effectiveDateTime":"\#(when)","component":[\#(component("8480-6", systolic)),\#(component("8462-4", diastolic))]}}
            """#.utf8)
    }

    struct Phase {
        let requests: Int
        let seconds: Double
        let latencies: [Double]
        var perSecond: Double { Double(requests) / seconds }
        func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
    }

    /// Sends every device's prepared requests, each device in order, all devices at once.
    func run(_ work: [[Prepared]], expect status: UInt) async throws -> Phase {
        let start = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for requests in work {
                group.addTask {
                    var latencies: [Double] = []
                    for request in requests {
                        let sent = ContinuousClock.now
                        let answer = try await send(request.method, request.target, body: request.body, headers: request.headers)
                        guard answer.status == status else {
                            throw BenchFailure(description: "\(request.target) answered \(answer.status): \(String(decoding: answer.body.prefix(300), as: UTF8.self))")
                        }
                        latencies.append(seconds(ContinuousClock.now - sent))
                    }
                    return latencies
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        return Phase(requests: latencies.count, seconds: seconds(ContinuousClock.now - start), latencies: latencies.sorted())
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

struct BenchFailure: Error, CustomStringConvertible { let description: String }

/// Sync and upload at each device count: requests per second and p50/p99 latency.
func measureLoad(workspace: String, deviceCounts: [Int], requestsPerLevel: Int, postgres: String?) async throws -> [(String, Double, String, String)] {
    try await LoadGenerator.withServer(workspace: workspace, patients: deviceCounts.max() ?? 1, postgres: postgres) { load in
        let devices = try await load.enroll(deviceCounts.max() ?? 1)
        var out: [(String, Double, String, String)] = []
        var nextSequence = [UInt64](repeating: 1, count: devices.count)
        for count in deviceCounts {
            let perDevice = max(1, requestsPerLevel / count)
            var syncs: [[LoadGenerator.Prepared]] = [], uploads: [[LoadGenerator.Prepared]] = []
            FileHandle.standardError.write(Data("signing \(2 * perDevice * count) requests in the trustlet for \(count) device\(count == 1 ? "" : "s")…\n".utf8))
            for device in devices.prefix(count) {
                var deviceSyncs: [LoadGenerator.Prepared] = [], deviceUploads: [LoadGenerator.Prepared] = []
                for _ in 0..<perDevice {
                    deviceSyncs.append(try await load.prepare(device, "POST", "/v1/sync", body: Array(#"{"limit":5}"#.utf8)))
                    let sequence = nextSequence[device.index]
                    nextSequence[device.index] += 1
                    let reading = try await load.sealed(device, LoadGenerator.reading(patient: device.patient, sequence: sequence),
                                                        purpose: PHRMessage.uploadPurpose, sequence: sequence)
                    deviceUploads.append(try await load.prepare(device, "POST", "/v1/observations", body: reading))
                }
                syncs.append(deviceSyncs)
                uploads.append(deviceUploads)
            }
            let sync = try await load.run(syncs, expect: 200)
            let upload = try await load.run(uploads, expect: 201)
            for (name, phase) in [("sync (5 resources a page)", sync), ("upload (a blood pressure)", upload)] {
                out.append(("\(name), \(count) device\(count == 1 ? "" : "s")\(postgres == nil ? "" : ", PostgreSQL")", phase.perSecond, "req/s",
                            String(format: "p50 %.2f ms, p99 %.2f ms, %d requests", phase.percentile(0.5) * 1e3, phase.percentile(0.99) * 1e3, phase.requests)))
            }
        }
        return out
    }
}
