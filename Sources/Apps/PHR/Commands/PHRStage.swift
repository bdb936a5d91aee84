import Crypto
import Foundation
import Logging
import PHRApp
import PHRProtocol
import PHRServer
import TrubiZoneEmulatedDevice
import TrubiZoneManufacturer
import TrubiZoneProtocol
import TrubiZoneSecureWorld
import TrubiZoneVerifier

/// Everything a PHR phone needs around it, on one machine: the developer's signed trustlet, the
/// manufacturer's CA, and a provider server that accepts exactly that trustlet on devices from
/// that CA. The demo, the benchmarks and the tests each set one up, then enroll phones on it.
public final class PHRStage: Sendable {
    public let root: String
    public let developer: P256.Signing.PrivateKey
    public let package: TrustletPackage
    public let provider: ProviderHarness
    public var caDirectory: String { root + "/manufacturer-ca" }

    private init(root: String, developer: P256.Signing.PrivateKey, package: TrustletPackage, provider: ProviderHarness) {
        (self.root, self.developer, self.package, self.provider) = (root, developer, package, provider)
    }

    /// Signs the trustlet, makes the CA and starts the server on `records`.
    /// - Parameter clock: the server's time (the attack suite moves it to let grants expire).
    public static func start(root: String, records: ProviderHarness.Records, clock: @escaping @Sendable () -> Date = { Date() },
                             challengeBurst: Int = 20, trustlet build: String = PHRTrustlet.name) async throws -> PHRStage {
        let developer = P256.Signing.PrivateKey()
        let package = try PHRPackage.signed(with: developer, build: build)
        let ca = try Manufacturer.certificateAuthority(directory: root + "/manufacturer-ca")
        let reference = ReferenceValues(trustlets: [.init(measurement: Hex.encode(package.measurement), signer: Hex.encode(package.signerID))],
                                        runtimeImplementationIDs: [Hex.encode(EmulatedRootOfTrust.executableMeasurement)])
        try FileManager.default.createDirectory(atPath: root + "/server", withIntermediateDirectories: true)
        let provider = try await ProviderHarness.start(database: root + "/server/phr.sqlite", records: records, roots: [ca], reference: reference, clock: clock, challengeBurst: challengeBurst,
                                                       logger: Logger(label: "phr-server", factory: FileLogHandler.factory(path: root + "/server/phr-server.log")))
        return PHRStage(root: root, developer: developer, package: package, provider: provider)
    }

    /// The PIN the scripted patients choose.
    public static let pin = "482613"

    /// A new phone under `root/name` with the trustlet installed, enrolled for `patient` (by
    /// default the one with the most records); the scripted user sets the PIN, unlocks and types
    /// the code (`code`, or a new one for the patient), then answers `answers`.
    public func enrolledPhone(_ name: String, patient: String? = nil, code: EnrollmentCode? = nil, transport: DemoStory.Transport = .inProcess,
                              answers: [ScriptedTrustedUI.Answer] = [], wire: WireLog? = nil) async throws -> (phone: EmulatedPhone, app: PatientApp) {
        let patient = try patient ?? provider.largestPatient()
        let code = if let code { code } else {
            try await provider.service.issueEnrollmentCode(patient: String(patient.dropFirst("Patient/".count))).code
        }
        let pin = Array(Self.pin.utf8)
        let phone = try EmulatedPhone(directory: root + "/" + name, caDirectory: caDirectory,
                                      answers: [.pin(pin), .pin(pin), .pin(pin), .text(code.formatted)] + answers,
                                      developer: developer.publicKey, transport: transport)
        do {
            try await phone.install(package)
            let app = try await phone.app(server: PHRConnection(baseURL: provider.baseURL, wire: wire))
            _ = try await app.enroll()
            return (phone, app)
        } catch {
            phone.shutdown()
            throw error
        }
    }
}
