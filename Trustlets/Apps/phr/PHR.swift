import TrustletKit

/// `phr`: the secure half of the Personal Health Record app.
///
/// It holds the patient's records, PIN and keys. The normal world (the `phr` app) carries bytes
/// between this trustlet and the provider server, and gets only what `ReleasePolicy` lets out:
/// the index without clinical values (a handle, the type, the date, a category), counts and the
/// sync state. Records, values and notes appear only on the trusted UI, after the PIN; a record
/// leaves only when the patient confirms its release on the trusted UI, and the release is audited.
///
/// Requests to the server are built and signed here, never on the normal world's say-so: it can
/// ask for "the next sync request", not for a signature over bytes of its choosing. Readings and
/// grants are sealed to the server's channel key, learnt at enrollment and authenticated with the
/// enrollment code, so the normal world relays ciphertext only.
///
/// Commands (`PHRCommand`, in Contract/, shared with the app; parameters in GP slot order; "in"/"out"
/// are memrefs, "value" value parameters):
///
///   0  status          out: JSON {pin, locked, wrongPINs, attemptsLeft, waitSeconds, unlocked,
///                      enrolled, device, records, cursor, pendingUploads, auditEntries}
///   1  set PIN         asks for a new PIN twice (only while none is set)
///   2  unlock          asks for the PIN; the session stays unlocked for 5 minutes
///   3  enroll: begin   in: the server's challenge (JSON) → out: the enrollment body (JSON).
///                      Creates the keys, reads the enrollment code on the trusted UI.
///   4  enroll: finish  in: the server's answer {device, channelKey, keyProof}
///   5  sync request    out: request head, out: body
///   6  sync page       in: the sealed page → value: a = records stored, b = 1 if more follow
///   7  query index     in: JSON filter {type?, category?, since?, until?, offset?, limit?}
///                      → out: JSON {total, entries: [{n, type, date, category}]}
///   8  show record     value: a = n. Shows the whole record on the trusted UI.
///   9  summary         shows the summary on the trusted UI → value: a = lines shown
///   10 release record  value: a = n → out: the record (JSON), after a confirmation
///   11 add reading     value: a = kind (1 blood pressure, 2 weight, 3 glucose); read on the
///                      trusted UI, confirmed, signed and queued → value: a = its sequence number
///   12 upload request  out: request head, out: body → value: a = readings still queued
///   13 upload done     in: the server's sealed receipt {observation, sequence}
///   14 share           in: {practitioner, display?, records: [n], hours}, out: head, out: body,
///                      in: the server's sealed clock (answering 22), at most 2 minutes old; the
///                      prompt's dates are the server's time, never the phone's clock
///   15 revoke          in: the grant ID → out: request head
///   16 audit request   out: request head (the server's trail, sealed to this trustlet)
///   17 server audit    in: the sealed trail → out: JSON {entries, verified, actions: [...]}
///   18 local audit     out: JSON {entries, verified, head, actions: [{sequence, time, action, digest}]}
///   19 reset           erases records, keys, enrollment and PIN after a confirmation
///   20 share done      in: the server's sealed grant receipt → out: JSON {grant, expiresAt, resources}
///   21 revoke done     in: the server's sealed revocation receipt → out: JSON {grant, expiresAt,
///                      resources, revokedAt}
///   22 clock request   out: request head (GET /v1/clock: the server's time, sealed to this trustlet)
///
/// Every message from the server (pages, receipts, the trail) must be sealed to this trustlet,
/// authenticated by the server's channel key and answer the request this session made last for
/// it (13, 17, 20, 21, 14 and 6 answer 12, 16, 14, 15, 22 and 5); a request's nonce is forgotten once its
/// answer is kept, so an answer counts once.
///
/// Every command but status, set PIN, unlock, sync, query, uploads (of readings already
/// confirmed) and the audit requests needs an unlocked session. Errors: ACCESS_DENIED a wrong
/// PIN or a locked session, SECURITY the PIN is locked or a server message failed its check, BUSY
/// wait before the next PIN attempt, BAD_STATE not enrolled (or already), ITEM_NOT_FOUND no such
/// record, CANCEL the user declined.
@main
struct PHR: Trustlet {
    /// How long a PIN keeps a session unlocked.
    static let unlockNanoseconds: UInt64 = 5 * 60 * 1_000_000_000

    var unlockedUntil: UInt64 = 0
    /// An enrollment in progress in this session: the challenge's nonce, the code's proof key, and
    /// when it lapses. The normal world sees the code's proof, so it could try codes offline; the
    /// answer must come within the server's own challenge lifetime, long before any such search.
    var pendingEnrollment: (nonce: [UInt8], proofKey: [UInt8], until: UInt64)? = nil
    static let enrollmentNanoseconds: UInt64 = 2 * 60 * 1_000_000_000
    /// The nonce of the last sync request this session signed: a page must answer it.
    var pendingSync: String? = nil
    var pendingUpload: Readings.Pending? = nil
    var pendingGrant: Sharing.PendingGrant? = nil
    var pendingRevoke: Sharing.PendingRevoke? = nil
    var pendingClock: Sharing.PendingClock? = nil
    var pendingAudit: String? = nil

    init() throws(TrustletError) {}

    mutating func invoke(command: UInt32, parameters p: inout Parameters) throws(TrustletError) {
        guard let command = PHRCommand(rawValue: command) else { throw .notSupported }
        switch command {
        case .status:
            try p.expect(.memrefOutput)
            try p.setBytes(0, try status().serialized())
        case .setPIN:
            try p.expect()
            guard !(try PatientPIN.lock.isSet()) else { throw .badState }
            try PatientPIN.choose()
            try AuditChain.append("pin-set", detail: "")
        case .unlock:
            try p.expect()
            try unlock()
        case .enrollBegin:
            try p.expect(.memrefInput, .memrefOutput)
            try requireUnlocked()
            let begun = try Enrollment.begin(challenge: try p.bytes(0))
            pendingEnrollment = (begun.nonce, begun.proofKey, try TrustedTime.monotonicNanoseconds() + Self.enrollmentNanoseconds)
            try p.setBytes(1, begun.body)
        case .enrollFinish:
            try p.expect(.memrefInput)
            try requireUnlocked()
            guard let pending = pendingEnrollment else { throw .badState }
            guard try TrustedTime.monotonicNanoseconds() < pending.until else {
                pendingEnrollment = nil
                throw .badState
            }
            // A forged answer changes nothing, so it does not end the enrollment: the genuine
            // answer may still follow (guessing the code's 256-bit HMAC key online is hopeless).
            try Enrollment.finish(answer: try p.bytes(0), nonce: pending.nonce, proofKey: pending.proofKey)
            pendingEnrollment = nil
        case .syncRequest:
            try p.expect(.memrefOutput, .memrefOutput)
            let request = try Sync.request()
            pendingSync = request.nonce
            try p.setBytes(0, request.head)
            try p.setBytes(1, request.body)
        case .syncPage:
            try p.expect(.memrefInput, .valueOutput)
            guard let nonce = pendingSync ?? Self.anyRequest else { throw .security }
            let outcome = try Sync.receive(page: try p.bytes(0), answering: nonce)
            pendingSync = nil
            try p.setValue(1, a: UInt32(truncatingIfNeeded: outcome.stored), b: outcome.more ? 1 : 0)
        case .query:
            try p.expect(.memrefInput, .memrefOutput)
            try p.setBytes(1, try ReleasePolicy.query(try p.bytes(0)).serialized())
        case .show:
            try p.expect(.valueInput)
            try requireUnlocked()
            try RecordViews.show(number: Int(try p.value(0).a))
        case .summary:
            try p.expect(.valueOutput)
            try requireUnlocked()
            try p.setValue(0, a: UInt32(truncatingIfNeeded: try RecordViews.summary()))
        case .release:
            try p.expect(.valueInput, .memrefOutput)
            try requireUnlocked()
            let number = Int(try p.value(0).a)
            let record = try ReleasePolicy.release(number: number)
            try p.setBytes(1, record)
        case .addReading:
            // The `trustedInput` negative control takes a value passed in as a third parameter.
            var injected: String? = nil
            if weakened("trustedInput"), p.type(2) == .memrefInput { injected = String(decoding: try p.bytes(2), as: UTF8.self) } else {
                try p.expect(.valueInput, .valueOutput)
            }
            try requireUnlocked()
            guard let kind = Readings.Kind(rawValue: try p.value(0).a) else { throw .badParameters }
            try p.setValue(1, a: UInt32(truncatingIfNeeded: try Readings.add(kind, injected: injected)))
        case .uploadRequest:
            try p.expect(.memrefOutput, .memrefOutput, .valueOutput)
            let request = try Readings.uploadRequest()
            pendingUpload = request.pending
            try p.setValue(2, a: UInt32(truncatingIfNeeded: request.queued))
            try p.setBytes(0, request.head)
            try p.setBytes(1, request.body)
        case .uploadDone:
            try p.expect(.memrefInput)
            guard let pending = pendingUpload else { throw .security }
            try Readings.uploaded(receipt: try p.bytes(0), answering: pending)
            pendingUpload = nil
        case .share:
            try p.expect(.memrefInput, .memrefOutput, .memrefOutput, .memrefInput)
            try requireUnlocked()
            // No clock asked for (command 22) yet: ask for it first.
            guard let clock = pendingClock else { throw .badState }
            let request = try Sharing.grant(try p.bytes(0), clock: try p.bytes(3), answering: clock)
            pendingClock = nil
            pendingGrant = request.pending
            try p.setBytes(1, request.head)
            try p.setBytes(2, request.body)
        case .revoke:
            try p.expect(.memrefInput, .memrefOutput)
            try requireUnlocked()
            let request = try Sharing.revoke(grant: try p.bytes(0))
            pendingRevoke = request.pending
            try p.setBytes(1, request.head)
        case .auditRequest:
            try p.expect(.memrefOutput)
            let request = try ServerAudit.request()
            pendingAudit = request.nonce
            try p.setBytes(0, request.head)
        case .serverAudit:
            try p.expect(.memrefInput, .memrefOutput)
            guard let nonce = pendingAudit ?? Self.anyRequest else { throw .security }
            try p.setBytes(1, try ServerAudit.open(try p.bytes(0), answering: nonce).serialized())
            pendingAudit = nil
        case .localAudit:
            try p.expect(.memrefOutput)
            try p.setBytes(0, try AuditChain.released().serialized())
        case .reset:
            try p.expect()
            try Reset.run()
            unlockedUntil = 0
        case .shareDone:
            try p.expect(.memrefInput, .memrefOutput)
            guard let pending = pendingGrant else { throw .security }
            try release(try Sharing.granted(receipt: try p.bytes(0), answering: pending), into: p, at: 1)
            pendingGrant = nil
        case .revokeDone:
            try p.expect(.memrefInput, .memrefOutput)
            guard let pending = pendingRevoke else { throw .security }
            try release(try Sharing.revoked(receipt: try p.bytes(0), answering: pending), into: p, at: 1)
            pendingRevoke = nil
        case .clockRequest:
            try p.expect(.memrefOutput)
            let request = try Sharing.clockRequest()
            pendingClock = request.pending
            try p.setBytes(0, request.head)
        }
    }

    /// Releases an opened receipt, then audits it: a receipt whose release does not fit its buffer
    /// changes nothing, so the same receipt again (as GP's short-buffer rule has it) audits once.
    func release(_ receipt: Sharing.Receipt, into p: Parameters, at slot: Int) throws(TrustletError) {
        try p.setBytes(slot, receipt.released.serialized())
        try AuditChain.append(receipt.action, detail: receipt.detail)
    }

    /// In a negative control's test build with answer binding off: an answer with no request
    /// pending is taken too (`Channel.open` then takes the request it names).
    static var anyRequest: String? { weakened("answerBinding") ? "" : nil }

    // MARK: The session's PIN

    mutating func unlock() throws(TrustletError) {
        try PatientPIN.check(purpose: "Enter your PIN to open your health record.")
        unlockedUntil = try TrustedTime.monotonicNanoseconds() + Self.unlockNanoseconds
        try AuditChain.append("unlocked", detail: "")
    }

    /// Asks for the PIN unless this session entered it in the last five minutes.
    mutating func requireUnlocked() throws(TrustletError) {
        if unlockedUntil > (try TrustedTime.monotonicNanoseconds()) { return }
        // A negative control's test build with the PIN gate off: the prompt's answer is not checked.
        if weakened("pinGate") {
            try? unlock()
            return
        }
        try unlock()
    }

    func status() throws(TrustletError) -> JSON {
        let lock = PatientPIN.lock
        let wrong = try lock.wrongAttempts()
        let state = try DeviceState.load()
        let index = try RecordIndex.load()
        let now = try TrustedTime.monotonicNanoseconds()
        return .object([
            JSONMember("pin", .bool(try lock.isSet())),
            JSONMember("locked", .bool(wrong >= lock.maxAttempts)),
            JSONMember("wrongPINs", .integer(Int64(wrong))),
            JSONMember("attemptsLeft", .integer(Int64(lock.attemptsLeft(wrong)))),
            JSONMember("waitSeconds", .integer(Int64(try lock.waitSeconds()))),
            JSONMember("unlocked", .bool(unlockedUntil > now)),
            JSONMember("enrolled", .bool(state.isEnrolled)),
            JSONMember("device", .string(state.device)),
            JSONMember("records", .integer(Int64(index.entries.count))),
            JSONMember("cursor", .string(state.cursor)),
            JSONMember("pendingUploads", .integer(Int64(try Readings.queue().count))),
            JSONMember("auditEntries", .integer(Int64(try AuditChain.load().count))),
        ])
    }
}

/// Erases everything after a confirmation on the trusted UI: the way out of a locked PIN.
enum Reset {
    static func run() throws(TrustletError) {
        guard try TrustedUI.confirm("Erase this health record? Records, keys, enrollment and PIN are deleted from this phone.") else {
            throw .cancel
        }
        var pages: [UInt64] = []
        for entry in try RecordIndex.load().entries where !pages.contains(entry.page) { pages.append(entry.page) }
        // And what a stopped sync may have left: the page it was writing, the ones it was sweeping.
        if let state = try? DeviceState.load() { pages += state.sweep + (state.writing.map { [$0] } ?? []) }
        for page in pages { try erase(RecordIndex.pageObject(page)) }
        for object in [RecordIndex.object, DeviceState.object, Readings.queueObject] { try erase(object) }
        for key in [Enrollment.signingKey, Enrollment.hpkeKey] {
            do throws(TrustletError) { try key.delete() } catch where error == .itemNotFound {}
        }
        try PatientPIN.lock.clear()
        try AuditChain.append("reset", detail: "")
        try TrustedUI.show("This health record is erased. Set a PIN and enroll again to use it.")
    }

    static func erase(_ id: [UInt8]) throws(TrustletError) {
        do throws(TrustletError) { try SecureStorage.delete(id) } catch where error == .itemNotFound {}
    }
}
