import TrustletKit

/// Sharing records with a practitioner: the patient sees who, what and until when on the trusted
/// UI, and only a confirmed grant is signed. The grant travels sealed to the server, so the
/// normal world never learns which records were shared. A grant or a revocation counts as done
/// only when the server's receipt, authenticated by its channel key and answering this request,
/// says so: the normal world's word is never enough.
enum Sharing {
    static let purpose = PHRPurpose.grant
    static let grantReceiptPurpose = PHRPurpose.grantReceipt
    static let revokeReceiptPurpose = PHRPurpose.revokeReceipt
    static let clockPurpose = PHRPurpose.clock
    /// How long a clock answer may take to arrive and be used, on the secure world's own clock.
    static let clockLifetime: UInt64 = 120
    /// How long the patient may take at the prompt: the server takes a grant whose clock is at most
    /// 600 s old, and the request still has to get there.
    static let promptLifetime: UInt64 = 540

    /// The clock this session asked the server for, and when (on the monotonic clock).
    struct PendingClock {
        let nonce: String
        let askedAt: UInt64
    }

    /// A signed request for the server's time: a grant's prompt is dated from the answer, since the
    /// phone's clock is the normal world's.
    static func clockRequest() throws(TrustletError) -> (head: [UInt8], pending: PendingClock) {
        let signed = try SignedRequest.make("GET", PHRRoute.clock, body: [], contentType: nil, state: try DeviceState.enrolled())
        return (signed.head, PendingClock(nonce: signed.nonce, askedAt: try TrustedTime.monotonicNanoseconds()))
    }

    /// The server's time now: its sealed answer to `pending`, authenticated and at most
    /// `clockLifetime` old, plus the time since it was asked for (on the monotonic clock). It
    /// returns the time the server sent, too, which the grant carries for the server to check.
    static func serverNow(_ sealed: [UInt8], answering pending: PendingClock) throws(TrustletError) -> (now: UInt64, served: Int64) {
        let state = try DeviceState.enrolled()
        let opened = try Channel.open(sealed, key: Enrollment.hpkeKey, from: state.serverKey, purpose: clockPurpose, request: pending.nonce, after: nil)
        let document = try JSON.read(opened.payload, limits: JSON.Limits(maxBytes: 256, maxDepth: 2))
        guard let served = document["time"]?.integer, served > 0 else { throw .badFormat }
        let elapsed = (try TrustedTime.monotonicNanoseconds() &- pending.askedAt) / 1_000_000_000
        guard elapsed <= clockLifetime else { throw .badState }
        return (UInt64(served) + elapsed, served)
    }

    /// A grant this session sent and the receipt it waits for.
    struct PendingGrant {
        let nonce: String
        let detail: String
    }

    /// A revocation this session sent and the receipt it waits for.
    struct PendingRevoke {
        let nonce: String
        let grant: String
    }
    static let maxHours: Int64 = 366 * 24

    /// - Parameter request: `{"practitioner": "Practitioner/id", "display": "…", "records": [n, …], "hours": 24}`;
    ///   `display` is the app's name for the practitioner, shown beside the reference.
    static func grant(_ request: [UInt8], clock: [UInt8], answering pendingClock: PendingClock) throws(TrustletError)
        -> (head: [UInt8], body: [UInt8], pending: PendingGrant) {
        let state = try DeviceState.enrolled()
        let time = try serverNow(clock, answering: pendingClock)
        let document = try JSON.read(request, limits: JSON.Limits(maxBytes: 8192, maxDepth: 3))
        guard let practitioner = document["practitioner"]?.string, Text.starts(practitioner, with: "Practitioner/"),
              practitioner.utf8.count > 13, practitioner.utf8.count <= 80,
              let numbers = document["records"]?.array, !numbers.isEmpty, numbers.count <= 100,
              let hours = document["hours"]?.integer, hours >= 1, hours <= maxHours else { throw .badParameters }
        let display = Text.prefix(document["display"]?.string ?? "", 80)
        let index = try RecordIndex.load()
        var entries: [IndexEntry] = []
        for number in numbers {
            guard let value = number.integer, value >= 1, value <= Int64(index.entries.count) else { throw .itemNotFound }
            let entry = index.entries[Int(value) - 1]
            guard !entries.contains(where: { Text.same($0.key, entry.key) }) else { throw .badParameters }
            entries.append(entry)
        }
        let expires = time.now + UInt64(hours) &* 3600
        var question = "Share with " + practitioner + (display.isEmpty ? "" : " (the app calls them \"" + display + "\")") + "\nuntil "
            + Clock.iso8601(expires) + " (" + Bytes.decimal(UInt64(hours)) + " hours):"
        // Every record shared is on the screen the patient confirms: a grant the trusted display
        // cannot show whole (its text is at most 4 KiB) is refused, never summarised.
        for entry in entries { question += "\n  " + RecordViews.headline(entry) }
        guard try TrustedUI.confirm(question) else {
            try AuditChain.append("share-declined", detail: practitioner)
            throw .cancel
        }
        // Confirmed too late for the server's window: nothing is signed, the app asks again.
        guard (try TrustedTime.monotonicNanoseconds() &- pendingClock.askedAt) / 1_000_000_000 <= promptLifetime else { throw .badState }
        var resources: [JSON] = []
        var detail = practitioner
        for entry in entries {
            resources.append(.string(entry.key))
            detail += " " + entry.key
        }
        let payload = JSON.object([
            JSONMember("practitioner", .string(practitioner)), JSONMember("resources", .array(resources)),
            JSONMember("expiresAt", .integer(Int64(expires))), JSONMember("hours", .integer(hours)), JSONMember("clock", .integer(time.served)),
        ]).serialized()
        let body = try Channel.seal(payload, key: Enrollment.hpkeKey, to: state.serverKey, purpose: purpose, sequence: try TrustedTime.wallClockSeconds())
        let signed = try SignedRequest.make("POST", PHRRoute.grants, body: body, contentType: "application/octet-stream", state: state)
        try AuditChain.append("share-confirmed", detail: detail)
        return (signed.head, body, PendingGrant(nonce: signed.nonce, detail: detail))
    }

    /// A receipt opened: what is released, and the audit entry it earns, which the caller appends
    /// once the release fits its buffer (a short buffer, then the same receipt again, audits once).
    struct Receipt {
        let released: JSON
        let action: String
        let detail: String
    }

    /// The server's receipt for the grant `pending`: audited as shared, and released as
    /// `{grant, expiresAt, resources}`.
    static func granted(receipt: [UInt8], answering pending: PendingGrant) throws(TrustletError) -> Receipt {
        let document = try openReceipt(receipt, purpose: grantReceiptPurpose, request: pending.nonce)
        guard let grant = document["grant"]?.string, grant.utf8.count == 32, Hex.decode(grant) != nil,
              let expires = document["expiresAt"]?.integer, let resources = document["resources"]?.integer else { throw .badFormat }
        return Receipt(released: .object([JSONMember("grant", .string(grant)), JSONMember("expiresAt", .integer(expires)),
                                          JSONMember("resources", .integer(resources))]),
                       action: "shared", detail: pending.detail + " grant " + grant)
    }

    /// The server's receipt for the revocation `pending`: only now is the grant audited as revoked.
    static func revoked(receipt: [UInt8], answering pending: PendingRevoke) throws(TrustletError) -> Receipt {
        let document = try openReceipt(receipt, purpose: revokeReceiptPurpose, request: pending.nonce)
        guard let grant = document["grant"]?.string, Text.same(grant, pending.grant), let revokedAt = document["revokedAt"]?.integer,
              let expires = document["expiresAt"]?.integer, let resources = document["resources"]?.integer else { throw .badFormat }
        return Receipt(released: .object([JSONMember("grant", .string(grant)), JSONMember("expiresAt", .integer(expires)),
                                          JSONMember("resources", .integer(resources)), JSONMember("revokedAt", .integer(revokedAt))]),
                       action: "revoked", detail: grant)
    }

    static func openReceipt(_ receipt: [UInt8], purpose: String, request: String) throws(TrustletError) -> JSON {
        let state = try DeviceState.enrolled()
        let opened = try Channel.open(receipt, key: Enrollment.hpkeKey, from: state.serverKey, purpose: purpose, request: request, after: nil)
        return try JSON.read(opened.payload, limits: JSON.Limits(maxBytes: 4096, maxDepth: 4))
    }

    /// A signed request that ends a grant, after a confirmation.
    static func revoke(grant: [UInt8]) throws(TrustletError) -> (head: [UInt8], pending: PendingRevoke) {
        let state = try DeviceState.enrolled()
        guard grant.count == 32, Hex.decode(Bytes.text(grant)) != nil else { throw .badParameters }
        let id = Bytes.text(grant)
        guard try TrustedUI.confirm("Stop sharing under grant " + Text.prefix(id, 8) + "…? The practitioner loses access at once.") else {
            throw .cancel
        }
        try AuditChain.append("revoke-confirmed", detail: id)
        let signed = try SignedRequest.make("DELETE", PHRRoute.grantPrefix + id, body: [], contentType: nil, state: state)
        return (signed.head, PendingRevoke(nonce: signed.nonce, grant: id))
    }
}

/// The server's audit trail for this patient, sealed to this trustlet: checked here, shown on the
/// trusted UI, and released to the normal world without subjects or actors' identities.
enum ServerAudit {
    static let purpose = PHRPurpose.audit

    static func request() throws(TrustletError) -> (head: [UInt8], nonce: String) {
        try SignedRequest.make("GET", PHRRoute.audit, body: [], contentType: nil, state: try DeviceState.enrolled())
    }

    /// Each entry's hash is the server's: SHA-256 of (u16 length ‖ UTF-8) for sequence, the time's
    /// IEEE 754 bits in decimal, actor, action, subject, outcome and patient, then the previous hash.
    /// The trail arrives authenticated by the server's channel key and answering the request whose
    /// nonce is `nonce`, so it is the server's own, of now: the hashes then check its chain.
    static func open(_ sealed: [UInt8], answering nonce: String) throws(TrustletError) -> JSON {
        let state = try DeviceState.enrolled()
        let opened = try Channel.open(sealed, key: Enrollment.hpkeKey, from: state.serverKey, purpose: purpose, request: nonce, after: nil)
        let trail = try JSON.read(opened.payload, limits: JSON.Limits(maxBytes: 4 << 20, maxDepth: 6))
        guard let patient = trail["patient"]?.string, let entries = trail["entries"]?.array else { throw .badFormat }
        var verified = true
        var actions: [JSON] = []
        var lines: [String] = []
        var previous: (sequence: Int64, hash: [UInt8])? = nil
        for entry in entries {
            guard let sequence = entry["sequence"]?.integer, let bits = entry["timeBits"]?.string, let actor = entry["actor"]?.string,
                  let action = entry["action"]?.string, let subject = entry["subject"]?.string, let outcome = entry["outcome"]?.string,
                  let previousHash = entry["previousHash"]?.string.flatMap(Hex.decode), let hash = entry["hash"]?.string.flatMap(Hex.decode),
                  case let .number(time)? = entry["time"], sequence >= 0, sequence < Int64.max else { throw .badFormat }
            let seconds = Bytes.text(Array(time.utf8.prefix { $0 != 0x2E }))
            guard let whole = JSON.number(seconds).integer, whole >= 0 else { throw .badFormat }
            var input: [UInt8] = []
            for field in [Bytes.decimal(UInt64(sequence)), bits, actor, action, subject, outcome, patient] {
                let bytes = Bytes.utf8(field)
                input += [UInt8(bytes.count >> 8 & 0xFF), UInt8(bytes.count & 0xFF)] + bytes
            }
            let expected = try Digest.sha256(input + previousHash)
            if !Crypto.equalInConstantTime(expected, hash) { verified = false }
            // Consecutive entries of the server's chain must link.
            if let previous, previous.sequence + 1 == sequence, !Crypto.equalInConstantTime(previous.hash, previousHash) { verified = false }
            previous = (sequence, hash)
            let kind = Text.starts(actor, with: "device:") ? "this device" : Text.starts(actor, with: "Practitioner/") ? "practitioner" : "server"
            actions.append(.object([
                JSONMember("sequence", .integer(sequence)), JSONMember("time", .number(seconds)), JSONMember("actor", .string(kind)),
                JSONMember("action", .string(action)), JSONMember("refused", .bool(Text.starts(outcome, with: "refused"))),
            ]))
            lines.append(Clock.iso8601(UInt64(whole)) + "  " + actor + "  " + action + " " + subject + ": " + outcome)
        }
        var screen = ["Your clinic's record of who did what with your records (" + Bytes.decimal(UInt64(entries.count)) + " entries, "
                      + (verified ? "every entry checked" : "SOME ENTRIES DO NOT CHECK OUT") + "):"]
        screen += lines.suffix(12)
        try RecordViews.display(screen)
        try AuditChain.append("server-audit-checked", detail: verified ? "verified" : "broken")
        return .object([JSONMember("entries", .integer(Int64(entries.count))), JSONMember("verified", .bool(verified)),
                        JSONMember("actions", .array(actions))])
    }
}
