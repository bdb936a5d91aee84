import Foundation

/// Realistic synthetic patients, deterministic for a seed: the demo needs no outside data.
///
/// Each patient is a FHIR R4 transaction Bundle: the Patient, their conditions, medications,
/// allergies, immunizations, encounters, and observations — blood-pressure panels whose values
/// follow a plausible series (higher and slowly drifting for a hypertensive patient), weight,
/// glucose, and lab results (HbA1c, cholesterol).
public struct PatientGenerator {
    private var random: SplitMix64
    /// The date the histories end on, so a seed gives the same bytes on any day.
    private let today: Date
    /// One formatter for every timestamp of this generator: building one per value is costly.
    private let formatter: ISO8601DateFormatter

    public init(seed: UInt64, today: Date = Date(timeIntervalSince1970: 1_790_000_000)) {
        random = SplitMix64(seed: seed)
        self.today = today
        formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
    }

    /// The clinic's practitioners and organization, with fixed IDs (`Practitioner/clinic-1`…), so
    /// a demo can share a record with a known practitioner.
    public static func clinicBundle() -> Data {
        let doctors = [("clinic-1", "Okafor", "Ada", "female"), ("clinic-2", "Lindqvist", "Jonas", "male"), ("clinic-3", "Mehta", "Priya", "female")]
        var entries: [[String: Any]] = [[
            "fullUrl": "urn:uuid:clinic", "request": ["method": "PUT", "url": "Organization/clinic"],
            "resource": ["resourceType": "Organization", "id": "clinic", "active": true, "name": "TrubiZone Demo Clinic"],
        ]]
        for (id, family, given, gender) in doctors {
            entries.append([
                "fullUrl": "urn:uuid:\(id)", "request": ["method": "PUT", "url": "Practitioner/\(id)"],
                "resource": [
                    "resourceType": "Practitioner", "id": id, "active": true, "gender": gender,
                    "name": [["use": "official", "family": family, "given": [given], "prefix": ["Dr."]]],
                    "identifier": [["system": "urn:trubizone:demo-practitioner", "value": id]],
                ] as [String: Any],
            ])
        }
        let bundle: [String: Any] = ["resourceType": "Bundle", "type": "transaction", "entry": entries]
        return (try? JSONSerialization.data(withJSONObject: bundle, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    }

    /// The next patient's bundle, as JSON.
    public mutating func nextBundle() -> Data {
        var entries: [[String: Any]] = []
        let patientID = uuid()
        let female = random.next() % 2 == 0
        let given = (female ? Self.femaleNames : Self.maleNames)[Int(random.next() % UInt64((female ? Self.femaleNames : Self.maleNames).count))]
        let family = Self.familyNames[Int(random.next() % UInt64(Self.familyNames.count))]
        let age = 18 + Int(random.next() % 70)
        let birth = today.addingTimeInterval(-Double(age) * 365.25 * 86400 - Double(random.next() % 300) * 86400)
        entries.append(entry(patientID, [
            "resourceType": "Patient", "id": patientID, "gender": female ? "female" : "male", "birthDate": day(birth),
            "name": [["use": "official", "family": family, "given": [given]]],
            "identifier": [["system": "urn:trubizone:demo-mrn", "value": String(format: "MRN-%08llu", random.next() % 100_000_000)]],
        ]))
        let subject = ["reference": "urn:uuid:\(patientID)"]

        let hypertensive = age > 45 ? random.next() % 2 == 0 : random.next() % 6 == 0
        let diabetic = random.next() % 5 == 0
        var conditions = [(String, String)]()
        if hypertensive { conditions.append(("38341003", "Hypertension")) }
        if diabetic { conditions.append(("44054006", "Type 2 diabetes mellitus")) }
        for _ in 0..<Int(random.next() % 3) { conditions.append(Self.otherConditions[Int(random.next() % UInt64(Self.otherConditions.count))]) }
        for (code, text) in Set(conditions.map { $0.0 }).sorted().compactMap({ code in conditions.first { $0.0 == code } }) {
            let id = uuid()
            entries.append(entry(id, [
                "resourceType": "Condition", "id": id, "subject": subject,
                "clinicalStatus": ["coding": [["system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"]]],
                "code": ["coding": [["system": "http://snomed.info/sct", "code": code, "display": text]], "text": text],
                "onsetDateTime": day(today.addingTimeInterval(-Double(1 + random.next() % 3000) * 86400)),
            ]))
        }
        var medications = [(String, String)]()
        if hypertensive { medications.append(("314076", "lisinopril 10 MG Oral Tablet")) }
        if diabetic { medications.append(("860975", "metformin 500 MG Oral Tablet")) }
        for (code, text) in medications {
            let id = uuid()
            entries.append(entry(id, [
                "resourceType": "MedicationRequest", "id": id, "subject": subject, "status": "active", "intent": "order",
                "medicationCodeableConcept": ["coding": [["system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": code, "display": text]], "text": text],
                "authoredOn": day(today.addingTimeInterval(-Double(30 + random.next() % 700) * 86400)),
                "dosageInstruction": [["text": "1 tablet daily"]],
            ]))
        }
        if random.next() % 3 == 0 {
            let (code, text) = Self.allergies[Int(random.next() % UInt64(Self.allergies.count))]
            let id = uuid()
            entries.append(entry(id, [
                "resourceType": "AllergyIntolerance", "id": id, "patient": subject, "criticality": "high",
                "clinicalStatus": ["coding": [["system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"]]],
                "code": ["coding": [["system": "http://snomed.info/sct", "code": code, "display": text]], "text": text],
            ]))
        }
        for (code, text) in Self.vaccines where random.next() % 4 != 0 {
            let id = uuid()
            entries.append(entry(id, [
                "resourceType": "Immunization", "id": id, "patient": subject, "status": "completed",
                "vaccineCode": ["coding": [["system": "http://hl7.org/fhir/sid/cvx", "code": code, "display": text]], "text": text],
                "occurrenceDateTime": day(today.addingTimeInterval(-Double(random.next() % 1500) * 86400)),
            ]))
        }

        // Visits every 2–4 months, each with vitals; a lab panel at every other visit.
        var systolic = Double(hypertensive ? 138 + random.next() % 20 : 108 + random.next() % 16)
        var weight = Double(55 + random.next() % 45) + Double(random.next() % 10) / 10
        let visits = 6 + Int(random.next() % 8)
        for visit in 0..<visits {
            let when = today.addingTimeInterval(-Double((visits - visit) * (60 + Int(random.next() % 60))) * 86400)
            let encounter = uuid()
            entries.append(entry(encounter, [
                "resourceType": "Encounter", "id": encounter, "subject": subject, "status": "finished",
                "class": ["system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"],
                "type": [["text": "General examination"]], "period": ["start": instant(when), "end": instant(when.addingTimeInterval(1800))],
            ]))
            systolic = min(185, max(95, systolic + Double(Int(random.next() % 11) - 5) - (hypertensive && visit > visits / 2 ? 1.5 : 0)))
            let diastolic = (systolic * 0.62 + Double(random.next() % 8)).rounded()
            let reference = ["reference": "urn:uuid:\(encounter)"]
            entries.append(observation(subject, reference, when, loinc: "85354-9", text: "Blood pressure panel", category: "vital-signs", components: [
                ("8480-6", "Systolic blood pressure", systolic.rounded(), "mm[Hg]"), ("8462-4", "Diastolic blood pressure", diastolic, "mm[Hg]"),
            ]))
            weight += Double(Int(random.next() % 21) - 10) / 10
            entries.append(observation(subject, reference, when, loinc: "29463-7", text: "Body weight", category: "vital-signs", value: (weight * 10).rounded() / 10, unit: "kg"))
            if visit % 2 == 1 {
                let glucose = Double(diabetic ? 120 + random.next() % 70 : 75 + random.next() % 25)
                entries.append(observation(subject, reference, when, loinc: "2339-0", text: "Glucose", category: "laboratory", value: glucose, unit: "mg/dL"))
                let a1c = (diabetic ? 6.5 + Double(random.next() % 25) / 10 : 4.8 + Double(random.next() % 9) / 10)
                entries.append(observation(subject, reference, when, loinc: "4548-4", text: "Hemoglobin A1c", category: "laboratory", value: (a1c * 10).rounded() / 10, unit: "%"))
                entries.append(observation(subject, reference, when, loinc: "2093-3", text: "Total cholesterol", category: "laboratory",
                                           value: Double(150 + random.next() % 90), unit: "mg/dL"))
            }
        }
        let bundle: [String: Any] = ["resourceType": "Bundle", "type": "transaction", "entry": entries]
        return (try? JSONSerialization.data(withJSONObject: bundle, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    }

    // MARK: Pieces

    private func entry(_ id: String, _ resource: [String: Any]) -> [String: Any] {
        ["fullUrl": "urn:uuid:\(id)", "resource": resource, "request": ["method": "POST", "url": resource["resourceType"] as? String ?? ""]]
    }

    private mutating func observation(_ subject: [String: String], _ encounter: [String: String], _ when: Date, loinc: String, text: String, category: String,
                                      value: Double? = nil, unit: String? = nil, components: [(String, String, Double, String)] = []) -> [String: Any] {
        let id = uuid()
        var resource: [String: Any] = [
            "resourceType": "Observation", "id": id, "status": "final", "subject": subject, "encounter": encounter,
            "effectiveDateTime": instant(when), "issued": instant(when.addingTimeInterval(600)),
            "category": [["coding": [["system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": category]]]],
            "code": ["coding": [["system": "http://loinc.org", "code": loinc, "display": text]], "text": text],
        ]
        if let value, let unit { resource["valueQuantity"] = Self.quantity(value, unit) }
        if !components.isEmpty {
            resource["component"] = components.map { code, display, value, unit in
                ["code": ["coding": [["system": "http://loinc.org", "code": code, "display": display]], "text": display], "valueQuantity": Self.quantity(value, unit)]
            }
        }
        return entry(id, resource)
    }

    private static func quantity(_ value: Double, _ unit: String) -> [String: Any] {
        ["value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit]
    }

    private mutating func uuid() -> String {
        var bytes: [UInt8] = []
        for word in [random.next(), random.next()] {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        bytes[6] = (bytes[6] & 0x0F) | 0x40  // the version-4 layout
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex: [String] = bytes.map { String(format: "%02x", $0) }
        let groups: [String] = [hex[0..<4].joined(), hex[4..<6].joined(), hex[6..<8].joined(), hex[8..<10].joined(), hex[10..<16].joined()]
        return groups.joined(separator: "-")
    }

    private func day(_ date: Date) -> String { String(instant(date).prefix(10)) }

    private func instant(_ date: Date) -> String { formatter.string(from: date) }

    static let femaleNames = ["Amara", "Beatriz", "Chloé", "Dagny", "Elif", "Farah", "Greta", "Hana", "Ines", "Jovana", "Keiko", "Lucía", "Maren", "Nadia", "Olga", "Priya"]
    static let maleNames = ["Anders", "Bilal", "Cosmin", "Dário", "Emeka", "Felix", "Goran", "Hiroshi", "Ibrahim", "Jonas", "Kwame", "Lars", "Mateo", "Nikhil", "Oskar", "Pavel"]
    static let familyNames = ["Abernathy", "Bergström", "Castellanos", "Dvořák", "Eriksen", "Fontaine", "Gallagher", "Haddad", "Iwasaki", "Jankowski",
                              "Kowalczyk", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrović", "Quintero", "Rasmussen", "Sørensen", "Takahashi"]
    static let otherConditions = [("195967001", "Asthma"), ("55822004", "Hyperlipidemia"), ("35489007", "Depressive disorder"),
                                  ("69896004", "Rheumatoid arthritis"), ("40055000", "Chronic sinusitis"), ("271737000", "Anemia")]
    static let allergies = [("91936005", "Allergy to penicillin"), ("91935009", "Allergy to peanuts"), ("300916003", "Latex allergy"),
                            ("418689008", "Allergy to grass pollen")]
    static let vaccines = [("140", "Influenza, seasonal, injectable"), ("208", "SARS-COV-2 (COVID-19) vaccine, mRNA"), ("115", "Tdap"),
                           ("33", "Pneumococcal polysaccharide PPV23")]
}

/// SplitMix64: small, fast and fully determined by its seed (not for secrets).
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
