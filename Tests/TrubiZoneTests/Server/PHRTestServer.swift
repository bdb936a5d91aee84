import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import PHRProtocol
import PHRServer
import PHRServerHTTP
import Synchronization
import Testing
import TrubiZoneEmulatedDevice
import TrubiZoneProtocol
import TrubiZoneChannel
import TrubiZoneManufacturer
import TrubiZoneSampleTrustlets
import TrubiZoneSecureWorld
import TrubiZoneTesting
import TrubiZoneVerifier
import X509

/// The server's clock in a test: real time moved by hand, or frozen. It runs by default, so a
/// token the device's runtime stamps with the real time is fresh however slowly the test runs;
/// a test that counts seconds freezes it first.
final class TestClock: Sendable {
    let state = Mutex<(frozen: Date?, offset: TimeInterval)>((nil, 0))

    func read() -> Date { state.withLock { $0.frozen ?? Date().addingTimeInterval($0.offset) } }
    func advance(_ seconds: TimeInterval) {
        state.withLock { state in
            if let frozen = state.frozen { state.frozen = frozen.addingTimeInterval(seconds) } else { state.offset += seconds }
        }
    }
    /// Stops the clock where it is.
    func freeze() { state.withLock { $0.frozen = $0.frozen ?? Date().addingTimeInterval($0.offset) } }
}

/// A provider server over a fresh SQLite store with seeded patients and the clinic, trusting the
/// probe trustlet on the test device's manufacturer root.
final class PHRTestServer: @unchecked Sendable {
    let directory: TemporaryDirectory
    let store: any PHRStore
    let database: TestDatabase
    let service: PHRService
    let clock = TestClock()
    let patients: [String]
    let root: Certificate
    let reference: ReferenceValues

    init(device: InternalAPITests.Probe, patients count: Int = 3, root: Certificate? = nil, reference: ReferenceValues? = nil,
         database: TestDatabase = .sqlite) async throws {
        self.database = database
        directory = TemporaryDirectory("phr-server")
        store = try await database.open(in: directory)
        var generator = PatientGenerator(seed: 11)
        var files = [("clinic.json", PatientGenerator.clinicBundle())]
        for index in 0..<count { files.append(("patient-\(index).json", generator.nextBundle())) }
        for outcome in try await store.importFiles(files, progress: { _, _ in }) { _ = try outcome.get() }
        patients = try await store.patientIDs()
        self.root = try root ?? Certificate(pemEncoded: String(contentsOfFile: device.device.caDirectory + "/" + Manufacturer.caCertificateFile, encoding: .utf8))
        self.reference = try reference ?? ReferenceValues(
            trustlets: [.init(measurement: hexString(SHA256.hash(data: try SampleTrustlets.wasm("probe"))), signer: hexString(Samples.developer))],
            runtimeImplementationIDs: [hexString(EmulatedRootOfTrust.executableMeasurement)])
        let clock = self.clock
        service = PHRService(store: store, policy: PHRServerPolicy(trustedRoots: [self.root], reference: self.reference), clock: { clock.read() })
    }

    /// Runs `body` with an HTTP client on the server's router (in process).
    func withClient<T: Sendable>(limiter: RateLimiter = RateLimiter(capacity: 1000, perSecond: 100), logger: Logger? = nil,
                                 _ body: @Sendable (PHRClient) async throws -> T) async throws -> T {
        let app = Application(router: PHRApplication.router(service: service, challengeLimiter: limiter),
                              logger: logger ?? Logger(label: "phr-server-test") { _ in SwiftLogNoOpLogHandler() })
        return try await app.test(.router) { client in try await body(PHRClient(client: client)) }
    }
}

/// The stores the server tests run on: SQLite always, PostgreSQL when `PHR_TEST_POSTGRES` names
/// a server (`postgres://user@host:port`; `.ci/run` starts one), each test in a database of its own.
enum TestDatabase: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    static var available: [TestDatabase] { ProcessInfo.processInfo.environment["PHR_TEST_POSTGRES"] == nil ? [.sqlite] : allCases }
    var testDescription: String { rawValue }

    func open(in directory: TemporaryDirectory) async throws -> any PHRStore {
        switch self {
        case .sqlite:
            return try RecordStore(path: directory.appending("phr.sqlite"))
        case .postgres:
            let server = ProcessInfo.processInfo.environment["PHR_TEST_POSTGRES"] ?? ""
            let name = "phr_test_" + Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) })
            try await PostgresRecordStore.createDatabase(name, server: server)
            return try await PostgresRecordStore(url: server + "/" + name)
        }
    }
}

/// An HTTP answer, read whole.
struct PHRAnswer: Sendable {
    let status: Int
    let headers: HTTPFields
    let body: [UInt8]

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONDecoder().decode(type, from: Data(body)) }
    /// The error name of an `ErrorBody`, or "" for another body.
    var error: String { (try? decode(ErrorBody.self).error) ?? "" }
    var message: String { (try? decode(ErrorBody.self).message) ?? "" }
}

struct PHRClient: Sendable {
    let client: any TestClientProtocol

    func send(_ method: HTTPRequest.Method, _ uri: String, body: [UInt8] = [], headers: [(String, String)] = []) async throws -> PHRAnswer {
        var fields = HTTPFields()
        for (name, value) in headers { fields[HTTPField.Name(name)!] = value }
        return try await client.execute(uri: uri, method: method, headers: fields, body: body.isEmpty ? nil : ByteBuffer(bytes: body)) { response in
            PHRAnswer(status: Int(response.status.code), headers: response.headers, body: Array(buffer: response.body))
        }
    }

    func json(_ method: HTTPRequest.Method, _ uri: String, _ value: some Encodable) async throws -> PHRAnswer {
        try await send(method, uri, body: Array(try JSONEncoder().encode(value)))
    }
}

/// The device side: the probe trustlet holds the signing and HPKE keys, attests them, signs
/// requests and opens sealed pages, as the PHR trustlet will.
final class PHRTestDevice: @unchecked Sendable {
    let probe: InternalAPITests.Probe
    var id = ""
    var lastPage: UInt64? = nil
    /// The nonce of the last request sent: the answer the device waits for.
    var lastNonce = ""
    /// The server's channel key from enrollment, once its proof checked out.
    var serverKey: P256.KeyAgreement.PublicKey? = nil

    init(_ probe: InternalAPITests.Probe) async throws {
        self.probe = probe
        _ = try await probe.generate("signing", kind: 1)
        _ = try await probe.generate("hpke", kind: 2)
    }

    func token(nonce: [UInt8]) async throws -> [UInt8] {
        try await probe.call(15, [.input(nonce), .input(Array("signing".utf8)), .input(Array("hpke".utf8)), .output(capacity: 4096)]).bytes(3) ?? []
    }

    /// Asks for a challenge and enrolls with `code`.
    func enroll(_ client: PHRClient, code: EnrollmentCode, tamper: (inout EnrollmentRequest) -> Void = { _ in }) async throws -> PHRAnswer {
        let challenge = try await client.send(.post, "/v1/enrollment/challenge").decode(Challenge.self)
        let nonce = Hex.decode(challenge.nonce) ?? []
        let token = try await self.token(nonce: nonce)
        var request = EnrollmentRequest(challenge: challenge.challenge, token: Data(token).base64EncodedString(), code: code.id,
                                        proof: Hex.encode(EnrollmentCode.proof(key: code.proofKey, nonce: nonce, token: token)))
        tamper(&request)
        let answer = try await client.json(.post, "/v1/enrollment", request)
        if answer.status == 201 {
            let enrollment = try answer.decode(Enrollment.self)
            id = enrollment.device
            let key = Hex.decode(enrollment.channelKey) ?? []
            if Hex.decode(enrollment.keyProof) == EnrollmentCode.serverKeyProof(key: code.proofKey, nonce: nonce, channelKey: key, device: enrollment.device) {
                serverKey = try P256.KeyAgreement.PublicKey(x963Representation: key)
            }
        }
        return answer
    }

    /// A body sealed to the server's channel key from the device's HPKE key, inside the trustlet,
    /// as the PHR trustlet seals readings and grants.
    func sealed(_ payload: [UInt8], purpose: String, sequence: UInt64) async throws -> [UInt8] {
        guard let serverKey else { throw PHRTestFailure("the device has no proven server key: enroll first") }
        let control = withUnsafeBytes(of: sequence.bigEndian, Array.init) + Array(serverKey.x963Representation) + [0] + Array(purpose.utf8)
        return try await probe.call(17, [.input(Array("hpke".utf8)), .input(payload), .input(control), .output(capacity: 256 << 10)]).bytes(3) ?? []
    }

    /// The probe's channel control bytes for opening a message from the server that answers `request`.
    func openControl(after last: UInt64?, request: String, purpose: String) throws -> [UInt8] {
        guard let serverKey else { throw PHRTestFailure("the device has no proven server key: enroll first") }
        return withUnsafeBytes(of: (last ?? .max).bigEndian, Array.init) + Array(serverKey.x963Representation) + [UInt8(request.utf8.count)]
            + Array(request.utf8) + Array(purpose.utf8)
    }

    /// Opens an answer sealed to the device (a receipt, the audit trail) inside the trustlet: from
    /// the server's key, answering the last request sent (or `request`).
    func openSealed(_ sealed: [UInt8], purpose: String, request: String? = nil) async throws -> [UInt8] {
        let control = try openControl(after: nil, request: request ?? lastNonce, purpose: purpose)
        return try await probe.call(16, [.input(Array("hpke".utf8)), .input(sealed), .input(control), .output(capacity: 256 << 10)]).bytes(3) ?? []
    }

    /// The signed headers for a request, signed inside the trustlet.
    func sign(_ method: String, _ target: String, body: [UInt8], time: Date, nonce: [UInt8]? = nil) async throws -> SignedRequest {
        let nonce = Hex.encode(nonce ?? (0..<16).map { _ in UInt8.random(in: 0...255) })
        let message = SignedRequest.message(method: method, target: target, device: id, time: Int64(time.timeIntervalSince1970), nonce: nonce, body: body)
        let signature = try await probe.call(4, [.input(Array("signing".utf8)), .input(message), .output(capacity: 64)]).bytes(2) ?? []
        return SignedRequest(device: id, time: Int64(time.timeIntervalSince1970), nonce: nonce, signature: signature)
    }

    func send(_ client: PHRClient, _ method: HTTPRequest.Method, _ target: String, body: [UInt8] = [], time: Date,
              nonce: [UInt8]? = nil) async throws -> PHRAnswer {
        let signed = try await sign(method.rawValue, target, body: body, time: time, nonce: nonce)
        lastNonce = signed.nonce
        return try await client.send(method, target, body: body, headers: signed.headers)
    }

    /// Opens a sealed sync page inside the trustlet.
    func open(_ sealed: [UInt8], request: String? = nil) async throws -> SyncPage {
        let control = try openControl(after: lastPage, request: request ?? lastNonce, purpose: PHRMessage.syncPurpose)
        let payload = try await probe.call(16, [.input(Array("hpke".utf8)), .input(sealed), .input(control), .output(capacity: 1 << 20)]).bytes(3) ?? []
        let page = try JSONDecoder().decode(SyncPage.self, from: Data(payload))
        lastPage = (lastPage ?? 0) + 1
        return page
    }
}

struct PHRTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
