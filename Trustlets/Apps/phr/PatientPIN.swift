import TrustletKit

/// The patient's PIN: chosen and entered on the trusted UI only. TrustletKit's `PINLock` counts
/// every attempt in replay-protected counters before comparing it; from the second wrong PIN in a
/// row the next attempt waits 1, 2, then 4 seconds after the last failure, and the fifth locks the
/// record until it is reset.
enum PatientPIN {
    static let lock = PINLock(name: "pin", maxAttempts: 5, waits: [0, 0, 1, 2, 4])

    static func choose() throws(TrustletError) {
        try lock.choose(prompt: "Choose a PIN for your health record (4 to 16 digits).", mismatch: "The PINs differ; no PIN was set.")
        try TrustedUI.show("Your PIN is set.")
    }

    /// Asks for the PIN and compares it; the attempt counts whatever happens next.
    static func check(purpose: String) throws(TrustletError) {
        do throws(TrustletError) {
            try lock.ready()
        } catch where error == .itemNotFound {
            try TrustedUI.show("No PIN is set yet. Set one first.")
            throw .badState
        } catch where error == .security {
            try TrustedUI.show("Locked after " + Bytes.decimal(lock.maxAttempts) + " wrong PINs. Reset the health record to use it again.")
            throw error
        } catch where error == PINLock.busy {
            try TrustedUI.show("Too many wrong PINs. Try again in " + Bytes.decimal(try lock.waitSeconds()) + " s.")
            throw error
        }
        let wrong = try lock.wrongAttempts()
        let pin = try TrustedUI.readPIN(purpose + " Attempts left: " + Bytes.decimal(lock.attemptsLeft(wrong)) + ".")
        guard try lock.attempt(pin) else {
            try AuditChain.append("pin-wrong", detail: "")
            let left = lock.attemptsLeft(wrong + 1)
            try TrustedUI.show(left == 0 ? "Wrong PIN. The health record is now locked." : "Wrong PIN. Attempts left: " + Bytes.decimal(left) + ".")
            throw .accessDenied
        }
    }
}
