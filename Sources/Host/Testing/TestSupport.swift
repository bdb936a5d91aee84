import Foundation
import Logging
import Synchronization
import TrubiZoneClient
import TrubiZoneDaemon
import TrubiZoneEmulatedDevice
import TrubiZoneManufacturer
import TrubiZoneProtocol
import TrubiZoneSecureWorld

/// A directory that removes itself when released.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init(_ prefix: String = "trubizone") {
        var template = Array((NSTemporaryDirectory() + "/\(prefix)-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "cannot create a temporary directory")
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func appending(_ component: String) -> String { path + "/" + component }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A provisioned emulated device in a temporary directory: secure state, manufacturer CA, REE.
public final class EmulatedDevice: Sendable {
    public let root: TemporaryDirectory
    public var stateDirectory: String { root.appending("state") }
    public var caDirectory: String { root.appending("manufacturer-ca") }
    public var reeDirectory: String { root.appending("ree") }
    public let deviceID: String

    public init() throws {
        root = TemporaryDirectory("tz-device")
        deviceID = try Manufacturer.provision(stateDirectory: root.appending("state"), caDirectory: root.appending("manufacturer-ca")).deviceID
    }

    /// A fresh runtime on this device, as after a restart of the secure world.
    public func secureWorld(durable: Bool = false, maxObjectSize: Int = 1 << 20, limits: SecureWorld.Limits = .init(),
                            trustedUI: TrustedUI = .none,
                            logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })) throws -> SecureWorld {
        try SecureWorld.emulated(stateDirectory: stateDirectory, reeDirectory: reeDirectory, durable: durable,
                                 maxObjectSize: maxObjectSize, trustedUI: trustedUI, limits: limits, logger: logger)
    }

    /// Puts the REE directory back exactly as `snapshot` (from `reeFiles()`) saw it: what an
    /// attacker who owns the normal world can do at any time.
    public func restoreREE(_ snapshot: [(path: String, bytes: [UInt8])]) throws {
        try FileManager.default.removeItem(atPath: reeDirectory)
        for file in snapshot {
            try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: file.path).deletingLastPathComponent().path,
                                                    withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: file.path, contents: Data(file.bytes))
        }
    }

    /// Every file under the REE directory, with its bytes.
    public func reeFiles() -> [(path: String, bytes: [UInt8])] {
        Self.files(under: reeDirectory)
    }

    public static func files(under directory: String) -> [(path: String, bytes: [UInt8])] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var out: [(String, [UInt8])] = []
        for case let relative as String in walker {
            let path = directory + "/" + relative
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
               let data = FileManager.default.contents(atPath: path) {
                out.append((path, Array(data)))
            }
        }
        return out.sorted { $0.0 < $1.0 }
    }
}

/// A `trubizoned` server in this process on a temporary socket.
public final class DaemonHarness: Sendable {
    public let device: EmulatedDevice
    public let world: SecureWorld
    public let server: WorldSwitchServer
    public let socketPath: String
    public let logs: LogRecorder
    private let socketDirectory: TemporaryDirectory

    public init(device: EmulatedDevice? = nil, limits: SecureWorld.Limits = .init(), trustedUI: TrustedUI = .none,
                configure: (inout WorldSwitchServer.Configuration) -> Void = { _ in }) throws {
        let device = try device ?? EmulatedDevice()
        self.device = device
        let logs = LogRecorder()
        self.logs = logs
        var logger = Logger(label: "trubizoned") { label in logs.handler(label: label) }
        logger.logLevel = .trace
        world = try device.secureWorld(limits: limits, trustedUI: trustedUI, logger: logger)
        // Unix socket paths are short (108 bytes): keep the socket in a short directory.
        socketDirectory = TemporaryDirectory("tzs")
        socketPath = socketDirectory.appending("tz.sock")
        var configuration = WorldSwitchServer.Configuration(socketPath: socketPath)
        configure(&configuration)
        server = WorldSwitchServer(endpoint: world, configuration: configuration, logger: logger)
        try server.start()
    }

    public func client() throws -> TEEContext { try TEEContext.socket(path: socketPath) }

    public func stop() { server.shutdown() }
}

/// Keeps every log line (message and metadata) so tests can check nothing secret was logged.
public final class LogRecorder: Sendable {
    private let lines = Mutex<[String]>([])

    public init() {}

    public var all: [String] { lines.withLock { $0 } }

    public func handler(label: String) -> LogHandler { Handler(label: label, recorder: self) }

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    struct Handler: LogHandler {
        let label: String
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            recorder.append("\(event.level) \(label): \(event.message) \(merged.map { "\($0)=\($1)" }.sorted().joined(separator: " "))")
        }
    }
}

/// Where the package's executables were built, next to the running test binary.
public enum BuiltProducts {
    public static func path(_ executable: String) -> String {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // The test binary may sit inside a .xctest bundle.
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent(executable).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(executable).path
    }
}

/// Runs a process to completion and returns its exit status and output.
public struct ProcessResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// Runs `executable` to its end; one still running after `timeout` is killed (its status then
/// says so), so a command that hangs fails its test instead of the whole run.
public func runProcess(_ executable: String, _ arguments: [String], stdin: [UInt8] = [],
                       environment: [String: String]? = nil, directory: String? = nil, timeout: TimeInterval = 300) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    let watchdog = DispatchWorkItem { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
    defer { watchdog.cancel() }
    input.fileHandleForWriting.write(Data(stdin))
    try input.fileHandleForWriting.close()
    // Read both pipes concurrently so neither fills up and blocks the child.
    let errData = Mutex<Data>(Data())
    let reader = Thread { errData.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() } }
    reader.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while reader.isExecuting || !reader.isFinished { usleep(1000) }
    return ProcessResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData.withLock { $0 }, as: UTF8.self))
}

/// The shared test data (`../shared/data` beside the checkout): real FHIR examples, Synthea
/// patients, RFC and Wycheproof vectors. `TRUBIZONE_SHARED_DATA` points elsewhere.
public enum SharedData {
    public static var directory: String {
        if let override = ProcessInfo.processInfo.environment["TRUBIZONE_SHARED_DATA"] { return override }
        // This file is Sources/Host/Testing/TestSupport.swift in the checkout.
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return checkout.deletingLastPathComponent().appendingPathComponent("shared/data").path
    }

    /// The path of a file under the shared data, e.g. `wycheproof/hkdf_sha256_test.json`.
    public static func path(_ relative: String) -> String { directory + "/" + relative }

    /// The files of a folder under the shared data, sorted.
    public static func files(in folder: String, withExtension suffix: String = "") throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path(folder)).filter { $0.hasSuffix(suffix) }.sorted().map { path(folder + "/" + $0) }
    }
}
