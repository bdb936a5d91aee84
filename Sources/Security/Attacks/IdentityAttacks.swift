import Crypto
import Foundation
import PHRApp
import PHRAppCommands
import PHRProtocol
import TrubiZoneManufacturer
import TrubiZoneSecureWorld

/// Being a device, a trustlet or a patient one is not: at enrollment and on every upload.
enum IdentityAttacks {
    static var all: [Attack] {
        [
            Attack("identity-forged-token", "Enroll with a token signed by the attacker's own device key and CA", .internet, .identity,
                   defense: "the server accepts tokens only from device keys certified by a trusted manufacturer root", play: forgedToken),
            Attack("identity-modified-trustlet", "Enroll with a genuine token for a modified trustlet (same UUID, changed wasm, own signer)",
                   .internet, .identity, defense: "the token's measurement and signer must match the reference values", play: modifiedTrustlet),
            Attack("identity-replayed-token", "Replay a captured enrollment (token and code proof) to enroll a second time", .internet, .identity,
                   defense: "the token answers a one-time challenge; a used challenge is refused", play: replayedToken),
            Attack("identity-stolen-code", "Enroll another genuine phone with an enrollment code another phone already used", .internet, .identity,
                   defense: "a code enrolls one device, once", play: stolenCode),
            Attack("identity-unsigned-reading", "Upload a reading without the device's signature", .internet, .identity,
                   defense: "every device request carries the trustlet's ES256 signature", play: unsignedReading),
            Attack("identity-replayed-reading", "Replay a signed reading the server already took", .internet, .identity,
                   defense: "each request's nonce is accepted once, and a reading's sequence must rise", play: replayedReading),
            Attack("identity-other-device", "Upload a reading signed by another enrolled device, in the victim's name", .internet, .identity,
                   defense: "the signature is checked with the key enrolled for the device the request names", play: otherDevice),
            Attack("sensor-injected-reading", "Inject a reading's value through the normal world instead of the trusted UI", .sensor, .identity,
                   defense: "the trustlet takes values only from the trusted UI; a value passed in is refused", play: injectedReading),
        ]
    }

    /// Enrolls `phone` (not yet enrolled) with a new code for the smallest patient.
    static func enroll(_ lab: AttackLab, _ phone: EmulatedPhone) async throws {
        let app = try await phone.app(server: lab.connection())
        _ = try await app.enroll()
    }

    static func forgedToken(_ lab: AttackLab) async throws -> Verdict {
        let code = try await lab.enrollmentCode(for: try lab.patients().last!)
        _ = try Manufacturer.certificateAuthority(directory: lab.root + "/attacker-ca")
        let phone = try await lab.phone("forged", ca: lab.root + "/attacker-ca", answers: AttackLab.enrollmentAnswers(code: code))
        defer { phone.shutdown() }
        return try await refused("enrollment from a device of the attacker's CA", expecting: .server(403, "attestation-refused")) { try await enroll(lab, phone) }
    }

    static func modifiedTrustlet(_ lab: AttackLab) async throws -> Verdict {
        let code = try await lab.enrollmentCode(for: try lab.patients().last!)
        let attacker = P256.Signing.PrivateKey()
        // A custom section appended: the module still loads and runs, its measurement differs.
        let name = Array("attacker".utf8)
        let section: [UInt8] = [0x00, UInt8(name.count + 1 + 4), UInt8(name.count)] + name + [1, 2, 3, 4]
        let package = try TrustletPackage.sign(manifest: try PHRPackage.manifest(), wasm: lab.stage.package.wasm + section, key: attacker)
        let phone = try await lab.phone("modified", developer: attacker.publicKey, package: package, answers: AttackLab.enrollmentAnswers(code: code))
        defer { phone.shutdown() }
        return try await refused("enrollment of a modified PHR trustlet on a genuine device", expecting: .server(403, "attestation-refused")) { try await enroll(lab, phone) }
    }

    static func replayedToken(_ lab: AttackLab) async throws -> Verdict {
        let code = try await lab.enrollmentCode(for: try lab.patients().last!)
        let phone = try await lab.phone("replayed", answers: AttackLab.enrollmentAnswers(code: code))
        defer { phone.shutdown() }
        let app = try await phone.app(server: lab.connection())
        try await app.device.setPIN()
        let challenge = try await app.server.send("POST", "/v1/enrollment/challenge").checked()
        let body = try await app.device.enrollBegin(challenge: challenge.body)
        let headers = [("Content-Type", "application/json")]
        _ = try await app.server.send("POST", "/v1/enrollment", headers: headers, body: body).checked()
        return try refusedByServer("the same enrollment sent again", try await app.server.send("POST", "/v1/enrollment", headers: headers, body: body),
                                   expecting: 409, "challenge-used")
    }

    static func stolenCode(_ lab: AttackLab) async throws -> Verdict {
        let patient = try lab.patients().last!
        let code = try await lab.enrollmentCode(for: patient)
        let victim = try await lab.phone("victim", answers: AttackLab.enrollmentAnswers(code: code))
        defer { victim.shutdown() }
        try await enroll(lab, victim)
        let thief = try await lab.phone("thief", answers: AttackLab.enrollmentAnswers(code: code))
        defer { thief.shutdown() }
        return try await refused("a second phone enrolling with the victim's code", expecting: .server(409, "code-used")) { try await enroll(lab, thief) }
    }

    static func unsignedReading(_ lab: AttackLab) async throws -> Verdict {
        let (phone, app, request) = try await NetworkAttacks.queuedReading(lab, "unsigned")
        defer { phone.shutdown() }
        let bare = request.headers.filter { !$0.0.hasPrefix("TZ-") }
        let unsigned = try await app.server.send(request.method, request.target, headers: bare, body: request.body)
        var signature = request.header[SignedRequest.signatureHeader] ?? ""
        signature = String(repeating: "0", count: signature.count)
        let zeroed = try await app.server.send(request.method, request.target,
                                               headers: request.headers.map { $0.0 == SignedRequest.signatureHeader ? ($0.0, signature) : $0 }, body: request.body)
        return allHold([try refusedByServer("no signature headers", unsigned, expecting: 401, "unauthenticated"),
                        try refusedByServer("a zero signature", zeroed, expecting: 401, "unauthenticated")])
    }

    static func replayedReading(_ lab: AttackLab) async throws -> Verdict {
        let (phone, app, request) = try await NetworkAttacks.queuedReading(lab, "replayed-reading")
        defer { phone.shutdown() }
        _ = try await app.server.send(request).checked()
        return try refusedByServer("the same signed reading again", try await app.server.send(request), expecting: 409, "replayed-request")
    }

    static func otherDevice(_ lab: AttackLab) async throws -> Verdict {
        let patients = try lab.patients()
        let (victim, victimApp) = try await lab.enrolledPhone("victim-device", patient: patients[0])
        defer { victim.shutdown() }
        let victimID = try await victimApp.device.status().device
        let (phone, app, request) = try await NetworkAttacks.queuedReading(lab, "other-device", patient: patients[1])
        defer { phone.shutdown() }
        let renamed = request.headers.map { $0.0 == SignedRequest.deviceHeader ? ($0.0, victimID) : $0 }
        return try refusedByServer("another device's signed reading in the victim's name",
                                   try await app.server.send(request.method, request.target, headers: renamed, body: request.body), expecting: 401, "unauthenticated")
    }

    static func injectedReading(_ lab: AttackLab) async throws -> Verdict {
        let (phone, app) = try await lab.enrolledPhone("injected")
        defer { phone.shutdown() }
        _ = try await app.sync()  // readings are taken once the phone holds the record
        // In the form the patient would type it on the trusted UI.
        let value = Array("90/60".utf8)
        let verdicts = [
            try await refused("a reading with its value passed in", expecting: .badParameters) {
                _ = try await app.device.call(.addReading, [.valueInput(1), .valueOutput, .input(value)])
            },
            try await refused("a receipt forged by the normal world", expecting: .security) {
                try await app.device.uploaded(receipt: Array(#"{"sequence": 1, "observation": "Observation/forged"}"#.utf8))
            },
        ]
        let queued = try await app.device.status().pendingUploads
        guard queued == 0 else { return .accepted("\(queued) readings queued from the normal world") }
        return allHold(verdicts + [.defended("nothing queued")])
    }
}
