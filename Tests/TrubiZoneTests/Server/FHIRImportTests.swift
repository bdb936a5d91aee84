import Foundation
import PHRFHIR
import PHRServer
import Testing
import TrubiZoneTesting

/// `phr-server import`: the Synthea bundles and FHIR examples of `../shared/data`, idempotence,
/// reference resolution, and files refused whole.
@Suite struct FHIRImportTests {
    static func sharedFiles() throws -> [(name: String, data: Data)] {
        let paths = try SharedData.files(in: "synthea/iris-fhir-template", withExtension: ".json")
            + SharedData.files(in: "synthea/fhir-data-pipes", withExtension: ".json") + SharedData.files(in: "fhir", withExtension: ".json")
        return try paths.map { (URL(fileURLWithPath: $0).lastPathComponent, try Data(contentsOf: URL(fileURLWithPath: $0))) }
    }

    /// Resources in a file as FHIR counts them: a bundle's entries that carry one, or the file itself.
    static func resourceCount(_ data: Data) throws -> Int {
        let root = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        guard root["resourceType"] as? String == "Bundle" else { return 1 }
        return (root["entry"] as? [[String: Any]] ?? []).filter { $0["resource"] != nil }.count
    }

    @Test func everySharedBundleAndResourceImportsAndImportingAgainChangesNothing() throws {
        let directory = TemporaryDirectory("phr-import")
        defer { withExtendedLifetime(directory) {} }
        let store = try RecordStore(path: directory.appending("phr.sqlite"))
        let files = try Self.sharedFiles()
        #expect(files.count == 55)
        let first = try store.importFiles(files).map { try $0.get() }
        let expected = try files.reduce(0) { $0 + (try Self.resourceCount($1.data)) }
        #expect(first.reduce(0) { $0 + $1.resources } == expected)
        let counts = try store.counts()
        #expect(counts["Patient"] == 21 && counts["Observation"] == 1569 && counts["Organization"] == 18)
        for type in FHIRImport.clinicalTypes { #expect((counts[type] ?? 0) > 0, "no \(type) imported") }
        let again = try store.importFiles(files).map { try $0.get() }
        #expect(again.allSatisfy { $0.new == 0 && $0.updated == 0 && $0.unchanged == $0.resources })
        #expect(try store.counts() == counts)

        // urn:uuid references now point at stored resources.
        let patient = "Patient/f1731e33-dc55-4ee8-72d7-cece2e49bedd"
        let owned = try store.resources(ofPatient: patient)
        #expect(owned.count > 200)
        let observation = try #require(owned.first { $0.hasPrefix("Observation/") })
        let parts = observation.split(separator: "/")
        let json = try #require(try store.resource(type: String(parts[0]), id: String(parts[1])))
        let object = try JSONSerialization.jsonObject(with: json) as? [String: Any]
        #expect((object?["subject"] as? [String: Any])?["reference"] as? String == patient)
        #expect(!String(decoding: json, as: UTF8.self).contains("urn:uuid:"))
        // A resource without references comes back unchanged in meaning.
        let original = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: SharedData.path("fhir/Patient-example.json")))) as? NSDictionary
        let stored = try JSONSerialization.jsonObject(with: try #require(try store.resource(type: "Patient", id: "example"))) as? NSDictionary
        #expect(original == stored)
    }

    @Test func aBrokenFileIsRefusedWholeAndTheOthersImport() throws {
        let directory = TemporaryDirectory("phr-broken")
        defer { withExtendedLifetime(directory) {} }
        let store = try RecordStore(path: directory.appending("phr.sqlite"))
        let broken = Data(#"{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","id":"p1"}},{"resource":{"resourceType":"Observation","id":"o1"}},{"resource":{"id":"x"}}]}"#.utf8)
        let good = Data(#"{"resourceType":"Patient","id":"p2"}"#.utf8)
        let outcomes = try store.importFiles([("broken.json", broken), ("good.json", good), ("garbage.json", Data("{\"resource".utf8)),
                                              ("bad-id.json", Data(#"{"resourceType":"Patient","id":"a b"}"#.utf8))])
        #expect(throws: ImportError(file: "broken.json", entry: 2, reason: "no valid resourceType")) { try outcomes[0].get() }
        #expect(try outcomes[1].get().new == 1)
        #expect(throws: ImportError.self) { try outcomes[2].get() }
        #expect(throws: ImportError(file: "bad-id.json", entry: nil, reason: "Patient has an ID that is not a FHIR id ([A-Za-z0-9-.]{1,64})")) { try outcomes[3].get() }
        #expect(try store.counts() == ["Patient": 1], "nothing of the broken file may be stored")
        #expect(try store.resource(type: "Patient", id: "p1") == nil)
    }

    @Test func conditionalReferencesResolveAcrossFilesInEitherOrder() throws {
        let practitioner = Data(#"{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Practitioner","id":"dr-1","identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"42"}]}}]}"#.utf8)
        let encounter = Data(#"{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:0c3a9b1e-7d52-4c1e-9a57-3f5e2d1c0b9a","resource":{"resourceType":"Patient"}},{"resource":{"resourceType":"Encounter","id":"e1","subject":{"reference":"urn:uuid:0c3a9b1e-7d52-4c1e-9a57-3f5e2d1c0b9a"},"participant":[{"individual":{"reference":"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|42"}},{"individual":{"reference":"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|7"}}]}}]}"#.utf8)
        for order in [[("p.json", practitioner), ("e.json", encounter)], [("e.json", encounter), ("p.json", practitioner)]] {
            let directory = TemporaryDirectory("phr-cond")
            defer { withExtendedLifetime(directory) {} }
            let store = try RecordStore(path: directory.appending("phr.sqlite"))
            let results = try store.importFiles(order).map { try $0.get() }
            #expect(results.reduce(0) { $0 + $1.unresolvedConditional } == 1, "the NPI 7 practitioner is nowhere")
            let stored = String(decoding: try #require(try store.resource(type: "Encounter", id: "e1")), as: UTF8.self)
            #expect(stored.contains(#""reference":"Practitioner/dr-1""#))
            #expect(stored.contains(#""reference":"Patient/0c3a9b1e-7d52-4c1e-9a57-3f5e2d1c0b9a""#))
            #expect(stored.contains("Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|7"))
        }
    }
}
