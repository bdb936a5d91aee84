import Crypto
import Foundation
import PHRProtocol
import TrubiZoneChannel
import TrubiZoneProtocol
import TrubiZoneVerifier
import X509

/// What the server trusts and how long things last, as values.
public struct PHRServerPolicy: Sendable {
    /// Manufacturer roots: an enrolling device's certificate must chain to one.
    public var trustedRoots: [Certificate]
    /// Accepted PHR trustlet builds and signers, and runtime builds.
    public var reference: ReferenceValues
    public var challengeLifetime: TimeInterval = 120
    public var codeLifetime: TimeInterval = 7 * 86_400
    /// Wrong proofs a code survives; the next attempt is refused until the clinic issues a new code.
    public var maxCodeFailures = 5
    public var maxGrantDuration: TimeInterval = 366 * 86_400
    /// How old the server time a grant's prompt was computed from may be when the grant arrives:
    /// the prompt's reading time, with room for the network.
    public var grantClockWindow: TimeInterval = 600
    public var syncPageLimit = 100
    /// The server's end of the channel: devices seal readings and grants to its public key, which
    /// the server proves at enrollment with the patient's code. Keep it across restarts
    /// (`phr-server serve --channel-key`), or enrolled devices can no longer send.
    public var channelKey: P256.KeyAgreement.PrivateKey

    public init(trustedRoots: [Certificate], reference: ReferenceValues, channelKey: P256.KeyAgreement.PrivateKey = .init()) {
        self.trustedRoots = trustedRoots
        self.reference = reference
        self.channelKey = channelKey
    }
}

/// The PHR server's behaviour, without HTTP: enrollment, signed device requests, sync, uploads,
/// sharing and the audit trail. The HTTP layer only moves bytes in and out of it.
public final class PHRService: Sendable {
    public let store: any PHRStore
    public let policy: PHRServerPolicy
    let clock: @Sendable () -> Date

    /// - Parameter clock: the server's time (tests move it to check expiries to the second).
    public init(store: any PHRStore, policy: PHRServerPolicy, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.policy = policy
        self.clock = clock
    }

    // MARK: Clinic

    /// A new one-time enrollment code for a stored patient.
    public func issueEnrollmentCode(patient id: String) async throws -> (code: EnrollmentCode, expiresAt: Date) {
        guard try await store.owner(type: "Patient", id: id).exists else { throw PHRError.notFound("Patient/\(id)") }
        let now = clock()
        while true {
            let code = EnrollmentCode.random()
            let record = EnrollmentCodeRecord(id: code.id, patient: "Patient/\(id)", proofKey: code.proofKey,
                                              expiresAt: now.timeIntervalSince1970 + policy.codeLifetime)
            if try await store.insertEnrollmentCode(record, now: now.timeIntervalSince1970) {
                return (code, Date(timeIntervalSince1970: record.expiresAt))
            }
        }
    }

    // MARK: Enrollment

    /// A fresh challenge: the nonce the device's attestation token must carry.
    public func challenge() async throws(PHRError) -> Challenge {
        let now = clock().timeIntervalSince1970
        let id = PHRIdentifier.random()
        let nonce = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let expiresAt = now + policy.challengeLifetime
        do { try await store.insertChallenge(id: id, nonce: nonce, expiresAt: expiresAt, now: now) } catch { throw .storage }
        return Challenge(challenge: id, nonce: Hex.encode(nonce), expiresAt: Int64(expiresAt))
    }

    /// Enrolls a device: the challenge, the code's proof and the attestation token must all hold.
    public func enroll(_ request: EnrollmentRequest) async throws(PHRError) -> Enrollment {
        let now = clock()
        guard PHRIdentifier.isIdentifier(request.challenge) else { throw .badRequest("challenge is not a challenge ID") }
        guard let token = Data(base64Encoded: request.token).map(Array.init), !token.isEmpty else { throw .badRequest("token is not base64") }
        guard let proof = Hex.decode(request.proof), proof.count == 32 else { throw .badRequest("proof is not 32 bytes of hex") }
        let nonce = try await store.consumeChallenge(request.challenge, now: now.timeIntervalSince1970)

        // Whoever cannot prove the code gets one answer, whether the code exists or not, is used,
        // expired or locked: the first group is public, so nothing may tell live codes apart. Only
        // a right proof learns more. Wrong proofs count against the code from every address.
        func provenCode() async throws(PHRError) -> StoredEnrollmentCode {
            let code = try await guarded { try await store.enrollmentCode(request.code.uppercased()) }
            let expected = EnrollmentCode.proof(key: code?.proofKey ?? Self.decoyProofKey, nonce: nonce, token: token)
            // A locked code answers every proof, the right one too, as a wrong one: were a right
            // guess answered otherwise, the lock would be an oracle to go on guessing against.
            let locked = (code?.failures ?? 0) >= policy.maxCodeFailures
            guard let code, !locked, constantTimeEqual(expected, proof) else {
                if let code {
                    try await guarded { try await store.recordCodeFailure(code.id, patient: code.patient, reason: "wrong code", now: now.timeIntervalSince1970) }
                } else {
                    try await refuse(action: "enroll", subject: "code", reason: "no such code", patient: nil)
                }
                throw .wrongCode
            }
            return code
        }
        // The `appraisalFirst` negative control: the code before the token, as the first release did.
        let early = isOff(.appraisalFirst) ? try await provenCode() : nil

        // The token first: a junk or foreign token is refused before any code is looked at, so it
        // never uses up a code's attempts and says nothing about which codes exist.
        let appraisal = await AttestationVerifier(policy: AttestationPolicy(
            trustedRoots: policy.trustedRoots, reference: policy.reference, expectedNonce: nonce, now: now)).appraise(token)
        let signing = appraisal.boundKeys.first { $0.use == "signing" }.flatMap { Hex.decode($0.publicKey) }
        let hpke = appraisal.boundKeys.first { $0.use == "hpke" }.flatMap { Hex.decode($0.publicKey) }
        guard appraisal.status == .affirming || isOff(.attestationAppraisal), let signing, let hpke else {
            var problems = appraisal.problems
            if appraisal.status == .affirming { problems.append("keys: the token must bind a signing key and an HPKE key") }
            try await refuse(action: "enroll", subject: "attestation", reason: "attestation: " + problems.joined(separator: "; "), patient: nil)
            throw .attestationRefused(problems)
        }

        let code: StoredEnrollmentCode
        if let early { code = early } else { code = try await provenCode() }
        if code.usedAt != nil, !isOff(.codeSingleUse) {
            try await refuse(action: "enroll", subject: "code \(code.id)", reason: "code already used", patient: code.patient)
            throw .codeUsed
        }
        if code.expiresAt <= now.timeIntervalSince1970 {
            try await refuse(action: "enroll", subject: "code \(code.id)", reason: "code expired", patient: code.patient)
            throw .codeExpired
        }
        let device = Device(id: PHRIdentifier.random(), patient: code.patient, signingKey: signing,
                            hpkeKey: hpke, enrolledAt: now.timeIntervalSince1970, revokedAt: nil, lastUpload: 0, lastSyncPage: 0)
        try await store.enroll(device: device, code: code.id)
        let channelKey = Array(policy.channelKey.publicKey.x963Representation)
        return Enrollment(device: device.id, channelKey: Hex.encode(channelKey),
                          keyProof: Hex.encode(EnrollmentCode.serverKeyProof(key: code.proofKey, nonce: nonce, channelKey: channelKey, device: device.id)))
    }

    /// The key a proof is checked under when no code has the ID given, so that an unknown code
    /// costs the same work as a wrong one.
    static let decoyProofKey = (0..<32).map { _ in UInt8.random(in: 0...255) }

    // MARK: Device requests

    /// Checks a device's signed request: a known, active device, its key's signature over this
    /// method, target and body, a time inside the window, and a nonce never seen.
    public func authenticate(method: String, target: String, body: [UInt8], header: (String) -> String?) async throws(PHRError) -> (Device, SignedRequest) {
        let signed: SignedRequest
        switch SignedRequest.parse(header: header) {
        case let .success(request): signed = request
        case let .failure(error): throw .unauthenticated(error.description)
        }
        let now = clock().timeIntervalSince1970
        guard let device = try await guarded({ try await store.device(signed.device) }) else {
            try await refuse(action: "request", subject: "device:\(signed.device)", reason: "unknown device", patient: nil)
            throw .unauthenticated("unknown device: enroll first")
        }
        guard device.revokedAt == nil else {
            try await refuse(action: "request", subject: "device:\(device.id)", reason: "device revoked", patient: device.patient)
            throw .deviceRevoked
        }
        guard let key = try? P256.Signing.PublicKey(x963Representation: device.signingKey),
              signed.isValid(method: method, target: target, body: body, key: key) || isOff(.requestSignature) else {
            try await refuse(action: "request", subject: "device:\(device.id)", reason: "bad signature", patient: device.patient)
            throw .unauthenticated("the signature does not verify with the device's key")
        }
        guard abs(Double(signed.time) - now) <= SignedRequest.window else {
            try await refuse(action: "request", subject: "device:\(device.id)", reason: "stale time", patient: device.patient)
            throw .staleRequest
        }
        guard try await guarded({ try await store.rememberNonce(device: device.id, nonce: signed.nonce, now: now, window: SignedRequest.window) })
                || isOff(.requestNonce) else {
            try await refuse(action: "request", subject: "device:\(device.id)", reason: "replayed nonce", patient: device.patient)
            throw .replayedRequest
        }
        return (device, signed)
    }

    /// A sealed page of the patient's resources changed after the request's cursor.
    public func sync(device: Device, request: SyncRequest, nonce: String) async throws(PHRError) -> [UInt8] {
        try await syncAnswer(device: device, request: request, nonce: nonce).sealed
    }

    /// A sealed page, and the same page in clear for the route to log or to send in a header, but
    /// only under the `pageLogging` and `pageInClear` negative controls (debug builds, a test's
    /// own server); otherwise both are `nil`.
    public func syncAnswer(device: Device, request: SyncRequest, nonce: String) async throws(PHRError)
        -> (sealed: [UInt8], logged: [UInt8]?, header: [UInt8]?) {
        let cursor: Int64
        if let text = request.cursor {
            guard text.utf8.count <= 18, let value = Int64(text), value >= 0 else { throw .badRequest("cursor is not one this server gave") }
            cursor = value
        } else {
            cursor = 0
        }
        let limit = request.limit ?? policy.syncPageLimit
        guard (1...500).contains(limit) else { throw .badRequest("limit must be 1 to 500") }
        let (changes, more) = try await guarded { try await store.changes(patient: device.patient, after: cursor, limit: limit, maxBytes: PHRMessage.maxPageBytes) }
        let next = changes.last?.change ?? cursor
        var payload = Array("{\"cursor\":\"\(next)\",\"more\":\(more),\"resources\":[".utf8)
        for (index, change) in changes.enumerated() {
            if index > 0 { payload.append(UInt8(ascii: ",")) }
            payload.append(contentsOf: change.json)
        }
        payload.append(contentsOf: Array("]}".utf8))
        let page = try await guarded { try await store.recordSyncPage(device: device, resources: changes.count, cursor: next) }
        do {
            let recipient = try P256.KeyAgreement.PublicKey(x963Representation: device.hpkeKey)
            let sealed = try SealedEnvelope.seal(payload, to: recipient, from: policy.channelKey, purpose: PHRMessage.syncPurpose, sequence: page,
                                                 answering: nonce, minimumBucket: PHRMessage.syncPageBucket)
            return (sealed, isOff(.pageLogging) ? payload : nil, isOff(.pageInClear) ? payload : nil)
        } catch {
            throw .storage
        }
    }

    /// Stores a patient-reported reading the device signed.
    public func upload(device: Device, body: [UInt8], signature: [UInt8]) async throws(PHRError) -> UploadReceipt {
        let (payload, sealedSequence) = try unseal(body, from: device, purpose: PHRMessage.uploadPurpose)
        let object = try parseObject(payload)
        guard let sequenceNumber = object["sequence"] as? NSNumber, let sequence = UInt64(exactly: sequenceNumber.doubleValue), sequence > 0,
              !isBool(sequenceNumber) else {
            throw .badRequest("sequence must be a positive integer")
        }
        guard sequence == sealedSequence else { throw .badRequest("the reading's sequence differs from its envelope's") }
        guard let observation = object["observation"] else { throw .badRequest("the body has no observation") }
        let now = clock()
        let submitted: Data
        do { submitted = try JSONSerialization.data(withJSONObject: observation, options: [.sortedKeys]) } catch {
            throw .invalidFHIR("the observation is not a JSON object")
        }
        let id = UUID().uuidString.lowercased()
        let json: Data
        do {
            json = try PatientReadings.validate(observation, patient: device.patient, id: id, now: now)
        } catch {
            try await refuse(action: "upload", subject: "sequence \(sequence)", reason: error.name, patient: device.patient, actor: "device:\(device.id)")
            throw error
        }
        let stored = try await guarded {
            try await store.storeReading(device: device, sequence: sequence, submitted: submitted, id: id, json: json, signature: signature, now: now)
        }
        return UploadReceipt(observation: try stored.get(), sequence: sequence)
    }

    /// The server's time, for a trustlet that is about to ask the patient something dated.
    public func clockNow() -> ClockAnswer { ClockAnswer(time: Int64(clock().timeIntervalSince1970)) }

    /// Records a patient's grant to a practitioner.
    public func grant(device: Device, body: [UInt8]) async throws(PHRError) -> GrantReceipt {
        let payload = try unseal(body, from: device, purpose: PHRMessage.grantPurpose).payload
        let request: GrantRequest
        do { request = try JSONDecoder().decode(GrantRequest.self, from: Data(payload)) } catch {
            throw .badRequest("the body is not a grant: {\"practitioner\", \"resources\", \"expiresAt\", \"hours\"}")
        }
        let now = clock().timeIntervalSince1970
        // The trustlet computed the prompt's dates from this server's time (GET /v1/clock): a grant
        // held back, or dated by the phone's clock alone, does not start when the attacker likes.
        guard let shown = request.clock, Double(shown) <= now + 60, now - Double(shown) <= policy.grantClockWindow else {
            throw .staleClock(window: Int(policy.grantClockWindow))
        }
        guard let practitioner = PHRIdentifier.reference(request.practitioner), practitioner.type == "Practitioner" else {
            throw .badRequest("practitioner must be Practitioner/id")
        }
        guard try await guarded({ try await store.owner(type: "Practitioner", id: practitioner.id).exists }) else { throw .notFound(request.practitioner) }
        guard !request.resources.isEmpty, request.resources.count <= 100, Set(request.resources).count == request.resources.count else {
            throw .badRequest("resources must name 1 to 100 distinct records")
        }
        for resource in request.resources {
            guard let reference = PHRIdentifier.reference(resource) else { throw .badRequest("\(resource.prefix(80)) is not Type/id") }
            let owner = try await guarded { try await store.owner(type: reference.type, id: reference.id) }
            // The same answer whether the record is someone else's or does not exist: the device learns nothing.
            guard owner.patient == device.patient else {
                try await refuse(action: "grant", subject: resource, reason: "not the patient's record", patient: device.patient, actor: "device:\(device.id)")
                throw .forbidden("\(resource) is not one of the patient's records")
            }
        }
        guard Double(request.expiresAt) > now, Double(request.expiresAt) <= now + policy.maxGrantDuration else {
            throw .badRequest("expiresAt must be in the future and at most \(Int(policy.maxGrantDuration / 86_400)) days away")
        }
        guard request.hours >= 1, Double(request.hours) * 3600 <= policy.maxGrantDuration else {
            throw .badRequest("hours must be 1 to \(Int(policy.maxGrantDuration / 3600))")
        }
        // The phone's clock is the normal world's: a clock set forward while the patient looked
        // at the prompt must not make the grant outlast the hours the patient confirmed.
        let expires = min(Double(request.expiresAt), now + Double(request.hours) * 3600)
        let grant = SharingGrant(id: PHRIdentifier.random(), patient: device.patient,
                                 practitioner: request.practitioner, resources: request.resources, createdAt: now,
                                 expiresAt: expires, revokedAt: nil)
        try await guarded { try await store.insertGrant(grant, device: device.id) }
        return Self.receipt(grant)
    }

    /// Revokes one of the patient's grants.
    public func revoke(device: Device, grant id: String) async throws(PHRError) -> GrantReceipt {
        guard PHRIdentifier.isIdentifier(id) else { throw .notFound("grant \(id.prefix(40))") }
        guard let grant = try await guarded({ try await store.revokeGrant(id, device: device, now: clock().timeIntervalSince1970) }) else {
            throw .notFound("grant \(id)")
        }
        return Self.receipt(grant)
    }

    /// Seals an answer to a device's HPKE key, from the server's channel key, bound to the request
    /// it answers (the signed request's nonce).
    public func sealed(_ value: some Encodable, for device: Device, purpose: String, sequence: UInt64, answering nonce: String) throws(PHRError) -> [UInt8] {
        do {
            let recipient = try P256.KeyAgreement.PublicKey(x963Representation: device.hpkeKey)
            return try SealedEnvelope.seal(Array(try JSONEncoder().encode(value)), to: recipient, from: policy.channelKey, purpose: purpose,
                                           sequence: sequence, answering: nonce)
        } catch {
            throw .storage
        }
    }

    /// Opens a body a device sealed to the server's channel key from its attested HPKE key.
    func unseal(_ body: [UInt8], from device: Device, purpose: String) throws(PHRError) -> (payload: [UInt8], sequence: UInt64) {
        guard let sender = try? P256.KeyAgreement.PublicKey(x963Representation: device.hpkeKey) else { throw .storage }
        do throws(ChannelError) {
            return try SealedEnvelope.open(body, with: policy.channelKey, from: sender, purpose: purpose, after: nil)
        } catch {
            throw .notSealed("\(error)")
        }
    }

    static func receipt(_ grant: SharingGrant) -> GrantReceipt {
        GrantReceipt(grant: grant.id, expiresAt: Int64(grant.expiresAt), resources: grant.resources.count, revokedAt: grant.revokedAt.map { Int64($0) })
    }

    /// The audit entries that concern the device's patient.
    public func auditTrail(device: Device) async throws(PHRError) -> AuditTrail {
        let (entries, head) = try await guarded { (try await store.auditTrail(patient: device.patient), try await store.auditHead()) }
        return AuditTrail(patient: device.patient, entries: entries.map {
            AuditTrail.Entry(sequence: $0.sequence, time: $0.time, actor: $0.actor, action: $0.action, subject: $0.subject, outcome: $0.outcome,
                             previousHash: Hex.encode($0.previousHash), hash: Hex.encode($0.hash))
        }, head: Hex.encode(head))
    }

    // MARK: Practitioners

    /// The practitioner an API token belongs to.
    public func practitioner(bearer: String?) async throws(PHRError) -> String {
        guard let bearer, bearer.hasPrefix("tzp_"), bearer.utf8.count < 100 else { throw .unauthenticated("a practitioner API token is needed (Authorization: Bearer tzp_…)") }
        guard let practitioner = try await guarded({ try await store.practitioner(token: bearer) }) else {
            try await refuse(action: "access", subject: "practitioner token", reason: "unknown token", patient: nil)
            throw .unauthenticated("the practitioner API token is not valid")
        }
        return practitioner
    }

    /// The grants made to a practitioner; each patient's trail records that they were listed.
    public func grants(practitioner: String) async throws(PHRError) -> [Grant] {
        let grants = try await guarded { try await store.grants(practitioner: practitioner) }
        for patient in Set(grants.map(\.patient)).sorted() {
            let count = grants.count { $0.patient == patient }
            try await guarded { try await store.audit(actor: practitioner, action: "list-grants", subject: practitioner,
                                          outcome: "listed \(count) grant\(count == 1 ? "" : "s")", patient: patient) }
        }
        return grants.map(Self.message)
    }

    /// A shared resource, if a live grant lets this practitioner read it now.
    public func read(practitioner: String, type: String, id: String) async throws(PHRError) -> Data {
        let reference = "\(type)/\(id)"
        let now = clock().timeIntervalSince1970
        let grants = try await guarded {
            isOff(.grantScope) ? try await store.grants(practitioner: practitioner) : try await store.grants(practitioner: practitioner, resource: reference)
        }
        guard let live = grants.first(where: { $0.isActive(at: now) || isOff(.grantEnd) }) else {
            let patient = grants.first?.patient
            try await refuse(action: "access", subject: reference, reason: grants.isEmpty ? "no grant" : "grant ended", patient: patient, actor: practitioner)
            throw grants.isEmpty ? .forbidden("no grant of the patient's lets \(practitioner) read \(reference)") : .grantEnded
        }
        guard let json = try await guarded({ try await store.resource(type: type, id: id) }) else { throw .notFound(reference) }
        try await guarded { try await store.audit(actor: practitioner, action: "access", subject: reference, outcome: "read under grant \(live.id)", patient: live.patient) }
        return json
    }

    // MARK: Helpers

    /// Whether a negative control turned `defence` off for this server's database (debug builds only).
    func isOff(_ defence: Weakening) -> Bool { (store as? RecordStore).map { Weakening.isOff(defence, at: $0.path) } ?? false }

    static func message(_ grant: SharingGrant) -> Grant {
        Grant(grant: grant.id, patient: grant.patient, practitioner: grant.practitioner, resources: grant.resources,
              expiresAt: Int64(grant.expiresAt), revokedAt: grant.revokedAt.map { Int64($0) })
    }

    func refuse(action: String, subject: String, reason: String, patient: String?, actor: String = "device") async throws(PHRError) {
        try await guarded { try await store.audit(actor: actor, action: action, subject: subject, outcome: "refused: \(reason)", patient: patient) }
    }

    func parseObject(_ body: [UInt8]) throws(PHRError) -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw .badRequest("the body is not a JSON object")
        }
        return object
    }

    /// Runs store work; a database failure becomes `.storage` (its details stay in the server).
    func guarded<T>(_ work: () async throws -> T) async throws(PHRError) -> T {
        do { return try await work() } catch let error as PHRError { throw error } catch { throw .storage }
    }
}

func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    a.count == b.count && zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
}

/// Whether a number JSONSerialization produced came from `true` or `false` (a boolean is an
/// NSNumber of type `c` on every platform; JSON numbers never are).
func isBool(_ number: NSNumber) -> Bool {
    String(cString: number.objCType) == "c"
}
