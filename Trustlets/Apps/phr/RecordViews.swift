import TrustletKit

/// What the patient sees on the trusted UI: one record, or the summary. Nothing here returns
/// text to the normal world.
enum RecordViews {
    static let bloodPressure = "85354-9"

    static func headline(_ entry: IndexEntry) -> String {
        let day = Text.prefix(entry.date, 10)
        return entry.display + " (" + entry.type + (day.isEmpty ? "" : ", " + day) + ")"
    }

    /// Shows record `number` in full on the trusted UI.
    static func show(number: Int) throws(TrustletError) {
        let entry = try RecordIndex.load().entry(number)
        let resource = try JSON.read(try RecordIndex.record(entry))
        var lines = [headline(entry)]
        if !entry.value.isEmpty { lines.append("Value: " + entry.value) }
        if !entry.status.isEmpty { lines.append("Status: " + entry.status) }
        if !entry.date.isEmpty { lines.append("Date: " + entry.date) }
        if Text.same(entry.type, "Patient") {
            if let birth = resource["birthDate"]?.string { lines.append("Born: " + birth) }
            if let gender = resource["gender"]?.string { lines.append("Gender: " + gender) }
        }
        if let conclusion = resource["conclusion"]?.string { lines.append("Conclusion: " + conclusion) }
        for note in resource["note"]?.array ?? [] {
            if let text = note["text"]?.string { lines.append("Note: " + text) }
        }
        for reaction in resource["reaction"]?.array ?? [] {
            for manifestation in reaction["manifestation"]?.array ?? [] {
                if let text = manifestation["text"]?.string ?? manifestation["coding"]?[0]?["display"]?.string { lines.append("Reaction: " + text) }
            }
        }
        if let dosage = resource["dosageInstruction"]?[0]?["text"]?.string { lines.append("Dosage: " + dosage) }
        try display(lines)
        try AuditChain.append("viewed", detail: entry.key)
    }

    /// Shows the summary: allergies, active conditions, current medications, the latest vitals,
    /// the blood-pressure trend and the last lab results.
    /// - Returns: how many lines were shown.
    static func summary() throws(TrustletError) -> Int {
        let entries = try RecordIndex.load().entries
        // Newest first, once, so every section below reads in date order.
        let when = entries.map { $0.when }
        var order = Array(entries.indices)
        order.sort { a, b in when[a] > when[b] }
        var lines: [String] = []
        for index in order where Text.same(entries[index].type, "Patient") { lines.append("Health summary: " + entries[index].display) }
        if lines.isEmpty { lines.append("Health summary") }

        section(&lines, "Allergies", order.filter { Text.same(entries[$0].type, "AllergyIntolerance") }.map { entries[$0].display }, limit: 8)
        let active = order.filter { Text.same(entries[$0].type, "Condition") && isActive(entries[$0].status) }
        section(&lines, "Active conditions", distinct(active.map { entries[$0].display }), limit: 8)
        let medications = order.filter { Text.same(entries[$0].type, "MedicationRequest") && Text.same(entries[$0].status, "active") }
        section(&lines, "Current medications", distinct(medications.map { entries[$0].display }), limit: 8)

        var seenCodes: [String] = []
        var vitals: [String] = []
        for index in order where Text.same(entries[index].category, "vital-signs") && !entries[index].value.isEmpty {
            let entry = entries[index]
            if seenCodes.contains(where: { Text.same($0, entry.code) }) { continue }
            seenCodes.append(entry.code)
            vitals.append(entry.display + ": " + entry.value + " (" + Text.prefix(entry.date, 10) + ")")
        }
        section(&lines, "Latest vitals", vitals, limit: 8)

        let pressures = order.filter { Text.same(entries[$0].code, bloodPressure) && !entries[$0].value.isEmpty }
        var trend: [String] = []
        for index in pressures.prefix(5).reversed() { trend.append(Text.prefix(entries[index].date, 10) + "  " + entries[index].value) }
        section(&lines, "Blood pressure, oldest to newest", trend, limit: 5)

        var labs: [String] = []
        for index in order where Text.same(entries[index].type, "Observation") && Text.same(entries[index].category, "laboratory") {
            labs.append(entries[index].display + ": " + entries[index].value + " (" + Text.prefix(entries[index].date, 10) + ")")
            if labs.count == 5 { break }
        }
        section(&lines, "Last lab results", labs, limit: 5)
        try display(lines)
        try AuditChain.append("summary-viewed", detail: "")
        return lines.count
    }

    static func isActive(_ status: String) -> Bool {
        Text.same(status, "active") || Text.same(status, "recurrence") || Text.same(status, "relapse")
    }

    static func distinct(_ texts: [String]) -> [String] {
        var out: [String] = []
        for text in texts where !out.contains(where: { Text.same($0, text) }) { out.append(text) }
        return out
    }

    static func section(_ lines: inout [String], _ title: String, _ items: [String], limit: Int) {
        lines.append("")
        lines.append(title + ":")
        if items.isEmpty { lines.append("  none recorded") }
        for item in items.prefix(limit) { lines.append("  " + item) }
        if items.count > limit { lines.append("  and " + Bytes.decimal(UInt64(items.count - limit)) + " more") }
    }

    /// Shows lines on the trusted UI, as many screens as the display's limit needs.
    static func display(_ lines: [String]) throws(TrustletError) {
        var screen = ""
        for line in lines {
            let clipped = Text.prefix(line, 400)
            if screen.utf8.count + clipped.utf8.count + 1 > 4000 {
                try TrustedUI.show(screen)
                screen = ""
            }
            screen += (screen.isEmpty ? "" : "\n") + clipped
        }
        if !screen.isEmpty { try TrustedUI.show(screen) }
    }
}
