import Synchronization

/// The secure world's own log: what trustlets write with `SecureLog.write`, and the runtime's
/// diagnostics about trustlets (traps, budget overruns). It never reaches the normal world's logs;
/// on a device it would live in secure storage. This one keeps the newest entries in memory.
///
/// Each trustlet has its own share of lines, so a trustlet that logs without end pushes out only
/// its own older lines, never another trustlet's or the runtime's.
public final class SecureLogBook: Sendable {
    public struct Entry: Sendable {
        public let trustlet: String
        public let message: String
    }

    /// A trustlet's share: whose lines (its namespace ID, which no other trustlet has) and how many.
    public struct Share: Sendable {
        let owner: [UInt8]
        let lines: Int
    }

    private struct Book {
        var next: UInt64 = 0
        /// The runtime's own lines, and those of trustlets without a share.
        var shared: [(UInt64, Entry)] = []
        var owned: [[UInt8]: [(UInt64, Entry)]] = [:]
    }

    private let book = Mutex(Book())
    private let capacity: Int

    public init(capacity: Int = 4096) { self.capacity = capacity }

    public func record(_ trustlet: String, _ message: String, share: Share? = nil) {
        let entry = Entry(trustlet: trustlet, message: String(message.prefix(1024)))
        book.withLock { book in
            book.next += 1
            if let share {
                book.owned[share.owner, default: []].append((book.next, entry))
                if book.owned[share.owner]!.count > share.lines { book.owned[share.owner]!.removeFirst(book.owned[share.owner]!.count - share.lines) }
            } else {
                book.shared.append((book.next, entry))
                if book.shared.count > capacity { book.shared.removeFirst(book.shared.count - capacity) }
            }
        }
    }

    /// The entries, oldest first.
    public var all: [Entry] {
        book.withLock { book in (book.shared + book.owned.values.joined()).sorted { $0.0 < $1.0 }.map(\.1) }
    }
}
