import TrubiZoneProtocol
import WasmKit

/// The storage and counters groups: the trustlet's sealed objects, and its replay-protected
/// counters.
extension HostAPI {
    /// The longest counter ID a trustlet may use.
    static let maxCounterID = 24

    func defineStorage(_ imports: inout Imports, _ store: Store) {
        let trustlet = self.trustlet
        define(&imports, store, "storage_write") { memory, args in
            let id = try memory.input(args, "id")
            let data = try memory.input(args, "data")
            try sealed { () throws(StorageError) in try trustlet.storage.put(trustlet.namespace, id: id, data: data, quota: trustlet.storageQuota) }
            return .success
        }
        define(&imports, store, "storage_read") { memory, args in
            let id = try memory.input(args, "id")
            try memory.checkOutput(args, "buffer")
            let data = try sealed { () throws(StorageError) in try trustlet.storage.get(trustlet.namespace, id: id) }
            // The whole object was read and opened, whether or not it fits the buffer.
            memory.meter?.bytes += UInt64(data.count)
            return try memory.output(data, args, "buffer")
        }
        define(&imports, store, "storage_delete") { memory, args in
            let id = try memory.input(args, "id")
            try sealed { () throws(StorageError) in try trustlet.storage.delete(trustlet.namespace, id: id) }
            return .success
        }
        // counter_read and counter_increment: the same checks, then read, or read and advance by one.
        for (function, increment) in [("counter_read", false), ("counter_increment", true)] {
            define(&imports, store, function) { memory, args in
                let id = try memory.input(args, "id")
                try memory.checkResult(args, "value")
                guard let name = Self.counterName(trustlet, id) else { return .badParameters }
                guard var value = Self.counterValue(trustlet, name) else { return .storageNotAvailable }
                if increment {
                    guard value < UInt64.max else { return .overflow }
                    if value == 0, !Weakening.isOff(.quotas, at: trustlet.storage.configuration.reeDirectory) {
                        // A new counter: within the manifest's quota of counters.
                        guard let held = try? trustlet.counters.count(prefix: Self.counterPrefix(trustlet)) else { return .storageNotAvailable }
                        guard held < trustlet.limits.counters else {
                            trustlet.secureLog.record(trustlet.name, "a new counter was refused: its quota of \(trustlet.limits.counters) counters is used up",
                                                      share: .init(owner: trustlet.namespace.id + [0], lines: 64))
                            return .outOfMemory
                        }
                    }
                    value += 1
                    guard (try? trustlet.counters.advance(name, to: value, payload: [])) != nil else { return .storageNotAvailable }
                }
                try memory.writeResult(value, args, "value")
                return .success
            }
        }
    }

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
        return counterPrefix(trustlet) + hex(id)
    }

    private static func counterPrefix(_ trustlet: WasmTrustlet) -> String { "trustlet/" + hex(trustlet.namespace.id.prefix(16)) + "/" }
}
