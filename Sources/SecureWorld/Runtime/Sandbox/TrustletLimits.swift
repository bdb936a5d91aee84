/// The resources one trustlet session may use. A package's manifest sets them; these defaults
/// apply where it does not.
public struct TrustletLimits: Sendable, Equatable {
    /// Linear memory, in 64 KiB pages.
    public var memoryPages: Int
    /// Fuel (about one WebAssembly instruction each) per entry-point call.
    public var fuelPerCall: UInt64
    /// The interpreter's call stack, in bytes.
    public var stackSize: Int
    /// Sessions of this trustlet open at once.
    public var maxSessions: Int

    public init(memoryPages: Int = 64, fuelPerCall: UInt64 = 200_000_000, stackSize: Int = 256 * 1024, maxSessions: Int = 16) {
        self.memoryPages = memoryPages
        self.fuelPerCall = fuelPerCall
        self.stackSize = stackSize
        self.maxSessions = maxSessions
    }
}

/// The internal-API groups a trustlet may call; a call outside its manifest's groups answers
/// `TEEC_ERROR_ACCESS_DENIED`.
public struct Capabilities: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let storage = Capabilities(rawValue: 1 << 0)
    public static let crypto = Capabilities(rawValue: 1 << 1)
    public static let random = Capabilities(rawValue: 1 << 2)
    public static let log = Capabilities(rawValue: 1 << 3)
    public static let counters = Capabilities(rawValue: 1 << 4)
    public static let time = Capabilities(rawValue: 1 << 5)
    /// Keys held by the runtime: generate, public key, sign, AEAD and HPKE open.
    public static let keys = Capabilities(rawValue: 1 << 6)
    /// The trusted UI: show, confirm, read a PIN.
    public static let ui = Capabilities(rawValue: 1 << 7)
    /// Attestation tokens for the trustlet, signed by the device.
    public static let attestation = Capabilities(rawValue: 1 << 8)

    public static let all: Capabilities = [.storage, .crypto, .random, .log, .counters, .time, .keys, .ui, .attestation]

    /// The manifest's names for the groups.
    public static let names: [(String, Capabilities)] = [
        ("storage", .storage), ("crypto", .crypto), ("random", .random), ("log", .log), ("counters", .counters), ("time", .time),
        ("keys", .keys), ("ui", .ui), ("attestation", .attestation),
    ]
}
