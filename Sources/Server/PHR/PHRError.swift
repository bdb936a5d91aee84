/// Why the server refused a request. Each case has an HTTP status, a stable name and a message
/// for a person; none carries health data, a code, a key or a token.
public enum PHRError: Error, Equatable, Sendable, CustomStringConvertible {
    // Input
    case badRequest(String)
    /// A body that must be sealed to the server's channel key is not, or does not open.
    case notSealed(String)
    case bodyTooLarge(limit: Int)
    case invalidFHIR(String)
    case implausibleValue(String)
    case notFound(String)
    // Enrollment
    case unknownChallenge
    case challengeUsed
    case challengeExpired
    case codeUsed
    case codeExpired
    case wrongCode
    case tooManyAttempts(retryAfter: Int)
    case attestationRefused([String])
    // Devices
    case unauthenticated(String)
    case replayedRequest
    case staleRequest
    case deviceRevoked
    case sequenceReplayed(last: UInt64)
    // Access
    case forbidden(String)
    case grantEnded
    /// A grant that does not carry the server time the trustlet fetched just before the prompt,
    /// or carries one too old: it was held back, or made on the phone's clock alone.
    case staleClock(window: Int)
    // Server
    case storage

    /// The HTTP status code.
    public var status: Int {
        switch self {
        case .badRequest, .notSealed, .staleClock: 400
        case .bodyTooLarge: 413
        case .invalidFHIR, .implausibleValue: 422
        case .notFound, .unknownChallenge: 404
        case .challengeUsed, .codeUsed, .replayedRequest, .sequenceReplayed: 409
        case .challengeExpired, .codeExpired: 410
        case .wrongCode, .unauthenticated, .staleRequest: 401
        case .tooManyAttempts: 429
        case .attestationRefused, .deviceRevoked, .forbidden, .grantEnded: 403
        case .storage: 500
        }
    }

    /// A stable name for scripts.
    public var name: String {
        switch self {
        case .badRequest: "bad-request"
        case .notSealed: "not-sealed"
        case .bodyTooLarge: "body-too-large"
        case .invalidFHIR: "invalid-fhir"
        case .implausibleValue: "implausible-value"
        case .notFound: "not-found"
        case .unknownChallenge: "unknown-challenge"
        case .challengeUsed: "challenge-used"
        case .challengeExpired: "challenge-expired"
        case .codeUsed: "code-used"
        case .codeExpired: "code-expired"
        case .wrongCode: "wrong-code"
        case .tooManyAttempts: "too-many-attempts"
        case .attestationRefused: "attestation-refused"
        case .unauthenticated: "unauthenticated"
        case .replayedRequest: "replayed-request"
        case .staleRequest: "stale-request"
        case .deviceRevoked: "device-revoked"
        case .sequenceReplayed: "sequence-replayed"
        case .forbidden: "forbidden"
        case .grantEnded: "grant-ended"
        case .staleClock: "stale-clock"
        case .storage: "storage-failure"
        }
    }

    public var description: String {
        switch self {
        case let .badRequest(why): "bad request: \(why)"
        case let .notSealed(why): "the body must be sealed to this server's channel key (from enrollment): \(why)"
        case let .bodyTooLarge(limit): "the body is larger than \(limit) bytes"
        case let .invalidFHIR(why): "not a valid FHIR resource: \(why)"
        case let .implausibleValue(why): "the reading is outside plausible ranges: \(why)"
        case let .notFound(what): "\(what) does not exist"
        case .unknownChallenge: "unknown challenge: ask for a new one (POST /v1/enrollment/challenge)"
        case .challengeUsed: "the challenge was already used: ask for a new one"
        case .challengeExpired: "the challenge expired: ask for a new one"
        case .codeUsed: "the enrollment code was already used: ask the clinic for a new one"
        case .codeExpired: "the enrollment code expired: ask the clinic for a new one"
        case .wrongCode: "the enrollment code does not match (or there is no such code): check it and try again, or ask the clinic for a new one"
        case let .tooManyAttempts(retryAfter): "too many attempts: try again in \(retryAfter) s, or ask the clinic for a new code"
        case let .attestationRefused(problems): "the device's attestation was refused: " + problems.joined(separator: "; ")
        case let .unauthenticated(why): "not authenticated: \(why)"
        case .replayedRequest: "the request was already received (replay)"
        case .staleRequest: "the request's time is too far from the server's clock: check the device's clock"
        case .deviceRevoked: "the device's enrollment was revoked: enroll again"
        case let .sequenceReplayed(last): "the upload's sequence number is not above the last accepted (\(last))"
        case let .forbidden(why): "forbidden: \(why)"
        case .grantEnded: "the patient's grant has expired or was revoked"
        case let .staleClock(window):
            "the grant must carry the server time fetched for its prompt (GET /v1/clock), at most \(window) s old: fetch the clock and ask the patient again"
        case .storage: "the server could not read or write its database; nothing was changed, try again later"
        }
    }
}
