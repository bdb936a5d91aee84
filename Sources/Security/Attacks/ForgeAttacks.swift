import Crypto
import Foundation
import PHRApp
import PHRProtocol
import TrubiZoneChannel
import TrubiZoneProtocol
import TrubiZoneWire

/// A proxy between the app and the server that does not tamper with or replay the server's
/// messages but *builds new ones*, from what is public: the trustlet's HPKE key (it travels in the
/// enrollment token), the server's channel key (in the enrollment answer) and the nonce of every
/// signed request (a header on the wire). Each forgery is tried three ways — sealed honestly from
/// the attacker's own key, sealed from its own key under the server's name, and in the old base
/// mode that needs no sender key at all — and each must be refused with its own code, before the
/// genuine message, delivered next, is accepted.
enum ForgeAttacks {
    static var all: [Attack] {
        [
            Attack("forge-sync-page", "Seal a sync page of one's own (a medication and an allergy the clinic never wrote) to the trustlet's public key",
                   .internet, .identity,
                   defense: "pages must be sealed in HPKE Auth mode by the server's channel key and answer the pending sync request; nothing is kept from a forged one",
                   play: syncPage),
            Attack("forge-upload-receipt", "Drop a confirmed reading's upload and answer with a receipt of one's own", .internet, .identity,
                   defense: "a receipt must come from the server's key and answer the upload request; the reading stays queued until the genuine one",
                   play: uploadReceipt),
            Attack("forge-audit-trail", "Answer the audit request with a self-consistent trail of one's own, or with the server's earlier trail",
                   .internet, .identity,
                   defense: "the trail must come from the server's key and answer this very request; nothing is shown as checked otherwise",
                   play: auditTrail),
            Attack("forge-enrollment-answer", "Answer an enrollment with the attacker's own channel key (with the server's proof or a guessed code's), or with another device ID",
                   .internet, .identity,
                   defense: "the trustlet accepts a channel key and device ID only with an HMAC under the patient's code over the challenge, the key and the ID",
                   play: enrollmentAnswer),
            Attack("identity-junk-enrollments", "Send junk enrollments naming a patient's live code, more than its attempts, then let the patient enroll",
                   .internet, .identity,
                   defense: "the token is appraised before the code is looked at, so junk never uses an attempt; live and unknown codes answer alike",
                   play: junkEnrollments),
            Attack("forge-server-clock", "Date a grant's prompt 30 days ahead: answer the clock request with a clock of one's own or the server's earlier answer, or ask for a grant with no clock",
                   .internet, .identity,
                   defense: "the prompt is dated from a clock sealed by the server's key, answering this very request, at most 2 minutes old on the secure world's clock; the server refuses a grant whose clock is over 10 minutes old",
                   play: serverClock),
            Attack("forge-grant-receipts", "Drop a grant and a revocation and answer each with a receipt of one's own", .internet, .identity,
                   defense: "grant and revocation receipts must come from the server's key and answer their request; only then does the phone log them",
                   play: grantReceipts),
        ]
    }

    // MARK: The attacks

    static func syncPage(_ lab: AttackLab) async throws -> Verdict {
        let (phone, app) = try await lab.enrolledPhone("forge-page", patient: try lab.patients().last)
        defer { phone.shutdown() }
        let forger = try await Forger(lab, app)
        let request = try await app.device.syncRequest()
        let nonce = try request.nonce
        let page = Array(#"{"cursor":"999999999","more":false,"resources":["#.utf8) + Forger.medication + [0x2C] + Forger.allergy + Array("]}".utf8)
        var verdicts: [Verdict] = []
        for (way, message) in try forger.everyWay(page, purpose: PHRMessage.syncPurpose, sequence: 1 << 62, request: nonce, bucket: PHRMessage.syncPageBucket) {
            verdicts.append(try await refused("a page \(way.name)", expecting: way.refusal) { _ = try await app.device.syncPage(message) })
        }
        let kept = try await app.device.status().records
        guard kept == 0 else { return .accepted("the trustlet kept \(kept) records from forged pages") }
        // Positive control: the server's own page for the same request is kept.
        let genuine = try await app.device.syncPage(try await app.server.send(request).checked().body)
        guard genuine.stored > 0 else { throw AttackFailure("the genuine page was not kept either") }
        return allHold(verdicts + [.defended("nothing kept from them; the genuine page for the same request then gave \(genuine.stored) records")])
    }

    static func uploadReceipt(_ lab: AttackLab) async throws -> Verdict {
        let patient = try lab.patients()[2]
        let (phone, app, request) = try await NetworkAttacks.queuedReading(lab, "forge-receipt", patient: patient)
        defer { phone.shutdown() }
        let forger = try await Forger(lab, app)
        let store = lab.stage.provider.store
        let before = try store.resources(ofPatient: patient).count
        let sequence = UInt64(try await app.device.localAudit().actions.count(where: { $0.action == "reading-added" }))
        let receipt = Array(#"{"observation":"Observation/forged","sequence":\#(sequence)}"#.utf8)
        var verdicts: [Verdict] = []
        for (way, message) in try forger.everyWay(receipt, purpose: PHRMessage.receiptPurpose, sequence: sequence, request: try request.nonce) {
            verdicts.append(try await refused("a receipt \(way.name)", expecting: way.refusal) { try await app.device.uploaded(receipt: message) })
        }
        let queued = try await app.device.status().pendingUploads
        guard queued == 1 else { return .accepted("the reading left the queue on a forged receipt (\(queued) queued)") }
        // Positive control: the upload, really sent, is taken off the queue by the server's receipt.
        let sent = try await app.uploadQueued()
        let stored = try store.resources(ofPatient: patient).count - before
        guard sent == 1, stored == 1, try await app.device.status().pendingUploads == 0 else {
            throw AttackFailure("the genuine upload did not go through (\(sent) sent, \(stored) stored)")
        }
        return allHold(verdicts + [.defended("the reading stayed queued; sent for real, the server's receipt took it off the queue")])
    }

    static func auditTrail(_ lab: AttackLab) async throws -> Verdict {
        let (phone, app) = try await lab.enrolledPhone("forge-audit", patient: try lab.patients().last)
        defer { phone.shutdown() }
        let forger = try await Forger(lab, app)
        let earlier = try await app.device.auditRequest()
        let earlierAnswer = try await app.server.send(earlier).checked().body
        let request = try await app.device.auditRequest()
        let before = try await app.device.localAudit().entries
        var verdicts: [Verdict] = []
        for (way, message) in try forger.everyWay(Forger.trail(), purpose: PHRMessage.auditPurpose, sequence: 1, request: try request.nonce) {
            verdicts.append(try await refused("a trail \(way.name)", expecting: way.refusal) { _ = try await app.device.serverAudit(message) })
        }
        verdicts.append(try await refused("the server's genuine trail for the earlier request", expecting: .security) {
            _ = try await app.device.serverAudit(earlierAnswer)
        })
        guard try await app.device.localAudit().entries == before else { return .accepted("a refused trail was logged as checked") }
        // Positive control: the server's answer to this request is shown as checked.
        let genuine = try await app.device.serverAudit(try await app.server.send(request).checked().body)
        guard genuine.verified, genuine.entries > 0 else { throw AttackFailure("the genuine trail did not verify") }
        return allHold(verdicts + [.defended("nothing shown or logged; the server's answer to this request then checked out (\(genuine.entries) entries)")])
    }

    static func enrollmentAnswer(_ lab: AttackLab) async throws -> Verdict {
        guard let patient = try lab.patients().last else { throw AttackFailure("no patient") }
        let code = try await lab.enrollmentCode(for: patient)
        let phone = try await lab.phone("forge-enrollment", answers: AttackLab.enrollmentAnswers(code: code))
        defer { phone.shutdown() }
        let app = try await phone.app(server: lab.connection())
        try await app.device.setPIN()
        let challengeAnswer = try await app.server.send("POST", "/v1/enrollment/challenge").checked()
        let challenge = try JSONDecoder().decode(Challenge.self, from: Data(challengeAnswer.body))
        let body = try await app.device.enrollBegin(challenge: challengeAnswer.body)
        let answer = try await app.server.send("POST", "/v1/enrollment", headers: [("Content-Type", "application/json")], body: body).checked()
        let genuine = try JSONDecoder().decode(Enrollment.self, from: Data(answer.body))
        let attackerKey = Array(P256.KeyAgreement.PrivateKey().publicKey.x963Representation)
        let guess = EnrollmentCode.random()
        let guessedProof = EnrollmentCode.serverKeyProof(key: guess.proofKey, nonce: Hex.decode(challenge.nonce) ?? [], channelKey: attackerKey,
                                                         device: genuine.device)
        var verdicts: [Verdict] = []
        for (what, forged) in [("the attacker's key with the server's proof", Enrollment(device: genuine.device, channelKey: Hex.encode(attackerKey), keyProof: genuine.keyProof)),
                               ("the attacker's key with a proof under a guessed code", Enrollment(device: genuine.device, channelKey: Hex.encode(attackerKey),
                                                                                                    keyProof: Hex.encode(guessedProof))),
                               ("the server's key and proof with another device ID", Enrollment(device: String(repeating: "f", count: 32),
                                                                                                 channelKey: genuine.channelKey, keyProof: genuine.keyProof))] {
            let bytes = Array(try JSONEncoder().encode(forged))
            let verdict = try await refused(what, expecting: .security) { try await app.device.enrollFinish(answer: bytes) }
            guard case .defended = verdict else { return verdict }
            verdicts.append(verdict)
        }
        guard try await !app.device.status().enrolled else { return .accepted("the phone enrolled with the attacker's channel key") }
        // Positive control: the server's own answer enrolls the phone.
        try await app.device.enrollFinish(answer: answer.body)
        guard try await app.device.status().enrolled else { throw AttackFailure("the genuine answer did not enroll the phone") }
        return allHold(verdicts + [.defended("not enrolled by either; the server's answer then enrolled it")])
    }

    static func junkEnrollments(_ lab: AttackLab) async throws -> Verdict {
        guard let patient = try lab.patients().last else { throw AttackFailure("no patient") }
        let code = try await lab.enrollmentCode(for: patient)
        let server = lab.connection()
        var sent: [(what: String, answers: [PHRConnection.Answer])] = []
        for (what, codeID) in [("a junk enrollment naming the live code", code.id), ("a junk enrollment naming no code", "ZZZZ")] {
            var answers: [PHRConnection.Answer] = []
            for _ in 0..<(what.hasSuffix("live code") ? 8 : 1) {
                let challenge = try JSONDecoder().decode(Challenge.self, from: Data(try await server.send("POST", "/v1/enrollment/challenge").checked().body))
                let junk = EnrollmentRequest(challenge: challenge.challenge, token: Data([0xA0, 0x01, 0x02]).base64EncodedString(), code: codeID,
                                             proof: String(repeating: "00", count: 32))
                answers.append(try await server.send("POST", "/v1/enrollment", headers: [("Content-Type", "application/json")],
                                                     body: Array(try JSONEncoder().encode(junk))))
            }
            sent.append(("\(answers.count)× \(what)", answers))
        }
        // What the attack is for, judged first: the patient's own enrollment with the code.
        let phone = try await lab.phone("junk-enrollments", answers: AttackLab.enrollmentAnswers(code: code))
        defer { phone.shutdown() }
        let app = try await phone.app(server: server)
        do {
            _ = try await app.enroll()
        } catch {
            return .accepted("after the junk enrollments the patient's own was refused: \(brief(error))")
        }
        guard try await app.device.status().enrolled else { return .accepted("junk enrollments locked the patient out") }
        let verdicts = try sent.map { try refusedByServer($0.what, $0.answers, expecting: 403, "attestation-refused") }
        return allHold(verdicts + [.defended("the patient then enrolled with the code")])
    }

    static func grantReceipts(_ lab: AttackLab) async throws -> Verdict {
        let patient = try lab.patients()[1]
        let (phone, app) = try await lab.enrolledPhone("forge-grants", patient: patient, answers: [.confirm(true), .confirm(true)])
        defer { phone.shutdown() }
        _ = try await app.sync()
        let forger = try await Forger(lab, app)
        guard let record = try await app.device.query(PHRDevice.Query(offset: 4, limit: 1)).entries.first else { throw AttackFailure("nothing to share") }
        let clock = try await app.server.send(try await app.device.clockRequest()).checked().body
        let share = try await app.device.share(PHRDevice.ShareRequest(practitioner: "Practitioner/clinic-1", records: [record.n], hours: 24), clock: clock)
        let made = Array(#"{"grant":"\#(String(repeating: "ab", count: 16))","expiresAt":\#(Int(Date().timeIntervalSince1970) + 86_400),"resources":1}"#.utf8)
        var verdicts: [Verdict] = []
        for (way, message) in try forger.everyWay(made, purpose: PHRMessage.grantReceiptPurpose, sequence: 1, request: try share.nonce) {
            verdicts.append(try await refused("a grant receipt \(way.name)", expecting: way.refusal) { _ = try await app.device.shareDone(receipt: message) })
        }
        guard try await actions(app, "shared") == 0 else { return .accepted("the phone logged a grant on a forged receipt") }
        // Positive control: the grant, really sent, is logged on the server's receipt.
        let granted = try await app.device.shareDone(receipt: try await app.server.send(share).checked().body)
        guard try await actions(app, "shared") == 1 else { throw AttackFailure("the genuine grant receipt was not logged") }

        let token = try lab.stage.provider.store.issuePractitionerToken("Practitioner/clinic-1")
        lab.remember("a practitioner token", token)
        let grants = try JSONDecoder().decode([Grant].self, from: Data(try await lab.connection().send("GET", "/v1/shared", headers: AccessAttacks.bearer(token)).checked().body))
        guard let resource = grants.first(where: { $0.grant == granted.grant })?.resources.first else { throw AttackFailure("the grant is not listed") }
        let revoke = try await app.device.revoke(grant: granted.grant)
        let revoked = Array(#"{"grant":"\#(granted.grant)","expiresAt":\#(granted.expiresAt),"resources":1,"revokedAt":\#(Int(Date().timeIntervalSince1970))}"#.utf8)
        for (way, message) in try forger.everyWay(revoked, purpose: PHRMessage.revokeReceiptPurpose, sequence: 1, request: try revoke.nonce) {
            verdicts.append(try await refused("a revocation receipt \(way.name)", expecting: way.refusal) { _ = try await app.device.revokeDone(receipt: message) })
        }
        guard try await actions(app, "revoked") == 0 else { return .accepted("the phone logged a revocation the server never made") }
        let read = try await lab.connection().send("GET", "/v1/shared/\(resource)", headers: AccessAttacks.bearer(token))
        guard read.status == 200 else { throw AttackFailure("the grant ended without a revocation (HTTP \(read.status))") }
        // Positive control: the revocation, really sent, ends the grant and is logged.
        _ = try await app.device.revokeDone(receipt: try await app.server.send(revoke).checked().body)
        let after = try await lab.connection().send("GET", "/v1/shared/\(resource)", headers: AccessAttacks.bearer(token))
        guard try await actions(app, "revoked") == 1, after.status == 403 else {
            throw AttackFailure("the genuine revocation did not end the grant (HTTP \(after.status)) or was not logged")
        }
        return allHold(verdicts + [.defended("the phone logged neither; the genuine receipts then were (the grant read until revoked for real)")])
    }

    static func serverClock(_ lab: AttackLab) async throws -> Verdict {
        let (phone, app) = try await lab.enrolledPhone("forge-clock", patient: try lab.patients()[1], answers: [.confirm(true)])
        defer { phone.shutdown() }
        _ = try await app.sync()
        let forger = try await Forger(lab, app)
        guard let record = try await app.device.query(PHRDevice.Query(offset: 5, limit: 1)).entries.first else { throw AttackFailure("nothing to share") }
        let share = PHRDevice.ShareRequest(practitioner: "Practitioner/clinic-1", records: [record.n], hours: 24)
        var verdicts: [Verdict] = []
        verdicts.append(try await refused("a grant with no clock asked for", expecting: .badState) { _ = try await app.device.share(share, clock: []) })
        let earlierAnswer = try await app.server.send(try await app.device.clockRequest()).checked().body
        let request = try await app.device.clockRequest()
        let ahead = Array(#"{"time":\#(Int(Date().timeIntervalSince1970) + 30 * 86_400)}"#.utf8)
        for (way, message) in try forger.everyWay(ahead, purpose: PHRMessage.clockPurpose, sequence: 1, request: try request.nonce) {
            verdicts.append(try await refused("a clock \(way.name)", expecting: way.refusal) { _ = try await app.device.share(share, clock: message) })
        }
        verdicts.append(try await refused("the server's clock for the earlier request", expecting: .security) {
            _ = try await app.device.share(share, clock: earlierAnswer)
        })
        guard try await actions(app, "share-confirmed") == 0, phone.screen.record.allSatisfy({ !$0.contains("Share with") }) else {
            return .accepted("the patient was asked to share on a clock the server never sent")
        }
        // Positive control: the server's answer to this request dates the prompt, and the grant is taken.
        let genuine = try await app.server.send(request).checked().body
        let served = Int(Date().timeIntervalSince1970)
        let receipt = try await app.device.shareDone(receipt: try await app.server.send(try await app.device.share(share, clock: genuine)).checked().body)
        let prompt = phone.screen.record.joined(separator: "\n")
        let days = (0...3).map { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(served + 86_400 - 1 + $0))).prefix(16) }
        guard receipt.resources == 1, days.contains(where: { prompt.contains($0) }) else {
            throw AttackFailure("the genuine clock did not date the prompt or the grant was not taken")
        }
        return allHold(verdicts + [.defended("no prompt on any of them; the server's clock then dated it, and the grant was taken")])
    }

    static func actions(_ app: PatientApp, _ action: String) async throws -> Int {
        try await app.device.localAudit().actions.count { $0.action == action }
    }
}

// MARK: The forger

/// What an attacker builds from public keys alone.
struct Forger {
    /// How a message was forged, and the refusal a defended trustlet answers it with.
    struct Way {
        let name: String
        let refusal: ReturnCode
    }

    static let asItself = Way(name: "sealed from the attacker's own key", refusal: .security)
    static let asServer = Way(name: "sealed from the attacker's key in the server's name", refusal: .macInvalid)
    static let baseMode = Way(name: "in base mode (no sender key, the old TZE1 format)", refusal: .badFormat)

    /// The trustlet's HPKE key, public: the enrollment token carries it.
    let deviceKey: P256.KeyAgreement.PublicKey
    /// The server's channel key, public: the enrollment answer carries it.
    let serverKey: P256.KeyAgreement.PublicKey
    let own = P256.KeyAgreement.PrivateKey()

    init(_ lab: AttackLab, _ app: PatientApp) async throws {
        let id = try await app.device.status().device
        guard let device = try await lab.stage.provider.store.device(id) else { throw AttackFailure("the phone's device is not registered") }
        deviceKey = try P256.KeyAgreement.PublicKey(x963Representation: device.hpkeKey)
        serverKey = lab.stage.provider.service.policy.channelKey.publicKey
    }

    /// The same payload forged each way.
    func everyWay(_ payload: [UInt8], purpose: String, sequence: UInt64, request: String, bucket: Int = 0) throws -> [(Way, [UInt8])] {
        let recipient = Array(deviceKey.x963Representation)
        let claimed = ClaimingCrypto(claimed: Array(serverKey.x963Representation), key: own)
        return [
            (Self.asItself, try SealedEnvelope.seal(payload, to: deviceKey, from: own, purpose: purpose, sequence: sequence, answering: request,
                                                    minimumBucket: bucket)),
            (Self.asServer, try ChannelMessage.seal(payload, to: recipient, purpose: Array(purpose.utf8), sequence: sequence, request: Array(request.utf8),
                                                    minimumBucket: bucket, crypto: claimed)),
            (Self.baseMode, try baseModeMessage(payload, purpose: purpose, sequence: sequence)),
        ]
    }

    /// The channel's first format: HPKE base mode, which anyone holding the recipient's public key can seal.
    func baseModeMessage(_ payload: [UInt8], purpose: String, sequence: UInt64) throws -> [UInt8] {
        let recipient = Array(deviceKey.x963Representation)
        let hash = Array(SHA256.hash(data: recipient))
        var header = Array("TZE1".utf8) + ChannelMessage.suite + hash.prefix(8)
        header += withUnsafeBytes(of: sequence.bigEndian, Array.init)
        header += [UInt8(purpose.utf8.count)] + Array(purpose.utf8)
        var plaintext = withUnsafeBytes(of: UInt32(payload.count).bigEndian, Array.init) + payload
        plaintext += [UInt8](repeating: 0, count: ChannelMessage.bucket(for: payload.count) - plaintext.count)
        var sender = try HPKE.Sender(recipientKey: deviceKey, ciphersuite: SealedEnvelope.suite, info: Data(Array("TrubiZone channel v1".utf8) + [0] + hash))
        let ciphertext = try sender.seal(plaintext, authenticating: header)
        return header + Array(sender.encapsulatedKey) + Array(ciphertext)
    }

    static let medication = Array(#"""
    {"resourceType":"MedicationRequest","id":"forged-1","status":"active","intent":"order","subject":{"reference":"Patient/forged"},"medicationCodeableConcept":{"text":"Warfarin 10 mg"},"dosageInstruction":[{"text":"10 mg three times a day"}],"authoredOn":"2026-11-30"}
    """#.utf8)
    static let allergy = Array(#"""
    {"resourceType":"AllergyIntolerance","id":"forged-2","clinicalStatus":{"coding":[{"code":"inactive"}]},"verificationStatus":{"coding":[{"code":"refuted"}]},"code":{"text":"Penicillin"},"patient":{"reference":"Patient/forged"},"recordedDate":"2026-11-30"}
    """#.utf8)

    /// A one-entry trail whose hash chain checks out by the trail's own formula.
    static func trail() -> [UInt8] {
        let fields = ["1", "4741671488000000000", "server", "read", "Patient/forged", "ok", "Patient/forged"]
        var input: [UInt8] = []
        for field in fields {
            let bytes = Array(field.utf8)
            input += [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
        }
        let previous = [UInt8](repeating: 0, count: 32)
        let hash = Array(SHA256.hash(data: input + previous))
        return Array("""
        {"patient":"Patient/forged","head":"\(Hex.encode(hash))","entries":[{"sequence":1,"time":1764547200,"timeBits":"4741671488000000000","actor":"server","action":"read","subject":"Patient/forged","outcome":"ok","previousHash":"\(Hex.encode(previous))","hash":"\(Hex.encode(hash))"}]}
        """.utf8)
    }
}

/// HPKE Auth mode with the attacker's own key while the header names another sender: the
/// strongest forgery an attacker without the server's private key can make.
struct ClaimingCrypto: ChannelCrypto {
    let claimed: [UInt8]
    let key: P256.KeyAgreement.PrivateKey

    func ownPublicKey() throws(ChannelFormatError) -> [UInt8] { claimed }
    func sha256(_ bytes: [UInt8]) throws(ChannelFormatError) -> [UInt8] { Array(SHA256.hash(data: bytes)) }

    func sealAuth(to recipient: [UInt8], info: [UInt8], aad: [UInt8], plaintext: [UInt8]) throws(ChannelFormatError) -> [UInt8] {
        do {
            let recipientKey = try P256.KeyAgreement.PublicKey(x963Representation: recipient)
            var sender = try HPKE.Sender(recipientKey: recipientKey, ciphersuite: SealedEnvelope.suite, info: Data(info), authenticatedBy: key)
            let ciphertext = try sender.seal(plaintext, authenticating: aad)
            return Array(sender.encapsulatedKey) + Array(ciphertext)
        } catch {
            throw .cryptoFailed
        }
    }

    func openAuth(from sender: [UInt8], info: [UInt8], aad: [UInt8], sealed: [UInt8]) throws(ChannelFormatError) -> [UInt8] { throw .cryptoFailed }
}

// MARK: Judging a named refusal

/// Server answers that must each be the named refusal: anything else (a 5xx above all) means the
/// attack proved nothing.
func refusedByServer(_ what: String, _ answers: [PHRConnection.Answer], expecting status: Int, _ name: String) throws -> Verdict {
    for answer in answers {
        if (200..<300).contains(answer.status) { return .accepted("\(what): HTTP \(answer.status)") }
        precondition((400..<500).contains(status), "a refusal is a 4xx, never a failure")
        let found = (try? JSONDecoder().decode(ErrorBody.self, from: Data(answer.body)))?.error ?? "?"
        guard answer.status == status, found == name else { throw AttackFailure("\(what): expected HTTP \(status) \(name), got \(answer.status) \(found)") }
    }
    return .defended("\(what): HTTP \(status) \(name)")
}

extension SignedHTTPRequest {
    /// The request's nonce, as anyone on the wire reads it.
    var nonce: String {
        get throws {
            guard let nonce = header[SignedRequest.nonceHeader] else { throw AttackFailure("the request has no \(SignedRequest.nonceHeader)") }
            return nonce
        }
    }
}
