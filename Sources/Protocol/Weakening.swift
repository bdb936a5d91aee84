#if TRUBIZONE_WEAKENINGS
import Synchronization
#endif

/// A defence that a negative control of the attack suite turns off, to prove that the attack
/// testing it notices its absence (it must then report ACCEPTED or LEAKED, never defended).
///
/// Only debug builds (`swift build`, `swift test`) compile the switch: a release build, which is
/// what ships, has no storage for it and `isOff` is the constant `false`. No flag, environment
/// variable or file reaches it; tests turn defences off for the components under a directory of
/// their own (a secure world's state and REE, a server's database), so tests running beside them
/// are untouched.
public enum Weakening: String, Sendable, CaseIterable {
    // The provider server
    /// Enrollment takes any token that binds its two keys, whatever the verifier found.
    case attestationAppraisal
    /// A challenge can be answered more than once.
    case challengeSingleUse
    /// An enrollment code can enroll more than one device.
    case codeSingleUse
    /// A device request's signature is not checked.
    case requestSignature
    /// A device request's nonce can be used again.
    case requestNonce
    /// A grant is read after it expired or was revoked.
    case grantEnd
    /// A practitioner's grant of one record lets it read any record.
    case grantScope
    /// A code's proof is checked before the attestation token, so a junk token uses up the code's attempts.
    case appraisalFirst
    /// A retried upload is stored again as a new reading.
    case uploadOnce
    /// The server logs the resources of each sync page it seals.
    case pageLogging
    /// The server's sync answer also carries its page in clear, in a header.
    case pageInClear
    // The secure world
    /// A package's signature is not checked.
    case packageSignature
    /// A package's version may be lower than the one installed.
    case versionFloor
    /// A session answers calls from any connection, not only the one that opened it.
    case sessionOwnership
    /// A UUID is anyone's: reserved, assigned and first-installed UUIDs are not checked.
    case uuidOwnership
    /// Sealed storage takes a namespace's files as they are, not as its counter committed them.
    case rollbackCounter
    /// A sealed object's file is taken under any name, not only the one its sequence gives.
    case nameBinding
    /// Files in a namespace that are not its sealed objects are skipped, not reported.
    case unknownFiles
    /// One user may take every connection and every session of a trustlet.
    case fairShare
    /// A trustlet's quotas (sealed bytes, objects, counters, log lines) are not enforced.
    case quotas
    /// Host calls cost no fuel for the work they do; only the guest's own operators are metered.
    case hostCallFuel
    /// A sealed object's data is written in clear and read back without a check of its tag or length.
    case objectSealing
    // A trustlet's own checks (its test build asks the runtime, `tz.test_weakened`)
    /// A server's answer is taken whatever request it answers and however old its sequence.
    case answerBinding
    /// A server message in the channel's first format (HPKE base mode, no sender key) is opened too.
    case senderKey
    /// A PIN prompt's answer is not checked: a command runs whatever was entered, even nothing.
    case pinGate
    /// Wrong PINs neither lock nor make the next attempt wait.
    case pinLock
    /// An enrollment answer's channel key is taken without the server's proof of the code.
    case enrollmentProof
    /// Sealed sync pages are stored at their own size, not padded to a bucket.
    case storagePadding
    /// A reading's value passed in by the normal world is taken instead of asked on the trusted UI.
    case trustedInput
    /// Wrong PINs are counted in a sealed object in the REE, not in replay-protected counters.
    case pinCounters

    /// Whether `defence` is off for the component whose files are at `path`.
    @inline(__always)
    public static func isOff(_ defence: Weakening, at path: String) -> Bool {
        #if TRUBIZONE_WEAKENINGS
        return scopes.withLock { scopes in scopes.contains { path.hasPrefix($0.directory) && $0.off.contains(defence) } }
        #else
        return false
        #endif
    }

    /// The defences off for the component whose files are at `path`: none in a release build.
    public static func allOff(at path: String) -> Set<Weakening> {
        #if TRUBIZONE_WEAKENINGS
        return scopes.withLock { scopes in scopes.filter { path.hasPrefix($0.directory) }.reduce(into: []) { $0.formUnion($1.off) } }
        #else
        return []
        #endif
    }

    #if TRUBIZONE_WEAKENINGS
    private static let scopes = Mutex<[(directory: String, off: Set<Weakening>)]>([])

    /// Turns `defences` off for every component under `directory` (a path ending in `/`) while
    /// `body` runs. Debug builds only.
    public static func off<T>(_ defences: Set<Weakening>, under directory: String, during body: () async throws -> T) async rethrows -> T {
        let scope = directory.hasSuffix("/") ? directory : directory + "/"
        scopes.withLock { $0.append((scope, defences)) }
        defer { scopes.withLock { scopes in scopes.removeAll { $0.directory == scope && $0.off == defences } } }
        return try await body()
    }
    #endif
}
