/// Replay-protected monotonic counters, the stand-in for eMMC RPMB.
///
/// Each counter carries a small payload written atomically with its value, so a counter can anchor
/// a state root (sealed storage keeps its namespace digest there). A counter only moves forward.
public protocol MonotonicCounterStore: Sendable {
    /// The current record, or `nil` for a counter never advanced.
    func read(_ name: String) throws(CounterError) -> CounterRecord?
    /// Moves a counter forward and stores `payload` with it, atomically and durably.
    /// - Throws: `CounterError.notMonotonic` when `value` is not above the current value.
    func advance(_ name: String, to value: UInt64, payload: [UInt8]) throws(CounterError)
    /// Every counter's name and value, sorted by name (for `device info`; payloads stay inside).
    func values() throws(CounterError) -> [(name: String, value: UInt64)]
    /// How many counters have names starting with `prefix` (for a trustlet's quota).
    func count(prefix: String) throws(CounterError) -> Int
}

extension MonotonicCounterStore {
    public func count(prefix: String) throws(CounterError) -> Int {
        try values().count { $0.name.hasPrefix(prefix) }
    }
}

public struct CounterRecord: Equatable, Sendable {
    public var value: UInt64
    public var payload: [UInt8]
    public init(value: UInt64, payload: [UInt8]) {
        self.value = value
        self.payload = payload
    }
}

public enum CounterError: Error, Equatable, Sendable, CustomStringConvertible {
    case notMonotonic(name: String, current: UInt64, attempted: UInt64)
    case nameTooLong(String)
    case payloadTooLarge(Int)
    /// Neither copy of a counter record authenticates: the secure state itself is damaged.
    case corrupt(name: String)
    case io(String)

    public var description: String {
        switch self {
        case let .notMonotonic(name, current, attempted):
            "counter \(name) is at \(current); it cannot move to \(attempted)"
        case let .nameTooLong(name): "counter name too long: \(name)"
        case let .payloadTooLarge(n): "counter payload of \(n) bytes is too large"
        case let .corrupt(name): "replay-protected counter \(name) is damaged in the secure state"
        case let .io(message): "replay-protected counter storage: \(message)"
        }
    }
}
