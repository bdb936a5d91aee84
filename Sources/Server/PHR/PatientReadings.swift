import Crypto
import Foundation
import GRDB
import PHRProtocol
import TrubiZoneProtocol

/// Readings a patient takes at home and uploads from the PHR trustlet: blood pressure, weight and
/// glucose, as FHIR R4 Observations. The server takes only what is plausible, marks it as
/// patient-reported, and gives it its own ID.
public enum PatientReadings {
    public static let loinc = "http://loinc.org"
    public static let ucum = "http://unitsofmeasure.org"
    /// The tag every stored reading carries.
    public static let tagSystem = "https://trubizone.dev/fhir/tags"
    public static let tagCode = "patient-reported"

    /// What a reading of one LOINC code may be: its UCUM unit and plausible range.
    struct Quantity {
        let code: String
        let name: String
        let unit: String
        let range: ClosedRange<Double>
    }

    static let systolic = Quantity(code: "8480-6", name: "systolic blood pressure", unit: "mm[Hg]", range: 50...300)
    static let diastolic = Quantity(code: "8462-4", name: "diastolic blood pressure", unit: "mm[Hg]", range: 20...200)
    static let bloodPressurePanel = "85354-9"
    static let single: [String: Quantity] = [
        "29463-7": Quantity(code: "29463-7", name: "body weight", unit: "kg", range: 0.5...500),
        "2339-0": Quantity(code: "2339-0", name: "blood glucose", unit: "mg/dL", range: 10...1000),
        "15074-8": Quantity(code: "15074-8", name: "blood glucose", unit: "mmol/L", range: 0.5...55),
    ]

    /// Checks an uploaded Observation and returns it as it will be stored.
    /// - Parameters:
    ///   - patient: `Patient/id` of the uploading device; the reading must be about them.
    ///   - id: the ID the server gives it.
    public static func validate(_ observation: Any, patient: String, id: String, now: Date) throws(PHRError) -> Data {
        guard var resource = observation as? [String: Any] else { throw .invalidFHIR("the observation is not a JSON object") }
        guard resource["resourceType"] as? String == "Observation" else { throw .invalidFHIR("resourceType is not Observation") }
        guard let status = resource["status"] as? String, ["preliminary", "final", "amended"].contains(status) else {
            throw .invalidFHIR("status must be preliminary, final or amended")
        }
        guard (resource["subject"] as? [String: Any])?["reference"] as? String == patient else {
            throw .forbidden("a device uploads readings about its own patient only")
        }
        guard let effective = resource["effectiveDateTime"] as? String, let taken = dateTime(effective) else {
            throw .invalidFHIR("effectiveDateTime must be a FHIR dateTime with a time zone")
        }
        guard taken <= now.addingTimeInterval(300) else { throw .implausibleValue("the reading is dated in the future") }
        guard taken >= now.addingTimeInterval(-366 * 86_400) else { throw .implausibleValue("the reading is more than a year old") }
        guard let code = loincCode(resource["code"]) else { throw .invalidFHIR("code must carry a LOINC coding") }

        if code == bloodPressurePanel {
            guard let components = resource["component"] as? [[String: Any]] else { throw .invalidFHIR("a blood pressure needs its components") }
            var values: [String: Double] = [:]
            for component in components {
                guard let componentCode = loincCode(component["code"]) else { throw .invalidFHIR("a component's code must carry a LOINC coding") }
                guard let quantity = [systolic, diastolic].first(where: { $0.code == componentCode }) else {
                    throw .invalidFHIR("a blood pressure component is systolic (8480-6) or diastolic (8462-4)")
                }
                guard values[componentCode] == nil else { throw .invalidFHIR("the \(quantity.name) is given twice") }
                values[componentCode] = try value(component["valueQuantity"], quantity)
            }
            guard let high = values[systolic.code], let low = values[diastolic.code] else {
                throw .invalidFHIR("a blood pressure needs both systolic and diastolic components")
            }
            guard high > low else { throw .implausibleValue("the systolic pressure must be above the diastolic") }
            guard resource["valueQuantity"] == nil else { throw .invalidFHIR("a blood pressure panel has no value of its own") }
        } else if let quantity = single[code] {
            _ = try value(resource["valueQuantity"], quantity)
            guard resource["component"] == nil else { throw .invalidFHIR("a \(quantity.name) reading has no components") }
        } else {
            throw .invalidFHIR("LOINC \(code) is not a reading patients upload (blood pressure 85354-9, weight 29463-7, glucose 2339-0 or 15074-8)")
        }

        resource["id"] = id
        var meta = resource["meta"] as? [String: Any] ?? [:]
        var tags = meta["tag"] as? [[String: Any]] ?? []
        tags.append(["system": tagSystem, "code": tagCode, "display": "Reported by the patient"])
        meta["tag"] = tags
        meta["source"] = "urn:trubizone:phr-trustlet"
        resource["meta"] = meta
        if resource["performer"] == nil { resource["performer"] = [["reference": patient]] }
        do {
            return try JSONSerialization.data(withJSONObject: resource, options: [.sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw .invalidFHIR("the observation cannot be written back as JSON")
        }
    }

    static func loincCode(_ concept: Any?) -> String? {
        guard let codings = (concept as? [String: Any])?["coding"] as? [[String: Any]] else { return nil }
        return codings.first { $0["system"] as? String == loinc }?["code"] as? String
    }

    static func value(_ quantity: Any?, _ expected: Quantity) throws(PHRError) -> Double {
        guard let quantity = quantity as? [String: Any], let number = quantity["value"] as? NSNumber, !isBool(number) else {
            throw .invalidFHIR("the \(expected.name) needs a valueQuantity with a number")
        }
        guard quantity["system"] as? String == ucum, quantity["code"] as? String == expected.unit else {
            throw .invalidFHIR("the \(expected.name) must be in UCUM \(expected.unit)")
        }
        let value = number.doubleValue
        guard value.isFinite, expected.range.contains(value) else {
            throw .implausibleValue("a \(expected.name) outside \(expected.range.lowerBound)–\(expected.range.upperBound) \(expected.unit)")
        }
        return value
    }

    /// A FHIR dateTime with a time, seconds and a zone (`2026-11-27T10:15:00+01:00`, `…:00.250Z`).
    /// Parsed by hand: Foundation's ISO 8601 formatter costs more to make than the rest of an upload.
    public static func dateTime(_ text: String) -> Date? {
        let b = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= b.count else { return nil }
            var value = 0
            for i in range {
                guard (0x30...0x39).contains(b[i]) else { return nil }
                value = value * 10 + Int(b[i] - 0x30)
            }
            return value
        }
        guard b.count >= 20, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54, b[13] == 0x3A, b[16] == 0x3A,
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              PHRCalendar.isDay(year: year, month: month, day: day), hour < 24, minute < 60, second < 60 else { return nil }
        var index = 19
        var fraction = 0.0
        if b[index] == 0x2E {
            var scale = 0.1
            index += 1
            let start = index
            while index < b.count, (0x30...0x39).contains(b[index]) { fraction += Double(b[index] - 0x30) * scale; scale /= 10; index += 1 }
            guard index > start, index - start <= 9 else { return nil }
        }
        var offset = 0
        if index == b.count - 1, b[index] == 0x5A {
            offset = 0
        } else if index == b.count - 6, b[index] == 0x2B || b[index] == 0x2D, b[index + 3] == 0x3A,
                  let zoneHours = number((index + 1)..<(index + 3)), let zoneMinutes = number((index + 4)..<(index + 6)),
                  zoneHours < 24, zoneMinutes < 60 {
            offset = (zoneHours * 60 + zoneMinutes) * 60 * (b[index] == 0x2D ? -1 : 1)
        } else {
            return nil
        }
        // Days from the civil date (Howard Hinnant's algorithm), then the time of day.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }
}

extension RecordStore {
    /// Stores an accepted reading, once per device and sequence number.
    /// - Returns: the stored `Observation/id`; a retry of the same upload (same sequence, same
    ///   reading) returns the first one's.
    public func storeReading(device: Device, sequence: UInt64, submitted: Data, id: String, json: Data,
                      signature: [UInt8], now: Date) async throws -> Result<String, PHRError> {
        let digest = Data(SHA256.hash(data: submitted))
        let again = Weakening.isOff(.uploadOnce, at: path)
        return try await database.write { db in
            let last = UInt64(try Int64.fetchOne(db, sql: "SELECT lastUpload FROM device WHERE id = ?", arguments: [device.id]) ?? 0)
            if sequence <= last, !again {
                let earlier = try Row.fetchOne(db, sql: "SELECT observation, digest FROM upload WHERE device = ? AND sequence = ?",
                                               arguments: [device.id, Int64(sequence)])
                if let earlier, (earlier["digest"] as Data) == digest { return .success(earlier["observation"]) }
                try Self.appendAudit(db, actor: "device:\(device.id)", action: "upload", subject: "sequence \(sequence)",
                                     outcome: "refused: sequence not above \(last)", patient: device.patient)
                return .failure(.sequenceReplayed(last: last))
            }
            try db.execute(sql: """
                INSERT INTO resource (type, id, patient, version, digest, content, updatedAt, change, source) VALUES ('Observation', ?, ?, 1, ?, ?, ?, ?, 'patient')
                """, arguments: [id, device.patient, Data(SHA256.hash(data: json)), json, now.timeIntervalSince1970, try Self.nextChange(db)])
            try db.execute(sql: (again ? "INSERT OR REPLACE" : "INSERT") + " INTO upload (device, sequence, observation, digest, signature) VALUES (?, ?, ?, ?, ?)",
                           arguments: [device.id, Int64(sequence), "Observation/\(id)", digest, Data(signature)])
            try db.execute(sql: "UPDATE device SET lastUpload = ? WHERE id = ?", arguments: [Int64(sequence), device.id])
            try Self.appendAudit(db, actor: "device:\(device.id)", action: "upload", subject: "Observation/\(id)",
                                 outcome: "stored as patient-reported (sequence \(sequence))", patient: device.patient)
            return .success("Observation/\(id)")
        }
    }
}
