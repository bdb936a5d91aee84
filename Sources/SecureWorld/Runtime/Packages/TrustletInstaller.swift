import Crypto
import Synchronization
import TrubiZoneProtocol

/// Which developer keys a device accepts trustlets from. The runtime takes it as a value; it is
/// never a global.
public struct TrustPolicy: Sendable {
    /// SHA-256 of each trusted signing key (X9.63).
    public var trustedSignerIDs: Set<[UInt8]>
    /// The names the device's owner gave trusted signers, shown on the trusted display.
    public var signerNames: [[UInt8]: String]

    /// - Parameter names: a name for each signer, as the trusted display shows it (by default
    ///   "developer" and the key's fingerprint).
    public init(trustedSigners: [P256.Signing.PublicKey] = [], names: [String?] = []) {
        let ids = trustedSigners.map { Array(SHA256.hash(data: $0.x963Representation)) }
        trustedSignerIDs = Set(ids)
        signerNames = [:]
        for (id, name) in zip(ids, names) { if let name { signerNames[id] = name } }
    }

    public func trusts(_ package: TrustletPackage) -> Bool { trustedSignerIDs.contains(package.signerID) }

    /// What the trusted display calls a signer.
    public func name(of signerID: [UInt8]) -> String { signerNames[signerID] ?? Self.fingerprintName(signerID) }

    static func fingerprintName(_ signerID: [UInt8]) -> String {
        "developer " + hex(signerID.prefix(4))
    }
}

/// Verifies, installs and remembers signed trustlets.
///
/// Installed packages are kept as sealed objects of the installer's own namespace, so they come
/// back after a restart. Each UUID has one replay-protected counter: its value is the highest
/// version installed, its payload the signer that first installed the UUID and that version's
/// measurement. So a UUID belongs to its first signer (another signer's package for it is
/// refused, whatever its version), versions count per (signer, UUID), the same version cannot
/// come back with other bytes, and neither a downgrade nor a rollback of the REE directory brings
/// an old version back. The runtime's own UUIDs are reserved.
final class TrustletInstaller: Sendable {
    private let storage: SealedStorage
    private let counters: any MonotonicCounterStore
    private let policy: TrustPolicy
    private let secureLog: SecureLogBook
    private let trustedUI: TrustedUI
    private let attester: Attester
    private let namespace = StorageNamespace(signerID: BuiltInSigner.id, uuid: BuiltInTrustlets.Installer.uuid.bytes, subject: "packages")
    private let lock = Mutex(())

    init(storage: SealedStorage, counters: any MonotonicCounterStore, policy: TrustPolicy, secureLog: SecureLogBook, trustedUI: TrustedUI,
         attester: Attester) {
        self.storage = storage
        self.counters = counters
        self.policy = policy
        self.secureLog = secureLog
        self.trustedUI = trustedUI
        self.attester = attester
    }

    /// Checks a package against the policy and the installed versions, then keeps it.
    func install(_ bytes: [UInt8]) throws(PackageError) -> WasmTrustlet {
        let package = try TrustletPackage(bytes: bytes)
        guard policy.trusts(package) else { throw .untrustedSigner(signerID: hex(package.signerID)) }
        let manifest = try package.manifest.validated()
        guard !BuiltInTrustlets.reserved.contains(manifest.uuid) else { throw .reservedUUID(manifest.uuid.description) }
        return try lock.withLock { _ throws(PackageError) -> WasmTrustlet in
            let counter = Self.counter(manifest.uuid)
            let installed = try installedVersion(counter)
            try Self.check(package, manifest.version, against: installed)
            let trustlet = try load(package, manifest)
            do throws(StorageError) {
                try storage.put(namespace, id: manifest.uuid.bytes, data: bytes)
            } catch {
                throw .malformed("the package could not be stored: \(error.diagnostic)")
            }
            // After the package is kept: a crash in between leaves a newer package than the counter,
            // which the next start accepts and records.
            if manifest.version > installed.version || installed.signerID == nil {
                do { try counters.advance(counter, to: manifest.version + 1, payload: package.signerID + package.measurement) } catch {
                    throw .malformed("the version counter could not be advanced: \(error)")
                }
            }
            secureLog.record("installer", "installed \(package.manifest.name) \(package.manifest.version) from signer \(hex(package.signerID.prefix(8)))")
            return trustlet
        }
    }

    /// The packages kept by earlier installs, checked again against today's policy and versions.
    func installedTrustlets() -> [WasmTrustlet] {
        let ids = (try? storage.list(namespace)) ?? []
        var trustlets: [WasmTrustlet] = []
        for id in ids {
            do {
                let bytes = try storage.get(namespace, id: id)
                let package = try TrustletPackage(bytes: bytes)
                guard policy.trusts(package) else {
                    secureLog.record("installer", "not loading \(package.manifest.name): its signer is no longer trusted")
                    continue
                }
                let manifest = try package.manifest.validated()
                guard !BuiltInTrustlets.reserved.contains(manifest.uuid) else { throw PackageError.reservedUUID(manifest.uuid.description) }
                let counter = Self.counter(manifest.uuid)
                let installed = try installedVersion(counter)
                do throws(PackageError) { try Self.check(package, manifest.version, against: installed) } catch {
                    secureLog.record("installer", "not loading \(package.manifest.name) \(package.manifest.version): \(error)")
                    continue
                }
                if manifest.version > installed.version || installed.signerID == nil {
                    try? counters.advance(counter, to: manifest.version + 1, payload: package.signerID + package.measurement)
                }
                trustlets.append(try load(package, manifest))
            } catch {
                secureLog.record("installer", "not loading a kept package: \(error)")
            }
        }
        return trustlets
    }

    /// What a UUID's counter says: its highest version, the signer it belongs to and that
    /// version's measurement (version 0 and no signer when the UUID is free).
    struct Installed {
        let version: UInt64
        let signerID: [UInt8]?
        let measurement: [UInt8]?
    }

    /// The UUID's counter: its value is the highest version installed plus one (so that version
    /// 0.0.0 records its owner too), its payload the owner's signer ID and that version's
    /// measurement.
    static func counter(_ uuid: TrustletUUID) -> String { "trustlet/\(uuid)" }
    /// The counter of the runtime before UUIDs had owners: a version floor, with no owner.
    static func floorCounter(_ uuid: String) -> String { "trustlet-version/\(uuid)" }

    /// Refuses a package whose UUID belongs to another signer, whose version is lower than the
    /// one installed, or which brings other bytes under the installed version.
    static func check(_ package: TrustletPackage, _ version: UInt64, against installed: Installed) throws(PackageError) {
        if let owner = installed.signerID, owner != package.signerID {
            throw .uuidTaken(uuid: package.manifest.uuid, owner: hex(owner.prefix(8)))
        }
        guard version >= installed.version else {
            throw .downgrade(installed: versionString(installed.version), offered: package.manifest.version)
        }
        if version == installed.version, let measurement = installed.measurement, measurement != package.measurement {
            throw .sameVersionChanged(version: package.manifest.version)
        }
    }

    /// The UUID's counter. An unreadable counter refuses the install rather than letting a
    /// downgrade or a takeover through.
    private func installedVersion(_ counter: String) throws(PackageError) -> Installed {
        let found: CounterRecord?, floor: CounterRecord?
        do throws(CounterError) {
            found = try counters.read(counter)
            floor = try counters.read(Self.floorCounter(String(counter.dropFirst("trustlet/".count))))
        } catch {
            throw .malformed("the installed version cannot be checked: \(error)")
        }
        guard let record = found, record.value > 0 else { return Installed(version: floor?.value ?? 0, signerID: nil, measurement: nil) }
        guard record.payload.count == 64 else { throw .malformed("the installed version's record is damaged") }
        return Installed(version: max(record.value - 1, floor?.value ?? 0), signerID: Array(record.payload.prefix(32)),
                         measurement: Array(record.payload.suffix(32)))
    }

    private func load(_ package: TrustletPackage,
                      _ manifest: (uuid: TrustletUUID, version: UInt64, capabilities: Capabilities, limits: TrustletLimits)) throws(PackageError) -> WasmTrustlet {
        do throws(TrustletLoadError) {
            return try WasmTrustlet(wasm: package.wasm, uuid: manifest.uuid, name: package.manifest.name, signerID: package.signerID,
                                    signerName: policy.name(of: package.signerID), version: package.manifest.version, limits: manifest.limits, capabilities: manifest.capabilities,
                                    storage: storage, secureLog: secureLog, trustedUI: trustedUI,
                                    attester: attester)
        } catch {
            throw .rejectedModule(error.description)
        }
    }

    static func versionString(_ number: UInt64) -> String {
        "\(number >> 32 & 0xFFFF).\(number >> 16 & 0xFFFF).\(number & 0xFFFF)"
    }
}

/// The installer over the world switch.
struct InstallerTrustlet: NativeTrustlet {
    let installer: TrustletInstaller
    let register: @Sendable (WasmTrustlet) -> Void
    var uuid: TrustletUUID { BuiltInTrustlets.Installer.uuid }
    var name: String { "TrubiZone installer" }

    func openSession(client: ClientIdentity, parameters: inout TrustletParameters) throws(TrustletError) -> any TrustletSession {
        try parameters.expect()
        return Session(installer: installer, register: register)
    }

    struct Session: TrustletSession {
        let installer: TrustletInstaller
        let register: @Sendable (WasmTrustlet) -> Void

        func invoke(command: UInt32, parameters p: inout TrustletParameters, cancellation: Cancellation) throws(TrustletError) {
            guard command == BuiltInTrustlets.Installer.Command.install.rawValue else {
                throw TrustletError(.notSupported, "the installer has no command \(command)")
            }
            try p.expect(.memrefInput, .memrefOutput)
            let package = try p.bytes(0)
            let trustlet: WasmTrustlet
            do throws(PackageError) {
                trustlet = try installer.install(package)
            } catch {
                throw TrustletError(error.code, error.description)
            }
            register(trustlet)
            try p.setBytes(1, trustlet.measurement + trustlet.signerID)
        }

        func close() {}
    }
}
