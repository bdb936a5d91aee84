import TrustletKit

/// One record as the index knows it. Only `type`, `date` and `category` may leave the trustlet
/// (see `ReleasePolicy`); the rest serves the trusted UI.
struct IndexEntry {
    /// `Type/id`.
    var key: String
    var type: String
    /// The clinically relevant date or dateTime, as written in the record ("" if none).
    var date: String
    var category: String
    var code: String
    var display: String
    var status: String
    /// The value in words, e.g. "120/80 mm[Hg]" ("" if none).
    var value: String

    var row: JSON {
        .array([.string(key), .string(type), .string(date), .string(category), .string(code), .string(display), .string(status), .string(value)])
    }

    init(key: String, type: String, date: String, category: String, code: String, display: String, status: String, value: String) {
        (self.key, self.type, self.date, self.category, self.code, self.display, self.status, self.value) =
            (key, type, date, category, code, display, status, value)
    }

    init(row: JSON) throws(TrustletError) {
        var fields: [String] = []
        for column in row.array ?? [] {
            guard let text = column.string else { throw .corruptObject }
            fields.append(text)
        }
        guard fields.count == 8 else { throw .corruptObject }
        self.init(key: fields[0], type: fields[1], date: fields[2], category: fields[3], code: fields[4], display: fields[5],
                  status: fields[6], value: fields[7])
    }
}

/// The index of the records kept, in sealed storage, and the records themselves: each one its
/// own sealed object, named by a hash of `Type/id` so object names say nothing either.
///
/// A record's number (its handle for the normal world) is its position in the index, from 1;
/// a record that changes keeps its number, a new one is added at the end.
struct RecordIndex {
    static let object = Bytes.utf8("index")

    var entries: [IndexEntry]

    static func objectID(_ key: String) throws(TrustletError) -> [UInt8] {
        [0x72] + Array(try Digest.sha256(Bytes.utf8(key))[0..<20])
    }

    static func load() throws(TrustletError) -> RecordIndex {
        guard let bytes = try SecureStorage.read(object) else { return RecordIndex(entries: []) }
        guard let rows = try JSON.read(bytes).array else { throw .corruptObject }
        var entries: [IndexEntry] = []
        entries.reserveCapacity(rows.count)
        for row in rows { entries.append(try IndexEntry(row: row)) }
        return RecordIndex(entries: entries)
    }

    func save() throws(TrustletError) {
        var rows: [JSON] = []
        rows.reserveCapacity(entries.count)
        for entry in entries { rows.append(entry.row) }
        try SecureStorage.write(Self.object, JSON.array(rows).serialized())
    }

    /// Adds or replaces the entry with the same key.
    mutating func upsert(_ entry: IndexEntry) {
        var position = 0
        while position < entries.count {
            if entries[position].key.utf8.elementsEqual(entry.key.utf8) {
                entries[position] = entry
                return
            }
            position += 1
        }
        entries.append(entry)
    }

    /// The entry with number `number` (from 1).
    func entry(_ number: Int) throws(TrustletError) -> IndexEntry {
        guard number >= 1, number <= entries.count else { throw .itemNotFound }
        return entries[number - 1]
    }

    /// A stored record's JSON.
    static func record(_ entry: IndexEntry) throws(TrustletError) -> [UInt8] {
        guard let bytes = try SecureStorage.read(try objectID(entry.key)) else { throw .corruptObject }
        return bytes
    }
}

/// What the index keeps of a FHIR resource.
enum FHIRIndexer {
    static func entry(for resource: JSON) throws(TrustletError) -> IndexEntry {
        guard let type = resource["resourceType"]?.string, let id = resource["id"]?.string, !type.isEmpty, !id.isEmpty else {
            throw .badFormat
        }
        let concept = concept(of: resource, type: type)
        return IndexEntry(key: type + "/" + id, type: type, date: date(of: resource, type: type), category: category(of: resource, type: type),
                          code: concept?["coding"]?[0]?["code"]?.string ?? "", display: display(of: resource, concept: concept, type: type),
                          status: status(of: resource), value: value(of: resource))
    }

    static func concept(of resource: JSON, type: String) -> JSON? {
        if Text.same(type, "MedicationRequest") || Text.same(type, "MedicationStatement") { return resource["medicationCodeableConcept"] }
        if Text.same(type, "Immunization") { return resource["vaccineCode"] }
        if Text.same(type, "Encounter") || Text.same(type, "DocumentReference") { return resource["type"]?[0] ?? resource["type"] }
        if Text.same(type, "Claim") || Text.same(type, "ExplanationOfBenefit") { return resource["type"] }
        return resource["code"]
    }

    static func display(of resource: JSON, concept: JSON?, type: String) -> String {
        if Text.same(type, "Patient") {
            let name = resource["name"]?[0]
            var parts: [String] = []
            for given in name?["given"]?.array ?? [] { if let text = given.string { parts.append(text) } }
            if let family = name?["family"]?.string { parts.append(family) }
            return Text.joined(parts, " ")
        }
        if let text = concept?["text"]?.string { return text }
        if let text = concept?["coding"]?[0]?["display"]?.string { return text }
        if let text = resource["description"]?.string { return text }
        return type
    }

    static func status(of resource: JSON) -> String {
        resource["clinicalStatus"]?["coding"]?[0]?["code"]?.string ?? resource["status"]?.string ?? ""
    }

    static let dateFields = ["effectiveDateTime", "issued", "recordedDate", "onsetDateTime", "authoredOn", "occurrenceDateTime",
                             "performedDateTime", "created", "date"]
    static let periodFields = ["effectivePeriod", "performedPeriod", "period", "billablePeriod", "onsetPeriod"]

    static func date(of resource: JSON, type: String) -> String {
        // A birth date is personal data, not the date of a record.
        if Text.same(type, "Patient") { return "" }
        for field in dateFields { if let text = resource[field]?.string { return text } }
        for field in periodFields { if let text = resource[field]?["start"]?.string { return text } }
        return ""
    }

    static func category(of resource: JSON, type: String) -> String {
        if Text.same(type, "Observation") {
            for category in resource["category"]?.array ?? [] {
                if let code = category["coding"]?[0]?["code"]?.string { return code }
            }
            return "observation"
        }
        if Text.same(type, "DiagnosticReport") {
            for category in resource["category"]?.array ?? [] {
                if let code = category["coding"]?[0]?["code"]?.string, Text.same(code, "LAB") { return "laboratory" }
            }
            return "report"
        }
        let table: [(String, String)] = [
            ("AllergyIntolerance", "allergy"), ("Condition", "condition"), ("MedicationRequest", "medication"),
            ("MedicationStatement", "medication"), ("Immunization", "immunization"), ("Encounter", "encounter"),
            ("Procedure", "procedure"), ("Claim", "billing"), ("ExplanationOfBenefit", "billing"), ("Patient", "demographics"),
            ("CarePlan", "care-plan"), ("CareTeam", "care-plan"), ("Goal", "care-plan"), ("DocumentReference", "document"),
        ]
        for (name, category) in table where Text.same(name, type) { return category }
        return "other"
    }

    static func value(of resource: JSON) -> String {
        if let quantity = resource["valueQuantity"] { return Self.quantity(quantity) }
        if let concept = resource["valueCodeableConcept"] {
            return concept["text"]?.string ?? concept["coding"]?[0]?["display"]?.string ?? ""
        }
        if let text = resource["valueString"]?.string { return text }
        guard let components = resource["component"]?.array, !components.isEmpty else { return "" }
        var systolic = "", diastolic = "", unit = "", parts: [String] = []
        for component in components {
            guard let quantity = component["valueQuantity"], case let .number(number)? = quantity["value"] else { continue }
            let code = component["code"]?["coding"]?[0]?["code"]?.string ?? ""
            if Text.same(code, "8480-6") { systolic = number }
            if Text.same(code, "8462-4") { diastolic = number }
            unit = quantity["unit"]?.string ?? quantity["code"]?.string ?? ""
            parts.append(Self.quantity(quantity))
        }
        if !systolic.isEmpty && !diastolic.isEmpty { return systolic + "/" + diastolic + " " + unit }
        return Text.joined(parts, ", ")
    }

    static func quantity(_ quantity: JSON) -> String {
        guard case let .number(number)? = quantity["value"] else { return "" }
        let unit = quantity["unit"]?.string ?? quantity["code"]?.string ?? ""
        return unit.isEmpty ? number : number + " " + unit
    }
}

/// Byte-wise text helpers: comparing UTF-8 directly keeps the Unicode tables out of the trustlet.
enum Text {
    static func same(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

    static func starts(_ text: String, with prefix: String) -> Bool {
        var iterator = text.utf8.makeIterator()
        for byte in prefix.utf8 { guard iterator.next() == byte else { return false } }
        return true
    }

    static func joined(_ parts: [String], _ separator: String) -> String {
        var out = ""
        for (index, part) in parts.enumerated() {
            if index > 0 { out += separator }
            out += part
        }
        return out
    }

    /// The first `count` bytes of `text` (whole UTF-8 sequences only).
    static func prefix(_ text: String, _ count: Int) -> String {
        let bytes = Array(text.utf8)
        guard bytes.count > count else { return text }
        var end = count
        while end > 0 && bytes[end] & 0xC0 == 0x80 { end -= 1 }
        return Bytes.text(Array(bytes[0..<end]))
    }

    /// Whether `a` sorts before `b`, byte by byte (ISO dates sort as text).
    static func before(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
}
