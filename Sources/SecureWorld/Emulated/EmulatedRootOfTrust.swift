import Crypto
import Foundation
import TrubiZoneSecureWorld

/// The root of trust of an emulated device, kept in a secure state directory.
///
/// The directory stands for what real hardware keeps in fuses and replay-protected memory. Nothing
/// in the normal world may read it, so the runtime refuses to start on a directory that anyone but
/// its owner can read or write.
public final class EmulatedRootOfTrust: RootOfTrust {
    /// The files of a secure state directory.
    public enum Layout {
        public static let hardwareUniqueKey = "huk"
        public static let attestationKey = "attestation-key"
        public static let certificateChain = "certificate-chain.pem"
        public static let counters = "counters"
    }

    public let deviceID: DeviceID
    public let attestationPublicKey: P256.Signing.PublicKey
    public let certificateChain: [[UInt8]]
    public let counters: any MonotonicCounterStore
    public let clock: any SecureClock = HostClock()
    public var runtimeMeasurement: [UInt8] { Self.executableMeasurement }

    /// What an emulated device boots is the executable running its secure world: its SHA-256,
    /// read from `/proc/self/exe` once, when first asked. In `trubizoned` that is the TCB binary
    /// itself; where the runtime runs inside another process (the tests, `phr demo`'s one
    /// process, the benchmarks), it is that process's executable, so a verifier that lists only
    /// trubizoned builds refuses those tokens. Empty when the executable cannot be read.
    public static let executableMeasurement = measureExecutable() ?? []
    private let huk: SymmetricKey
    private let attestationKey: P256.Signing.PrivateKey

    /// Opens a provisioned secure state directory.
    /// - Parameters:
    ///   - directory: the secure state directory.
    ///   - durable: whether counter updates are flushed to stable storage (`fdatasync`).
    public init(directory: String, durable: Bool = true) throws(SecureStateError) {
        try Self.checkPermissions(directory)
        let hukBytes = try Self.readSecret(directory, Layout.hardwareUniqueKey, size: 32)
        let keyBytes = try Self.readSecret(directory, Layout.attestationKey, size: 32)
        guard let key = try? P256.Signing.PrivateKey(rawRepresentation: keyBytes) else {
            throw .damaged("\(Layout.attestationKey) does not hold a P-256 private key")
        }
        huk = SymmetricKey(data: hukBytes)
        attestationKey = key
        attestationPublicKey = key.publicKey
        deviceID = DeviceID(attestationKey: key.publicKey)
        certificateChain = (try? Self.readChain(directory)) ?? []
        do {
            counters = try FileCounterStore(directory: directory + "/" + Layout.counters,
                                            key: KeyDerivation.derive(from: huk, .counters), durable: durable)
        } catch {
            throw .damaged(error.description)
        }
    }

    public func deriveKey(_ purpose: KeyPurpose) -> SymmetricKey {
        KeyDerivation.derive(from: huk, purpose)
    }

    public func signWithAttestationKey(_ message: [UInt8]) throws -> P256.Signing.ECDSASignature {
        try attestationKey.signature(for: message)
    }

    public func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8]()
        bytes.reserveCapacity(count + 8)
        while bytes.count < count { withUnsafeBytes(of: generator.next()) { bytes.append(contentsOf: $0) } }
        return Array(bytes.prefix(count))
    }

    private static func measureExecutable() -> [UInt8]? {
        var hasher = SHA256()
        let fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return nil }
            if count == 0 { break }
            hasher.update(data: buffer[0..<count])
        }
        return Array(hasher.finalize())
    }

    // MARK: Creating a device

    /// Creates the device's secrets in a new secure state directory (mode 0700, files 0600):
    /// a 256-bit hardware unique key and a P-256 attestation key.
    /// - Returns: the attestation public key, for the manufacturer to certify.
    @discardableResult
    public static func createSecrets(in directory: String) throws(SecureStateError) -> P256.Signing.PublicKey {
        if POSIXFile.exists(directory + "/" + Layout.hardwareUniqueKey) {
            throw .alreadyProvisioned(directory)
        }
        do throws(POSIXFile.Failure) {
            try POSIXFile.makeDirectories(directory)
            guard chmod(directory, 0o700) == 0 else {
                throw POSIXFile.Failure(operation: "chmod", path: directory, errno: errno)
            }
            var generator = SystemRandomNumberGenerator()
            let huk = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let key = P256.Signing.PrivateKey()
            try POSIXFile.write(directory + "/" + Layout.hardwareUniqueKey, huk, durable: true)
            try POSIXFile.write(directory + "/" + Layout.attestationKey, Array(key.rawRepresentation), durable: true)
            try POSIXFile.makeDirectory(directory + "/" + Layout.counters)
            try POSIXFile.syncDirectory(directory)
            return key.publicKey
        } catch {
            throw .io(error.description)
        }
    }

    /// Stores the certificate chain (PEM, device certificate first) the manufacturer issued.
    public static func installCertificateChain(pem: String, in directory: String) throws(SecureStateError) {
        do {
            try POSIXFile.replaceAtomically(directory + "/" + Layout.certificateChain, Array(pem.utf8), durable: true)
        } catch {
            throw .io(error.description)
        }
    }

    /// The certificate chain as PEM, read without opening any secret.
    public static func certificateChainPEM(in directory: String) throws(SecureStateError) -> String {
        do {
            return String(decoding: try POSIXFile.read(directory + "/" + Layout.certificateChain, limit: 1 << 20),
                          as: UTF8.self)
        } catch {
            throw .notProvisioned(directory)
        }
    }

    // MARK: Checks

    /// Refuses a secure state directory that is missing, not owned by this user, or open to others.
    public static func checkPermissions(_ directory: String) throws(SecureStateError) {
        let status: POSIXFile.Status
        do { status = try POSIXFile.status(directory) } catch { throw .notProvisioned(directory) }
        guard status.isDirectory else { throw .notProvisioned(directory) }
        let uid = POSIXFile.effectiveUserID
        guard status.owner == uid else {
            throw .insecurePermissions("\(directory) is owned by uid \(status.owner), not by this user (uid \(uid))")
        }
        guard status.mode & 0o077 == 0 else {
            throw .insecurePermissions(
                "\(directory) has mode \(octal(status.mode)); others can reach the device secrets. Run: chmod 700 \(directory)")
        }
        for name in [Layout.hardwareUniqueKey, Layout.attestationKey] {
            let path = directory + "/" + name
            guard let file = try? POSIXFile.status(path) else { throw .notProvisioned(directory) }
            guard file.mode & 0o077 == 0, file.owner == uid else {
                throw .insecurePermissions("\(path) has mode \(octal(file.mode)); run: chmod 600 \(path)")
            }
        }
        // The counters stand for replay-protected memory: whoever could write them could roll back.
        let counters = directory + "/" + Layout.counters
        if let status = try? POSIXFile.status(counters), status.mode & 0o077 != 0 || status.owner != uid {
            throw .insecurePermissions("\(counters) has mode \(octal(status.mode)); run: chmod 700 \(counters)")
        }
    }

    private static func octal(_ mode: UInt32) -> String { "0" + String(mode, radix: 8) }

    private static func readSecret(_ directory: String, _ name: String, size: Int) throws(SecureStateError) -> [UInt8] {
        let bytes: [UInt8]
        do { bytes = try POSIXFile.read(directory + "/" + name, limit: 4096) } catch { throw .notProvisioned(directory) }
        guard bytes.count == size else { throw .damaged("\(name) has \(bytes.count) bytes, expected \(size)") }
        return bytes
    }

    private static func readChain(_ directory: String) throws -> [[UInt8]] {
        let pem = try certificateChainPEM(in: directory)
        var chain: [[UInt8]] = []
        var body = ""
        var inside = false
        for line in pem.split(whereSeparator: \.isNewline) {
            if line.hasPrefix("-----BEGIN CERTIFICATE-----") { inside = true; body = ""; continue }
            if line.hasPrefix("-----END CERTIFICATE-----") {
                inside = false
                if let der = Data(base64Encoded: body) { chain.append(Array(der)) }
                continue
            }
            if inside { body += line.trimmingCharacters(in: .whitespaces) }
        }
        return chain
    }
}

/// Why a secure state directory cannot be used.
public enum SecureStateError: Error, Equatable, Sendable, CustomStringConvertible {
    case notProvisioned(String)
    case alreadyProvisioned(String)
    case insecurePermissions(String)
    case damaged(String)
    case io(String)

    public var description: String {
        switch self {
        case let .notProvisioned(dir):
            "\(dir) is not a provisioned secure state directory; create one with `trubizone device provision --state \(dir)`"
        case let .alreadyProvisioned(dir):
            "\(dir) already holds a provisioned device; choose another directory to make a new device"
        case let .insecurePermissions(why): "refusing to use the secure state: \(why)"
        case let .damaged(why): "the secure state is damaged: \(why)"
        case let .io(why): "secure state: \(why)"
        }
    }
}
