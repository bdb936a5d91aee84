import Crypto
import Synchronization
import TrubiZoneProtocol
import TrubiZoneWire
@_spi(Fuzzing) import WasmKit

/// A trustlet compiled to WebAssembly, run by WasmKit inside the secure world.
///
/// Every session gets its own instance: its own store, linear memory capped by the manifest, fuel
/// per entry-point call and a bounded interpreter stack. A trap, an exhausted budget, a denied
/// memory growth that the guest cannot survive, or a bad pointer handed to the internal API ends
/// that session with `TEEC_ERROR_TARGET_DEAD` and a diagnostic in the secure log. Nothing of it
/// reaches the runtime or any other session, and the trustlet can be opened again.
public final class WasmTrustlet: NativeTrustlet {
    public let uuid: TrustletUUID
    public let name: String
    /// SHA-256 of the signing key that vouched for this trustlet.
    public let signerID: [UInt8]
    /// Who the trusted display says is asking: the manifest's name with the signer's name from
    /// the trust policy (or its key's fingerprint), which no package can choose.
    public let displayName: String
    /// SHA-256 of the wasm bytes.
    public let measurement: [UInt8]
    /// The manifest's version, for attestation and diagnostics.
    public let version: String
    public let limits: TrustletLimits
    public let capabilities: Capabilities
    let module: Module
    let storage: SealedStorage
    let secureLog: SecureLogBook
    /// The trusted path to the user, for the internal API's ui group.
    let trustedUI: TrustedUI
    /// Issues the trustlet's attestation tokens; `nil` where the device cannot attest.
    let attester: Attester?
    /// The replay-protected counters, for the internal API's counters group.
    let counters: any MonotonicCounterStore
    /// What every build of this trustlet (one signer, one UUID) shares while it runs: sessions
    /// opened on an earlier version stay open after an update, and must count and wait with the new.
    final class Slot: Sendable {
        let openSessions = Mutex(0)
        /// Held while any of the trustlet's sessions runs an entry point. Sessions have their own
        /// instances but share the trustlet's sealed state, and a trustlet reads that state, asks
        /// the user (which can take a minute) and writes it back: two invokes at once would each
        /// write back what they read, and one would undo the other (a confirmed reading lost, an
        /// old sync state restored). So, as OP-TEE runs a trusted application's entry points one
        /// at a time, a trustlet serves one call at a time across all its sessions and versions.
        let entryPoints = Mutex(())
    }

    let slot: Slot
    /// For tests only, through `@testable import` (no shipped binary sets it): a planned kill.
    /// `remaining` host calls are let through, and the next one ends the session before it does
    /// anything, as if the secure world had lost power there; `made` counts the host calls. With
    /// `only`, just the host calls of those names count (a test that needs a kill before every
    /// write need not also stop before every read).
    struct PlannedKill {
        var remaining: Int?
        var made = 0
        var only: Set<String>?
    }
    let plannedKill = Mutex(PlannedKill())
    /// For tests only, through `@testable import`: seconds added to the REE wall clock this
    /// trustlet reads, as a normal world that sets the phone's clock would.
    let wallClockShift = Mutex<Int64>(0)

    /// Lets a host call through, or ends the session where a test planned a kill.
    func admitHostCall(_ name: String) throws(SandboxFault) {
        let killed = plannedKill.withLock { plan -> Bool in
            if let only = plan.only, !only.contains(name) { return false }
            plan.made += 1
            guard let remaining = plan.remaining else { return false }
            if remaining == 0 { plan.remaining = nil; return true }
            plan.remaining = remaining - 1
            return false
        }
        if killed { throw SandboxFault(description: "killed before tz.\(name), as a test planned") }
    }

    /// The internal API: the functions of module `tz` a trustlet may import.
    public static var internalAPI: Set<String> { HostAPI.functionNames }

    static let requiredExports = ["memory", "__main_argc_argv", "tz_create", "tz_open_session", "tz_invoke",
                                  "tz_close_session", "tz_alloc", "tz_free"]

    /// Checks and prepares a trustlet module.
    /// - Throws: `TrustletLoadError` when the bytes are not a module, import anything but the
    ///   internal API, or lack an entry point.
    public init(wasm: [UInt8], uuid: TrustletUUID, name: String, signerID: [UInt8], signerName: String? = nil, version: String = "0.0.0",
                limits: TrustletLimits = .init(),
                capabilities: Capabilities, storage: SealedStorage, secureLog: SecureLogBook,
                trustedUI: TrustedUI = .none, attester: Attester? = nil, sharing earlier: WasmTrustlet? = nil) throws(TrustletLoadError) {
        let parsed: Module
        do {
            parsed = try parseWasm(bytes: wasm)
        } catch {
            throw TrustletLoadError("not a valid WebAssembly module: \(error)")
        }
        for entry in parsed.imports {
            guard entry.module == HostABI.module, let layout = HostAPI.layouts[entry.name], case .function(let type) = entry.descriptor else {
                throw TrustletLoadError("the module imports \(entry.module).\(entry.name); trustlets may import only the internal API (tz.*)")
            }
            // The engine would refuse a mismatch at instantiation; say which at load, with the
            // signature HostABI gives, so the author knows what to fix.
            let expected = FunctionType(parameters: Array(repeating: .i32, count: layout.slotCount), results: layout.function.returnsCode ? [.i32] : [])
            guard parsed.functionType(at: type) == expected else {
                let shown = parsed.functionType(at: type).map { "(\($0.parameters.map { "\($0)" }.joined(separator: ", "))) → (\($0.results.map { "\($0)" }.joined(separator: ", ")))" } ?? "no function type"
                throw TrustletLoadError("the module imports tz.\(entry.name) as \(shown); the internal API's is \(layout.slotCount) i32 parameters → "
                                        + (layout.function.returnsCode ? "an i32 return code" : "nothing") + "; rebuild it with this TrustletKit")
            }
        }
        let exported = Set(parsed.exports.map(\.name))
        for required in Self.requiredExports where !exported.contains(required) {
            throw TrustletLoadError("the module does not export \(required); build it with TrustletKit")
        }
        module = parsed
        self.uuid = uuid
        self.name = name
        self.signerID = signerID
        self.displayName = name + " · " + (signerName ?? TrustPolicy.fingerprintName(signerID))
        self.measurement = Array(SHA256.hash(data: wasm))
        self.version = version
        self.limits = limits
        self.capabilities = capabilities
        self.storage = storage
        self.counters = storage.counters
        self.secureLog = secureLog
        self.trustedUI = trustedUI
        self.attester = attester
        self.slot = earlier.flatMap { $0.uuid == uuid && $0.signerID == signerID ? $0.slot : nil } ?? Slot()
    }

    public func openSession(client: ClientIdentity, parameters: inout TrustletParameters) throws(TrustletError) -> any TrustletSession {
        let admitted = slot.openSessions.withLock { count -> Bool in
            guard count < limits.maxSessions else { return false }
            count += 1
            return true
        }
        guard admitted else {
            throw TrustletError(.busy, "\(name) already has \(limits.maxSessions) sessions open")
        }
        do throws(TrustletError) {
            let opened: Result<Sandbox, TrustletError> = slot.entryPoints.withLock { _ in
                do throws(TrustletError) {
                    let sandbox = try Sandbox(trustlet: self)
                    try sandbox.openSession(&parameters)
                    return .success(sandbox)
                } catch {
                    return .failure(error)
                }
            }
            return WasmSession(trustlet: self, sandbox: try opened.get())
        } catch {
            sessionEnded()
            throw error
        }
    }

    func sessionEnded() { slot.openSessions.withLock { $0 -= 1 } }

    public var maxSessions: Int? { limits.maxSessions }

    var namespace: StorageNamespace { StorageNamespace(signerID: signerID, uuid: uuid.bytes) }

    /// The keys the runtime holds for this trustlet: bound, like its objects, to its signer and
    /// UUID, in a namespace of their own that its storage API cannot open.
    var keys: KeyRing { KeyRing(storage: storage, namespace: keysNamespace, quota: storageQuota) }

    var keysNamespace: StorageNamespace { StorageNamespace(signerID: signerID, uuid: uuid.bytes, subject: "keys") }

    /// Its objects and keys together, within the manifest's `objects` and `sealedBytes`.
    var storageQuota: StorageQuota { StorageQuota(objects: limits.objects, bytes: limits.sealedBytes, namespaces: [namespace, keysNamespace]) }

    /// Its lines in the secure log, kept apart from every other trustlet's.
    var logShare: SecureLogBook.Share? {
        Weakening.isOff(.quotas, at: storage.configuration.reeDirectory) ? nil : .init(owner: namespace.id, lines: limits.logLines)
    }

    /// Ends a session that faulted: logs why, securely, and answers the caller.
    /// - Parameter memoryFull: whether the instance was refused memory during the call (a trap then
    ///   is almost always the guest failing to allocate).
    func died(_ error: any Error, in entryPoint: String, memoryFull: Bool = false) -> TrustletError {
        let reason: String
        let summary: String
        if let fault = error as? SandboxFault, fault.description.contains("the client is gone") {
            reason = fault.description
            summary = "its client hung up, so the call was stopped"
        } else if let fault = error as? SandboxFault, fault.description.contains("as a test planned") {
            reason = fault.description
            summary = "a test stopped it there"
        } else if let fault = error as? SandboxFault, !fault.description.contains("out of fuel") {
            reason = fault.description
            summary = "it passed a bad pointer to the internal API"
        } else if "\(error)".contains("out of fuel") {
            reason = "\(error)"
            summary = "it exceeded its execution budget of \(limits.fuelPerCall) fuel"
        } else if "\(error)".contains("call stack exhausted") {
            reason = "\(error)"
            summary = "it exhausted its call stack"
        } else if memoryFull {
            reason = "\(error) after memory growth beyond \(limits.memoryPages) pages was refused"
            summary = "it ran out of its \(limits.memoryPages * 64) KiB of memory"
        } else {
            reason = "\(error)"
            summary = "it trapped"
        }
        // In a share of the runtime's lines about this trustlet: neither its own lines nor its
        // faults push out anyone else's.
        secureLog.record(name, "session ended in \(entryPoint): \(reason)", share: .init(owner: namespace.id + [0], lines: 64))
        return TrustletError(.targetDead, "the \(name) session ended in \(entryPoint): \(summary); open a new session")
    }
}

/// Why a trustlet module was refused.
public struct TrustletLoadError: Error, Equatable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// One session of a wasm trustlet.
final class WasmSession: TrustletSession {
    private let trustlet: WasmTrustlet
    private let sandbox: Mutex<Sandbox?>

    init(trustlet: WasmTrustlet, sandbox: consuming sending Sandbox) {
        self.trustlet = trustlet
        self.sandbox = Mutex(sandbox)
    }

    func invoke(command: UInt32, parameters: inout TrustletParameters, cancellation: Cancellation) throws(TrustletError) {
        let outcome: Sandbox.Outcome = trustlet.slot.entryPoints.withLock { _ in sandbox.withLock { sandbox in
            guard let live = sandbox else {
                return .died(TrustletError(.targetDead, "the \(trustlet.name) session has ended; open a new session"))
            }
            let outcome = live.invoke(command: command, parameters.request, cancellation: cancellation)
            if case .died = outcome { sandbox = nil }
            return outcome
        } }
        switch outcome {
        case let .completed(code, reply):
            parameters.reply = reply
            if code != .success { throw TrustletError(code, "\(trustlet.name) answered \(code.name)") }
        case let .died(error):
            throw error
        }
    }

    func close() {
        trustlet.slot.entryPoints.withLock { _ in
            sandbox.withLock { sandbox in
                sandbox?.closeSession()
                sandbox = nil
            }
        }
        trustlet.sessionEnded()
    }
}
