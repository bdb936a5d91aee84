import TrubiZoneProtocol
import TrubiZoneWire
@_spi(Fuzzing) import WasmKit

/// One instance of a wasm trustlet: its store, memory and entry points. Not thread-safe; its
/// session serializes every call.
final class Sandbox {
    enum Outcome {
        /// The entry point returned this GP code and these output parameters.
        case completed(ReturnCode, [ReplyParameter])
        /// The instance faulted and is gone.
        case died(TrustletError)
    }

    private let trustlet: WasmTrustlet
    private let store: Store
    private let instance: Instance
    private let memory: Memory
    private let cap: MemoryCap
    private let context = CallContext()
    /// The parameter block, allocated in guest memory once per instance and reused by every call.
    private var block: UInt32 = 0
    private let entry: (create: Function, open: Function, invoke: Function, close: Function, alloc: Function, free: Function)

    /// Instantiates the module and runs its create entry point (`TA_CreateEntryPoint`).
    init(trustlet: WasmTrustlet) throws(TrustletError) {
        self.trustlet = trustlet
        let engine = Engine(configuration: EngineConfiguration(stackSize: trustlet.limits.stackSize, fuelMetering: true))
        store = Store(engine: engine)
        cap = MemoryCap(maxBytes: trustlet.limits.memoryPages * 65536)
        // WasmKit SPI (pinned at 0.4.2 in Package.swift; the memory-bomb test fails if it stops working).
        store.resourceLimiter = cap
        store.fuel = Fuel(remaining: trustlet.limits.fuelPerCall)
        let imports = HostAPI(trustlet: trustlet, call: context).imports(in: store)
        do {
            instance = try trustlet.module.instantiate(store: store, imports: imports)
        } catch {
            throw trustlet.died(error, in: "instantiation")
        }
        guard let memory = instance.exports[memory: "memory"],
              let main = instance.exports[function: "__main_argc_argv"],
              let create = instance.exports[function: "tz_create"], let open = instance.exports[function: "tz_open_session"],
              let invoke = instance.exports[function: "tz_invoke"], let close = instance.exports[function: "tz_close_session"],
              let alloc = instance.exports[function: "tz_alloc"], let free = instance.exports[function: "tz_free"]
        else { throw TrustletError(.targetDead, "\(trustlet.name) lacks a TrustletKit entry point") }
        self.memory = memory
        entry = (create, open, invoke, close, alloc, free)
        do {
            // `@main` registers the trustlet type; then GP's create entry point.
            _ = try call(main, [.i32(0), .i32(0)])
            let code = try result(try call(create, []))
            guard code == .success else { throw TrustletError(code, "\(trustlet.name) refused to start: \(code.name)") }
        } catch let error as TrustletError {
            throw error
        } catch {
            throw trustlet.died(error, in: "create")
        }
    }

    func openSession(_ parameters: inout TrustletParameters) throws(TrustletError) {
        switch call(entry.open, name: "open session", parameters.request, command: nil) {
        case let .completed(code, reply):
            parameters.reply = reply
            if code != .success { throw TrustletError(code, "\(trustlet.name) refused the session: \(code.name)") }
        case let .died(error):
            throw error
        }
    }

    func invoke(command: UInt32, _ parameters: Parameters, cancellation: Cancellation) -> Outcome {
        context.cancellation = cancellation
        defer { context.cancellation = CallContext.neverCancelled }
        return call(entry.invoke, name: "invoke", parameters, command: command)
    }

    /// `TA_CloseSessionEntryPoint`; a fault here is logged and otherwise ignored (the session is
    /// ending anyway).
    func closeSession() {
        do {
            _ = try call(entry.close, [])
        } catch {
            _ = trustlet.died(error, in: "close session")
        }
    }

    // MARK: Calls

    /// Calls an entry point with fresh fuel (`refuel: false`: from the budget of the call in
    /// progress, as the allocations around an invoke do).
    private func call(_ function: Function, _ arguments: [Value], refuel: Bool = true) throws -> [Value] {
        if refuel { store.fuel = Fuel(remaining: trustlet.limits.fuelPerCall) }
        cap.refused = false
        return try function.invoke(arguments)
    }

    /// The most fuel a `tz_free` after an invoke gets: the invoke may have spent its budget, and a
    /// free must still run (a hostile one cannot do much with this).
    static let freeFuel: UInt64 = 1_000_000

    private func result(_ values: [Value]) throws -> ReturnCode {
        guard values.count == 1, case let .i32(code) = values[0] else {
            throw SandboxFault(description: "an entry point returned \(values) instead of a result code")
        }
        return ReturnCode(rawValue: code)
    }

    /// Places the parameters in guest memory, calls the entry point, and reads the outputs back.
    /// The runtime keeps its own record of every buffer; from the guest it takes only the sizes
    /// and values it wrote, checked against those records.
    private func call(_ function: Function, name: String, _ parameters: Parameters, command: UInt32?) -> Outcome {
        var allocations: [UInt32] = []
        defer {
            for address in allocations {
                store.fuel = Fuel(remaining: min(Self.freeFuel, trustlet.limits.fuelPerCall))
                _ = try? call(entry.free, [.i32(address)], refuel: false)
            }
        }
        // One budget for the whole call: the allocations for its parameters and the entry point.
        store.fuel = Fuel(remaining: trustlet.limits.fuelPerCall)
        do {
            let guest = GuestMemory(memory: memory, function: "parameters")
            func allocate(_ size: Int) throws -> UInt32? {
                guard size <= Int(Int32.max) else { return nil }
                let address = try result(try call(entry.alloc, [.i32(UInt32(size))], refuel: false)).rawValue
                guard address != 0 else { return nil }
                try guest.check(address, UInt32(size), "a parameter buffer")
                allocations.append(address)
                return address
            }
            if block == 0 {
                let address = try result(try call(entry.alloc, [.i32(64)], refuel: false)).rawValue
                guard address != 0 else { return .completed(.outOfMemory, []) }
                try guest.check(address, 64, "the parameter block")
                block = address
            }
            let block = self.block
            var layout: [(type: GPParameterType, address: UInt32, capacity: UInt32)] = []
            layout.reserveCapacity(4)
            var words = [UInt32](repeating: 0, count: 16)
            for (index, slot) in parameters.slots.enumerated() {
                var address: UInt32 = 0, capacity: UInt32 = 0
                words[index * 4] = UInt32(slot.typeCode)
                switch slot {
                case .none, .valueOutput:
                    break
                case let .valueInput(a, b), let .valueInout(a, b):
                    words[index * 4 + 1] = a
                    words[index * 4 + 2] = b
                case let .memrefInput(bytes):
                    capacity = UInt32(bytes.count)
                case let .memrefOutput(requested), let .memrefInout(_, requested):
                    capacity = requested
                }
                if slot.type.isMemoryReference {
                    guard let buffer = try allocate(max(Int(capacity), 1)) else { return .completed(.outOfMemory, []) }
                    address = buffer
                    switch slot {
                    case let .memrefInput(bytes), let .memrefInout(bytes, _):
                        try guest.write(buffer, bytes, "input")
                        words[index * 4 + 2] = UInt32(bytes.count)
                    default:
                        break
                    }
                    words[index * 4 + 1] = buffer
                    words[index * 4 + 3] = capacity
                }
                layout.append((slot.type, address, capacity))
            }
            // One write for the whole block (little-endian words, as the guest reads them).
            try guest.write(block, words.withUnsafeBytes { Array($0) }, "the parameter block")

            let arguments: [Value] = command.map { [.i32($0), .i32(block)] } ?? [.i32(block)]
            let code = try result(try call(function, arguments, refuel: false))

            var reply: [ReplyParameter] = []
            for (index, slot) in layout.enumerated() {
                let base = block + UInt32(index * 16)
                switch slot.type {
                case .valueOutput, .valueInout:
                    reply.append(.value(a: try guest.readU32(base + 4, "the parameter block"), b: try guest.readU32(base + 8, "the parameter block")))
                case .memrefOutput, .memrefInout:
                    let size = try guest.readU32(base + 8, "the parameter block")
                    if size > slot.capacity {
                        reply.append(.memref(size: size, bytes: []))
                    } else {
                        reply.append(.memref(size: size, bytes: try guest.read(slot.address, size, "output")))
                    }
                default:
                    reply.append(.none)
                }
            }
            return .completed(code, reply)
        } catch {
            return .died(trustlet.died(error, in: name, memoryFull: cap.refused))
        }
    }
}

/// Refuses memory growth beyond the trustlet's limit; the guest sees `memory.grow` fail.
final class MemoryCap: ResourceLimiter, @unchecked Sendable {
    let maxBytes: Int
    /// Whether a growth was refused since the last reset: a trap after that is almost always the
    /// guest failing to allocate. Touched only by the sandbox's thread.
    var refused = false
    init(maxBytes: Int) { self.maxBytes = maxBytes }
    func limitMemoryGrowth(to desired: Int) throws -> Bool {
        if desired > maxBytes { refused = true }
        return desired <= maxBytes
    }
    func limitTableGrowth(to desired: Int) throws -> Bool { desired <= 10_000 }
}
