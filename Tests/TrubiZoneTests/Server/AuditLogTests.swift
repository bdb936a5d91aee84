import Foundation
import GRDB
import PHRServer
import Testing
import TrubiZoneTesting

/// The server's audit log: append-only in the database, hash-chained, and `verify` names the
/// first entry an attacker with the database file touched.
@Suite struct AuditLogTests {
    func seeded(_ directory: TemporaryDirectory) throws -> RecordStore {
        let store = try RecordStore(path: directory.appending("phr.sqlite"))
        var generator = PatientGenerator(seed: 5)
        _ = try store.importFiles((0..<4).map { ("patient-\($0).json", generator.nextBundle()) } + [("broken.json", Data("{".utf8))])
        return store
    }

    @Test func importsAreAuditedAndTheChainVerifies() throws {
        let directory = TemporaryDirectory("phr-audit")
        defer { withExtendedLifetime(directory) {} }
        let store = try seeded(directory)
        let trail = try store.auditTrail()
        #expect(trail.count == 5)
        #expect(trail.last?.outcome.hasPrefix("refused:") == true && trail.last?.subject == "broken.json")
        #expect(try store.verifyAuditTrail() == 5)
        // No health data in the trail: file names and counts only.
        #expect(!trail.contains { $0.subject.contains("Patient/") || $0.outcome.contains("mmHg") })
    }

    @Test func theDatabaseRefusesEditsAndVerifyFindsTheOnesThatBypassIt() throws {
        let directory = TemporaryDirectory("phr-audit-tamper")
        defer { withExtendedLifetime(directory) {} }
        _ = try seeded(directory)
        let raw = try DatabaseQueue(path: directory.appending("phr.sqlite"))
        #expect(throws: DatabaseError.self) { try raw.write { try $0.execute(sql: "UPDATE audit SET actor = 'nobody' WHERE sequence = 2") } }
        #expect(throws: DatabaseError.self) { try raw.write { try $0.execute(sql: "DELETE FROM audit WHERE sequence = 3") } }
        // An attacker who owns the file drops the guards and edits an entry.
        try raw.write { db in
            try db.execute(sql: "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete")
            try db.execute(sql: "UPDATE audit SET outcome = 'stored: 0 new' WHERE sequence = 2")
        }
        #expect(throws: AuditChainBroken(sequence: 2, reason: "its content was changed")) { try RecordStore(path: directory.appending("phr.sqlite")).verifyAuditTrail() }
        // …or removes one.
        let other = TemporaryDirectory("phr-audit-delete")
        defer { withExtendedLifetime(other) {} }
        _ = try seeded(other)
        let second = try DatabaseQueue(path: other.appending("phr.sqlite"))
        try second.write { db in
            try db.execute(sql: "DROP TRIGGER audit_no_delete")
            try db.execute(sql: "DELETE FROM audit WHERE sequence = 3")
        }
        #expect(throws: AuditChainBroken(sequence: 3, reason: "the entry is missing")) { try RecordStore(path: other.appending("phr.sqlite")).verifyAuditTrail() }
    }
}
