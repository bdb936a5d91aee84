import ArgumentParser
import Crypto
import Foundation
import Logging
import TrubiZoneCLISupport
import TrubiZoneDaemon
import TrubiZoneEmulatedDevice
import TrubiZoneProtocol
import TrubiZoneSecureWorld

/// `trubizoned`, also `trubizone serve`: the secure world of an emulated device. This target and
/// what it links are the TCB binary; it links nothing of the developer tool, the client, the
/// manufacturer or the verifier (`swift test` checks the imports).
public struct ServeCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the secure world of an emulated device on a Unix socket (same as trubizoned).",
        discussion: "SIGTERM or SIGINT stop it cleanly: requests in progress finish, acknowledged writes are kept.")

    @Option(name: .long, help: ArgumentHelp("The device's secure state directory (mode 0700).", valueName: "dir"))
    var state: String

    @Option(name: .long, help: ArgumentHelp("The normal-world directory for sealed objects.", valueName: "dir"))
    var ree: String

    @Option(name: .long, help: ArgumentHelp("The Unix socket to listen on (created 0600).", valueName: "path"))
    var socket: String = "trubizone.sock"

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(name: .long, parsing: .unconditional, help: "The largest world-switch frame, in bytes.")
    var maxFrameSize: Int = WorldSwitchCodec.defaultMaxFrameSize

    @Option(name: .long, parsing: .unconditional, help: "The largest sealed object, in bytes.")
    var maxObjectSize: Int = 1 << 20

    @Option(name: .long, parsing: .unconditional, help: "Open sessions allowed per connection.")
    var maxSessions: Int = 32

    @Option(name: .long, parsing: .unconditional, help: "Open sessions allowed per user, across connections.")
    var maxSessionsPerUser: Int = 256

    @Option(name: .long, parsing: .unconditional, help: "Connections allowed at once.")
    var maxConnections: Int = 256

    @Option(name: .long, parsing: .unconditional, help: "Seconds a connection may stay idle before it is closed.")
    var idleTimeout: Int = 300

    @Option(name: .long, help: ArgumentHelp("A developer public key (PEM) whose trustlet packages this device accepts; repeatable.",
                                            valueName: "file"))
    var trustedKey: [String] = []

    @Option(name: .long, help: ArgumentHelp(
        "The trust policy (JSON): trusted developer keys with their names, the UUIDs each owns and the caps on what their trustlets may ask for.",
        valueName: "file"))
    var trustPolicy: String?

    @Option(name: .long, help: ArgumentHelp("Install every .tzpkg in this directory at start.", valueName: "dir"))
    var trustlets: String?

    @Option(name: .long, help: ArgumentHelp(
        "The trusted UI: 'tty' (this process's terminal) or 'script:FILE' (answers from FILE, in order; what is shown goes to FILE.screen). None by default.",
        valueName: "ui"))
    var trustedUI: String?

    public init() {}

    public func validate() throws {
        if let trustedUI, trustedUI != "tty", !(trustedUI.hasPrefix("script:") && trustedUI.count > 7) {
            throw ValidationError("--trusted-ui takes 'tty' or 'script:FILE', not '\(trustedUI)'")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown log level '\(logLevel)'") }
        guard maxFrameSize >= 4096 else { throw ValidationError("--max-frame-size must be at least 4096") }
        guard maxObjectSize > 0, maxObjectSize < maxFrameSize else {
            throw ValidationError("--max-object-size must be positive and below --max-frame-size")
        }
        guard maxSessions > 0, maxSessionsPerUser > 0, maxConnections > 0, idleTimeout > 0 else {
            throw ValidationError("limits must be positive")
        }
        var isDirectory: ObjCBool = false
        if let trustlets, !(FileManager.default.fileExists(atPath: trustlets, isDirectory: &isDirectory) && isDirectory.boolValue) {
            throw ValidationError("--trustlets \(trustlets) is not a directory; give the folder that holds the .tzpkg files")
        }
        if FileManager.default.fileExists(atPath: ree, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw ValidationError("--ree \(ree) is a file, not a directory; give a directory for the sealed objects (it is made if missing)")
        }
    }

    public func run() throws {
        MemoryTuning.keepFreedMemory()
        let level = Logger.Level(rawValue: logLevel) ?? .info
        var logger = Logger(label: "trubizoned") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = level
        var keys: [P256.Signing.PublicKey] = []
        for path in trustedKey {
            guard let pem = try? String(contentsOfFile: path, encoding: .utf8), let key = try? P256.Signing.PublicKey(pemRepresentation: pem) else {
                throw fail("cannot read a P-256 public key from \(path) (--trusted-key takes developer-key.pub.pem)", code: ExitStatus.refused)
            }
            keys.append(key)
        }
        var policy = TrustPolicy(trustedSigners: keys)
        if let trustPolicy {
            do throws(TrustPolicyError) {
                let loaded = try TrustPolicyFile.load(trustPolicy)
                policy = try TrustPolicy(signers: Array(loaded.signers.values) + policy.signers.values.filter { loaded.signers[$0.id] == nil })
            } catch {
                throw fail("\(error)", code: ExitStatus.usage)
            }
        }
        let world: SecureWorld
        do {
            world = try SecureWorld.emulated(
                stateDirectory: state, reeDirectory: ree, maxObjectSize: maxObjectSize, trustPolicy: policy,
                trustedUI: try makeTrustedUI(),
                limits: .init(maxConnections: maxConnections, maxSessionsPerConnection: maxSessions,
                              maxSessionsPerUser: maxSessionsPerUser), logger: logger)
        } catch {
            throw fail("\(error)", code: ExitStatus.refused)
        }
        if let trustlets {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: trustlets)) ?? []).filter { $0.hasSuffix(".tzpkg") }.sorted()
            // Each file read once, so what is checked below is what is installed.
            let packages = names.map { name in (name, Result { () throws -> [UInt8] in try Self.readPackage(trustlets + "/" + name) }) }
            // Two packages for one UUID would leave it to the file order which one runs: refuse to start.
            var claimed: [String: String] = [:]
            for (name, bytes) in packages {
                guard let bytes = try? bytes.get(), let uuid = try? TrustletPackage(bytes: bytes).manifest.uuid.lowercased() else { continue }
                if let first = claimed[uuid] {
                    throw fail("\(first) and \(name) in \(trustlets) both claim trustlet UUID \(uuid); keep one of them", code: ExitStatus.refused)
                }
                claimed[uuid] = name
            }
            for (name, bytes) in packages {
                do {
                    let trustlet = try world.install(package: try bytes.get())
                    logger.info("trustlet loaded", metadata: ["package": "\(name)", "trustlet": "\(trustlet.name)", "version": "\(trustlet.version)"])
                } catch {
                    logger.error("trustlet package refused", metadata: ["package": "\(name)", "reason": "\(error)"])
                }
            }
        }
        let server = WorldSwitchServer(
            endpoint: world,
            configuration: .init(socketPath: socket, maxFrameSize: maxFrameSize, idleTimeout: .seconds(idleTimeout)),
            logger: logger)
        do {
            try server.start()
        } catch {
            throw fail("\(error)", code: ExitStatus.refused)
        }
        logger.info("secure world ready", metadata: ["device": "\(world.rootOfTrust.deviceID.hex.prefix(16))…"])

        signal(SIGPIPE, SIG_IGN)
        let stop = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            sources.append(source)
        }
        stop.wait()
        logger.info("shutting down")
        server.shutdown()
        _ = sources
    }

    /// A package file's bytes: a regular file (no symbolic link, FIFO or device in the normal
    /// world's folder can hang or flood the daemon) no larger than a package may be.
    private static func readPackage(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw PackageFileError(reason: "it cannot be opened as a file (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { throw PackageFileError(reason: "it is not a regular file") }
        guard info.st_size <= TrustletPackage.maxSize else { throw PackageFileError(reason: "it is larger than a package may be (\(TrustletPackage.maxSize) bytes)") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var filled = 0
        while filled < bytes.count {
            let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw PackageFileError(reason: "it could not be read whole") }
            filled += count
        }
        return bytes
    }

    struct PackageFileError: Error, CustomStringConvertible {
        let reason: String
        var description: String { "the package file was refused: \(reason)" }
    }

    /// The device behind `--trusted-ui`.
    private func makeTrustedUI() throws -> TrustedUI {
        guard let trustedUI else { return .none }
        if trustedUI == "tty" {
            do {
                return TrustedUI(device: try TerminalTrustedUI())
            } catch {
                throw fail("--trusted-ui tty needs a terminal, and this process has none; use --trusted-ui script:FILE", code: ExitStatus.refused)
            }
        }
        do {
            return TrustedUI(device: try ScriptedTrustedUI(scriptFile: String(trustedUI.dropFirst("script:".count))))
        } catch {
            throw fail("\(error)", code: ExitStatus.refused)
        }
    }
}
