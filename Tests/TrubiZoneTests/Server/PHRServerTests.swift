import Crypto
import Foundation
import Logging
import PHRProtocol
import PHRServer
import PHRServerHTTP
import Testing
import TrubiZoneManufacturer
import TrubiZoneProtocol
import TrubiZoneTesting
import TrubiZoneVerifier
import X509

/// The provider server over HTTP, with a real trustlet (the probe) as the device: enrollment,
/// signed requests, sealed sync, uploads, sharing and the audit trail, and every refusal.
@Suite struct PHRServerTests {
    struct Setup {
        let server: PHRTestServer
        let device: PHRTestDevice
        /// `Patient/id` of the first patient, the one the device enrolls for.
        var patient: String { "Patient/\(server.patients[0])" }

        init(patients: Int = 3, reference: ReferenceValues? = nil, root: Certificate? = nil, database: TestDatabase = .sqlite) async throws {
            let probe = try await InternalAPITests.Probe()
            server = try await PHRTestServer(device: probe, patients: patients, root: root, reference: reference, database: database)
            device = try await PHRTestDevice(probe)
        }

        func code(for index: Int = 0) async throws -> EnrollmentCode {
            try await server.service.issueEnrollmentCode(patient: server.patients[index]).code
        }

        func enrolled(_ client: PHRClient) async throws {
            let answer = try await device.enroll(client, code: try await code())
            #expect(answer.status == 201, "\(answer.message)")
        }
    }

    static func reading(patient: String, sequence: UInt64, loinc: String = "85354-9", systolic: Double = 128, diastolic: Double = 82,
                        at time: Date, subject: String? = nil) -> [UInt8] {
        var observation: [String: Any] = [
            "resourceType": "Observation", "status": "final",
            "category": [["coding": [["system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"]]]],
            "code": ["coding": [["system": "http://loinc.org", "code": loinc]]],
            "subject": ["reference": subject ?? patient],
            "effectiveDateTime": ISO8601DateFormatter().string(from: time.addingTimeInterval(-60)),
        ]
        if loinc == "85354-9" {
            observation["component"] = [
                ["code": ["coding": [["system": "http://loinc.org", "code": "8480-6"]]],
                 "valueQuantity": ["value": systolic, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"]],
                ["code": ["coding": [["system": "http://loinc.org", "code": "8462-4"]]],
                 "valueQuantity": ["value": diastolic, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"]],
            ]
        } else {
            observation["valueQuantity"] = ["value": systolic, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"]
        }
        return Array(try! JSONSerialization.data(withJSONObject: ["sequence": sequence, "observation": observation], options: [.sortedKeys]))
    }

    // MARK: Enrollment

    @Test(arguments: TestDatabase.available) func enrollmentBindsTheAttestedTrustletsKeysToThePatient(_ database: TestDatabase) async throws {
        let setup = try await Setup(database: database)
        let code = try await setup.code()
        #expect(EnrollmentCode(code.formatted.lowercased()) == code)
        #expect(!"\(code)".contains(code.characters.suffix(12)), "a code's description never shows the secret part")
        let (device, again) = try await setup.server.withClient { client in
            let answer = try await setup.device.enroll(client, code: code)
            #expect(answer.status == 201, "\(answer.message)")
            #expect(setup.device.serverKey != nil, "the server proves its channel key with the code")
            #expect(!String(decoding: answer.body, as: UTF8.self).contains(setup.server.patients[0]), "the answer does not name the patient")
            // The code enrolls one device, once.
            return (try await setup.server.store.device(setup.device.id), try await setup.device.enroll(client, code: code))
        }
        #expect(device?.patient == setup.patient)
        #expect(device?.signingKey.count == 65 && device?.hpkeKey.count == 65)
        #expect(again.status == 409 && again.error == "code-used")
        let audit = try await setup.server.store.auditTrail(patient: setup.patient).map(\.outcome)
        #expect(audit.contains("enrolled") && audit.contains("refused: code already used"))
    }

    @Test(arguments: TestDatabase.available) func eachEnrollmentRefusalIsNamedAuditedAndStoresNoDevice(_ database: TestDatabase) async throws {
        let setup = try await Setup(database: database)
        let code = try await setup.code()
        try await setup.server.withClient { client in
            // Unknown, reused and expired challenges.
            var answer = try await setup.device.enroll(client, code: code) { $0 = EnrollmentRequest(challenge: String(repeating: "0", count: 32),
                                                                                                    token: $0.token, code: $0.code, proof: $0.proof) }
            #expect(answer.status == 404 && answer.error == "unknown-challenge")
            let challenge = try await client.send(.post, "/v1/enrollment/challenge").decode(Challenge.self)
            let token = try await setup.device.token(nonce: Hex.decode(challenge.nonce)!)
            let proof = Hex.encode(EnrollmentCode.proof(key: code.proofKey, nonce: Hex.decode(challenge.nonce)!, token: token))
            let wrongProof = EnrollmentRequest(challenge: challenge.challenge, token: Data(token).base64EncodedString(), code: code.id,
                                               proof: String(repeating: "ab", count: 32))
            answer = try await client.json(.post, "/v1/enrollment", wrongProof)
            #expect(answer.status == 401 && answer.error == "wrong-code")
            answer = try await client.json(.post, "/v1/enrollment", EnrollmentRequest(challenge: challenge.challenge, token: wrongProof.token,
                                                                                       code: code.id, proof: proof))
            #expect(answer.status == 409 && answer.error == "challenge-used", "a nonce is appraised once, whatever happened the first time")
            let late = try await client.send(.post, "/v1/enrollment/challenge").decode(Challenge.self)
            setup.server.clock.advance(121)
            answer = try await client.json(.post, "/v1/enrollment", EnrollmentRequest(challenge: late.challenge, token: wrongProof.token,
                                                                                       code: code.id, proof: proof))
            #expect(answer.status == 410 && answer.error == "challenge-expired")

            // A token for another nonce (a replayed token): the proof is right, the nonce is not.
            answer = try await setup.device.enroll(client, code: code) { request in
                request = EnrollmentRequest(challenge: request.challenge, token: wrongProof.token, code: request.code,
                                            proof: Hex.encode(EnrollmentCode.proof(key: code.proofKey,
                                                                                      nonce: Hex.decode(challenge.nonce)!, token: token)))
            }
            #expect(answer.status == 403 && answer.error == "attestation-refused", "a token for another challenge is refused before the code is looked at")
            // Unknown code; malformed bodies.
            // An unknown code answers as a wrong one: the first group, which is public, tells nothing.
            answer = try await setup.device.enroll(client, code: EnrollmentCode("ZZZZ-0000-0000-0000")!)
            #expect(answer.status == 401 && answer.error == "wrong-code")
            answer = try await client.send(.post, "/v1/enrollment", body: Array("{\"challenge\": 1".utf8))
            #expect(answer.status == 400 && answer.error == "bad-request")
            answer = try await client.send(.post, "/v1/enrollment", body: [UInt8](repeating: 0x20, count: PHRMessage.maxBodySize + 1))
            #expect(answer.status == 413 && answer.error == "body-too-large")
            answer = try await client.send(.get, "/v1/nothing")
            #expect(answer.status == 404 && answer.error == "not-found")
        }
        #expect(try await setup.server.store.device(setup.device.id) == nil)
        let outcomes = try await setup.server.store.auditTrail().map(\.outcome)
        // Each refusal that reached a code or a token is audited, once: the wrong code, the token
        // for another challenge, the unknown code (which answers as a wrong one). Refusals of the
        // request itself (an unknown or used challenge, a malformed body, no such route) name no
        // code and no device, and are only logged.
        let refusals = outcomes.filter { $0.hasPrefix("refused") }
        #expect(refusals.count == 3, "\(refusals)")
        #expect(refusals.contains("refused: wrong code"), "\(refusals)")
        #expect(refusals.contains("refused: no such code"), "\(refusals)")
        #expect(refusals.contains { $0.hasPrefix("refused: attestation:") && $0.contains("nonce") }, "\(refusals)")
    }

    @Test(arguments: TestDatabase.available) func junkTokensNeverUseACodesAttemptsNorTellCodesApart(_ database: TestDatabase) async throws {
        let setup = try await Setup(database: database)
        let code = try await setup.code()
        try await setup.server.withClient { client in
            // Far more junk enrollments than a code has attempts, naming the live code's first group.
            var answers: [String] = []
            for _ in 0..<8 {
                answers.append(try await setup.device.enroll(client, code: code) {
                    $0 = EnrollmentRequest(challenge: $0.challenge, token: Data([0xA0]).base64EncodedString(), code: $0.code, proof: String(repeating: "00", count: 32))
                }.error)
            }
            #expect(answers == Array(repeating: "attestation-refused", count: 8))
            // A genuine token with a wrong proof answers alike for the live code and for one that does not exist.
            let live = try await setup.device.enroll(client, code: code) { $0 = EnrollmentRequest(challenge: $0.challenge, token: $0.token, code: $0.code,
                                                                                                  proof: String(repeating: "11", count: 32)) }
            let none = try await setup.device.enroll(client, code: EnrollmentCode("ZZZZ-ZZZZ-ZZZZ-ZZZZ")!)
            #expect(live.status == none.status && live.error == none.error && live.message == none.message)
            // The patient's own enrollment still goes through.
            #expect(try await setup.device.enroll(client, code: code).status == 201)
        }
    }

    @Test(arguments: TestDatabase.available) func aCodeLocksAfterFiveWrongProofsAndExpires(_ database: TestDatabase) async throws {
        let setup = try await Setup(database: database)
        let code = try await setup.code()
        try await setup.server.withClient { client in
            var statuses: [String] = []
            for _ in 0..<6 {
                let answer = try await setup.device.enroll(client, code: code) { $0 = EnrollmentRequest(
                    challenge: $0.challenge, token: $0.token, code: $0.code, proof: String(repeating: "00", count: 32)) }
                statuses.append(answer.error)
            }
            #expect(statuses == ["wrong-code", "wrong-code", "wrong-code", "wrong-code", "wrong-code", "wrong-code"],
                    "a locked code answers a wrong proof as any other: only the patient, who knows it, learns it is locked")
            // Even the right proof is refused now, and answered as a wrong one (a different answer
            // would let guessing go on past the lock): the clinic must issue a new code.
            let locked = try await setup.device.enroll(client, code: code)
            #expect(locked.status == 401 && locked.error == "wrong-code")
            // A code issued 7 days and a second ago (the device's token is fresh: it is appraised first).
            setup.server.clock.advance(-(7 * 86_400 + 1))
            let fresh = try await setup.code()
            setup.server.clock.advance(7 * 86_400 + 1)
            let expired = try await setup.device.enroll(client, code: fresh)
            #expect(expired.status == 410 && expired.error == "code-expired")
            // Challenges are rate limited per peer.
        }
        let limited = try await setup.server.withClient(limiter: RateLimiter(capacity: 2, perSecond: 0.001)) { client in
            var last = 0
            for _ in 0..<3 { last = try await client.send(.post, "/v1/enrollment/challenge").status }
            return last
        }
        #expect(limited == 429)
    }

    @Test(arguments: TestDatabase.available) func attestationIsAppraisedAgainstTheServersReferenceValuesAndRoots(_ database: TestDatabase) async throws {
        let probe = try await InternalAPITests.Probe()
        let otherCA = try Manufacturer.provision(stateDirectory: TemporaryDirectory("phr-other").appending("s"),
                                                 caDirectory: TemporaryDirectory("phr-other-ca").path)
        let otherRoot = try Certificate(pemEncoded: String(contentsOfFile: otherCA.caCertificatePath, encoding: .utf8))
        let genuine = try await PHRTestServer(device: probe, patients: 1, database: database)
        var wrongBuild = genuine.reference
        wrongBuild.trustlets = [.init(measurement: String(repeating: "ab", count: 32), signer: genuine.reference.trustlets[0].signer)]
        var wrongSigner = genuine.reference
        wrongSigner.trustlets = [.init(measurement: genuine.reference.trustlets[0].measurement, signer: String(repeating: "cd", count: 32))]
        let device = try await PHRTestDevice(probe)
        for (reference, root, check) in [(wrongBuild, nil, "measurement"), (wrongSigner, nil, "signer"), (genuine.reference, otherRoot, "chain")] {
            let server = try await PHRTestServer(device: probe, patients: 1, root: root, reference: reference, database: database)
            let code = try await server.service.issueEnrollmentCode(patient: server.patients[0]).code
            let answer = try await server.withClient { client in try await device.enroll(client, code: code) }
            #expect(answer.status == 403 && answer.error == "attestation-refused" && answer.message.contains(check), "\(answer.message)")
            #expect(try await server.store.auditTrail().contains { $0.outcome.hasPrefix("refused: attestation") })
            // A refused attestation does not use up the code.
            #expect(try await server.store.auditTrail().allSatisfy { $0.outcome != "enrolled" })
        }
    }

    // MARK: Signed requests

    @Test(arguments: TestDatabase.available) func signedRequestsAreCheckedForDeviceSignatureTimeAndReplay(_ database: TestDatabase) async throws {
        let setup = try await Setup(database: database)
        try await setup.server.withClient { client in
            try await setup.enrolled(client)
            let now = setup.server.clock.read()
            let nonce = (0..<16).map { UInt8($0) }
            var answer = try await setup.device.send(client, .get, "/v1/audit", time: now, nonce: nonce)
            #expect(answer.status == 200)
            answer = try await setup.device.send(client, .get, "/v1/audit", time: now, nonce: nonce)
            #expect(answer.status == 409 && answer.error == "replayed-request")
            answer = try await setup.device.send(client, .get, "/v1/audit", time: now.addingTimeInterval(-301))
            #expect(answer.status == 401 && answer.error == "stale-request")
            // A signature over another target, another body, or by another key.
            let signed = try await setup.device.sign("GET", "/v1/audit?x=1", body: [], time: now)
            answer = try await client.send(.get, "/v1/audit", headers: signed.headers)
            #expect(answer.status == 401 && answer.message.contains("signature"))
            let forged = try SignedRequest.sign(method: "GET", target: "/v1/audit", body: [UInt8](), device: setup.device.id, key: P256.Signing.PrivateKey(), time: now)
            answer = try await client.send(.get, "/v1/audit", headers: forged.headers)
            #expect(answer.status == 401)
            let stranger = try SignedRequest.sign(method: "GET", target: "/v1/audit", body: [UInt8](), device: String(repeating: "e", count: 32),
                                                  key: P256.Signing.PrivateKey(), time: now)
            answer = try await client.send(.get, "/v1/audit", headers: stranger.headers)
            #expect(answer.status == 401 && answer.message.contains("unknown device"))
            answer = try await client.send(.get, "/v1/audit", headers: signed.headers.filter { $0.0 != SignedRequest.signatureHeader })
            #expect(answer.status == 401 && answer.message.contains("TZ-Signature"))
            // A revoked device is refused.
            #expect(try await setup.server.store.revokeDevice(setup.device.id, now: now.timeIntervalSince1970))
            answer = try await setup.device.send(client, .get, "/v1/audit", time: now)
            #expect(answer.status == 403 && answer.error == "device-revoked")
        }
    }

    // MARK: Sync

    @Test(arguments: TestDatabase.available) func syncSendsThePatientsRecordsSealedToTheTrustletInPages(_ database: TestDatabase) async throws {
        let setup = try await Setup(database: database)
        let expected = try await setup.server.store.resources(ofPatient: setup.patient)
        #expect(expected.count > 10)
        let (received, sizes) = try await setup.server.withClient { client in
            try await setup.enrolled(client)
            var cursor: String? = nil, received: [String] = [], sizes: Set<Int> = [], more = true
            while more {
                let body = Array(try JSONEncoder().encode(SyncRequest(cursor: cursor, limit: 7)))
                let answer = try await setup.device.send(client, .post, "/v1/sync", body: body, time: setup.server.clock.read())
                #expect(answer.status == 200 && answer.headers[.contentType] == "application/octet-stream")
                sizes.insert(answer.body.count)
                let page = try await setup.device.open(answer.body)
                #expect(page.resources.count <= 7)
                received += page.resources.map { "\($0.object["resourceType"]?.string ?? "")/\($0.object["id"]?.string ?? "")" }
                (cursor, more) = (page.cursor, page.more)
            }
            // Nothing new: an empty page with the same cursor.
            let answer = try await setup.device.send(client, .post, "/v1/sync", body: Array(try JSONEncoder().encode(SyncRequest(cursor: cursor))),
                                                     time: setup.server.clock.read())
            let empty = try await setup.device.open(answer.body)
            #expect(empty.resources.isEmpty && !empty.more && empty.cursor == cursor)
            return (received, sizes)
        }
        #expect(received.sorted() == expected.sorted(), "every resource of the patient, once, and no one else's")
        // Header (magic, suite, two key hints, sequence, purpose, the request's 32-digit nonce),
        // encapsulated key and tag around a padded plaintext.
        let overhead = 4 + 6 + 8 + 8 + 8 + 1 + PHRMessage.syncPurpose.utf8.count + 1 + 32 + 65 + 16
        #expect(Set(sizes) == [PHRMessage.syncPageBucket + overhead], "every page is padded to the same bucket, full or not: \(sizes)")
        #expect(try await setup.server.store.auditTrail(patient: setup.patient).filter { $0.action == "sync" }.count >= 3)
    }

    @Test(arguments: TestDatabase.available) func aSyncRequestWithABadCursorOrLimitIsRefused(_ database: TestDatabase) async throws {
        let setup = try await Setup(patients: 1, database: database)
        try await setup.server.withClient { client in
            try await setup.enrolled(client)
            for body in [#"{"cursor":"-1"}"#, #"{"cursor":"abc"}"#, #"{"limit":0}"#, #"{"limit":501}"#, #"{"cursor":5}"#, "[1,2"] {
                let answer = try await setup.device.send(client, .post, "/v1/sync", body: Array(body.utf8), time: setup.server.clock.read())
                #expect(answer.status == 400 && answer.error == "bad-request", "\(body)")
            }
        }
    }

    // MARK: Uploads

    @Test(arguments: TestDatabase.available) func uploadsAreCheckedAndStoredAsPatientReported(_ database: TestDatabase) async throws {
        let setup = try await Setup(patients: 2, database: database)
        let before = try await setup.server.store.resources(ofPatient: setup.patient).count
        try await setup.server.withClient { client in
            try await setup.enrolled(client)
            let now = setup.server.clock.read()
            func upload(_ payload: [UInt8], sequence: UInt64 = 2, purpose: String = PHRMessage.uploadPurpose) async throws -> PHRAnswer {
                try await setup.device.send(client, .post, "/v1/observations", body: try setup.device.sealed(payload, purpose: purpose, sequence: sequence), time: now)
            }
            func openReceipt(_ answer: PHRAnswer) async throws -> UploadReceipt {
                try JSONDecoder().decode(UploadReceipt.self, from: Data(try await setup.device.openSealed(answer.body, purpose: PHRMessage.receiptPurpose)))
            }
            let good = Self.reading(patient: setup.patient, sequence: 1, at: now)
            let stored = try await upload(good, sequence: 1)
            #expect(stored.status == 201, "\(stored.message)")
            let receipt = try await openReceipt(stored)
            // A retry of the same upload gets the same receipt; another reading with that sequence is a replay.
            let retry = try await upload(good, sequence: 1)
            #expect(retry.status == 201)
            #expect(try await openReceipt(retry) == receipt)
            let replay = try await upload(Self.reading(patient: setup.patient, sequence: 1, systolic: 150, at: now), sequence: 1)
            #expect(replay.status == 409 && replay.error == "sequence-replayed")
            // Readings travel sealed to the server: in clear, under another purpose, or with another sequence, they are refused.
            let clear = try await setup.device.send(client, .post, "/v1/observations", body: Self.reading(patient: setup.patient, sequence: 2, at: now), time: now)
            #expect(clear.status == 400 && clear.error == "not-sealed")
            #expect(try await upload(Self.reading(patient: setup.patient, sequence: 2, at: now), purpose: PHRMessage.grantPurpose).error == "not-sealed")
            #expect(try await upload(Self.reading(patient: setup.patient, sequence: 2, at: now), sequence: 3).error == "bad-request")

            let refusals: [([UInt8], Int, String)] = [
                (Self.reading(patient: setup.patient, sequence: 2, systolic: 400, at: now), 422, "implausible-value"),
                (Self.reading(patient: setup.patient, sequence: 2, systolic: 80, diastolic: 90, at: now), 422, "implausible-value"),
                (Self.reading(patient: setup.patient, sequence: 2, loinc: "29463-7", systolic: 0.1, at: now), 422, "implausible-value"),
                (Self.reading(patient: setup.patient, sequence: 2, loinc: "1234-5", at: now), 422, "invalid-fhir"),
                (Self.reading(patient: setup.patient, sequence: 2, at: now.addingTimeInterval(3600)), 422, "implausible-value"),
                (Self.reading(patient: setup.patient, sequence: 2, at: now, subject: "Patient/\(setup.server.patients[1])"), 403, "forbidden"),
                (Self.reading(patient: setup.patient, sequence: 0, at: now), 400, "bad-request"),
                (Array(#"{"sequence": true, "observation": {}}"#.utf8), 400, "bad-request"),
                (Array(#"{"sequence": 2, "observation": {"resourceType": "Patient"}}"#.utf8), 422, "invalid-fhir"),
                (Array("not json".utf8), 400, "bad-request"),
            ]
            for (body, status, error) in refusals {
                let answer = try await upload(body, sequence: body == Self.reading(patient: setup.patient, sequence: 0, at: now) ? 0 : 2)
                #expect(answer.status == status && answer.error == error, "\(String(decoding: body.prefix(300), as: UTF8.self)): \(answer.message)")
            }
            let json = try #require(try await setup.server.store.resource(type: "Observation", id: String(receipt.observation.dropFirst("Observation/".count))))
            let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
            let tags = (object["meta"] as? [String: Any])?["tag"] as? [[String: Any]] ?? []
            #expect(tags.contains { $0["code"] as? String == "patient-reported" })
            #expect((object["subject"] as? [String: Any])?["reference"] as? String == setup.patient)
        }
        #expect(try await setup.server.store.resources(ofPatient: setup.patient).count == before + 1, "refused uploads store nothing")
    }

    @Test func readingTimesAreReadAsFoundationReadsThem() throws {
        let formatter = ISO8601DateFormatter()
        for text in ["2026-11-27T10:15:00Z", "2026-11-27T10:15:00+01:00", "1999-02-28T23:59:59-05:30", "2024-02-29T00:00:00Z", "2000-03-01T12:00:00+14:00"] {
            #expect(PatientReadings.dateTime(text) == formatter.date(from: text), "\(text)")
        }
        let precise = try #require(PatientReadings.dateTime("2026-11-27T10:15:00.250Z"))
        #expect(abs(precise.timeIntervalSince1970 - (try #require(formatter.date(from: "2026-11-27T10:15:00Z"))).timeIntervalSince1970 - 0.25) < 1e-6)
        for bad in ["2026-11-27", "2026-11-27T10:15:00", "2026-13-01T00:00:00Z", "2026-11-27T24:00:00Z", "2026-11-27T10:15:00+1:00",
                    "2026-11-27T10:15:00.Z", "2026-11-27T10:15:00Z ", "２026-11-27T10:15:00Z", "",
                    // Days that do not exist, by the calendar rule `phr list --since` uses too (PHRCalendar).
                    "2026-02-29T10:00:00Z", "2026-04-31T10:00:00Z", "1900-02-29T10:00:00Z"] {
            #expect(PatientReadings.dateTime(bad) == nil, "\(bad)")
        }
    }

    // MARK: Sharing

    @Test(arguments: TestDatabase.available) func aGrantLetsThePractitionerReadExactlyThoseResourcesUntilItEnds(_ database: TestDatabase) async throws {
        let setup = try await Setup(patients: 2, database: database)
        let records = try await setup.server.store.resources(ofPatient: setup.patient)
        let shared = try #require(records.first { $0.hasPrefix("DiagnosticReport/") || $0.hasPrefix("Observation/") })
        let notShared = try #require(records.first { $0 != shared && !$0.hasPrefix("Patient/") })
        let othersRecord = try #require(try await setup.server.store.resources(ofPatient: "Patient/\(setup.server.patients[1])").first)
        let token = try await setup.server.store.issuePractitionerToken("Practitioner/clinic-1")
        let otherToken = try await setup.server.store.issuePractitionerToken("Practitioner/clinic-2")
        try await setup.server.withClient { client in
            try await setup.enrolled(client)
            setup.server.clock.freeze()
            let now = setup.server.clock.read()
            let expiry = Int64(now.timeIntervalSince1970) + 86_400
            func grant(_ request: GrantRequest) async throws -> PHRAnswer {
                let sealed = try await setup.device.sealed(Array(try JSONEncoder().encode(request)), purpose: PHRMessage.grantPurpose, sequence: 1)
                return try await setup.device.send(client, .post, "/v1/grants", body: sealed, time: setup.server.clock.read())
            }
            /// A grant dated, as the trustlet does, from the server's clock just read.
            func GrantRequest(practitioner: String, resources: [String], expiresAt: Int64, hours: Int64 = 24) -> PHRProtocol.GrantRequest {
                PHRProtocol.GrantRequest(practitioner: practitioner, resources: resources, expiresAt: expiresAt, hours: hours,
                                         clock: Int64(setup.server.clock.read().timeIntervalSince1970))
            }
            // The clock the prompt was dated from: fetched from the server, sealed to the device; missing,
            // too old or ahead of the server, the grant is refused.
            let clockAnswer = try await setup.device.send(client, .get, "/v1/clock", time: setup.server.clock.read())
            let served = try JSONDecoder().decode(ClockAnswer.self, from: Data(try await setup.device.openSealed(clockAnswer.body, purpose: PHRMessage.clockPurpose)))
            #expect(served.time == Int64(now.timeIntervalSince1970))
            for clock: Int64? in [nil, served.time - 601, served.time + 120] {
                let dated = PHRProtocol.GrantRequest(practitioner: "Practitioner/clinic-1", resources: [shared], expiresAt: expiry, clock: clock)
                #expect(try await grant(dated).error == "stale-clock", "clock \(String(describing: clock))")
            }

            func read(_ reference: String, _ token: String) async throws -> PHRAnswer {
                try await client.send(.get, "/v1/shared/\(reference)", headers: [("Authorization", "Bearer \(token)")])
            }
            // Refused grants: someone else's record, an unknown practitioner, an expiry in the past or too far.
            #expect(try await grant(GrantRequest(practitioner: "Practitioner/clinic-1", resources: [othersRecord], expiresAt: expiry)).error == "forbidden")
            #expect(try await grant(GrantRequest(practitioner: "Practitioner/nobody", resources: [shared], expiresAt: expiry)).status == 404)
            #expect(try await grant(GrantRequest(practitioner: "Practitioner/clinic-1", resources: [shared], expiresAt: expiry - 90_000)).status == 400)
            #expect(try await grant(GrantRequest(practitioner: "Practitioner/clinic-1", resources: [shared], expiresAt: expiry + 400 * 86_400)).status == 400)
            #expect(try await grant(GrantRequest(practitioner: "Practitioner/clinic-1", resources: ["../etc"], expiresAt: expiry)).status == 400)
            for hours: Int64 in [0, -1, 367 * 24] {
                #expect(try await grant(GrantRequest(practitioner: "Practitioner/clinic-1", resources: [shared], expiresAt: expiry, hours: hours)).status == 400)
            }

            let clear = try await setup.device.send(client, .post, "/v1/grants",
                                                    body: Array(try JSONEncoder().encode(GrantRequest(practitioner: "Practitioner/clinic-1", resources: [shared], expiresAt: expiry))),
                                                    time: setup.server.clock.read())
            #expect(clear.error == "not-sealed", "a grant in clear would name the records to the phone's normal world")
            // A clock 599 s old is still within the window (the patient took their time).
            let granted = try await grant(PHRProtocol.GrantRequest(practitioner: "Practitioner/clinic-1", resources: [shared], expiresAt: expiry,
                                                                   clock: served.time - 599))
            #expect(granted.status == 201, "\(granted.message)")
            #expect(granted.headers[.contentType] == "application/octet-stream" && !String(decoding: granted.body, as: UTF8.self).contains(shared))
            let receipt = try JSONDecoder().decode(GrantReceipt.self, from: Data(try await setup.device.openSealed(granted.body, purpose: PHRMessage.grantReceiptPurpose)))
            #expect(receipt.resources == 1 && receipt.revokedAt == nil)
            let answer = try await read(shared, token)
            #expect(answer.status == 200 && answer.headers[.contentType] == "application/fhir+json")
            #expect(answer.body == Array(try #require(try await setup.server.store.resource(type: String(shared.split(separator: "/")[0]),
                                                                                      id: String(shared.split(separator: "/")[1])))))
            #expect(try await read(notShared, token).status == 403, "only the shared resources")
            #expect(try await read(othersRecord, token).status == 403)
            #expect(try await read(shared, otherToken).status == 403, "only that practitioner")
            #expect(try await read(shared, "tzp_forged").status == 401)
            #expect(try await client.send(.get, "/v1/shared/\(shared)").status == 401)
            let list = try await client.send(.get, "/v1/shared", headers: [("Authorization", "Bearer \(token)")]).decode([Grant].self)
            #expect(list.map(\.resources) == [[shared]])

            // Until the expiry, and not one second longer.
            setup.server.clock.advance(86_400 - 1)
            #expect(try await read(shared, token).status == 200)
            setup.server.clock.advance(1)
            let ended = try await read(shared, token)
            #expect(ended.status == 403 && ended.error == "grant-ended")

            // Revocation ends a grant at once.
            // An expiry from a phone clock set 30 days ahead: the grant still ends after the hour confirmed.
            let taken = Int64(setup.server.clock.read().timeIntervalSince1970)
            let secondAnswer = try await grant(GrantRequest(practitioner: "Practitioner/clinic-1", resources: [shared],
                                                            expiresAt: taken + 30 * 86_400, hours: 1))
            let second = try JSONDecoder().decode(GrantReceipt.self, from: Data(try await setup.device.openSealed(secondAnswer.body, purpose: PHRMessage.grantReceiptPurpose)))
            #expect(second.expiresAt == taken + 3600, "the server's time plus the hours the patient confirmed")
            #expect(try await read(shared, token).status == 200)
            let revoked = try await setup.device.send(client, .delete, "/v1/grants/\(second.grant)", time: setup.server.clock.read())
            #expect(revoked.status == 200)
            let revocation = try JSONDecoder().decode(GrantReceipt.self, from: Data(try await setup.device.openSealed(revoked.body, purpose: PHRMessage.revokeReceiptPurpose)))
            #expect(revocation.grant == second.grant && revocation.revokedAt != nil)
            #expect(try await read(shared, token).error == "grant-ended")
            #expect(try await setup.device.send(client, .delete, "/v1/grants/\(String(repeating: "1", count: 32))",
                                                time: setup.server.clock.read()).status == 404)
        }
        let accesses = try await setup.server.store.auditTrail(patient: setup.patient).filter { $0.action == "access" }
        #expect(accesses.contains { $0.outcome.hasPrefix("read under grant") } && accesses.contains { $0.outcome == "refused: grant ended" })
        #expect(try await setup.server.store.auditTrail(patient: setup.patient).contains { $0.action == "list-grants" && $0.actor == "Practitioner/clinic-1" })
    }

    // MARK: Audit

    @Test(arguments: TestDatabase.available) func theDeviceReadsItsPatientsAuditTrailAndEachEntryVerifies(_ database: TestDatabase) async throws {
        let setup = try await Setup(patients: 2, database: database)
        let trail = try await setup.server.withClient { client in
            try await setup.enrolled(client)
            _ = try await setup.device.send(client, .post, "/v1/sync", time: setup.server.clock.read())
            let sealed = try await setup.device.send(client, .get, "/v1/audit", time: setup.server.clock.read())
            #expect(sealed.headers[.contentType] == "application/octet-stream")
            return try JSONDecoder().decode(AuditTrail.self, from: Data(try await setup.device.openSealed(sealed.body, purpose: PHRMessage.auditPurpose)))
        }
        #expect(trail.patient == setup.patient)
        #expect(trail.entries.map(\.action).starts(with: ["enroll-code", "enroll", "sync"]))
        for entry in trail.entries {
            #expect(entry.actor != "importer" && !entry.subject.contains(setup.server.patients[1]))
        }
        #expect(try await setup.server.store.verifyChain() > trail.entries.count)
        #expect(trail.head == Hex.encode(try await setup.server.store.auditHead()))
    }

    @Test(arguments: TestDatabase.available) func theServersLogsCarryNoHealthDataOrSecrets(_ database: TestDatabase) async throws {
        let setup = try await Setup(patients: 1, database: database)
        let logs = LogRecorder()
        let records = try await setup.server.store.resources(ofPatient: setup.patient)
        let token = try await setup.server.store.issuePractitionerToken("Practitioner/clinic-1")
        try await setup.server.withClient(logger: Logger(label: "phr-server", factory: logs.handler)) { client in
            try await setup.enrolled(client)
            // The grant below lasts 60 seconds: the clock stops, so a loaded machine cannot end it
            // before the practitioner reads (CI once took longer than that between the two).
            setup.server.clock.freeze()
            let now = setup.server.clock.read()
            let synced = try await setup.device.send(client, .post, "/v1/sync", time: now)
            #expect(synced.status == 200)
            let reading = try await setup.device.sealed(Self.reading(patient: setup.patient, sequence: 1, at: now), purpose: PHRMessage.uploadPurpose, sequence: 1)
            let uploaded = try await setup.device.send(client, .post, "/v1/observations", body: reading, time: now)
            #expect(uploaded.status == 201)
            let seconds = Int64(now.timeIntervalSince1970)
            let grant = GrantRequest(practitioner: "Practitioner/clinic-1", resources: [records[1]], expiresAt: seconds + 60, clock: seconds)
            let sealedGrant = try await setup.device.sealed(Array(try JSONEncoder().encode(grant)), purpose: PHRMessage.grantPurpose, sequence: 1)
            let granted = try await setup.device.send(client, .post, "/v1/grants", body: sealedGrant, time: now)
            #expect(granted.status == 201)
            // The logs are searched after requests that did their work: one shared record read, one refused.
            let bearer = [("Authorization", "Bearer \(token)")]
            let shared = try await client.send(.get, "/v1/shared/\(records[1])", headers: bearer)
            #expect(shared.status == 200)
            let notShared = try await client.send(.get, "/v1/shared/\(records[2])", headers: bearer)
            #expect(notShared.status == 403)
        }
        let text = logs.all.joined(separator: "\n")
        #expect(text.contains("/v1/shared/{type}/{id}") && text.contains("/v1/sync"), "requests are logged by route")
        let patientJSON = try #require(try await setup.server.store.resource(type: "Patient", id: setup.server.patients[0]))
        let patient = try #require(try JSONSerialization.jsonObject(with: patientJSON) as? [String: Any])
        let family = try #require(((patient["name"] as? [[String: Any]])?.first?["family"] as? String))
        for secret in [family, setup.server.patients[0], token, setup.device.id] + records.map({ String($0.split(separator: "/")[1]) }) {
            #expect(!text.contains(secret), "the logs carry \(secret.prefix(6))…")
        }
    }
}
