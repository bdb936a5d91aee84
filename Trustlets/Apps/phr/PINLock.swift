import TrustletKit

/// The patient's PIN: chosen and entered on the trusted UI only, kept as a salted HMAC.
///
/// Every attempt is counted in replay-protected counters *before* the PIN is compared, so neither
/// killing the secure world after a wrong guess nor restoring old normal-world files gives an
/// attempt back. From the second wrong PIN in a row the next attempt must wait (1, 2, then 4
/// seconds after the last failure, whose time is kept in sealed storage); the fifth locks the
/// record until it is reset.
enum PINLock {
    static let maxAttempts: UInt64 = 5
    static let pinObject = Bytes.utf8("pin")            // salt (16) ‖ HMAC-SHA256(salt, PIN)
    static let failureObject = Bytes.utf8("pin-failure") // the wall-clock second of the last wrong PIN
    static let attemptsCounter = Bytes.utf8("pin-attempts")
    static let settledCounter = Bytes.utf8("pin-settled")
    /// GP `TEE_ERROR_BUSY`: try again later.
    static let busy = TrustletError(code: 0xFFFF_000D)

    static func isSet() throws(TrustletError) -> Bool { try SecureStorage.read(pinObject) != nil }

    static func choose() throws(TrustletError) {
        let pin = try TrustedUI.readPIN("Choose a PIN for your health record (4 to 16 digits).")
        let again = try TrustedUI.readPIN("Enter the same PIN again.")
        guard Crypto.equalInConstantTime(pin, again) else {
            try TrustedUI.show("The PINs differ; no PIN was set.")
            throw .cancel
        }
        let salt = Random.bytes(16)
        try SecureStorage.write(pinObject, salt + (try Crypto.hmacSHA256(key: salt, data: pin)))
        try settle()
        try TrustedUI.show("Your PIN is set.")
    }

    /// Asks for the PIN and compares it, counting the attempt first.
    static func check(purpose: String) throws(TrustletError) {
        guard let stored = try SecureStorage.read(pinObject), stored.count == 48 else {
            try TrustedUI.show("No PIN is set yet. Set one first.")
            throw .badState
        }
        let wrong = try wrongAttempts()
        guard wrong < maxAttempts else {
            try TrustedUI.show("Locked after " + Bytes.decimal(maxAttempts) + " wrong PINs. Reset the health record to use it again.")
            throw .security
        }
        let wait = try waitSeconds()
        guard wait == 0 else {
            try TrustedUI.show("Too many wrong PINs. Try again in " + Bytes.decimal(wait) + " s.")
            throw busy
        }
        let pin = try TrustedUI.readPIN(purpose + " Attempts left: " + Bytes.decimal(attemptsLeft(wrong)) + ".")
        // The attempt is on record before its outcome is known.
        _ = try MonotonicCounter.increment(attemptsCounter)
        let salt = Array(stored[0..<16])
        guard Crypto.equalInConstantTime(try Crypto.hmacSHA256(key: salt, data: pin), Array(stored[16..<48])) else {
            try SecureStorage.write(failureObject, Bytes.bigEndian(try TrustedTime.wallClockSeconds()))
            try AuditChain.append("pin-wrong", detail: "")
            let left = attemptsLeft(wrong + 1)
            try TrustedUI.show(left == 0 ? "Wrong PIN. The health record is now locked." : "Wrong PIN. Attempts left: " + Bytes.decimal(left) + ".")
            throw .accessDenied
        }
        try settle()
    }

    static func wrongAttempts() throws(TrustletError) -> UInt64 {
        let attempts = try MonotonicCounter.read(attemptsCounter)
        let settled = try MonotonicCounter.read(settledCounter)
        return attempts > settled ? attempts - settled : 0
    }

    static func attemptsLeft(_ wrong: UInt64) -> UInt64 { wrong >= maxAttempts ? 0 : maxAttempts - wrong }

    /// Seconds until the next attempt is allowed: 0, then 1, 2, 4 after the 2nd, 3rd, 4th wrong PIN.
    static func waitSeconds() throws(TrustletError) -> UInt64 {
        let wrong = try wrongAttempts()
        guard wrong >= 2, wrong < maxAttempts else { return 0 }
        let delay: UInt64 = 1 << (wrong - 2)
        guard let stored = try SecureStorage.read(failureObject), stored.count == 8 else { return delay }
        var failed: UInt64 = 0
        for byte in stored { failed = failed << 8 | UInt64(byte) }
        let now = try TrustedTime.wallClockSeconds()
        // A clock set back does not shorten the wait.
        guard now >= failed else { return delay }
        return now - failed >= delay ? 0 : delay - (now - failed)
    }

    /// Brings the settled count up to the attempts made (at most `maxAttempts` steps).
    static func settle() throws(TrustletError) {
        let attempts = try MonotonicCounter.read(attemptsCounter)
        var settled = try MonotonicCounter.read(settledCounter)
        while settled < attempts { settled = try MonotonicCounter.increment(settledCounter) }
    }
}
