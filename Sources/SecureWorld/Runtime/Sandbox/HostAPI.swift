import Crypto
import TrubiZoneProtocol
import WasmKit

#if canImport(Glibc)
import Glibc
#endif

/// The internal API, as host functions in the wasm module `tz`.
///
/// Each function checks the trustlet's capabilities first (a group outside its manifest answers
/// `TEEC_ERROR_ACCESS_DENIED`), then every pointer and length against the trustlet's memory (a bad
/// one ends the session), then does the work. Results are GP return codes.
struct HostAPI {
    static let functionNames: Set<String> = ["log", "random", "sha256", "storage_write", "storage_read", "storage_delete",
                                             "counter_read", "counter_increment", "time_monotonic", "time_wall"]
    /// The longest counter ID a trustlet may use.
    static let maxCounterID = 24
    /// When this runtime started: the origin of trusted monotonic time.
    static let started = ContinuousClock.now
    /// The longest secure-log message kept; the rest is cut.
    static let maxLogMessage = 1024
    /// The most random bytes one call returns.
    static let maxRandom = 64 * 1024

    let trustlet: WasmTrustlet

    func imports(in store: Store) -> Imports {
        var imports = Imports()
        let trustlet = self.trustlet
        let i32 = ValueType.i32

        imports.define(module: "tz", name: "log", Function(store: store, parameters: [i32, i32]) { caller, args in
            guard trustlet.capabilities.contains(.log) else { return [] }
            let memory = try Self.memory(caller, "log")
            let (address, length) = (Self.u32(args, 0), Self.u32(args, 1))
            try memory.check(address, length, "a message")
            let message = try memory.read(address, min(length, UInt32(Self.maxLogMessage)), "a message")
            trustlet.secureLog.record(trustlet.name, String(decoding: message, as: UTF8.self))
            return []
        })

        imports.define(module: "tz", name: "random", Function(store: store, parameters: [i32, i32], results: [i32]) { caller, args in
            guard trustlet.capabilities.contains(.random) else { return [Self.code(.accessDenied)] }
            let memory = try Self.memory(caller, "random")
            let (address, length) = (Self.u32(args, 0), Self.u32(args, 1))
            try memory.check(address, length, "a buffer")
            guard length <= Self.maxRandom else { return [Self.code(.badParameters)] }
            var generator = SystemRandomNumberGenerator()
            try memory.write(address, (0..<Int(length)).map { _ in UInt8.random(in: 0...255, using: &generator) }, "a buffer")
            return [Self.code(.success)]
        })

        imports.define(module: "tz", name: "sha256", Function(store: store, parameters: [i32, i32, i32], results: [i32]) { caller, args in
            guard trustlet.capabilities.contains(.crypto) else { return [Self.code(.accessDenied)] }
            let memory = try Self.memory(caller, "sha256")
            try memory.check(Self.u32(args, 2), 32, "the digest buffer")
            let digest = try memory.withBytes(Self.u32(args, 0), Self.u32(args, 1), "the data") { Array(SHA256.hash(data: $0)) }
            try memory.write(Self.u32(args, 2), digest, "the digest buffer")
            return [Self.code(.success)]
        })

        imports.define(module: "tz", name: "storage_write", Function(store: store, parameters: [i32, i32, i32, i32], results: [i32]) { caller, args in
            guard trustlet.capabilities.contains(.storage) else { return [Self.code(.accessDenied)] }
            let memory = try Self.memory(caller, "storage_write")
            let id = try memory.read(Self.u32(args, 0), Self.u32(args, 1), "an object ID")
            let data = try memory.read(Self.u32(args, 2), Self.u32(args, 3), "object data")
            return [Self.outcome { () throws(StorageError) in try trustlet.storage.put(trustlet.namespace, id: id, data: data) }]
        })

        imports.define(module: "tz", name: "storage_read", Function(store: store, parameters: [i32, i32, i32, i32, i32], results: [i32]) { caller, args in
            guard trustlet.capabilities.contains(.storage) else { return [Self.code(.accessDenied)] }
            let memory = try Self.memory(caller, "storage_read")
            let id = try memory.read(Self.u32(args, 0), Self.u32(args, 1), "an object ID")
            let (buffer, capacity, lengthAddress) = (Self.u32(args, 2), Self.u32(args, 3), Self.u32(args, 4))
            try memory.check(buffer, capacity, "the read buffer")
            try memory.check(lengthAddress, 4, "the length")
            let data: [UInt8]
            do throws(StorageError) {
                data = try trustlet.storage.get(trustlet.namespace, id: id)
            } catch {
                return [Self.code(error.code)]
            }
            try memory.writeU32(lengthAddress, UInt32(data.count), "the length")
            guard data.count <= Int(capacity) else { return [Self.code(.shortBuffer)] }
            try memory.write(buffer, data, "the read buffer")
            return [Self.code(.success)]
        })

        imports.define(module: "tz", name: "storage_delete", Function(store: store, parameters: [i32, i32], results: [i32]) { caller, args in
            guard trustlet.capabilities.contains(.storage) else { return [Self.code(.accessDenied)] }
            let memory = try Self.memory(caller, "storage_delete")
            let id = try memory.read(Self.u32(args, 0), Self.u32(args, 1), "an object ID")
            return [Self.outcome { () throws(StorageError) in try trustlet.storage.delete(trustlet.namespace, id: id) }]
        })
        // counter_read(id, idLength, value*) and counter_increment(id, idLength, value*): the same
        // checks, then read, or read and advance by one.
        for (function, increment) in [("counter_read", false), ("counter_increment", true)] {
            imports.define(module: "tz", name: function, Function(store: store, parameters: [i32, i32, i32], results: [i32]) { caller, args in
                guard trustlet.capabilities.contains(.counters) else { return [Self.code(.accessDenied)] }
                let memory = try Self.memory(caller, function)
                let id = try memory.read(Self.u32(args, 0), Self.u32(args, 1), "a counter ID")
                try memory.check(Self.u32(args, 2), 8, "the value")
                guard let name = Self.counterName(trustlet, id) else { return [Self.code(.badParameters)] }
                guard var value = Self.counterValue(trustlet, name) else { return [Self.code(.storageNotAvailable)] }
                if increment {
                    guard value < UInt64.max else { return [Self.code(.overflow)] }
                    value += 1
                    guard (try? trustlet.counters.advance(name, to: value, payload: [])) != nil else { return [Self.code(.storageNotAvailable)] }
                }
                try memory.writeU64(Self.u32(args, 2), value, "the value")
                return [Self.code(.success)]
            })
        }

        imports.define(module: "tz", name: "time_monotonic", Function(store: store, parameters: [i32], results: [i32]) { caller, args in
            guard trustlet.capabilities.contains(.time) else { return [Self.code(.accessDenied)] }
            let memory = try Self.memory(caller, "time_monotonic")
            // Read the origin first: a lazily initialized static read after `now` would be later
            // than it, and the runtime must never trap on arithmetic a guest can trigger.
            let origin = Self.started
            let elapsed = ContinuousClock.now - origin
            let seconds = UInt64(clamping: max(0, elapsed.components.seconds))
            let nanoseconds = seconds &* 1_000_000_000 &+ UInt64(clamping: max(0, elapsed.components.attoseconds / 1_000_000_000))
            try memory.writeU64(Self.u32(args, 0), nanoseconds, "the time")
            return [Self.code(.success)]
        })

        imports.define(module: "tz", name: "time_wall", Function(store: store, parameters: [i32], results: [i32]) { caller, args in
            guard trustlet.capabilities.contains(.time) else { return [Self.code(.accessDenied)] }
            let memory = try Self.memory(caller, "time_wall")
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            try memory.writeU64(Self.u32(args, 0), UInt64(clamping: max(0, now.tv_sec)), "the time")
            return [Self.code(.success)]
        })
        return imports
    }

    // MARK: Helpers

    /// A counter's value (0 if never advanced); `nil` if the store cannot be read.
    private static func counterValue(_ trustlet: WasmTrustlet, _ name: String) -> UInt64? {
        do throws(CounterError) {
            return try trustlet.counters.read(name)?.value ?? 0
        } catch {
            return nil
        }
    }

    /// A trustlet's counter, in the replay-protected store: bound to its signer and UUID like its
    /// storage, so no other trustlet (or signer) reaches it.
    private static func counterName(_ trustlet: WasmTrustlet, _ id: [UInt8]) -> String? {
        guard !id.isEmpty, id.count <= maxCounterID else { return nil }
        return "trustlet/" + hex(trustlet.namespace.id.prefix(16)) + "/" + hex(id)
    }

    private static func memory(_ caller: borrowing Caller, _ function: String) throws -> GuestMemory {
        guard let memory = caller.instance?.exports[memory: "memory"] else {
            throw SandboxFault(description: "tz.\(function) was called by a module without memory")
        }
        return GuestMemory(memory: memory, function: function)
    }

    /// The engine has checked the argument types against the signature; this never traps anyway.
    private static func u32(_ args: [Value], _ index: Int) -> UInt32 {
        guard index < args.count, case let .i32(value) = args[index] else { return 0 }
        return value
    }

    private static func code(_ code: ReturnCode) -> Value { .i32(code.rawValue) }

    private static func outcome(_ body: () throws(StorageError) -> Void) -> Value {
        do throws(StorageError) {
            try body()
            return code(.success)
        } catch {
            return code(error.code)
        }
    }
}
