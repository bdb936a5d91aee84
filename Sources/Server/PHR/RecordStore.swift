import Crypto
import Foundation
import PHRFHIR
import GRDB
import TrubiZoneProtocol

/// The server's health records, in SQLite (GRDB). Schema migrations run when it opens.
public final class RecordStore: Sendable {
    let database: DatabasePool
    /// The database file.
    public let path: String
    let nonceSweep = NonceSweep()

    /// What importing one file did.
    public struct FileResult: Sendable, Codable, Equatable {
        public var resources = 0
        public var new = 0
        public var updated = 0
        public var unchanged = 0
        public var skippedEntries = 0
        public var unresolvedConditional = 0

        public init() {}

        /// The counts a file's reading already knows, before anything is stored.
        init(parsed content: FHIRImport.Parsed) {
            skippedEntries = content.skippedEntries
            unresolvedConditional = content.unresolvedConditional
        }
    }

    /// Opens (creating if needed) the store at `path`, and migrates it.
    ///
    /// The database is in WAL mode with `synchronous = NORMAL`: readers never wait for the writer,
    /// and a commit does not wait for the disk. An application crash loses nothing committed; a
    /// power cut can lose the last commits (never corrupt the file), which a device retries — the
    /// price of serving many devices from one SQLite file, measured in the README.
    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        // Another process (an admin command, a closing server's last checkpoint) may hold a lock
        // for a moment: wait for it rather than fail at once, GRDB's default.
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        database = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(database)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: resources") { db in
            try db.create(table: "resource") { table in
                table.column("type", .text).notNull()
                table.column("id", .text).notNull()
                table.column("patient", .text)
                table.column("version", .integer).notNull()
                table.column("digest", .blob).notNull()
                table.column("content", .blob).notNull()
                table.column("updatedAt", .double).notNull()
                table.primaryKey(["type", "id"])
            }
            try db.create(index: "resource_patient", on: "resource", columns: ["patient"])
            try db.create(table: "identifier") { table in
                table.column("type", .text).notNull()
                table.column("value", .text).notNull()
                table.column("resourceID", .text).notNull()
                table.primaryKey(["type", "value"])
            }
        }
        registerAuditMigration(&migrator)
        migrator.registerMigration("v4: change cursor") { db in
            // A store-wide change number: what sync cursors count. Every insert or update takes the next.
            try db.alter(table: "resource") { table in
                table.add(column: "change", .integer).notNull().defaults(to: 0)
                table.add(column: "source", .text).notNull().defaults(to: "provider")
            }
            try db.execute(sql: "UPDATE resource SET change = rowid")
            try db.create(index: "resource_patient_change", on: "resource", columns: ["patient", "change"])
        }
        registerDeviceMigration(&migrator)
        return migrator
    }

    /// Imports FHIR files. Each file is checked whole first and then stored in one transaction: a
    /// refused file leaves nothing behind, the others are stored. When several files of one run
    /// carry the same resource, the last one's content is stored (as FHIR's PUT would), and
    /// without passing through the earlier ones, so importing the same files again changes nothing.
    /// - Parameter progress: called after each file with its index and outcome.
    public func importFiles(_ files: [(name: String, data: Data)],
                            progress: (Int, Result<FileResult, ImportError>) -> Void = { _, _ in }) throws -> [Result<FileResult, ImportError>] {
        let run = try database.read { db in
            FHIRImport.Run(files) { type, identifier in
                (try? String.fetchOne(db, sql: "SELECT resourceID FROM identifier WHERE type = ? AND value = ?", arguments: [type, identifier]))
                    .map { "\(type)/\($0)" }
            }
        }
        var outcomes: [Result<FileResult, ImportError>] = []
        for (index, result) in run.parsed.enumerated() {
            let outcome: Result<FileResult, ImportError>
            switch result {
            case let .failure(error):
                try audit(actor: "importer", action: "import", subject: files[index].name, outcome: "refused: \(error.reason)")
                outcome = .failure(error)
            case let .success(content):
                outcome = .success(try store(content, file: files[index].name, superseded: { run.isSuperseded($0, in: index) }))
            }
            progress(index, outcome)
            outcomes.append(outcome)
        }
        return outcomes
    }

    /// Imports one file (see `importFiles`).
    public func importFile(_ data: Data, name: String) throws -> FileResult {
        try importFiles([(name, data)])[0].get()
    }

    private func store(_ content: FHIRImport.Parsed, file: String, superseded: (FHIRResource) -> Bool) throws -> FileResult {
        try database.write { db in
            var result = FileResult(parsed: content)
            let now = Date().timeIntervalSince1970
            for resource in content.resources {
                result.resources += 1
                // A later file of the same run stores this resource.
                if superseded(resource) { result.unchanged += 1; continue }
                let digest = Data(SHA256.hash(data: resource.json))
                let existing = try Row.fetchOne(db, sql: "SELECT version, digest FROM resource WHERE type = ? AND id = ?", arguments: [resource.type, resource.id])
                if let existing {
                    if (existing["digest"] as Data) == digest {
                        result.unchanged += 1
                    } else {
                        try db.execute(sql: "UPDATE resource SET version = version + 1, digest = ?, content = ?, patient = ?, updatedAt = ?, change = ? WHERE type = ? AND id = ?",
                                       arguments: [digest, resource.json, resource.patient, now, try Self.nextChange(db), resource.type, resource.id])
                        result.updated += 1
                    }
                } else {
                    try db.execute(sql: "INSERT INTO resource (type, id, patient, version, digest, content, updatedAt, change) VALUES (?, ?, ?, 1, ?, ?, ?, ?)",
                                   arguments: [resource.type, resource.id, resource.patient, digest, resource.json, now, try Self.nextChange(db)])
                    result.new += 1
                }
                for identifier in resource.identifiers {
                    try db.execute(sql: "INSERT OR REPLACE INTO identifier (type, value, resourceID) VALUES (?, ?, ?)",
                                   arguments: [resource.type, identifier, resource.id])
                }
            }
            try Self.appendAudit(db, actor: "importer", action: "import", subject: file,
                                 outcome: "stored: \(result.new) new, \(result.updated) updated, \(result.unchanged) unchanged")
            return result
        }
    }

    /// The next change number, inside the caller's write transaction.
    static func nextChange(_ db: Database) throws -> Int64 {
        (try Int64.fetchOne(db, sql: "SELECT MAX(change) FROM resource") ?? 0) + 1
    }

    /// How many resources of each type are stored.
    public func counts() throws -> [String: Int] {
        try database.read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT type, COUNT(*) AS n FROM resource GROUP BY type") {
                counts[row["type"]] = row["n"]
            }
            return counts
        }
    }

    /// A stored resource's JSON.
    public func resource(type: String, id: String) throws -> Data? {
        try database.read { db in
            try Data.fetchOne(db, sql: "SELECT content FROM resource WHERE type = ? AND id = ?", arguments: [type, id])
        }
    }

    /// The IDs of the stored patients, sorted.
    public func patientIDs() throws -> [String] {
        try database.read { db in try String.fetchAll(db, sql: "SELECT id FROM resource WHERE type = 'Patient' ORDER BY id") }
    }

    /// The `Type/id` of every resource of a patient.
    public func resources(ofPatient patient: String) throws -> [String] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT type, id FROM resource WHERE patient = ? ORDER BY type, id", arguments: [patient]).map { "\($0["type"] as String)/\($0["id"] as String)" }
        }
    }
}
