import TrustletKit

/// Readings the patient enters on the trusted UI: they become FHIR Observations, queued in sealed
/// storage with a rising sequence number, and go to the server sealed to its channel key in a
/// request this trustlet signs. A reading leaves the queue only when the server's receipt names
/// its sequence number, so a lost answer means a retry, which the server recognises.
enum Readings {
    static let queueObject = Bytes.utf8("queue")
    static let purpose = PHRPurpose.upload
    static let receiptPurpose = PHRPurpose.receipt
    static let maxQueued = 100

    typealias Kind = PHRReadingKind

    struct Queued {
        var sequence: UInt64
        var observation: [UInt8]
    }

    /// Reads, checks, confirms and queues a reading.
    /// - Returns: its sequence number.
    /// - Parameter injected: the `trustedInput` negative control (test build only): a value the
    ///   normal world passed in, taken instead of the patient's and sent unconfirmed.
    static func add(_ kind: Kind, injected: String? = nil) throws(TrustletError) -> UInt64 {
        var state = try DeviceState.enrolled()
        guard !state.patient.isEmpty else {
            try TrustedUI.show("Sync your records once before adding a reading.")
            throw .badState
        }
        var queue = try self.queue()
        guard queue.count < maxQueued else {
            try TrustedUI.show("Too many readings wait to be sent. Connect to your clinic first.")
            throw .outOfMemory
        }
        let reading: (json: JSON, words: String)
        switch kind {
        case .bloodPressure:
            let typed = try ask("Enter your blood pressure as SYSTOLIC/DIASTOLIC in mmHg, for example 120/80.", injected)
            guard let values = pair(typed) else {
                return try refuse("That is not a blood pressure: two whole numbers like 120/80, the first one higher.")
            }
            let (systolic, diastolic) = values
            guard systolic >= 50, systolic <= 300, diastolic >= 20, diastolic <= 200, systolic > diastolic else {
                return try refuse("That is not a blood pressure: two whole numbers like 120/80, the first one higher.")
            }
            reading = (try observation(code: "85354-9", display: "Blood pressure panel", state: state, value: nil, components: [
                component(code: "8480-6", display: "Systolic blood pressure", value: Bytes.decimal(systolic), unit: "mm[Hg]"),
                component(code: "8462-4", display: "Diastolic blood pressure", value: Bytes.decimal(diastolic), unit: "mm[Hg]"),
            ]), "blood pressure " + Bytes.decimal(systolic) + "/" + Bytes.decimal(diastolic) + " mmHg")
        case .weight:
            let typed = try ask("Enter your weight in kg, for example 72.5.", injected)
            guard let tenths = decimalTenths(typed), tenths >= 5, tenths <= 5000 else {
                return try refuse("That is not a weight in kg between 0.5 and 500.")
            }
            let text = Bytes.decimal(tenths / 10) + (tenths % 10 == 0 ? "" : "." + Bytes.decimal(tenths % 10))
            reading = (try observation(code: "29463-7", display: "Body weight", state: state, value: quantity(text, unit: "kg"), components: []),
                       "weight " + text + " kg")
        case .glucose:
            let typed = try ask("Enter your blood glucose in mg/dL, for example 95.", injected)
            guard let value = whole(typed), value >= 10, value <= 1000 else {
                return try refuse("That is not a blood glucose in mg/dL between 10 and 1000.")
            }
            reading = (try observation(code: "2339-0", display: "Glucose", state: state, value: quantity(Bytes.decimal(value), unit: "mg/dL"),
                                   components: []), "glucose " + Bytes.decimal(value) + " mg/dL")
        }
        if injected == nil {
            guard try TrustedUI.confirm("Send this reading to your clinic, signed by this phone?\n" + reading.words) else { throw .cancel }
        }
        state.lastReading += 1
        try state.save()
        queue.append(Queued(sequence: state.lastReading, observation: reading.json.serialized()))
        try save(queue)
        try AuditChain.append("reading-added", detail: "sequence " + Bytes.decimal(state.lastReading))
        return state.lastReading
    }

    /// The signed, sealed upload of the oldest queued reading; `itemNotFound` when none waits.
    static func uploadRequest() throws(TrustletError) -> (head: [UInt8], body: [UInt8], queued: Int, pending: Pending) {
        let state = try DeviceState.enrolled()
        let queue = try self.queue()
        guard let next = queue.first else { throw .itemNotFound }
        let payload = Bytes.utf8("{\"sequence\":" + Bytes.decimal(next.sequence) + ",\"observation\":") + next.observation + [0x7D]
        let body = try Channel.seal(payload, key: Enrollment.hpkeKey, to: state.serverKey, purpose: purpose, sequence: next.sequence)
        let signed = try SignedRequest.make("POST", PHRRoute.observations, body: body, contentType: "application/octet-stream", state: state)
        return (signed.head, body, queue.count, Pending(nonce: signed.nonce, sequence: next.sequence))
    }

    /// An upload this session sent: the receipt must answer its request and name its reading.
    struct Pending {
        let nonce: String
        let sequence: UInt64
    }

    /// Takes a reading off the queue once the server's receipt names it: sealed to this trustlet,
    /// authenticated by the server's key, and answering the upload request `pending`.
    static func uploaded(receipt: [UInt8], answering pending: Pending) throws(TrustletError) {
        let state = try DeviceState.enrolled()
        let opened = try Channel.open(receipt, key: Enrollment.hpkeKey, from: state.serverKey, purpose: receiptPurpose, request: pending.nonce, after: nil)
        let document = try JSON.read(opened.payload, limits: JSON.Limits(maxBytes: 4096, maxDepth: 4))
        guard let sequence = document["sequence"]?.integer, sequence > 0, UInt64(sequence) == opened.sequence, UInt64(sequence) == pending.sequence,
              let stored = document["observation"]?.string else { throw .badParameters }
        var queue = try self.queue()
        guard let position = queue.firstIndex(where: { $0.sequence == UInt64(sequence) }) else { throw .itemNotFound }
        queue.remove(at: position)
        try save(queue)
        try AuditChain.append("uploaded", detail: stored)
    }

    static func queue() throws(TrustletError) -> [Queued] {
        guard let bytes = try SecureStorage.read(queueObject) else { return [] }
        guard let rows = try JSON.read(bytes).array else { throw .corruptObject }
        var queue: [Queued] = []
        for row in rows {
            guard let sequence = row[0]?.integer, let observation = row[1] else { throw .corruptObject }
            queue.append(Queued(sequence: UInt64(sequence), observation: observation.serialized()))
        }
        return queue
    }

    static func save(_ queue: [Queued]) throws(TrustletError) {
        var rows: [JSON] = []
        for item in queue { rows.append(.array([.integer(Int64(item.sequence)), try JSON.read(item.observation)])) }
        try SecureStorage.write(queueObject, JSON.array(rows).serialized())
    }

    // MARK: The Observation

    /// - Throws: when the trusted clock cannot be read (a reading is never dated 1970).
    static func observation(code: String, display: String, state: DeviceState, value: JSON?, components: [JSON]) throws(TrustletError) -> JSON {
        let now = try TrustedTime.wallClockSeconds()
        var members = [
            JSONMember("resourceType", .string("Observation")), JSONMember("status", .string("final")),
            JSONMember("category", .array([.object([JSONMember("coding", .array([.object([
                JSONMember("system", .string("http://terminology.hl7.org/CodeSystem/observation-category")),
                JSONMember("code", .string("vital-signs")), JSONMember("display", .string("Vital Signs")),
            ])]))])])),
            JSONMember("code", coding(code: code, display: display)),
            JSONMember("subject", .object([JSONMember("reference", .string(state.patient))])),
            JSONMember("effectiveDateTime", .string(Clock.iso8601(now))),
        ]
        if let value { members.append(JSONMember("valueQuantity", value)) }
        if !components.isEmpty { members.append(JSONMember("component", .array(components))) }
        return .object(members)
    }

    static func coding(code: String, display: String) -> JSON {
        .object([
            JSONMember("coding", .array([.object([JSONMember("system", .string("http://loinc.org")), JSONMember("code", .string(code)),
                                                  JSONMember("display", .string(display))])])),
            JSONMember("text", .string(display)),
        ])
    }

    static func component(code: String, display: String, value: String, unit: String) -> JSON {
        .object([JSONMember("code", coding(code: code, display: display)), JSONMember("valueQuantity", quantity(value, unit: unit))])
    }

    static func quantity(_ value: String, unit: String) -> JSON {
        .object([JSONMember("value", .number(value)), JSONMember("unit", .string(unit)), JSONMember("system", .string("http://unitsofmeasure.org")),
                 JSONMember("code", .string(unit))])
    }

    // MARK: Reading what was typed

    /// What the patient typed at `prompt`, or under the negative control the value injected.
    static func ask(_ prompt: String, _ injected: String?) throws(TrustletError) -> String {
        if let injected { return injected }
        return try TrustedUI.readText(prompt)
    }

    static func refuse(_ message: String) throws(TrustletError) -> UInt64 {
        try TrustedUI.show(message + " Nothing was sent.")
        throw .badFormat
    }

    static func whole(_ text: String) -> UInt64? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 4 else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            value = value &* 10 &+ UInt64(byte - 0x30)
        }
        return value
    }

    static func pair(_ text: String) -> (UInt64, UInt64)? {
        let bytes = Array(text.utf8).filter { $0 != 0x20 }
        guard let slash = bytes.firstIndex(of: 0x2F) else { return nil }
        guard let first = whole(Bytes.text(Array(bytes[0..<slash]))), let second = whole(Bytes.text(Array(bytes[(slash + 1)...]))) else { return nil }
        return (first, second)
    }

    /// A decimal with at most one digit after the point, in tenths.
    static func decimalTenths(_ text: String) -> UInt64? {
        let bytes = Array(text.utf8)
        guard let point = bytes.firstIndex(of: 0x2E) else { return whole(text).map { $0 &* 10 } }
        guard let units = whole(Bytes.text(Array(bytes[0..<point]))), bytes.count == point + 2, let tenth = whole(Bytes.text([bytes[point + 1]])) else {
            return nil
        }
        return units &* 10 &+ tenth
    }
}

/// Civil time from the secure world's clock.
enum Clock {
    /// `YYYY-MM-DDTHH:MM:SSZ` for seconds since 1970 (UTC).
    static func iso8601(_ seconds: UInt64) -> String {
        let days = Int64(seconds / 86_400), rest = Int64(seconds % 86_400)
        // Howard Hinnant's days-from-civil, inverted.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era &* 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 &* yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 &* dayOfYear + 2) / 153
        let day = dayOfYear - (153 &* mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era &* 400 + (month <= 2 ? 1 : 0)
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + pad(rest / 3600, 2) + ":" + pad(rest / 60 % 60, 2) + ":"
            + pad(rest % 60, 2) + "Z"
    }

    static func pad(_ value: Int64, _ width: Int) -> String {
        var text = Bytes.decimal(UInt64(value < 0 ? 0 : value))
        while text.utf8.count < width { text = "0" + text }
        return text
    }
}
