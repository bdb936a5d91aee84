import Crypto
import Foundation
import GRDB

/// The server's audit trail: append-only and hash-chained. Each entry's hash covers its content and
/// the previous entry's hash, so removing, reordering or editing any entry breaks the chain from
/// there on, and `verify` says where. Entries never hold health data: actions, who, and the
/// `Type/id` or file name they concern.
public struct AuditEntry: Sendable, Equatable, Codable {
    public let sequence: Int64
    public let time: Double
    /// Who acted: `importer`, `device:<id>`, `practitioner:<id>`, …
    public let actor: String
    public let action: String
    /// What it concerned (a resource reference, a file name, a patient).
    public let subject: String
    /// Whether it was allowed.
    public let outcome: String
    /// `Patient/id` when the entry concerns one patient (their device, their grants, their records).
    public let patient: String?
    public let previousHash: Data
    public let hash: Data

    static func hash(sequence: Int64, time: Double, actor: String, action: String, subject: String, outcome: String, patient: String?,
                     previous: Data) -> Data {
        var hasher = SHA256()
        // The patient field joined the entry later (migration v3); entries without one hash as before.
        for field in [String(sequence), String(time.bitPattern), actor, action, subject, outcome] + (patient.map { [$0] } ?? []) {
            let bytes = Array(field.utf8)
            hasher.update(data: [UInt8(bytes.count >> 8 & 0xFF), UInt8(bytes.count & 0xFF)] + bytes)
        }
        hasher.update(data: previous)
        return Data(hasher.finalize())
    }
}

/// Why a chain does not verify.
public struct AuditChainBroken: Error, Equatable, CustomStringConvertible {
    public let sequence: Int64
    public let reason: String

    public init(sequence: Int64, reason: String) { (self.sequence, self.reason) = (sequence, reason) }
    public var description: String { "the audit chain breaks at entry \(sequence): \(reason)" }
}

extension RecordStore {
    static func registerAuditMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v2: audit") { db in
            try db.create(table: "audit") { table in
                table.column("sequence", .integer).primaryKey()
                table.column("time", .double).notNull()
                table.column("actor", .text).notNull()
                table.column("action", .text).notNull()
                table.column("subject", .text).notNull()
                table.column("outcome", .text).notNull()
                table.column("previousHash", .blob).notNull()
                table.column("hash", .blob).notNull()
            }
            // Append-only, in the database itself: no update or delete of an audit row succeeds.
            try db.execute(sql: "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")
            try db.execute(sql: "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")
        }
        migrator.registerMigration("v3: audit by patient") { db in
            try db.alter(table: "audit") { table in table.add(column: "patient", .text) }
            try db.create(index: "audit_patient", on: "audit", columns: ["patient"])
        }
    }

    /// Appends an entry inside the caller's transaction.
    static func appendAudit(_ db: Database, actor: String, action: String, subject: String, outcome: String, patient: String? = nil) throws {
        let last = try Row.fetchOne(db, sql: "SELECT sequence, hash FROM audit ORDER BY sequence DESC LIMIT 1")
        let sequence: Int64 = (last?["sequence"] as Int64? ?? 0) + 1
        let previous: Data = last?["hash"] ?? Data(count: 32)
        let time = Date().timeIntervalSince1970
        let hash = AuditEntry.hash(sequence: sequence, time: time, actor: actor, action: action, subject: subject, outcome: outcome,
                                   patient: patient, previous: previous)
        try db.execute(sql: "INSERT INTO audit (sequence, time, actor, action, subject, outcome, patient, previousHash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       arguments: [sequence, time, actor, action, subject, outcome, patient, previous, hash])
    }

    /// Appends an entry.
    public func audit(actor: String, action: String, subject: String, outcome: String, patient: String? = nil) throws {
        try database.write { db in try Self.appendAudit(db, actor: actor, action: action, subject: subject, outcome: outcome, patient: patient) }
    }

    /// Every entry, oldest first; only those concerning `patient` when one is given.
    public func auditTrail(patient: String? = nil) throws -> [AuditEntry] {
        try database.read { db in
            let rows = if let patient {
                try Row.fetchAll(db, sql: "SELECT * FROM audit WHERE patient = ? ORDER BY sequence", arguments: [patient])
            } else {
                try Row.fetchAll(db, sql: "SELECT * FROM audit ORDER BY sequence")
            }
            return rows.map { row in
                AuditEntry(sequence: row["sequence"], time: row["time"], actor: row["actor"], action: row["action"], subject: row["subject"],
                           outcome: row["outcome"], patient: row["patient"], previousHash: row["previousHash"], hash: row["hash"])
            }
        }
    }

    /// The newest entry's hash (32 zero bytes for an empty log).
    public func auditHead() throws -> Data {
        try database.read { db in try Data.fetchOne(db, sql: "SELECT hash FROM audit ORDER BY sequence DESC LIMIT 1") } ?? Data(count: 32)
    }

    /// Walks the chain from the first entry.
    /// - Returns: how many entries verified.
    /// - Throws: `AuditChainBroken` at the first entry that does not follow from the one before.
    @discardableResult
    public func verifyAuditTrail() throws -> Int {
        try AuditEntry.verify(try auditTrail())
    }
}

extension AuditEntry {
    /// Checks that `entries` (oldest first, from the first) form an unbroken chain.
    static func verify(_ entries: [AuditEntry]) throws -> Int {
        var previous = Data(count: 32)
        var expected: Int64 = 1
        for entry in entries {
            guard entry.sequence == expected else { throw AuditChainBroken(sequence: expected, reason: "the entry is missing") }
            guard entry.previousHash == previous else { throw AuditChainBroken(sequence: entry.sequence, reason: "it does not follow the entry before") }
            let hash = AuditEntry.hash(sequence: entry.sequence, time: entry.time, actor: entry.actor, action: entry.action, subject: entry.subject,
                                       outcome: entry.outcome, patient: entry.patient, previous: entry.previousHash)
            guard hash == entry.hash else { throw AuditChainBroken(sequence: entry.sequence, reason: "its content was changed") }
            previous = entry.hash
            expected += 1
        }
        return Int(expected - 1)
    }
}
