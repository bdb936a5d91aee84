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
    /// The date as a number that sorts as time does: YYYYMMDDhhmmss (0 without a date).
    var when: UInt64 { Text.sortKey(date) }
    /// Where the record's bytes are: the sync page that brought it, and its range in that page.
    var page: UInt64 = 0
    var start = 0
    var length = 0

    var row: JSON {
        .array([.string(key), .string(type), .string(date), .string(category), .string(code), .string(display), .string(status), .string(value),
                .integer(Int64(page)), .integer(Int64(start)), .integer(Int64(length))])
    }

    init(key: String, type: String, date: String, category: String, code: String, display: String, status: String, value: String) {
        (self.key, self.type, self.date, self.category, self.code, self.display, self.status, self.value) =
            (key, type, date, category, code, display, status, value)
    }

    init(row: JSON) throws(TrustletError) {
        guard let columns = row.array, columns.count == 11, let page = columns[8].integer, let start = columns[9].integer,
              let length = columns[10].integer, page >= 0, start >= 0, length >= 0 else { throw .corruptObject }
        var fields: [String] = []
        for column in columns[0..<8] {
            guard let text = column.string else { throw .corruptObject }
            fields.append(text)
        }
        self.init(key: fields[0], type: fields[1], date: fields[2], category: fields[3], code: fields[4], display: fields[5],
                  status: fields[6], value: fields[7])
        (self.page, self.start, self.length) = (UInt64(page), Int(start), Int(length))
    }
}

/// The index of the records kept, in sealed storage, and the records themselves.
///
/// Each sync page is kept as it arrived, as one sealed object named for its sequence number, and
/// the index says where in which page each record lies: a page costs a handful of sealed writes
/// instead of one per record, and the records are kept byte for byte as the server sent them. A
/// page no record points into any more is deleted. Object names say nothing about the records.
///
/// A record's number (its handle for the normal world) is its position in the index, from 1;
/// a record that changes keeps its number, a new one is added at the end.
struct RecordIndex {
    static let object = Bytes.utf8("index")

    var entries: [IndexEntry]

    /// The index this instance last read or wrote, by the SHA-256 of its sealed bytes: queries
    /// reuse it while the object is unchanged, and a change by another session is seen at once.
    nonisolated(unsafe) static var cached: (digest: [UInt8], index: RecordIndex)? = nil

    static func pageObject(_ page: UInt64) -> [UInt8] { [0x70] + Bytes.bigEndian(page) }

    /// What the sealed objects' sizes may tell the normal world, which sees the REE files: the
    /// runtime pads every object to a size bucket, and this trustlet pads (with JSON whitespace) a
    /// page to the wire's one bucket for every page and the index to 64 KiB (about 600 records),
    /// so the files say no more about the record volume than the wire does.
    static let pageBucket = 256 << 10
    static let indexBucket = 64 << 10

    /// `json` followed by spaces up to `size` bytes (JSON readers skip trailing whitespace).
    static func padded(_ json: [UInt8], to size: Int) -> [UInt8] {
        guard json.count < size, !weakened("storagePadding") else { return json }
        var bytes = json
        bytes += [UInt8](repeating: 0x20, count: size - json.count)
        return bytes
    }

    static func load() throws(TrustletError) -> RecordIndex {
        guard let bytes = try SecureStorage.read(object) else { return RecordIndex(entries: []) }
        let digest = try Digest.sha256(bytes)
        if let cached, cached.digest == digest { return cached.index }
        guard let rows = try JSON.read(bytes).array else { throw .corruptObject }
        var entries: [IndexEntry] = []
        entries.reserveCapacity(rows.count)
        for row in rows { entries.append(try IndexEntry(row: row)) }
        let index = RecordIndex(entries: entries)
        cached = (digest, index)
        return index
    }

    func save() throws(TrustletError) {
        var rows: [JSON] = []
        rows.reserveCapacity(entries.count)
        for entry in entries { rows.append(entry.row) }
        let bytes = Self.padded(JSON.array(rows).serialized(), to: Self.indexBucket)
        try SecureStorage.write(Self.object, bytes)
        Self.cached = (try Digest.sha256(bytes), self)
    }

    /// The position of each key, for `upsert`: built once, kept up to date.
    private var positions: [[UInt8]: Int]? = nil

    init(entries: [IndexEntry]) { self.entries = entries }

    /// Adds or replaces the entry with the same key.
    /// - Returns: the page the replaced entry pointed into, if any.
    mutating func upsert(_ entry: IndexEntry) -> UInt64? {
        if positions == nil {
            var built: [[UInt8]: Int] = [:]
            for (position, existing) in entries.enumerated() { built[Array(existing.key.utf8)] = position }
            positions = built
        }
        let key = Array(entry.key.utf8)
        if let position = positions?[key] {
            let previous = entries[position].page
            entries[position] = entry
            return previous
        }
        positions?[key] = entries.count
        entries.append(entry)
        return nil
    }

    /// Whether any record still lies in `page`.
    func uses(_ page: UInt64) -> Bool { entries.contains { $0.page == page } }

    /// The entry with number `number` (from 1).
    func entry(_ number: Int) throws(TrustletError) -> IndexEntry {
        guard number >= 1, number <= entries.count else { throw .itemNotFound }
        return entries[number - 1]
    }

    /// A stored record's JSON, as the server sent it.
    static func record(_ entry: IndexEntry) throws(TrustletError) -> [UInt8] {
        guard let page = try SecureStorage.read(pageObject(entry.page)), entry.start + entry.length <= page.count else { throw .corruptObject }
        return [UInt8](copying: page[entry.start..<(entry.start + entry.length)])
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

    static let categories: [(String, String)] = [
        ("AllergyIntolerance", "allergy"), ("Condition", "condition"), ("MedicationRequest", "medication"),
        ("MedicationStatement", "medication"), ("Immunization", "immunization"), ("Encounter", "encounter"),
        ("Procedure", "procedure"), ("Claim", "billing"), ("ExplanationOfBenefit", "billing"), ("Patient", "demographics"),
        ("CarePlan", "care-plan"), ("CareTeam", "care-plan"), ("Goal", "care-plan"), ("DocumentReference", "document"),
    ]

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
        for (name, category) in categories where Text.same(name, type) { return category }
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
    static func same(_ a: String, _ b: String) -> Bool { a.sameUTF8(b) }

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

    /// A FHIR date or dateTime as YYYYMMDDhhmmss, so that dates sort as numbers (the interpreter
    /// compares two integers far faster than two strings). Missing parts count as zero; the time
    /// zone is ignored, which misorders readings only within hours of each other across zones.
    static func sortKey(_ date: String) -> UInt64 {
        var key: UInt64 = 0, digits = 0
        for byte in date.utf8 {
            if byte >= 0x30 && byte <= 0x39 {
                key = key &* 10 &+ UInt64(byte - 0x30)
                digits += 1
                if digits == 14 { break }
            } else if byte == 0x2B || byte == 0x5A || (byte == 0x2D && digits >= 10) || byte == 0x2E {
                break  // a zone, or fractions of a second
            }
        }
        while digits < 14 { key = key &* 10; digits += 1 }
        return key
    }

    /// The day of a sort key, YYYYMMDD.
    static func day(_ key: UInt64) -> UInt64 { key / 1_000_000 }
}
