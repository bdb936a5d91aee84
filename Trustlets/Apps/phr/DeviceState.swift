import TrustletKit

/// What this trustlet knows about its enrollment and sync, in sealed storage.
struct DeviceState {
    static let object = Bytes.utf8("state")

    /// The device ID the server gave at enrollment ("" before).
    var device = ""
    /// The server's channel key (SEC1, 65 bytes), authenticated at enrollment by the code.
    var serverKey: [UInt8] = []
    /// `Patient/id`, learnt from the first page that carries the Patient resource.
    var patient = ""
    /// The server's sync cursor after the last page kept ("" before the first).
    var cursor = ""
    /// The sequence number of the last sync page opened; a later page must have a higher one.
    var lastPage: UInt64? = nil
    /// The sequence number of the last reading queued.
    var lastReading: UInt64 = 0
    /// A sync page being kept: on record before the page is written, so that a secure world
    /// stopped before the state lands leaves a note of the object to delete (see `Sync`).
    var writing: UInt64? = nil
    /// Pages the index no longer uses, deleted after this state was saved and again at the next
    /// page, so a stop between the two leaves none behind (see `Sync`).
    var sweep: [UInt64] = []

    var isEnrolled: Bool { !device.isEmpty && serverKey.count == 65 }

    static func load() throws(TrustletError) -> DeviceState {
        var state = DeviceState()
        guard let bytes = try SecureStorage.read(object) else { return state }
        let document = try JSON.read(bytes)
        guard let device = document["device"]?.string, let key = document["server"]?.string.flatMap(Hex.decode),
              let patient = document["patient"]?.string, let cursor = document["cursor"]?.string,
              let page = document["page"]?.integer, let reading = document["reading"]?.integer else { throw .corruptObject }
        state.device = device
        state.serverKey = key
        state.patient = patient
        state.cursor = cursor
        state.lastPage = page < 0 ? nil : UInt64(page)
        state.lastReading = UInt64(reading)
        // Absent in a state saved before pages were tracked: nothing to sweep.
        if let writing = document["writing"] {
            guard let page = writing.integer else { throw .corruptObject }
            state.writing = page < 0 ? nil : UInt64(page)
        }
        for page in document["sweep"]?.array ?? [] {
            guard let number = page.integer, number >= 0 else { throw .corruptObject }
            state.sweep.append(UInt64(number))
        }
        return state
    }

    func save() throws(TrustletError) {
        try SecureStorage.write(Self.object, JSON.object([
            JSONMember("device", .string(device)), JSONMember("server", .string(Hex.encode(serverKey))),
            JSONMember("patient", .string(patient)), JSONMember("cursor", .string(cursor)),
            JSONMember("page", .integer(lastPage.map { Int64($0) } ?? -1)), JSONMember("reading", .integer(Int64(lastReading))),
            JSONMember("writing", .integer(writing.map { Int64($0) } ?? -1)), JSONMember("sweep", .array(sweep.map { .integer(Int64($0)) })),
        ]).serialized())
    }

    /// The state of an enrolled device; `badState` before enrollment.
    static func enrolled() throws(TrustletError) -> DeviceState {
        let state = try load()
        guard state.isEnrolled else { throw .badState }
        return state
    }
}

/// Requests to the PHR server, signed with the trustlet's key over `SignedRequestMessage` (the
/// one definition both worlds build), and the head handed to the normal world is the request line and the headers, one per line:
///
///     POST /v1/sync
///     TZ-Device: …
///     TZ-Time: …
///     TZ-Nonce: …
///     TZ-Signature: …
///     Content-Type: application/json
enum SignedRequest {
    static func make(_ method: String, _ target: String, body: [UInt8], contentType: String?, state: DeviceState) throws(TrustletError) -> (head: [UInt8], nonce: String) {
        let seconds = try TrustedTime.wallClockSeconds()
        let time = Bytes.decimal(seconds)
        let nonce = Hex.encode(try Random.bytes(16))
        let message = SignedRequestMessage.message(method: Bytes.utf8(method), target: Bytes.utf8(target), device: Bytes.utf8(state.device),
                                                   time: seconds, nonce: Bytes.utf8(nonce), body: body)
        let signature = Hex.encode(try Enrollment.signingKey.sign(message))
        var head = method + " " + target + "\nTZ-Device: " + state.device + "\nTZ-Time: " + time + "\nTZ-Nonce: " + nonce
            + "\nTZ-Signature: " + signature + "\n"
        if let contentType { head += "Content-Type: " + contentType + "\n" }
        return (Bytes.utf8(head), nonce)
    }
}

/// Enrollment: keys made here, an attestation token that binds them, and proof of the code the
/// patient types on the trusted UI. The server answers with its channel key and proves, with the
/// same code, that the key is its own.
enum Enrollment {
    static let signingKey = RuntimeKey(id: Bytes.utf8("phr-signing"))
    static let hpkeKey = RuntimeKey(id: Bytes.utf8("phr-hpke"))
    static let codeLabel = Bytes.utf8("TrubiZone PHR enrollment code v1") + [0]
    static let serverKeyLabel = Bytes.utf8("TrubiZone PHR server key v2") + [0]
    static let crockford = Bytes.utf8("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    static func begin(challenge: [UInt8]) throws(TrustletError) -> (body: [UInt8], nonce: [UInt8], proofKey: [UInt8]) {
        guard !(try DeviceState.load().isEnrolled) else {
            try TrustedUI.show("This phone is already enrolled. Reset the health record to enroll it again.")
            throw .badState
        }
        let document = try JSON.read(challenge, limits: JSON.Limits(maxBytes: 4096, maxDepth: 4))
        guard let id = document["challenge"]?.string, id.utf8.count == 32, let nonce = document["nonce"]?.string.flatMap(Hex.decode),
              nonce.count == 32 || nonce.count == 48 || nonce.count == 64 else { throw .badParameters }
        try ensure(signingKey, .signing)
        try ensure(hpkeKey, .hpke)
        let typed = try TrustedUI.readText("Enter the enrollment code your clinic gave you (XXXX-XXXX-XXXX-XXXX).")
        guard let code = normalized(typed) else {
            try TrustedUI.show("That is not an enrollment code: it has 16 letters and digits. Nothing was sent.")
            throw .badFormat
        }
        let proofKey = try Digest.sha256(codeLabel + code)
        let token = try Attestation.token(nonce: nonce, signingKey: signingKey, hpkeKey: hpkeKey)
        let proof = try Crypto.hmacSHA256(key: proofKey, data: nonce + (try Digest.sha256(token)))
        try AuditChain.append("enroll-begin", detail: "")
        let body = JSON.object([
            JSONMember("challenge", .string(id)), JSONMember("token", .string(Base64.encode(token))),
            JSONMember("code", .string(Bytes.text(Array(code[0..<4])))), JSONMember("proof", .string(Hex.encode(proof))),
        ])
        return (body.serialized(), nonce, proofKey)
    }

    static func finish(answer: [UInt8], nonce: [UInt8], proofKey: [UInt8]) throws(TrustletError) {
        let document = try JSON.read(answer, limits: JSON.Limits(maxBytes: 4096, maxDepth: 4))
        guard !(try DeviceState.load().isEnrolled) else { throw .badState }
        guard let device = document["device"]?.string, device.utf8.count == 32, Hex.decode(device) != nil,
              Text.same(Hex.encode(Hex.decode(device) ?? []), device),
              let channelKey = document["channelKey"]?.string.flatMap(Hex.decode), channelKey.count == 65, channelKey[0] == 4,
              let keyProof = document["keyProof"]?.string.flatMap(Hex.decode) else { throw .badParameters }
        let expected = try Crypto.hmacSHA256(key: proofKey, data: serverKeyLabel + nonce + channelKey + Bytes.utf8(device))
        guard Crypto.equalInConstantTime(expected, keyProof) || weakened("enrollmentProof") else {
            try AuditChain.append("enroll-refused", detail: "server key proof")
            try TrustedUI.show("The server could not prove it knows your enrollment code. This phone is not enrolled.")
            throw .security
        }
        var state = try DeviceState.load()
        state.device = device
        state.serverKey = channelKey
        try state.save()
        try AuditChain.append("enrolled", detail: device)
        try TrustedUI.show("This phone is enrolled with your clinic. Your records will arrive sealed to this phone.")
    }

    /// The code as 16 upper-case Crockford base32 characters; dashes and spaces dropped, O → 0, I/L → 1.
    static func normalized(_ typed: String) -> [UInt8]? {
        var out: [UInt8] = []
        for var byte in typed.utf8 where byte != 0x2D && byte != 0x20 {
            if byte >= 0x61 && byte <= 0x7A { byte -= 0x20 }
            if byte == 0x4F { byte = 0x30 }
            if byte == 0x49 || byte == 0x4C { byte = 0x31 }
            guard crockford.contains(byte) else { return nil }
            out.append(byte)
        }
        return out.count == 16 ? out : nil
    }

    private static func ensure(_ key: RuntimeKey, _ kind: RuntimeKey.Kind) throws(TrustletError) {
        do throws(TrustletError) {
            _ = try key.publicKey()
        } catch where error == .itemNotFound {
            _ = try RuntimeKey.generate(kind, id: key.id)
        }
    }
}
