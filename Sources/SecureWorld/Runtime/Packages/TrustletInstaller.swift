import Crypto
import Synchronization
import TrubiZoneProtocol

/// Which developer keys a device accepts trustlets from, and what each may have: the name the
/// trusted display gives it, the UUIDs that are its alone, and the most its trustlets may ask for.
/// The runtime takes it as a value; it is never a global.
public struct TrustPolicy: Sendable {
    /// One trusted developer key.
    public struct Signer: Sendable {
        /// SHA-256 of the signing key (X9.63).
        public let id: [UInt8]
        /// What the trusted display calls the signer (by default "developer" and the key's fingerprint).
        public var name: String?
        /// UUIDs only this signer may install, whoever installed them before.
        public var uuids: Set<TrustletUUID>
        /// The most a manifest of this signer may ask for; an ask above is refused at install.
        public var caps: TrustletLimits
        /// How many trustlets (UUIDs) of this signer the device keeps: every one has its own quotas.
        public var maxTrustlets: Int

        public init(key: P256.Signing.PublicKey, name: String? = nil, uuids: Set<TrustletUUID> = [], caps: TrustletLimits = .defaultCaps,
                    maxTrustlets: Int = TrustPolicy.defaultMaxTrustlets) {
            id = Array(SHA256.hash(data: key.x963Representation))
            self.name = name
            self.uuids = uuids
            self.caps = caps
            self.maxTrustlets = maxTrustlets
        }
    }

    public private(set) var signers: [[UInt8]: Signer] = [:]
    /// Trustlets a signer may keep on the device when the policy says nothing else.
    public static let defaultMaxTrustlets = 8

    /// - Parameter names: a name for each signer, as the trusted display shows it (by default
    ///   "developer" and the key's fingerprint).
    public init(trustedSigners: [P256.Signing.PublicKey] = [], names: [String?] = []) {
        for (index, key) in trustedSigners.enumerated() {
            let signer = Signer(key: key, name: index < names.count ? names[index] : nil)
            signers[signer.id] = signer
        }
    }

    /// - Throws: `TrustPolicyError` when two signers claim one UUID, or a runtime UUID is claimed.
    public init(signers: [Signer]) throws(TrustPolicyError) {
        var owners: [TrustletUUID: [UInt8]] = [:]
        var names: Set<String> = []
        for signer in signers {
            guard self.signers[signer.id] == nil else { throw .listedTwice(Self.fingerprintName(signer.id)) }
            // Two signers of one name would get one label on the trusted display.
            if let name = signer.name, !names.insert(name.lowercased()).inserted { throw .namedTwice(name) }
            for uuid in signer.uuids {
                guard !BuiltInTrustlets.reserved.contains(uuid) else { throw .reserved(uuid.description) }
                if let other = owners[uuid], other != signer.id { throw .claimedTwice(uuid.description) }
                owners[uuid] = signer.id
            }
            self.signers[signer.id] = signer
        }
    }

    public func trusts(_ package: TrustletPackage) -> Bool { signers[package.signerID] != nil }

    /// The signer the policy gives `uuid` to, if it gives it to one.
    public func assignee(of uuid: TrustletUUID) -> [UInt8]? {
        signers.values.first { $0.uuids.contains(uuid) }?.id
    }

    /// The most a trustlet of this signer may ask for.
    public func caps(for signerID: [UInt8]) -> TrustletLimits { signers[signerID]?.caps ?? .defaultCaps }

    /// How many trustlets a signer may keep.
    public func maxTrustlets(for signerID: [UInt8]) -> Int { signers[signerID]?.maxTrustlets ?? Self.defaultMaxTrustlets }

    /// What the trusted display calls a signer.
    public func name(of signerID: [UInt8]) -> String { signers[signerID]?.name ?? Self.fingerprintName(signerID) }

    /// A signer the policy gives no name: "developer" and the first 80 bits of its signer ID, in
    /// five groups of four hex digits. Another developer would need about 2⁸⁰ keys to find one
    /// whose label matches (32 bits, the length it had, take an afternoon).
    static func fingerprintName(_ signerID: [UInt8]) -> String {
        let digits = Array(hex(signerID.prefix(10)))
        return "developer " + stride(from: 0, to: digits.count, by: 4).map { String(digits[$0..<min($0 + 4, digits.count)]) }.joined(separator: "-")
    }
}

/// Why a trust policy cannot be used.
public enum TrustPolicyError: Error, Equatable, Sendable, CustomStringConvertible {
    case claimedTwice(String)
    case listedTwice(String)
    case reserved(String)
    case namedTwice(String)
    case malformed(String)

    public var description: String {
        switch self {
        case let .claimedTwice(uuid): "two signers of the trust policy claim UUID \(uuid); give it to one"
        case let .listedTwice(signer): "the trust policy lists the key of \(signer) twice; give it one entry"
        case let .reserved(uuid): "the trust policy gives UUID \(uuid) to a signer, but it is one of the runtime's own"
        case let .namedTwice(name): "two signers of the trust policy are named \"\(name)\"; the trusted display must tell them apart"
        case let .malformed(why): "the trust policy is malformed: \(why)"
        }
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
    /// - Parameter current: the trustlet registered under a UUID now. The same package again
    ///   returns it unchanged; a new version of the same signer shares its one-call-at-a-time lock
    ///   and session count, so sessions still on the old version cannot run beside the new one.
    func install(_ bytes: [UInt8], current: (TrustletUUID) -> WasmTrustlet?) throws(PackageError) -> WasmTrustlet {
        let package = try TrustletPackage(bytes: bytes, checkingSignature: !isOff(.packageSignature))
        let manifest = try admitted(package)
        return try lock.withLock { _ throws(PackageError) -> WasmTrustlet in
            let installed = try installedVersion(manifest.uuid, package.signerID)
            try check(package, manifest.version, against: installed)
            let running = current(manifest.uuid).flatMap { $0.signerID == package.signerID ? $0 : nil }
            if let running, running.measurement == package.measurement, running.version == package.manifest.version {
                return running
            }
            try checkCount(package.signerID, adding: manifest.uuid)
            let trustlet = try load(package, manifest, sharingWith: running)
            do throws(StorageError) {
                try storage.put(namespace, id: manifest.uuid.bytes, data: bytes)
            } catch {
                throw .malformed("the package could not be stored: \(error.diagnostic)")
            }
            holders.withLock { $0[manifest.uuid] = package.signerID }
            // After the package is kept: a crash in between leaves a newer package than the counters,
            // which the next start accepts and records.
            do throws(CounterError) { try record(package, manifest.uuid, manifest.version) } catch {
                throw .malformed("the version counter could not be advanced: \(error)")
            }
            secureLog.record("installer", "installed \(package.manifest.name) \(package.manifest.version) from signer \(hex(package.signerID.prefix(8)))")
            return trustlet
        }
    }

    /// The packages kept by earlier installs, checked again against today's policy and versions.
    func installedTrustlets() -> [WasmTrustlet] {
        let ids: [[UInt8]]
        do throws(StorageError) {
            ids = try storage.list(namespace)
        } catch {
            // A tampered store of packages loads none of them; the reason stays in the secure log.
            secureLog.record("installer", "not loading any kept package: \(error)")
            ids = []
        }
        var trustlets: [WasmTrustlet] = []
        for id in ids {
            do {
                let bytes = try storage.get(namespace, id: id)
                let package = try TrustletPackage(bytes: bytes)
                if let uuid = TrustletUUID(package.manifest.uuid) { holders.withLock { $0[uuid] = package.signerID } }
                guard policy.trusts(package) else {
                    secureLog.record("installer", "not loading \(package.manifest.name): its signer is no longer trusted")
                    continue
                }
                let manifest = try admitted(package)
                let installed = try installedVersion(manifest.uuid, package.signerID)
                do throws(PackageError) { try check(package, manifest.version, against: installed) } catch {
                    secureLog.record("installer", "not loading \(package.manifest.name) \(package.manifest.version): \(error)")
                    continue
                }
                try? record(package, manifest.uuid, manifest.version)
                trustlets.append(try load(package, manifest, sharingWith: nil))
            } catch {
                secureLog.record("installer", "not loading a kept package: \(error)")
            }
        }
        return trustlets
    }

    /// Whether a negative control turned `defence` off for this secure world (debug builds only).
    private func isOff(_ defence: Weakening) -> Bool { Weakening.isOff(defence, at: storage.directory(of: namespace)) }

    /// Which signer's package each kept UUID holds: what a signer's count of trustlets is.
    private let holders = Mutex<[TrustletUUID: [UInt8]]>([:])

    /// Refuses a signer's trustlet beyond the number the policy allows it (a new UUID each time
    /// would otherwise multiply every per-trustlet quota).
    private func checkCount(_ signerID: [UInt8], adding uuid: TrustletUUID) throws(PackageError) {
        let allowed = policy.maxTrustlets(for: signerID)
        let held = holders.withLock { table in table.filter { $0.value == signerID && $0.key != uuid }.count }
        guard held < allowed else { throw .tooManyTrustlets(allowed: allowed) }
    }

    /// Checks what the policy says of a package: its signer is trusted, its UUID is neither the
    /// runtime's nor given to another signer, and it asks for no more than its signer's caps.
    private func admitted(_ package: TrustletPackage) throws(PackageError)
        -> (uuid: TrustletUUID, version: UInt64, capabilities: Capabilities, limits: TrustletLimits) {
        guard policy.trusts(package) || isOff(.packageSignature) else { throw .untrustedSigner(signerID: hex(package.signerID)) }
        let manifest = try package.manifest.validated(caps: policy.caps(for: package.signerID))
        guard !BuiltInTrustlets.reserved.contains(manifest.uuid) || isOff(.uuidOwnership) else { throw .reservedUUID(manifest.uuid.description) }
        if let assignee = policy.assignee(of: manifest.uuid), assignee != package.signerID, !isOff(.uuidOwnership) {
            throw .uuidAssigned(uuid: manifest.uuid.description)
        }
        return manifest
    }

    /// What the counters say of a UUID for one signer.
    struct Installed {
        /// The highest version this signer installed under the UUID (0 if none), and that
        /// version's measurement.
        let version: UInt64
        let measurement: [UInt8]?
        /// The signer that first installed the UUID (`nil` while it is free); the claim does not
        /// bind a signer the trust policy gives the UUID to.
        let owner: [UInt8]?
        let assigned: Bool
    }

    /// A UUID's claim of first use: its value is the owner's highest version plus one (so that
    /// version 0.0.0 records it too), its payload the owner's signer ID and that version's measurement.
    static func claimCounter(_ uuid: TrustletUUID) -> String { "trustlet/\(uuid)" }
    /// One signer's history of a UUID, the same record, kept whatever the policy says, so that
    /// giving the UUID to the signer (or taking it back) never forgets a version.
    static func historyCounter(_ uuid: TrustletUUID, _ signerID: [UInt8]) -> String { "trustlet/\(uuid)/" + hex(signerID.prefix(8)) }
    /// The counter of the runtime before UUIDs had owners: a version floor, with no owner.
    static func floorCounter(_ uuid: TrustletUUID) -> String { "trustlet-version/\(uuid)" }

    /// Refuses a package whose UUID belongs to another signer, whose version is lower than the
    /// one installed, or which brings other bytes under the installed version.
    func check(_ package: TrustletPackage, _ version: UInt64, against installed: Installed) throws(PackageError) {
        if !installed.assigned, let owner = installed.owner, owner != package.signerID, !isOff(.uuidOwnership) {
            throw .uuidTaken(uuid: package.manifest.uuid, owner: hex(owner.prefix(8)))
        }
        guard version >= installed.version || isOff(.versionFloor) else {
            throw .downgrade(installed: Self.versionString(installed.version), offered: package.manifest.version)
        }
        if version == installed.version, let measurement = installed.measurement, measurement != package.measurement {
            throw .sameVersionChanged(version: package.manifest.version)
        }
    }

    /// The UUID's counters for `signerID`: its own history, the claim if it is the claim's owner,
    /// and the old floor, the highest of them. An unreadable counter refuses the install rather
    /// than letting a downgrade or a takeover through.
    private func installedVersion(_ uuid: TrustletUUID, _ signerID: [UInt8]) throws(PackageError) -> Installed {
        let claim: CounterRecord?, history: CounterRecord?, floor: CounterRecord?
        do throws(CounterError) {
            claim = try counters.read(Self.claimCounter(uuid))
            history = try counters.read(Self.historyCounter(uuid, signerID))
            floor = try counters.read(Self.floorCounter(uuid))
        } catch {
            throw .malformed("the installed version cannot be checked: \(error)")
        }
        for record in [claim, history].compactMap({ $0 }) where record.value > 0 && record.payload.count != 64 {
            throw .malformed("the installed version's record is damaged")
        }
        let owner = claim.flatMap { $0.value > 0 ? Array($0.payload.prefix(32)) : nil }
        var version = floor?.value ?? 0
        var measurement: [UInt8]? = nil
        for record in [history, owner == signerID ? claim : nil].compactMap({ $0 }) where record.value > 0 {
            let recorded = record.value - 1
            if recorded > version || (recorded == version && measurement == nil) {
                (version, measurement) = (recorded, Array(record.payload.suffix(32)))
            }
        }
        return Installed(version: version, measurement: measurement, owner: owner, assigned: policy.assignee(of: uuid) == signerID)
    }

    /// Records an installed version: in the signer's history always, and in the UUID's claim while
    /// the UUID is free or this signer's (and the policy gives it to no one).
    private func record(_ package: TrustletPackage, _ uuid: TrustletUUID, _ version: UInt64) throws(CounterError) {
        let payload = package.signerID + package.measurement
        try raise(Self.historyCounter(uuid, package.signerID), to: version + 1, payload: payload)
        guard policy.assignee(of: uuid) == nil else { return }
        let claim = try counters.read(Self.claimCounter(uuid))
        if claim == nil || claim!.value == 0 || Array(claim!.payload.prefix(32)) == package.signerID {
            try raise(Self.claimCounter(uuid), to: version + 1, payload: payload)
        }
    }

    /// Advances a counter to `value` unless it is there already.
    private func raise(_ name: String, to value: UInt64, payload: [UInt8]) throws(CounterError) {
        if let current = try counters.read(name), current.value >= value { return }
        try counters.advance(name, to: value, payload: payload)
    }

    private func load(_ package: TrustletPackage,
                      _ manifest: (uuid: TrustletUUID, version: UInt64, capabilities: Capabilities, limits: TrustletLimits),
                      sharingWith running: WasmTrustlet?) throws(PackageError) -> WasmTrustlet {
        do throws(TrustletLoadError) {
            return try WasmTrustlet(wasm: package.wasm, uuid: manifest.uuid, name: package.manifest.name, signerID: package.signerID,
                                    signerName: policy.name(of: package.signerID), version: package.manifest.version, limits: manifest.limits, capabilities: manifest.capabilities,
                                    storage: storage, secureLog: secureLog, trustedUI: trustedUI,
                                    attester: attester, sharing: running)
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
    let current: @Sendable (TrustletUUID) -> WasmTrustlet?
    var uuid: TrustletUUID { BuiltInTrustlets.Installer.uuid }
    var name: String { "TrubiZone installer" }

    func openSession(client: ClientIdentity, parameters: inout TrustletParameters) throws(TrustletError) -> any TrustletSession {
        try parameters.expect()
        return Session(installer: installer, register: register, current: current)
    }

    struct Session: TrustletSession {
        let installer: TrustletInstaller
        let register: @Sendable (WasmTrustlet) -> Void
        let current: @Sendable (TrustletUUID) -> WasmTrustlet?

        func invoke(command: UInt32, parameters p: inout TrustletParameters, cancellation: Cancellation) throws(TrustletError) {
            guard command == BuiltInTrustlets.Installer.Command.install.rawValue else {
                throw TrustletError(.notSupported, "the installer has no command \(command)")
            }
            try p.expect(.memrefInput, .memrefOutput)
            let package = try p.bytes(0)
            let trustlet: WasmTrustlet
            do throws(PackageError) {
                trustlet = try installer.install(package, current: current)
            } catch {
                throw TrustletError(error.code, error.description)
            }
            register(trustlet)
            try p.setBytes(1, trustlet.measurement + trustlet.signerID)
        }

        func close() {}
    }
}
