import Synchronization

/// The secure world's own log: what trustlets write with `SecureLog.write`, and the runtime's
/// diagnostics about trustlets (traps, budget overruns). It never reaches the normal world's logs;
/// on a device it would live in secure storage. This one keeps the newest entries in memory.
public final class SecureLogBook: Sendable {
    public struct Entry: Sendable {
        public let trustlet: String
        public let message: String
    }

    private let entries = Mutex<[Entry]>([])
    private let capacity: Int

    public init(capacity: Int = 4096) { self.capacity = capacity }

    public func record(_ trustlet: String, _ message: String) {
        entries.withLock {
            $0.append(Entry(trustlet: trustlet, message: String(message.prefix(1024))))
            if $0.count > capacity { $0.removeFirst($0.count - capacity) }
        }
    }

    /// The entries, oldest first.
    public var all: [Entry] { entries.withLock { $0 } }
}
