import Foundation
import PHRServer
import Testing
import TrubiZoneTesting

/// `phr-server seed`: deterministic, realistic synthetic patients.
@Suite struct PatientGeneratorTests {
    static func entries(_ bundle: Data) throws -> [[String: Any]] {
        let root = try JSONSerialization.jsonObject(with: bundle) as? [String: Any]
        return (root?["entry"] as? [[String: Any]] ?? []).compactMap { $0["resource"] as? [String: Any] }
    }

    @Test func theSameSeedGivesTheSamePatients() {
        var a = PatientGenerator(seed: 42), b = PatientGenerator(seed: 42), c = PatientGenerator(seed: 43)
        let first = (0..<3).map { _ in a.nextBundle() }
        #expect(first == (0..<3).map { _ in b.nextBundle() })
        #expect(first != (0..<3).map { _ in c.nextBundle() })
        #expect(Set(first).count == 3)
    }

    @Test func patientsHavePlausibleHistoriesAndImport() throws {
        var generator = PatientGenerator(seed: 2026)
        let bundles = (0..<20).map { _ in generator.nextBundle() }
        for bundle in bundles {
            let resources = try Self.entries(bundle)
            #expect(resources.filter { $0["resourceType"] as? String == "Patient" }.count == 1)
            let panels = resources.filter { (($0["code"] as? [String: Any])?["coding"] as? [[String: Any]])?.first?["code"] as? String == "85354-9" }
            #expect(panels.count >= 6, "a blood-pressure series")
            for panel in panels {
                let values = (panel["component"] as? [[String: Any]] ?? []).compactMap { ($0["valueQuantity"] as? [String: Any])?["value"] as? Double }
                #expect(values.count == 2)
                #expect((95...185).contains(values[0]) && (50...125).contains(values[1]) && values[1] < values[0], "\(values)")
            }
        }
        let directory = TemporaryDirectory("phr-seed")
        defer { withExtendedLifetime(directory) {} }
        let store = try RecordStore(path: directory.appending("phr.sqlite"))
        let results = try store.importFiles(bundles.enumerated().map { ("patient-\($0.offset).json", $0.element) }).map { try $0.get() }
        #expect(results.allSatisfy { $0.new == $0.resources && $0.unresolvedConditional == 0 })
        let counts = try store.counts()
        #expect(counts["Patient"] == 20 && (counts["Observation"] ?? 0) > 20 * 12 && (counts["Encounter"] ?? 0) >= 20 * 6)
    }
}
