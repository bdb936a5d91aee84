import TrustletKit

/// `vault`: keeps one secret and shows it only on the trusted UI, after the right PIN.
///
/// The PIN is chosen and entered on the trusted UI; the normal world never sees it. Every attempt
/// is counted in replay-protected counters *before* the PIN is compared, so neither pulling the
/// power after a wrong guess nor rolling the normal world's files back returns an attempt. After
/// five wrong PINs in a row the vault stays locked; only `reset` (confirmed on the trusted UI)
/// opens it again, and it erases the secret.
///
///   0 store   [0] memref input: the secret (1 to 4096 bytes). Sets the PIN the first time;
///             after that, asks for it before replacing the secret.
///   1 reveal  asks for the PIN, then shows the secret on the trusted UI.
///   2 status  [0] value output a = wrong PINs in a row, b = attempts left;
///             [1] value output a = 1 if a secret is stored, b = 1 if locked.
///   3 reset   after a confirmation on the trusted UI, erases the secret and the PIN.
///
/// Errors: a wrong PIN answers ACCESS_DENIED, a locked vault SECURITY, an empty one
/// ITEM_NOT_FOUND, an interaction the user cancelled CANCEL.
@main
struct Vault: Trustlet {
    static let maxSecret = 4096
    static let lock = PINLock(name: "pin", maxAttempts: 5)
    static let secretObject = Bytes.utf8("secret")

    init() throws(TrustletError) {}

    mutating func invoke(command: UInt32, parameters: inout Parameters) throws(TrustletError) {
        switch command {
        case 0:
            try parameters.expect(.memrefInput)
            let secret = try parameters.bytes(0)
            guard !secret.isEmpty, secret.count <= Self.maxSecret else { throw .badParameters }
            if !(try Self.lock.isSet()) {
                try Self.choosePIN()
            } else {
                try Self.checkPIN(purpose: "Enter the vault PIN to replace the secret.")
            }
            try SecureStorage.write(Self.secretObject, secret)
            try TrustedUI.show("The secret is stored.")
        case 1:
            try parameters.expect()
            guard try SecureStorage.read(Self.secretObject) != nil else { throw .itemNotFound }
            try Self.checkPIN(purpose: "Enter the vault PIN to see the secret.")
            guard let secret = try SecureStorage.read(Self.secretObject) else { throw .itemNotFound }
            try TrustedUI.show("The secret: " + Bytes.text(secret))
        case 2:
            try parameters.expect(.valueOutput, .valueOutput)
            let wrong = try Self.lock.wrongAttempts()
            try parameters.setValue(0, a: UInt32(truncatingIfNeeded: wrong), b: UInt32(truncatingIfNeeded: Self.lock.attemptsLeft(wrong)))
            let stored = try SecureStorage.read(Self.secretObject) != nil
            try parameters.setValue(1, a: stored ? 1 : 0, b: wrong >= Self.lock.maxAttempts ? 1 : 0)
        case 3:
            try parameters.expect()
            guard try TrustedUI.confirm("Erase the vault? The secret and the PIN are deleted.") else { throw .cancel }
            try Self.erase(Self.secretObject)
            try Self.lock.clear()
            try TrustedUI.show("The vault is empty.")
        default:
            throw .notSupported
        }
    }

    // MARK: PIN

    static func choosePIN() throws(TrustletError) {
        try lock.choose(prompt: "Choose a PIN for the vault (4 to 16 digits).", mismatch: "The PINs differ; nothing was stored.")
    }

    /// Asks for the PIN and compares it; `PINLock` counts the attempt first.
    static func checkPIN(purpose: String) throws(TrustletError) {
        do throws(TrustletError) {
            try lock.ready()
        } catch where error == .security {
            try TrustedUI.show("The vault is locked after " + Bytes.decimal(lock.maxAttempts) + " wrong PINs. Reset it to use it again.")
            throw error
        }
        let wrong = try lock.wrongAttempts()
        let pin = try TrustedUI.readPIN(purpose + " Attempts left: " + Bytes.decimal(lock.attemptsLeft(wrong)) + ".")
        guard try lock.attempt(pin) else {
            let left = lock.attemptsLeft(wrong + 1)
            try TrustedUI.show(left == 0 ? "Wrong PIN. The vault is now locked." : "Wrong PIN. Attempts left: " + Bytes.decimal(left) + ".")
            throw .accessDenied
        }
    }

    static func erase(_ id: [UInt8]) throws(TrustletError) {
        do throws(TrustletError) {
            try SecureStorage.delete(id)
        } catch where error == .itemNotFound {}
    }
}
