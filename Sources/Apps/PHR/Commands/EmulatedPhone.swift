import Crypto
import Foundation
import Logging
import PHRApp
import TrubiZoneClient
import TrubiZoneDaemon
import TrubiZoneEmulatedDevice
import TrubiZoneManufacturer
import TrubiZoneProtocol
import TrubiZoneSecureWorld

/// An emulated phone for the demo, the benchmarks and the tests: a provisioned device, its secure
/// world (in this process, or behind the world-switch socket), a scripted user at its trusted UI,
/// and the PHR trustlet installed through the installer, as an app store would.
public final class EmulatedPhone: @unchecked Sendable {
    public let directory: String
    public let world: SecureWorld
    public let screen: ScriptedTrustedUI
    public let context: TEEContext
    public let deviceID: String
    private let server: WorldSwitchServer?
    private let socketDirectory: String?

    /// Where the phone keeps what: the secure state (never the normal world's), the REE directory
    /// (all the normal world's), and the normal world's logs.
    public var secureState: String { directory + "/secure-state" }
    public var ree: String { directory + "/ree" }
    public var logs: String { directory + "/logs" }
    /// The world-switch socket, when the secure world is behind one.
    public var socketPath: String? { socketDirectory.map { $0 + "/tz.sock" } }

    /// Provisions a device under `directory` and starts its secure world.
    /// - Parameters:
    ///   - answers: what the scripted user answers on the trusted UI, in order.
    ///   - developer: the PHR trustlet's signer, whom this device trusts.
    ///   - otherDevelopers: more signers the device trusts (other apps' developers).
    public init(directory: String, caDirectory: String, answers: [ScriptedTrustedUI.Answer], developer: P256.Signing.PublicKey,
                otherDevelopers: [P256.Signing.PublicKey] = [], transport: DemoStory.Transport) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory + "/logs", withIntermediateDirectories: true)
        deviceID = try Manufacturer.provision(stateDirectory: directory + "/secure-state", caDirectory: caDirectory).deviceID
        screen = ScriptedTrustedUI(answers: answers)
        let logger = Self.debugLogger("trubizoned", path: directory + "/logs/trubizoned.log")
        world = try SecureWorld.emulated(stateDirectory: directory + "/secure-state", reeDirectory: directory + "/ree",
                                         trustPolicy: try Self.policy(developer: developer, others: otherDevelopers), trustedUI: TrustedUI(device: screen), logger: logger)
        switch transport {
        case .inProcess:
            (server, socketDirectory) = (nil, nil)
            context = try TEEContext.inProcess(world)
        case .socket:
            let socketDirectory = try Self.shortDirectory()
            let server = WorldSwitchServer(endpoint: world, configuration: .init(socketPath: socketDirectory + "/tz.sock"), logger: logger)
            try server.start()
            (self.server, self.socketDirectory) = (server, socketDirectory)
            context = try TEEContext.socket(path: socketDirectory + "/tz.sock")
        }
    }

    /// The phone owner's trust policy: the PHR developer, who alone may install the PHR trustlet's
    /// UUID, and the other developers, each with the default caps.
    public static func policy(developer: P256.Signing.PublicKey, others: [P256.Signing.PublicKey] = []) throws -> TrustPolicy {
        try TrustPolicy(signers: [TrustPolicy.Signer(key: developer, uuids: [PHRTrustlet.uuid])] + others.map { TrustPolicy.Signer(key: $0) })
    }

    /// Installs a package through the installer trustlet.
    public func install(_ package: TrustletPackage) async throws {
        let installer = try await context.openSession(uuid: BuiltInTrustlets.Installer.uuid)
        _ = try await installer.invoke(command: BuiltInTrustlets.Installer.Command.install.rawValue, parameters: [.input(package.bytes), .output(capacity: 64)])
        try await installer.close()
    }

    /// The app, on a new session to the PHR trustlet, logging to the phone's log directory.
    public func app(server: PHRConnection) async throws -> PatientApp {
        PatientApp(device: try await PHRDevice.open(context), server: server, logger: Self.debugLogger("phr", path: logs + "/phr-app.log"))
    }

    public func shutdown() {
        context.close()
        server?.shutdown()
        if let socketDirectory { try? FileManager.default.removeItem(atPath: socketDirectory) }
    }

    /// A logger at debug level that writes to `path`: everything is logged, and the logs are then
    /// searched.
    static func debugLogger(_ label: String, path: String) -> Logger {
        var logger = Logger(label: label, factory: FileLogHandler.factory(path: path))
        logger.logLevel = .debug
        return logger
    }

    /// A short directory for a Unix socket (their paths are limited to about 100 bytes).
    static func shortDirectory() throws -> String {
        var template = Array("/tmp/phr-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else { throw HarnessFailure("cannot create a socket directory") }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
