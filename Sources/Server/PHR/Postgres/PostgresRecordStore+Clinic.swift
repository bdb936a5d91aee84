import Crypto
import Foundation
import PHRFHIR
import PostgresNIO

/// Import and the clinic's operations, as `RecordStore` does them in SQLite.
extension PostgresRecordStore {
    public func importFiles(_ files: [(name: String, data: Data)],
                            progress: (Int, Result<RecordStore.FileResult, ImportError>) -> Void = { _, _ in })
        async throws -> [Result<RecordStore.FileResult, ImportError>] {
        var stored: [String: String] = [:]
        for row in try await rows("SELECT type, value, resource_id FROM identifier") {
            let (type, value, id) = try row.decode((String, String, String).self)
            stored["\(type)|\(value)"] = "\(type)/\(id)"
        }
        let run = FHIRImport.Run(files) { type, identifier in stored["\(type)|\(identifier)"] }
        var outcomes: [Result<RecordStore.FileResult, ImportError>] = []
        for (index, result) in run.parsed.enumerated() {
            let outcome: Result<RecordStore.FileResult, ImportError>
            switch result {
            case let .failure(error):
                try await audit(actor: "importer", action: "import", subject: files[index].name, outcome: "refused: \(error.reason)", patient: nil)
                outcome = .failure(error)
            case let .success(content):
                outcome = .success(try await store(content, file: files[index].name) { run.isSuperseded($0, in: index) })
            }
            progress(index, outcome)
            outcomes.append(outcome)
        }
        return outcomes
    }

    func store(_ content: FHIRImport.Parsed, file: String, superseded: (FHIRResource) -> Bool) async throws -> RecordStore.FileResult {
        try await write { connection in
            var result = RecordStore.FileResult(parsed: content)
            let now = Date().timeIntervalSince1970
            for resource in content.resources {
                result.resources += 1
                if superseded(resource) { result.unchanged += 1; continue }
                let digest = Data(SHA256.hash(data: resource.json))
                let existing = try await rows("SELECT digest FROM resource WHERE type = \(resource.type) AND id = \(resource.id) FOR UPDATE",
                                              on: connection).first?.decode(Data.self)
                if let existing {
                    if existing == digest {
                        result.unchanged += 1
                    } else {
                        let change = try await Self.nextChange(connection, logger)
                        try await connection.query("""
                            UPDATE resource SET version = version + 1, digest = \(digest), content = \(resource.json), patient = \(resource.patient),
                              updated_at = \(now), change = \(change) WHERE type = \(resource.type) AND id = \(resource.id)
                            """, logger: logger)
                        result.updated += 1
                    }
                } else {
                    let change = try await Self.nextChange(connection, logger)
                    try await connection.query("""
                        INSERT INTO resource (type, id, patient, version, digest, content, updated_at, change)
                        VALUES (\(resource.type), \(resource.id), \(resource.patient), 1, \(digest), \(resource.json), \(now), \(change))
                        """, logger: logger)
                    result.new += 1
                }
                for identifier in resource.identifiers {
                    try await connection.query("""
                        INSERT INTO identifier (type, value, resource_id) VALUES (\(resource.type), \(identifier), \(resource.id))
                        ON CONFLICT (type, value) DO UPDATE SET resource_id = EXCLUDED.resource_id
                        """, logger: logger)
                }
            }
            try await Self.appendAudit(connection, logger, actor: "importer", action: "import", subject: file,
                                       outcome: "stored: \(result.new) new, \(result.updated) updated, \(result.unchanged) unchanged", patient: nil)
            return result
        }
    }

    public func counts() async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try await rows("SELECT type, COUNT(*) FROM resource GROUP BY type") {
            let (type, count) = try row.decode((String, Int64).self)
            counts[type] = Int(count)
        }
        return counts
    }

    public func patientIDs() async throws -> [String] {
        try await rows("SELECT id FROM resource WHERE type = 'Patient' ORDER BY id").map { try $0.decode(String.self) }
    }

    public func resources(ofPatient patient: String) async throws -> [String] {
        try await rows("SELECT type, id FROM resource WHERE patient = \(patient) ORDER BY type, id").map { row in
            let (type, id) = try row.decode((String, String).self)
            return "\(type)/\(id)"
        }
    }

    public func revokeDevice(_ id: String, now: Double) async throws -> Bool {
        try await write { connection in
            guard let patient = try await rows("UPDATE device SET revoked_at = \(now) WHERE id = \(id) AND revoked_at IS NULL RETURNING patient",
                                               on: connection).first?.decode(String.self) else { return false }
            try await Self.appendAudit(connection, logger, actor: "clinic", action: "revoke-device", subject: "device:\(id)", outcome: "revoked",
                                       patient: patient)
            return true
        }
    }

    public func issuePractitionerToken(_ practitioner: String) async throws -> String {
        let token = RecordStore.newPractitionerToken()
        try await write { connection in
            try await connection.query("DELETE FROM practitioner_token WHERE practitioner = \(practitioner)", logger: logger)
            try await connection.query("""
                INSERT INTO practitioner_token (digest, practitioner, created_at)
                VALUES (\(RecordStore.tokenDigest(token)), \(practitioner), \(Date().timeIntervalSince1970))
                """, logger: logger)
            try await Self.appendAudit(connection, logger, actor: "clinic", action: "practitioner-token", subject: practitioner, outcome: "issued",
                                       patient: nil)
        }
        return token
    }
}
