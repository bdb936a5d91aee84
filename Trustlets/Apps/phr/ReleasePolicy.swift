import TrustletKit

/// What may leave the trustlet for the normal world. This is the one place that decides it.
///
/// - Without the PIN: the index without clinical values — each record's number, type, date (the
///   day only) and category — plus counts and the sync state (`PHR.status`).
/// - A whole record: only when the patient confirms its release on the trusted UI, in a session
///   unlocked with the PIN. Every release and every refusal is in the audit log.
///
/// Never: codes, display texts, values, notes, names, identifiers, keys, the PIN.
enum ReleasePolicy {
    static let defaultLimit: Int64 = 100
    static let maxLimit: Int64 = 1000

    /// The index entries that match a filter, newest first.
    ///
    ///     {"type": "Observation", "category": "laboratory", "since": "2020-01-01", "until": "2021-01-01",
    ///      "offset": 0, "limit": 100}
    ///
    /// Every member is optional; `until` is exclusive.
    static func query(_ filter: [UInt8]) throws(TrustletError) -> JSON {
        let document = filter.isEmpty ? JSON.object([]) : try JSON.read(filter, limits: JSON.Limits(maxBytes: 4096, maxDepth: 2))
        guard let members = document.members else { throw .badParameters }
        var type: String? = nil, category: String? = nil, since: String? = nil, until: String? = nil
        var offset: Int64 = 0, limit = defaultLimit
        for member in members {
            switch member.key {
            case _ where Text.same(member.key, "type"): type = try text(member.value)
            case _ where Text.same(member.key, "category"): category = try text(member.value)
            case _ where Text.same(member.key, "since"): since = try text(member.value)
            case _ where Text.same(member.key, "until"): until = try text(member.value)
            case _ where Text.same(member.key, "offset"):
                guard let value = member.value.integer, value >= 0 else { throw .badParameters }
                offset = value
            case _ where Text.same(member.key, "limit"):
                guard let value = member.value.integer, value >= 1, value <= maxLimit else { throw .badParameters }
                limit = value
            default:
                throw .badParameters
            }
        }
        let from = try since.map(dayKey), to = try until.map(dayKey)
        let index = try RecordIndex.load()
        var matches: [(number: Int, when: UInt64)] = []
        for (position, entry) in index.entries.enumerated() {
            if let type, !Text.same(type, entry.type) { continue }
            if let category, !Text.same(category, entry.category) { continue }
            let when = entry.when
            if let from, Text.day(when) < from { continue }
            if let to, Text.day(when) >= to { continue }
            matches.append((position + 1, when))
        }
        matches.sort { a, b in a.when > b.when || (a.when == b.when && a.number > b.number) }
        var released: [JSON] = []
        var position = Int(offset)
        while position < matches.count && released.count < Int(limit) {
            let match = matches[position]
            let entry = index.entries[match.number - 1]
            released.append(.object([
                JSONMember("n", .integer(Int64(match.number))), JSONMember("type", .string(entry.type)),
                JSONMember("date", .string(Text.prefix(entry.date, 10))), JSONMember("category", .string(entry.category)),
            ]))
            position += 1
        }
        return .object([JSONMember("total", .integer(Int64(matches.count))), JSONMember("entries", .array(released))])
    }

    /// A whole record, after the patient confirms on the trusted UI.
    static func release(number: Int) throws(TrustletError) -> [UInt8] {
        let entry = try RecordIndex.load().entry(number)
        let question = "Give the app on this phone a copy of this record?\n" + RecordViews.headline(entry)
            + "\nThe app, and anything that controls the phone, could then read or send it."
        guard try TrustedUI.confirm(question) else {
            try AuditChain.append("release-declined", detail: entry.key)
            throw .cancel
        }
        try AuditChain.append("released", detail: entry.key)
        return try RecordIndex.record(entry)
    }

    /// A filter's day, `YYYY-MM-DD`, as YYYYMMDD.
    private static func dayKey(_ text: String) throws(TrustletError) -> UInt64 {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == 0x2D, bytes[7] == 0x2D else { throw .badParameters }
        for (offset, byte) in bytes.enumerated() where offset != 4 && offset != 7 { guard byte >= 0x30 && byte <= 0x39 else { throw .badParameters } }
        return Text.day(Text.sortKey(text))
    }

    private static func text(_ value: JSON) throws(TrustletError) -> String {
        guard let text = value.string, !text.isEmpty, text.utf8.count <= 64 else { throw .badParameters }
        return text
    }
}
