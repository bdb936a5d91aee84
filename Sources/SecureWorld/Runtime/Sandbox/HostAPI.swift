import TrubiZoneProtocol
import TrubiZoneWire
import WasmKit

/// The internal API, as host functions in the wasm module `tz`.
///
/// Each function checks the trustlet's capabilities first (a group outside its manifest answers
/// `TEEC_ERROR_ACCESS_DENIED`), then every pointer and length against the trustlet's memory (a bad
/// one ends the session), then does the work. Results are GP return codes. The groups live in
/// their own files: storage and counters, crypto, keys, trusted UI, attestation.
struct HostAPI {
    /// The table's functions by name, each with where its arguments sit (`HostABI`, shared with
    /// TrustletKit, is the one definition).
    static let layouts: [String: HostFunctionLayout] = {
        var layouts: [String: HostFunctionLayout] = [:]
        for function in HostABI.functions { layouts[function.name] = HostFunctionLayout(function) }
        #if TRUBIZONE_WEAKENINGS
        for function in HostABI.testFunctions { layouts[function.name] = HostFunctionLayout(function) }
        #endif
        return layouts
    }()
    /// The names a shipped trustlet may import.
    static let functionNames = Set(HostABI.functions.map(\.name))
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
        let trustlet = self.trustlet
        // `log` returns nothing: a trustlet has nothing to do about a log line that was not kept.
        // It is charged like any host call, and a line more for its share of the secure log.
        define(&imports, store, "log") { [weak store] memory, args in
            let (address, length) = try args.input("message")
            try memory.check(address, length, "a message")
            let message = try memory.read(address, min(length, UInt32(Self.maxLogMessage)), "a message")
            // Paid before it is kept: a trustlet without the fuel for a line adds none.
            if let store { try Self.charge(store, Self.logFuel + UInt64(message.count), "log") }
            memory.meter?.bytes = 0
            trustlet.secureLog.record(trustlet.name, String(decoding: message, as: UTF8.self), share: trustlet.logShare)
            return .success
        }

        define(&imports, store, "random") { memory, args in
            let length = try memory.checkArea(args, "buffer")
            guard length <= Self.maxRandom else { return .badParameters }
            // Never fewer bytes than asked for, whatever the source does: no zeros where
            // randomness was asked for.
            let bytes = trustlet.storage.rootOfTrust.randomBytes(Int(length))
            guard bytes.count == Int(length) else { return .generic }
            try memory.writeArea(bytes, args, "buffer")
            return .success
        }

        define(&imports, store, "time_monotonic") { memory, args in
            try memory.writeResult(trustlet.storage.rootOfTrust.clock.monotonicNanoseconds(), args, "nanoseconds")
            return .success
        }

        #if TRUBIZONE_WEAKENINGS
        // Debug builds only: a test build of a trustlet asks whether a negative control turned one
        // of its own checks off (`Weakening`, scoped to this secure world's REE directory). A
        // shipped trustlet does not import it; a release runtime does not define it.
        // It answers SUCCESS when the check is off, ITEM_NOT_FOUND when it is on.
        define(&imports, store, "test_weakened") { memory, args in
            let (address, length) = try args.input("name")
            let name = String(decoding: try memory.read(address, min(length, 64), "a name"), as: UTF8.self)
            let off = Weakening(rawValue: name).map { Weakening.isOff($0, at: trustlet.storage.configuration.reeDirectory) } ?? false
            return off ? .success : .itemNotFound
        }
        #endif

        define(&imports, store, "time_wall") { memory, args in
            let shifted = trustlet.storage.rootOfTrust.clock.wallClockSeconds() &+ trustlet.wallClockShift.withLock { $0 }
            try memory.writeResult(UInt64(clamping: max(0, shifted)), args, "seconds")
            return .success
        }
    }

    // MARK: Defining functions

    /// Defines `tz.<name>` as `HostABI` lays it out: the capability check, the guest's memory,
    /// and the translation of the outcome. A `TrustletError` from `body` becomes its GP code; a
    /// `SandboxFault` (a bad pointer) ends the session.
    ///
    /// Every call is charged fuel from the entry point's budget for the work it did, so no
    /// trustlet can make the runtime work without limit by calling it (WasmKit meters only the
    /// guest's own operators): a fixed cost for what the call is (`fixedFuel`), plus one unit per
    /// byte it read or wrote in the guest's memory. A call that overdraws the budget ends the
    /// session as an exhausted budget does.
    func define(_ imports: inout Imports, _ store: Store, _ name: String, _ body: @escaping (GuestMemory, Arguments) throws -> ReturnCode) {
        guard let layout = Self.layouts[name] else {
            assertionFailure("tz.\(name) is not in HostABI")
            return
        }
        let capabilities = trustlet.capabilities
        let fixed = Self.fixedFuel(name)
        let trustlet = self.trustlet, call = self.call
        let metered = !Weakening.isOff(.hostCallFuel, at: trustlet.storage.configuration.reeDirectory)
        let answers = layout.function.returnsCode
        let refused: [Value] = answers ? [.i32(ReturnCode.accessDenied.rawValue)] : []
        let function = Function(store: store, parameters: Array(repeating: .i32, count: layout.slotCount), results: answers ? [.i32] : []) { [weak store] caller, args in
            guard capabilities.contains(layout.capability) else { return refused }
            try trustlet.admitHostCall(name)
            if call.cancellation.isAbandoned {
                throw SandboxFault(description: "stopped in tz.\(name): the client is gone, so nobody waits for this call")
            }
            var memory = try Self.memory(caller, name)
            let meter = WorkMeter()
            memory.meter = meter
            let code: ReturnCode
            do {
                code = try body(memory, Arguments(args, layout))
            } catch let error as TrustletError {
                code = error.code
            }
            if let store, metered { try Self.charge(store, fixed &+ meter.bytes, name) }
            return answers ? [.i32(code.rawValue)] : []
        }
        imports.define(module: HostABI.module, name: name, function)
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
        // `log` pays for itself before it keeps the line (logFuel and its bytes).
        case "log": 0
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

/// A function of the table as the runtime calls it: its group and where each argument's slots sit.
struct HostFunctionLayout: Sendable {
    /// A capability no manifest can ask for.
    static let unnamedGroup = Capabilities(rawValue: 1 << 31)
    let function: HostABI.Function
    let capability: Capabilities
    let slotCount: Int
    let arguments: [String: (argument: HostABI.Argument, slot: Int)]

    init(_ function: HostABI.Function) {
        self.function = function
        // A group the manifest cannot name admits no trustlet (never every trustlet).
        capability = function.group.isEmpty ? [] : Capabilities.names.first { $0.0 == function.group }?.1 ?? Self.unnamedGroup
        var arguments: [String: (argument: HostABI.Argument, slot: Int)] = [:]
        var slot = 0
        for argument in function.arguments {
            arguments[argument.name] = (argument, slot)
            slot += argument.slots.count
        }
        self.arguments = arguments
        slotCount = slot
    }
}

/// The arguments of a host call, as unsigned 32-bit values, found by the names `HostABI` gives
/// them. The engine has checked their types against the signature; reading one never traps.
struct Arguments {
    private let values: [Value]
    private let layout: HostFunctionLayout
    init(_ values: [Value], _ layout: HostFunctionLayout) {
        self.values = values
        self.layout = layout
    }

    subscript(_ index: Int) -> UInt32 {
        guard index < values.count, case let .i32(value) = values[index] else { return 0 }
        return value
    }

    /// The argument `name` and its first slot. A name the table does not give this function is
    /// the runtime's own mistake; it ends the session rather than read another argument.
    func locate(_ name: String) throws(SandboxFault) -> (argument: HostABI.Argument, slot: Int) {
        guard let found = layout.arguments[name] else {
            throw SandboxFault(description: "the runtime's tz.\(layout.function.name) has no argument \(name) in HostABI")
        }
        return found
    }

    /// The argument `name`'s first slot, if the table gives it that kind: asking for an input by
    /// an output's name (and reading the wrong slots) ends the session instead.
    func slot(_ name: String, _ kind: Kind) throws(SandboxFault) -> Int {
        let (argument, slot) = try locate(name)
        let actual: Kind = switch argument {
        case .input: .input
        case .area: .area
        case .output: .output
        case .result: .result
        case .value: .value
        }
        guard actual == kind else {
            throw SandboxFault(description: "the runtime read tz.\(layout.function.name)'s argument \(name) as \(kind); HostABI says \(actual)")
        }
        return slot
    }

    enum Kind { case input, area, output, result, value }

    /// A number argument.
    func value(_ name: String) throws(SandboxFault) -> UInt32 { self[try slot(name, .value)] }

    /// The (pointer, length) of input argument `name`.
    func input(_ name: String) throws(SandboxFault) -> (UInt32, UInt32) {
        let slot = try slot(name, .input)
        return (self[slot], self[slot + 1])
    }

    /// The (pointer, length) of area argument `name`.
    func area(_ name: String) throws(SandboxFault) -> (UInt32, UInt32) {
        let slot = try slot(name, .area)
        return (self[slot], self[slot + 1])
    }

    /// The (pointer, capacity, length pointer) of output argument `name`.
    func output(_ name: String) throws(SandboxFault) -> (buffer: UInt32, capacity: UInt32, length: UInt32) {
        let slot = try slot(name, .output)
        return (self[slot], self[slot + 1], self[slot + 2])
    }

    /// What the table says argument `name` is ("an object ID"), for errors.
    func what(_ name: String) throws(SandboxFault) -> String { try locate(name).argument.what }
}

/// What the runtime knows about the entry-point call in progress, for the host functions that
/// need it. Set by the sandbox before each call; touched only by the session's thread.
final class CallContext: @unchecked Sendable {
    /// The current call's cancellation flag; a fresh, never-set one outside `invoke`.
    var cancellation = CallContext.neverCancelled
    static let neverCancelled = Cancellation()
}

extension GuestMemory {
    /// The bytes of input argument `name`.
    func input(_ args: Arguments, _ name: String) throws(SandboxFault) -> [UInt8] {
        let (address, length) = try args.input(name)
        return try read(address, length, try args.what(name))
    }

    /// Runs `body` over the bytes of input argument `name` in place (large inputs to crypto).
    func withInput<R>(_ args: Arguments, _ name: String, _ body: (UnsafeRawBufferPointer) -> R) throws(SandboxFault) -> R {
        let (address, length) = try args.input(name)
        return try withBytes(address, length, try args.what(name), body)
    }

    /// Checks area argument `name` (bytes the runtime fills whole) and gives its length.
    func checkArea(_ args: Arguments, _ name: String) throws(SandboxFault) -> UInt32 {
        let (address, length) = try args.area(name)
        try check(address, length, try args.what(name))
        return length
    }

    /// Fills area argument `name`; `bytes` must be exactly its length.
    func writeArea(_ bytes: [UInt8], _ args: Arguments, _ name: String) throws(SandboxFault) {
        let (address, length) = try args.area(name)
        guard bytes.count == Int(length) else {
            throw SandboxFault(description: "the runtime had \(bytes.count) bytes for \(try args.what(name)) of \(length)")
        }
        try write(address, bytes, try args.what(name))
    }

    /// Checks fixed-size result argument `name`. Functions call it before their work, so a bad
    /// pointer ends the session whatever the work's outcome.
    func checkResult(_ args: Arguments, _ name: String) throws(SandboxFault) {
        let slot = try args.slot(name, .result)
        guard case .result(_, let size, let what) = try args.locate(name).argument else { return }
        try check(args[slot], UInt32(size), what)
    }

    /// Writes fixed-size result argument `name`; `bytes` must be exactly its size.
    func writeResult(_ bytes: [UInt8], _ args: Arguments, _ name: String) throws(SandboxFault) {
        let slot = try args.slot(name, .result)
        guard case .result(_, let size, let what) = try args.locate(name).argument, size == bytes.count else {
            throw SandboxFault(description: "the runtime's result \(name) does not have the size HostABI gives it")
        }
        try write(args[slot], bytes, what)
    }

    func writeResult(_ value: UInt64, _ args: Arguments, _ name: String) throws(SandboxFault) {
        try writeResult((0..<8).map { UInt8((value >> UInt64(8 * $0)) & 0xFF) }, args, name)
    }

    func writeResult(_ value: UInt32, _ args: Arguments, _ name: String) throws(SandboxFault) {
        try writeResult((0..<4).map { UInt8((value >> UInt32(8 * $0)) & 0xFF) }, args, name)
    }

    /// Checks output argument `name` (buffer, capacity, length pointer) and gives its capacity.
    /// Functions call it before their work, so a bad output pointer ends the session whatever
    /// the work's outcome.
    @discardableResult
    func checkOutput(_ args: Arguments, _ name: String) throws(SandboxFault) -> UInt32 {
        let (buffer, capacity, length) = try args.output(name)
        try check(buffer, capacity, try args.what(name))
        try check(length, 4, "the length")
        return capacity
    }

    /// Writes a variable-length result through output argument `name`, with the GP short-buffer
    /// rule: the length is always written, the bytes only if they fit. Every pointer is checked
    /// before anything is written.
    func output(_ bytes: [UInt8], _ args: Arguments, _ name: String) throws(SandboxFault) -> ReturnCode {
        let capacity = try checkOutput(args, name)
        try writeOutputLength(UInt32(clamping: bytes.count), args, name)
        guard bytes.count <= Int(capacity) else { return .shortBuffer }
        try write(try args.output(name).buffer, bytes, try args.what(name))
        return .success
    }

    /// Whether `needed` bytes would not fit output argument `name`; if so, the length the retry
    /// needs is written (GP's short-buffer rule), before any work is done.
    func isShort(_ needed: Int, _ args: Arguments, _ name: String) throws(SandboxFault) -> Bool {
        guard needed > Int(try checkOutput(args, name)) else { return false }
        try writeOutputLength(UInt32(clamping: needed), args, name)
        return true
    }

    /// Answers "this much is needed" through output argument `name` without the bytes.
    func writeOutputLength(_ length: UInt32, _ args: Arguments, _ name: String) throws(SandboxFault) {
        try writeU32(try args.output(name).length, length, "the length")
    }
}
