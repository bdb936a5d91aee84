import TrubiZoneProtocol
import WasmKit

#if canImport(Glibc)
import Glibc
#endif

/// The internal API, as host functions in the wasm module `tz`.
///
/// Each function checks the trustlet's capabilities first (a group outside its manifest answers
/// `TEEC_ERROR_ACCESS_DENIED`), then every pointer and length against the trustlet's memory (a bad
/// one ends the session), then does the work. Results are GP return codes. The groups live in
/// their own files: storage and counters, crypto, keys, trusted UI, attestation.
struct HostAPI {
    static let functionNames: Set<String> = [
        "log", "random", "time_monotonic", "time_wall",
        "storage_write", "storage_read", "storage_delete", "counter_read", "counter_increment",
        "sha256", "hmac_sha256", "hkdf_sha256", "hpke_seal",
        "key_generate", "key_public", "key_sign", "key_delete", "aead_seal", "aead_open", "hpke_open",
        "hpke_seal_auth", "hpke_open_auth",
        "ui_show", "ui_confirm", "ui_read_pin", "ui_read_text", "attest",
    ]
    #if TRUBIZONE_WEAKENINGS
    /// Debug builds only: what a negative control's test build of a trustlet may import too.
    static let testFunctionNames: Set<String> = ["test_weakened"]
    #else
    static let testFunctionNames: Set<String> = []
    #endif
    /// When this runtime started: the origin of trusted monotonic time.
    static let started = ContinuousClock.now
    /// The longest secure-log message kept; the rest is cut.
    static let maxLogMessage = 1024
    /// The most random bytes one call returns.
    static let maxRandom = 64 * 1024
    /// What a line in the secure log costs, before its bytes.
    static let logFuel: UInt64 = 10_000

    let trustlet: WasmTrustlet
    /// What the current entry-point call carries (its cancellation flag).
    let call: CallContext

    func imports(in store: Store) -> Imports {
        var imports = Imports()
        defineCore(&imports, store)
        defineStorage(&imports, store)
        defineCrypto(&imports, store)
        defineKeys(&imports, store)
        defineTrustedUI(&imports, store)
        defineAttestation(&imports, store)
        return imports
    }

    private func defineCore(_ imports: inout Imports, _ store: Store) {
        let trustlet = self.trustlet, call = self.call
        // `log` returns nothing: a trustlet has nothing to do about a log line that was not kept.
        // It is charged like any host call, and a line more for its share of the secure log.
        imports.define(module: "tz", name: "log", Function(store: store, parameters: [.i32, .i32]) { [weak store] caller, args in
            guard trustlet.capabilities.contains(.log) else { return [] }
            try trustlet.admitHostCall("log")
            if call.cancellation.isAbandoned { throw SandboxFault(description: "stopped in tz.log: the client is gone, so nobody waits for this call") }
            let memory = try Self.memory(caller, "log")
            let arguments = Arguments(args)
            try memory.check(arguments[0], arguments[1], "a message")
            let message = try memory.read(arguments[0], min(arguments[1], UInt32(Self.maxLogMessage)), "a message")
            if let store { try Self.charge(store, Self.logFuel + UInt64(message.count), "log") }
            trustlet.secureLog.record(trustlet.name, String(decoding: message, as: UTF8.self), share: trustlet.logShare)
            return []
        })

        define(&imports, store, "random", parameters: 2, group: .random) { memory, args in
            try memory.check(args[0], args[1], "a buffer")
            guard args[1] <= Self.maxRandom else { return .badParameters }
            var generator = SystemRandomNumberGenerator()
            var bytes = [UInt8]()
            bytes.reserveCapacity(Int(args[1]) + 8)
            while bytes.count < Int(args[1]) { withUnsafeBytes(of: generator.next()) { bytes.append(contentsOf: $0) } }
            try memory.write(args[0], Array(bytes.prefix(Int(args[1]))), "a buffer")
            return .success
        }

        define(&imports, store, "time_monotonic", parameters: 1, group: .time) { memory, args in
            // Read the origin first: a lazily initialized static read after `now` would be later
            // than it, and the runtime must never trap on arithmetic a guest can trigger.
            let origin = Self.started
            let elapsed = ContinuousClock.now - origin
            let seconds = UInt64(clamping: max(0, elapsed.components.seconds))
            let nanoseconds = seconds &* 1_000_000_000 &+ UInt64(clamping: max(0, elapsed.components.attoseconds / 1_000_000_000))
            try memory.writeU64(args[0], nanoseconds, "the time")
            return .success
        }

        #if TRUBIZONE_WEAKENINGS
        // Debug builds only: a test build of a trustlet asks whether a negative control turned one
        // of its own checks off (`Weakening`, scoped to this secure world's REE directory). A
        // shipped trustlet does not import it; a release runtime does not define it.
        // It answers SUCCESS when the check is off, ITEM_NOT_FOUND when it is on.
        define(&imports, store, "test_weakened", parameters: 2, group: []) { memory, args in
            let name = String(decoding: try memory.read(args[0], min(args[1], 64), "a name"), as: UTF8.self)
            let off = Weakening(rawValue: name).map { Weakening.isOff($0, at: trustlet.storage.configuration.reeDirectory) } ?? false
            return off ? .success : .itemNotFound
        }
        #endif

        define(&imports, store, "time_wall", parameters: 1, group: .time) { memory, args in
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            let shifted = Int64(now.tv_sec) &+ trustlet.wallClockShift.withLock { $0 }
            try memory.writeU64(args[0], UInt64(clamping: max(0, shifted)), "the time")
            return .success
        }
    }

    // MARK: Defining functions

    /// Defines `tz.<name>(i32 × parameters) -> i32`: the capability check, the guest's memory, and
    /// the translation of the outcome. A `TrustletError` from `body` becomes its GP code; a
    /// `SandboxFault` (a bad pointer) ends the session.
    ///
    /// Every call is charged fuel from the entry point's budget for the work it did, so no
    /// trustlet can make the runtime work without limit by calling it (WasmKit meters only the
    /// guest's own operators): a fixed cost for what the call is (`fixedFuel`), plus one unit per
    /// byte it read or wrote in the guest's memory. A call that overdraws the budget ends the
    /// session as an exhausted budget does.
    func define(_ imports: inout Imports, _ store: Store, _ name: String, parameters: Int, group: Capabilities,
                _ body: @escaping (GuestMemory, Arguments) throws -> ReturnCode) {
        assert(Self.functionNames.contains(name) || Self.testFunctionNames.contains(name), "tz.\(name) is missing from HostAPI.functionNames")
        let capabilities = trustlet.capabilities
        let fixed = Self.fixedFuel(name)
        let trustlet = self.trustlet, call = self.call
        let metered = !Weakening.isOff(.hostCallFuel, at: trustlet.storage.configuration.reeDirectory)
        let function = Function(store: store, parameters: Array(repeating: .i32, count: parameters), results: [.i32]) { [weak store] caller, args in
            guard capabilities.contains(group) else { return [.i32(ReturnCode.accessDenied.rawValue)] }
            try trustlet.admitHostCall(name)
            if call.cancellation.isAbandoned {
                throw SandboxFault(description: "stopped in tz.\(name): the client is gone, so nobody waits for this call")
            }
            var memory = try Self.memory(caller, name)
            let meter = WorkMeter()
            memory.meter = meter
            let code: ReturnCode
            do {
                code = try body(memory, Arguments(args))
            } catch let error as TrustletError {
                code = error.code
            }
            if let store, metered { try Self.charge(store, fixed &+ meter.bytes, name) }
            return [.i32(code.rawValue)]
        }
        imports.define(module: "tz", name: name, function)
    }

    /// What a call costs before the bytes it moves, in fuel (about one wasm operator each): a
    /// durable storage or counter operation about what a millisecond of guest code costs, a
    /// public-key operation a tenth of that, anything else a little.
    static func fixedFuel(_ name: String) -> UInt64 {
        switch name {
        // Everything that commits durably (a key is a sealed object too) costs the same.
        case "storage_write", "storage_delete", "counter_increment", "key_generate", "key_delete": 100_000
        case "storage_read", "counter_read": 10_000
        case "key_sign", "key_public", "hpke_seal", "hpke_open", "hpke_seal_auth", "hpke_open_auth", "attest", "aead_seal", "aead_open": 20_000
        default: 100
        }
    }

    /// Takes `cost` from the store's fuel; overdrawn, the session ends out of fuel.
    static func charge(_ store: Store, _ cost: UInt64, _ name: String) throws {
        guard let fuel = store.fuel else { return }
        guard cost <= fuel.remaining else {
            store.fuel = Fuel(remaining: 0)
            throw SandboxFault(description: "out of fuel in tz.\(name): its work (\(cost) fuel) exceeds what the call has left")
        }
        store.fuel = Fuel(remaining: fuel.remaining - cost)
    }

    private static func memory(_ caller: borrowing Caller, _ function: String) throws -> GuestMemory {
        guard let memory = caller.instance?.exports[memory: "memory"] else {
            throw SandboxFault(description: "tz.\(function) was called by a module without memory")
        }
        return GuestMemory(memory: memory, function: function)
    }
}

/// The arguments of a host call, as unsigned 32-bit values. The engine has checked their types
/// against the signature; reading one never traps anyway.
struct Arguments {
    private let values: [Value]
    init(_ values: [Value]) { self.values = values }

    subscript(_ index: Int) -> UInt32 {
        guard index < values.count, case let .i32(value) = values[index] else { return 0 }
        return value
    }
}

/// What the runtime knows about the entry-point call in progress, for the host functions that
/// need it. Set by the sandbox before each call; touched only by the session's thread.
final class CallContext: @unchecked Sendable {
    /// The current call's cancellation flag; a fresh, never-set one outside `invoke`.
    var cancellation = CallContext.neverCancelled
    static let neverCancelled = Cancellation()
}

extension GuestMemory {
    /// The bytes at the (pointer, length) pair starting at argument `index`.
    func bytes(_ args: Arguments, _ index: Int, _ what: String) throws(SandboxFault) -> [UInt8] {
        try read(args[index], args[index + 1], what)
    }

    /// Writes a variable-length result through the (buffer, capacity, length pointer) triple
    /// starting at argument `index`, with the GP short-buffer rule: the length is always written,
    /// the bytes only if they fit. Every pointer is checked before anything is written.
    func output(_ bytes: [UInt8], _ args: Arguments, _ index: Int, _ what: String) throws(SandboxFault) -> ReturnCode {
        let (buffer, capacity, length) = (args[index], args[index + 1], args[index + 2])
        try checkOutput(args, index, what)
        try writeU32(length, UInt32(clamping: bytes.count), "the length")
        guard bytes.count <= Int(capacity) else { return .shortBuffer }
        try write(buffer, bytes, what)
        return .success
    }

    /// Checks a (buffer, capacity, length pointer) triple. Functions call it before their work,
    /// so a bad output pointer ends the session whatever the work's outcome.
    func checkOutput(_ args: Arguments, _ index: Int, _ what: String) throws(SandboxFault) {
        try check(args[index], args[index + 1], what)
        try check(args[index + 2], 4, "the length")
    }
}
