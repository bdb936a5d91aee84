import Foundation
import PHRApp
import PHRAppCommands
import PHRProtocol
import TrubiZoneChannel

/// A man in the middle between the app and the server (on the phone, which the attacker owns,
/// or on the network): reads, changes, replays, reorders and drops messages, and measures them.
enum NetworkAttacks {
    static var all: [Attack] {
        [
            Attack("network-read", "Read every message between app and server during a full session", .internet, .disclosure,
                   defense: "bodies with health data are sealed end to end to the trustlet or the server", play: read),
            Attack("network-modify-request", "Change a signed reading's body, device or time on its way to the server", .internet, .access,
                   defense: "the server checks the trustlet's signature over method, target, device, time, nonce and body", play: modifyRequest),
            Attack("network-modify-answer", "Flip one byte of a sync page on its way to the trustlet", .internet, .access,
                   defense: "the trustlet opens pages with the channel key; a changed page fails authentication and nothing is kept",
                   play: modifyAnswer),
            Attack("network-replay-answer", "Deliver the same sync page to the trustlet twice", .internet, .access,
                   defense: "each page carries a rising sequence; one already kept is refused", play: replayAnswer),
            Attack("network-reorder", "Deliver two sync pages in the opposite order to the one they were asked for", .internet, .access,
                   defense: "a page older than the last one kept is refused", play: reorder),
            Attack("network-drop", "Drop the server's receipt for an uploaded reading, then let the app retry", .internet, .access,
                   defense: "the reading stays queued until a sealed receipt; the server stores it once and answers a retry with the same receipt",
                   play: drop),
            Attack("traffic-analysis", "Compare message and REE file sizes for patients with different conditions and record counts", .sideChannel, .disclosure,
                   defense: "sealed messages and sealed objects are padded to size buckets; every sync page to the same one", play: trafficAnalysis),
        ]
    }

    static func read(_ lab: AttackLab) async throws -> Verdict {
        let session = try await LoggingAttacks.fullSession(lab)
        let messages = session.sources.filter { $0.name.hasPrefix("message ") }
        guard messages.count > 10 else { throw AttackFailure("only \(messages.count) messages to read") }
        let found = session.findings.filter { $0.source.hasPrefix("message ") }
        if !found.isEmpty { return .leaked(found.prefix(5).map(\.description).joined(separator: "; ")) }
        return .defended("\(messages.count) messages, \(messages.reduce(0) { $0 + $1.bytes.count } / 1024) KiB: none of \(session.needles) needles")
    }

    /// A phone with one reading queued and the signed request that would upload it.
    static func queuedReading(_ lab: AttackLab, _ base: String, patient: String? = nil, reading: String = "120/80",
                              kind: PHRDevice.ReadingKind = .bloodPressure) async throws -> (EmulatedPhone, PatientApp, SignedHTTPRequest) {
        let (phone, app) = try await lab.enrolledPhone(base, patient: try patient ?? lab.patients().last, answers: [.text(reading), .confirm(true)])
        _ = try await app.sync()  // readings are taken once the phone holds the record
        _ = try await app.device.addReading(kind)
        guard let request = try await app.device.uploadRequest() else { throw AttackFailure("no reading queued") }
        return (phone, app, request)
    }

    static func modifyRequest(_ lab: AttackLab) async throws -> Verdict {
        let (phone, app, request) = try await queuedReading(lab, "mitm-request")
        defer { phone.shutdown() }
        var body = request.body
        body[body.count / 2] ^= 0x20
        let server = app.server
        let changed = try await eachHolds([
            {
                let time = request.headers.map { $0.0 == SignedRequest.timeHeader ? ($0.0, String((Int($0.1) ?? 0) - 60)) : $0 }
                return try refusedByServer("time changed", try await server.send(request.method, request.target, headers: time, body: request.body),
                                           expecting: 401, "unauthenticated")
            },
            {
                try refusedByServer("sent to another endpoint", try await server.send(request.method, "/v1/grants", headers: request.headers, body: request.body),
                                    expecting: 401, "unauthenticated")
            },
            {
                try refusedByServer("body changed", try await server.send(request.method, request.target, headers: request.headers, body: body),
                                    expecting: 401, "unauthenticated")
            },
        ])
        guard case .defended = changed else { return changed }
        // The request as the trustlet signed it still goes through: the refusals were the changes'.
        let honest = try await app.server.send(request)
        guard (200..<300).contains(honest.status) else { throw AttackFailure("the unchanged request got HTTP \(honest.status)") }
        return allHold([changed, .defended("the unchanged request: HTTP \(honest.status)")])
    }

    static func modifyAnswer(_ lab: AttackLab) async throws -> Verdict {
        let (phone, app) = try await lab.enrolledPhone("mitm-answer", patient: try lab.patients().last)
        defer { phone.shutdown() }
        let answer = try await app.server.send(try await app.device.syncRequest()).checked()
        var changed = answer.body
        changed[changed.count - 40] ^= 0x01
        let verdict = try await refused("a sync page with one byte flipped", expecting: .macInvalid) { _ = try await app.device.syncPage(changed) }
        let kept = try await app.device.status().records
        guard kept == 0 else { return .accepted("the trustlet kept \(kept) records from a changed page") }
        let honest = try await app.device.syncPage(answer.body)
        return allHold([verdict, .defended("nothing kept from it; the untouched page then gave \(honest.stored) records")])
    }

    static func replayAnswer(_ lab: AttackLab) async throws -> Verdict {
        let (phone, app) = try await lab.enrolledPhone("mitm-replay", patient: try lab.patients().last)
        defer { phone.shutdown() }
        let answer = try await app.server.send(try await app.device.syncRequest()).checked()
        let first = try await app.device.syncPage(answer.body)
        let records = try await app.device.status().records
        let verdict = try await refused("the same page again", expecting: .security) { _ = try await app.device.syncPage(answer.body) }
        let after = try await app.device.status().records
        guard after == records else { return .accepted("the replayed page changed the index from \(records) to \(after) records") }
        return allHold([verdict, .defended("the first delivery kept \(first.stored) records; the index is unchanged")])
    }

    static func reorder(_ lab: AttackLab) async throws -> Verdict {
        let (phone, app) = try await lab.enrolledPhone("mitm-reorder", patient: try lab.patients().last)
        defer { phone.shutdown() }
        let earlier = try await app.server.send(try await app.device.syncRequest()).checked()
        let later = try await app.server.send(try await app.device.syncRequest()).checked()
        // The control: the later page, delivered first, is kept; only the earlier one may be refused.
        let kept = try await app.device.syncPage(later.body).stored
        let verdict = try await refused("the earlier page after the later one", expecting: .security) { _ = try await app.device.syncPage(earlier.body) }
        return allHold([verdict, .defended("the later page, delivered first, was kept (\(kept) records)")])
    }

    static func drop(_ lab: AttackLab) async throws -> Verdict {
        let patient = try lab.patients()[1]
        let (phone, app, request) = try await queuedReading(lab, "mitm-drop", patient: patient)
        defer { phone.shutdown() }
        let store = lab.stage.provider.store
        let before = try store.resources(ofPatient: patient).count
        _ = try await app.server.send(request).checked()  // the receipt never reaches the trustlet
        let queued = try await app.device.status().pendingUploads
        guard queued == 1 else { return .accepted("the reading left the queue without a receipt (\(queued) queued)") }
        let sent = try await app.uploadQueued()
        let stored = try store.resources(ofPatient: patient).count - before
        let left = try await app.device.status().pendingUploads
        guard stored == 1, left == 0, sent == 1 else {
            return .accepted("after the retry the server holds \(stored) new readings and \(left) remain queued")
        }
        return .defended("the reading stayed queued until the retry; the server answered it with the same receipt and holds it once")
    }

    static func trafficAnalysis(_ lab: AttackLab) async throws -> Verdict {
        let patients = try lab.patients()
        let kinds: [(PHRDevice.ReadingKind, String)] = [(.bloodPressure, "182/111"), (.weight, "61.5"), (.glucose, "97")]
        var rows: [String] = []
        var pageSizes: Set<Int> = []
        var readingSizes: Set<Int> = []
        var receiptSizes: Set<Int> = []
        var fileSizes: Set<[Int]> = []
        for (index, patient) in patients.enumerated() {
            let wire = WireLog()
            let (kind, value) = kinds[index % kinds.count]
            let (phone, app) = try await lab.enrolledPhone("traffic", patient: patient, answers: [.text(value), .confirm(true)], wire: wire)
            defer { phone.shutdown() }
            let sync = try await app.sync()
            _ = try await app.device.addReading(kind)
            _ = try await app.uploadQueued()
            for message in wire.all {
                guard let body = body(of: message.bytes) else { continue }
                guard let outside = try? SealedEnvelope.outside(body), SealedEnvelope.isBucket(outside.paddedSize) else {
                    return .leaked("a sealed message of \(body.count) bytes is not padded to a bucket")
                }
                switch outside.purpose {
                case PHRMessage.syncPurpose: pageSizes.insert(body.count)
                case PHRMessage.uploadPurpose: readingSizes.insert(body.count)
                case PHRMessage.receiptPurpose: receiptSizes.insert(body.count)
                default: break
                }
            }
            rows.append("\(sync.records) records in \(sync.pages) pages")
            // What the phone's REE file system shows of the same records: every file's size.
            fileSizes.insert(try reeFileSizes(phone.ree))
        }
        guard fileSizes.count == 1, let files = fileSizes.first, !files.isEmpty else {
            return .leaked("the REE files of patients with \(rows.joined(separator: ", ")) differ in size: \(fileSizes.map { $0.map { $0 / 1024 } }) KiB")
        }
        guard !pageSizes.isEmpty, !readingSizes.isEmpty, !receiptSizes.isEmpty else { throw AttackFailure("no sealed pages, readings or receipts on the wire") }
        guard pageSizes.count == 1 else {
            return .leaked("sync pages of patients with \(rows.joined(separator: ", ")) differ in size: \(pageSizes.sorted())")
        }
        guard readingSizes.count == 1, receiptSizes.count == 1 else {
            return .leaked("readings of different kinds and values differ in size: \(readingSizes.sorted()), receipts \(receiptSizes.sorted())")
        }
        return .defended("patients with \(rows.joined(separator: ", ")): every sealed message on a bucket; every page \(pageSizes.first! / 1024) KiB; "
                         + "a blood pressure, a weight and a glucose reading "
                         + "all \(readingSizes.first!) bytes; receipts all \(receiptSizes.first!) bytes; "
                         + "the REE files the same \(files.count) sizes on every phone (\(files.reduce(0, +) / 1024) KiB)")
    }

    /// The sizes of every file under `directory`, sorted.
    static func reeFileSizes(_ directory: String) throws -> [Int] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { throw AttackFailure("cannot list \(directory)") }
        var sizes: [Int] = []
        while let name = walker.nextObject() as? String {
            let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/" + name)
            if attributes[.type] as? FileAttributeType == .typeRegular, let size = attributes[.size] as? Int { sizes.append(size) }
        }
        return sizes.sorted()
    }

    /// A recorded message's sealed body: from the channel's magic on (after the request or status
    /// line and the headers).
    static func body(of message: [UInt8]) -> [UInt8]? {
        guard let start = message.indices.first(where: { index in
            index + 4 <= message.count && Array(message[index..<(index + 4)]) == SealedEnvelope.magic
        }) else { return nil }
        return Array(message[start...])
    }
}
