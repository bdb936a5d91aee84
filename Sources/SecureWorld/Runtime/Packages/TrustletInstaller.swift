import Crypto
import Synchronization
import TrubiZoneProtocol

/// Which developer keys a device accepts trustlets from. The runtime takes it as a value; it is
/// never a global.
public struct TrustPolicy: Sendable {
    /// SHA-256 of each trusted signing key (X9.63).
    public var trustedSignerIDs: Set<[UInt8]>

    public init(trustedSigners: [P256.Signing.PublicKey] = []) {
        trustedSignerIDs = Set(trustedSigners.map { Array(SHA256.hash(data: $0.x963Representation)) })
    }

    public func trusts(_ package: TrustletPackage) -> Bool { trustedSignerIDs.contains(package.signerID) }
}

/// Verifies, installs and remembers signed trustlets.
///
/// Installed packages are kept as sealed objects of the installer's own namespace, so they come
/// back after a restart; each trustlet's highest installed version is a replay-protected counter,
/// so neither a downgrade nor a rollback of the REE directory brings an old version back.
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
        return try lock.withLock { _ throws(PackageError) -> WasmTrustlet in
            let counter = "trustlet-version/\(manifest.uuid)"
            let installed = try installedVersion(counter)
            guard manifest.version >= installed else {
                throw .downgrade(installed: Self.versionString(installed), offered: package.manifest.version)
            }
            let trustlet = try load(package, manifest)
            do throws(StorageError) {
                try storage.put(namespace, id: manifest.uuid.bytes, data: bytes)
            } catch {
                throw .malformed("the package could not be stored: \(error.diagnostic)")
            }
            // After the package is kept: a crash in between leaves a newer package than the counter,
            // which the next start accepts and records.
            if manifest.version > installed {
                do { try counters.advance(counter, to: manifest.version, payload: package.measurement) } catch {
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
                let counter = "trustlet-version/\(manifest.uuid)"
                let installed = try installedVersion(counter)
                guard manifest.version >= installed else {
                    secureLog.record("installer", "not loading \(package.manifest.name) \(package.manifest.version): a newer version was installed")
                    continue
                }
                if manifest.version > installed { try? counters.advance(counter, to: manifest.version, payload: package.measurement) }
                trustlets.append(try load(package, manifest))
            } catch {
                secureLog.record("installer", "not loading a kept package: \(error)")
            }
        }
        return trustlets
    }

    /// The highest version installed so far (0 for none). An unreadable counter refuses the
    /// install rather than letting a downgrade through.
    private func installedVersion(_ counter: String) throws(PackageError) -> UInt64 {
        do throws(CounterError) {
            return try counters.read(counter)?.value ?? 0
        } catch {
            throw .malformed("the installed version cannot be checked: \(error)")
        }
    }

    private func load(_ package: TrustletPackage,
                      _ manifest: (uuid: TrustletUUID, version: UInt64, capabilities: Capabilities, limits: TrustletLimits)) throws(PackageError) -> WasmTrustlet {
        do throws(TrustletLoadError) {
            return try WasmTrustlet(wasm: package.wasm, uuid: manifest.uuid, name: package.manifest.name, signerID: package.signerID,
                                    version: package.manifest.version, limits: manifest.limits, capabilities: manifest.capabilities,
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
