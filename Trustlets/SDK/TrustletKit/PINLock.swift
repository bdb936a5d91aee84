/// A PIN kept in sealed storage, with its attempts counted where no rollback reaches them.
///
/// The PIN itself is a salted HMAC in a sealed object. Attempts are counted in two
/// replay-protected counters — attempts made and attempts settled by a right PIN — and an attempt
/// is on record *before* the PIN is compared, so neither killing the secure world after a wrong
/// guess nor restoring old normal-world files gives one back. Wrong PINs in a row are
/// `attempts − settled`; at `maxAttempts` the lock holds until the trustlet erases the PIN.
/// Optionally, after some wrong PINs the next attempt must wait, counted from the last attempt on
/// the secure world's monotonic clock, which the normal world cannot set (its wall clock it can).
/// The attempt's time is sealed *before* the attempt is counted, so a kill at any step costs at
/// most the attempt in flight and never leaves a counted attempt without a time to wait from.
/// The monotonic clock starts again at every boot; an attempt timed in an earlier boot is treated
/// as made at this boot's start, so a restart never shortens a wait.
///
///     let lock = PINLock(name: "pin", maxAttempts: 5, waits: [0, 0, 1, 2, 4])
///     try lock.ready()                                  // security when locked, busy while waiting
///     let pin = try TrustedUI.readPIN("Enter your PIN.")
///     guard try lock.attempt(pin) else { throw .accessDenied }
public struct PINLock {
    /// GP `TEE_ERROR_BUSY`: the next attempt must wait.
    public static let busy = TrustletError.busy

    public let maxAttempts: UInt64
    /// Seconds to wait before the next attempt after `index` wrong PINs in a row (none beyond the list).
    public let waits: [UInt64]
    let object: [UInt8]
    let failureObject: [UInt8]
    /// Where the lock of an earlier TrustletKit kept the wall-clock time of the last failure.
    let legacyFailureObject: [UInt8]
    let attemptsCounter: [UInt8]
    let settledCounter: [UInt8]
    /// Where the `pinCounters` negative control (test builds) counts wrong PINs: a sealed object,
    /// which a rollback of the REE reaches.
    let countObject: [UInt8]

    /// - Parameter name: names the sealed objects and counters (`name`, `name-attempts`, …); 1 to 12 bytes.
    public init(name: String = "pin", maxAttempts: UInt64 = 5, waits: [UInt64] = []) {
        object = Bytes.utf8(name)
        failureObject = Bytes.utf8(name + "-tried")
        legacyFailureObject = Bytes.utf8(name + "-failure")
        attemptsCounter = Bytes.utf8(name + "-attempts")
        settledCounter = Bytes.utf8(name + "-settled")
        countObject = Bytes.utf8(name + "-count")
        self.maxAttempts = maxAttempts
        self.waits = waits
    }

    public func isSet() throws(TrustletError) -> Bool { try SecureStorage.read(object) != nil }

    /// Keeps a new PIN (as salt ‖ HMAC-SHA256(salt, PIN)) and clears the wrong attempts.
    public func set(_ pin: [UInt8]) throws(TrustletError) {
        let salt = try Random.bytes(16)
        try SecureStorage.write(object, salt + (try Crypto.hmacSHA256(key: salt, data: pin)))
        try settle()
    }

    /// Asks for a new PIN twice on the trusted UI and keeps it when both agree.
    /// - Throws: `cancel` (after showing `mismatch`) when they differ.
    public func choose(prompt: String, mismatch: String) throws(TrustletError) {
        let pin = try TrustedUI.readPIN(prompt)
        let again = try TrustedUI.readPIN("Enter the same PIN again.")
        guard Crypto.equalInConstantTime(pin, again) else {
            try TrustedUI.show(mismatch)
            throw .cancel
        }
        try set(pin)
    }

    /// Erases the PIN and clears the wrong attempts.
    public func clear() throws(TrustletError) {
        for id in [object, failureObject, legacyFailureObject] {
            do throws(TrustletError) { try SecureStorage.delete(id) } catch where error == .itemNotFound {}
        }
        try settle()
    }

    public func wrongAttempts() throws(TrustletError) -> UInt64 {
        if weakened("pinCounters") { return try sealedCount() }
        let attempts = try MonotonicCounter.read(attemptsCounter)
        let settled = try MonotonicCounter.read(settledCounter)
        return attempts > settled ? attempts - settled : 0
    }

    public func attemptsLeft(_ wrong: UInt64) -> UInt64 { wrong >= maxAttempts ? 0 : maxAttempts - wrong }

    /// Seconds until the next attempt is allowed (0: now).
    public func waitSeconds() throws(TrustletError) -> UInt64 {
        let wrong = try wrongAttempts()
        guard wrong < maxAttempts, wrong < UInt64(waits.count), waits[Int(wrong)] > 0 else { return 0 }
        let delay = waits[Int(wrong)]
        let now = try TrustedTime.monotonicNanoseconds()
        guard let stored = try SecureStorage.read(failureObject), stored.count == 8, let tried = Bytes.readUInt64(stored) else {
            // A counted attempt with no time on record (a lock kept by an earlier TrustletKit,
            // which timed failures on the wall clock): the wait starts now.
            try SecureStorage.write(failureObject, Bytes.bigEndian(now))
            return delay
        }
        // Within one boot, now − tried is the time since the attempt. A time later than now was
        // taken in an earlier boot, and the time since this boot began (now) is less than the
        // time since that attempt. Either way the wait is never shorter than the truth.
        let elapsed = (now >= tried ? now - tried : now) / 1_000_000_000
        return elapsed >= delay ? 0 : delay - elapsed
    }

    /// Checks that an attempt may be made now: call it before asking for the PIN.
    /// - Throws: `itemNotFound` without a PIN, `security` when locked, `busy` while a wait runs.
    public func ready() throws(TrustletError) {
        guard try isSet() else { throw .itemNotFound }
        if weakened("pinLock") { return }
        guard try wrongAttempts() < maxAttempts else { throw .security }
        guard try waitSeconds() == 0 else { throw Self.busy }
    }

    /// Counts an attempt, then compares the PIN in constant time.
    /// - Returns: whether it was right; a right PIN clears the wrong attempts.
    public func attempt(_ pin: [UInt8]) throws(TrustletError) -> Bool {
        try ready()
        guard let stored = try SecureStorage.read(object), stored.count == 48 else { throw .corruptObject }
        // The attempt's time, then the attempt, are on record before its outcome is known.
        if !waits.isEmpty { try SecureStorage.write(failureObject, Bytes.bigEndian(try TrustedTime.monotonicNanoseconds())) }
        if weakened("pinCounters") { try SecureStorage.write(countObject, Bytes.bigEndian(try sealedCount() + 1)) } else {
            _ = try MonotonicCounter.increment(attemptsCounter)
        }
        let salt = Array(stored[0..<16])
        guard Crypto.equalInConstantTime(try Crypto.hmacSHA256(key: salt, data: pin), Array(stored[16..<48])) else {
            return false
        }
        try settle()
        return true
    }

    /// Brings the settled count up to the attempts made (at most `maxAttempts` steps).
    public func settle() throws(TrustletError) {
        if weakened("pinCounters") { return try SecureStorage.write(countObject, Bytes.bigEndian(UInt64(0))) }
        let attempts = try MonotonicCounter.read(attemptsCounter)
        var settled = try MonotonicCounter.read(settledCounter)
        while settled < attempts { settled = try MonotonicCounter.increment(settledCounter) }
    }

    private func sealedCount() throws(TrustletError) -> UInt64 {
        guard let stored = try SecureStorage.read(countObject), stored.count == 8 else { return 0 }
        return Bytes.readUInt64(stored) ?? 0
    }
}
