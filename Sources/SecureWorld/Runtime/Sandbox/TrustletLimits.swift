/// The resources one trustlet may use. A package's manifest asks for them, the trust policy caps
/// what each signer's trustlets may ask for, and these defaults apply where the manifest is silent.
///
/// Memory, fuel and stack bound one session; sessions bound how many run at once; the quotas
/// bound what the trustlet keeps in the secure world across sessions and restarts.
public struct TrustletLimits: Sendable, Equatable {
    /// Linear memory, in 64 KiB pages.
    public var memoryPages: Int
    /// Fuel (about one WebAssembly instruction each) per entry-point call.
    public var fuelPerCall: UInt64
    /// The interpreter's call stack, in bytes.
    public var stackSize: Int
    /// Sessions of this trustlet open at once.
    public var maxSessions: Int
    /// Bytes of data in its sealed objects and keys together (`TEE_ERROR_STORAGE_NO_SPACE` beyond).
    public var sealedBytes: Int
    /// Sealed objects and keys together (`TEE_ERROR_STORAGE_NO_SPACE` beyond, as GP answers a
    /// persistent object that cannot be created).
    public var objects: Int
    /// Replay-protected counters (`TEEC_ERROR_OUT_OF_MEMORY` beyond: counter slots are scarce
    /// hardware, as RPMB's are).
    public var counters: Int
    /// Lines it keeps in the secure log: its own share, which no other trustlet's lines push out.
    /// Beyond it, its oldest lines go (a log keeps its newest lines).
    public var logLines: Int

    public init(memoryPages: Int = 64, fuelPerCall: UInt64 = 200_000_000, stackSize: Int = 256 * 1024, maxSessions: Int = 16,
                sealedBytes: Int = 64 << 20, objects: Int = 4096, counters: Int = 64, logLines: Int = 256) {
        self.memoryPages = memoryPages
        self.fuelPerCall = fuelPerCall
        self.stackSize = stackSize
        self.maxSessions = maxSessions
        self.sealedBytes = sealedBytes
        self.objects = objects
        self.counters = counters
        self.logLines = logLines
    }

    /// What a trust policy lets a signer's trustlets ask for when it says nothing else.
    public static let defaultCaps = TrustletLimits(memoryPages: 512, fuelPerCall: 20_000_000_000, maxSessions: 16,
                                                   sealedBytes: 256 << 20, objects: 16_384, counters: 256, logLines: 1024)

    /// The limits, each with its manifest name, as `(name, value, cap)`; for checks and messages.
    func named(capped caps: TrustletLimits) -> [(String, UInt64, UInt64)] {
        [("memoryPages", UInt64(memoryPages), UInt64(caps.memoryPages)), ("fuelPerCall", fuelPerCall, caps.fuelPerCall),
         ("maxSessions", UInt64(maxSessions), UInt64(caps.maxSessions)), ("sealedBytes", UInt64(sealedBytes), UInt64(caps.sealedBytes)),
         ("objects", UInt64(objects), UInt64(caps.objects)), ("counters", UInt64(counters), UInt64(caps.counters)),
         ("logLines", UInt64(logLines), UInt64(caps.logLines))]
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
