import Crypto
import Foundation
import Logging
import PostgresNIO

/// The PHR server's state in PostgreSQL (PostgresNIO), for deployments that outgrow one machine:
/// the same operations and invariants as the SQLite `RecordStore`.
///
/// Two things differ from SQLite, where one writer at a time makes them free:
/// - change numbers come from a counter row updated inside the writing transaction, so they
///   commit in order and a sync cursor never skips a change committed late;
/// - the audit table is locked while an entry joins the chain, so entries chain in order.
public final class PostgresRecordStore: PHRStore {
    let client: PostgresClient
    let logger: Logger
    let runner: Task<Void, Never>
    let nonceSweep = NonceSweep()

    /// Connects to `url` (`postgres://user:password@host:port/database`) and migrates the schema.
    public init(url: String, logger: Logger = Logger(label: "phr-server.postgres") { _ in SwiftLogNoOpLogHandler() }, migrate: Bool = true) async throws {
        guard let components = URLComponents(string: url), components.scheme == "postgres" || components.scheme == "postgresql",
              let host = components.host, let user = components.user else {
            throw PHRError.badRequest("a PostgreSQL URL is postgres://user[:password]@host[:port]/database")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let port = components.port ?? 5432
        // One connection first, with a short timeout: an address where no PostgreSQL answers is
        // named in seconds (the pool would keep retrying while its first query waits).
        var probe = PostgresConnection.Configuration(host: host, port: port, username: user, password: components.password,
                                                     database: database.isEmpty ? nil : database, tls: .disable)
        probe.options.connectTimeout = .seconds(Int64(Self.connectTimeoutSeconds))
        do {
            try await PostgresConnection.connect(configuration: probe, id: 0, logger: logger).close()
        } catch {
            throw PostgresUnreachable(host: host, port: port, reason: Self.reason(error))
        }
        var configuration = PostgresClient.Configuration(host: host, port: port, username: user,
                                                         password: components.password, database: database.isEmpty ? nil : database, tls: .disable)
        configuration.options.connectTimeout = .seconds(Self.connectTimeoutSeconds)
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
        let client = self.client
        runner = Task { await client.run() }
        if migrate { try await self.migrate() }
    }

    deinit { runner.cancel() }

    /// How long connecting to PostgreSQL may take.
    static let connectTimeoutSeconds = 5

    /// Why a connection failed, in words that carry no password or query.
    static func reason(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            switch error.code {
            case .connectionError: return "no PostgreSQL answered there (refused or no connection within \(connectTimeoutSeconds) s)"
            case .server: return "PostgreSQL refused the login or the database (\(error.serverInfo?[.sqlState] ?? "no SQLSTATE"))"
            default: return "the connection failed (\(error.code))"
            }
        }
        return "the connection failed (\(type(of: error)))"
    }

    /// Creates a database on a server (`postgres://user[:password]@host[:port]`), for tests and setup.
    public static func createDatabase(_ name: String, server: String) async throws {
        guard name.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }) else {
            throw PHRError.badRequest("a database name is lowercase letters, digits and _")
        }
        let admin = try await PostgresRecordStore(url: server + "/postgres", migrate: false)
        try await admin.client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: admin.logger)
    }

    func migrate() async throws {
        try await client.withTransaction(logger: logger) { connection in
            // One migrator at a time, across servers starting together.
            try await connection.query("SELECT pg_advisory_xact_lock(7461726)", logger: logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS phr_schema (version INTEGER NOT NULL)", logger: logger)
            let rows = try await connection.query("SELECT version FROM phr_schema", logger: logger).collect()
            let version = try rows.first?.decode(Int.self) ?? 0
            for (index, statements) in Self.migrations.enumerated() where index + 1 > version {
                for statement in statements { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
            }
            try await connection.query("DELETE FROM phr_schema", logger: logger)
            try await connection.query("INSERT INTO phr_schema (version) VALUES (\(Self.migrations.count))", logger: logger)
        }
    }

    static let migrations: [[String]] = [[
        """
        CREATE TABLE resource (type TEXT NOT NULL, id TEXT NOT NULL, patient TEXT, version BIGINT NOT NULL, digest BYTEA NOT NULL,
          content BYTEA NOT NULL, updated_at DOUBLE PRECISION NOT NULL, change BIGINT NOT NULL, source TEXT NOT NULL DEFAULT 'provider',
          PRIMARY KEY (type, id))
        """,
        "CREATE INDEX resource_patient_change ON resource (patient, change)",
        "CREATE TABLE change_counter (value BIGINT NOT NULL)",
        "INSERT INTO change_counter VALUES (0)",
        "CREATE TABLE identifier (type TEXT NOT NULL, value TEXT NOT NULL, resource_id TEXT NOT NULL, PRIMARY KEY (type, value))",
        """
        CREATE TABLE audit (sequence BIGINT PRIMARY KEY, time DOUBLE PRECISION NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
          subject TEXT NOT NULL, outcome TEXT NOT NULL, patient TEXT, previous_hash BYTEA NOT NULL, hash BYTEA NOT NULL)
        """,
        "CREATE INDEX audit_patient ON audit (patient)",
        """
        CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$
        """,
        "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
        """
        CREATE TABLE enrollment_code (id TEXT PRIMARY KEY, patient TEXT NOT NULL, proof_key BYTEA NOT NULL, created_at DOUBLE PRECISION NOT NULL,
          expires_at DOUBLE PRECISION NOT NULL, used_at DOUBLE PRECISION, failures INTEGER NOT NULL DEFAULT 0, last_failure_at DOUBLE PRECISION)
        """,
        "CREATE TABLE challenge (id TEXT PRIMARY KEY, nonce BYTEA NOT NULL, expires_at DOUBLE PRECISION NOT NULL, used_at DOUBLE PRECISION)",
        """
        CREATE TABLE device (id TEXT PRIMARY KEY, patient TEXT NOT NULL, signing_key BYTEA NOT NULL, hpke_key BYTEA NOT NULL,
          enrolled_at DOUBLE PRECISION NOT NULL, revoked_at DOUBLE PRECISION, last_upload BIGINT NOT NULL DEFAULT 0,
          last_sync_page BIGINT NOT NULL DEFAULT 0)
        """,
        "CREATE INDEX device_patient ON device (patient)",
        "CREATE TABLE request_nonce (device TEXT NOT NULL, nonce TEXT NOT NULL, time DOUBLE PRECISION NOT NULL, PRIMARY KEY (device, nonce))",
        "CREATE INDEX request_nonce_time ON request_nonce (time)",
        """
        CREATE TABLE upload (device TEXT NOT NULL, sequence BIGINT NOT NULL, observation TEXT NOT NULL, digest BYTEA NOT NULL,
          signature BYTEA NOT NULL, PRIMARY KEY (device, sequence))
        """,
        """
        CREATE TABLE "grant" (id TEXT PRIMARY KEY, patient TEXT NOT NULL, practitioner TEXT NOT NULL, resources TEXT NOT NULL,
          created_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL, revoked_at DOUBLE PRECISION)
        """,
        "CREATE INDEX grant_practitioner ON \"grant\" (practitioner)",
        "CREATE TABLE grant_resource (grant_id TEXT NOT NULL REFERENCES \"grant\" (id), resource TEXT NOT NULL, PRIMARY KEY (grant_id, resource))",
        "CREATE TABLE practitioner_token (digest BYTEA PRIMARY KEY, practitioner TEXT NOT NULL UNIQUE, created_at DOUBLE PRECISION NOT NULL)",
    ]]

    // MARK: Helpers

    func write<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await client.withTransaction(logger: logger) { connection in try await body(connection) }
    }

    func rows(_ query: PostgresQuery, on connection: PostgresConnection? = nil) async throws -> [PostgresRow] {
        if let connection { return try await connection.query(query, logger: logger).collect() }
        return try await client.query(query, logger: logger).collect()
    }

    static func nextChange(_ connection: PostgresConnection, _ logger: Logger) async throws -> Int64 {
        let rows = try await connection.query("UPDATE change_counter SET value = value + 1 RETURNING value", logger: logger).collect()
        return try rows[0].decode(Int64.self)
    }

    static func appendAudit(_ connection: PostgresConnection, _ logger: Logger, actor: String, action: String, subject: String, outcome: String,
                            patient: String?) async throws {
        try await connection.query("LOCK TABLE audit IN SHARE ROW EXCLUSIVE MODE", logger: logger)
        let last = try await connection.query("SELECT sequence, hash FROM audit ORDER BY sequence DESC LIMIT 1", logger: logger).collect().first
        let (lastSequence, lastHash) = try last?.decode((Int64, Data).self) ?? (Int64(0), Data(count: 32))
        let sequence = lastSequence + 1
        let time = Date().timeIntervalSince1970
        let hash = AuditEntry.hash(sequence: sequence, time: time, actor: actor, action: action, subject: subject, outcome: outcome,
                                   patient: patient, previous: lastHash)
        try await connection.query("""
            INSERT INTO audit (sequence, time, actor, action, subject, outcome, patient, previous_hash, hash)
            VALUES (\(sequence), \(time), \(actor), \(action), \(subject), \(outcome), \(patient), \(lastHash), \(hash))
            """, logger: logger)
    }

    static func device(_ row: PostgresRow) throws -> Device {
        let (id, patient, signing, hpke, enrolled, revoked, upload, page) =
            try row.decode((String, String, Data, Data, Double, Double?, Int64, Int64).self)
        return Device(id: id, patient: patient, signingKey: Array(signing), hpkeKey: Array(hpke), enrolledAt: enrolled, revokedAt: revoked,
                      lastUpload: UInt64(upload), lastSyncPage: UInt64(page))
    }

    static func grant(_ row: PostgresRow) throws -> SharingGrant {
        let (id, patient, practitioner, resources, created, expires, revoked) =
            try row.decode((String, String, String, String, Double, Double, Double?).self)
        return SharingGrant(id: id, patient: patient, practitioner: practitioner, resources: resources.split(separator: " ").map(String.init),
                            createdAt: created, expiresAt: expires, revokedAt: revoked)
    }

    static let deviceColumns = "id, patient, signing_key, hpke_key, enrolled_at, revoked_at, last_upload, last_sync_page"
    static let grantColumns = "id, patient, practitioner, resources, created_at, expires_at, revoked_at"
}

// MARK: PHRStore

extension PostgresRecordStore {
    public func owner(type: String, id: String) async throws -> (exists: Bool, patient: String?) {
        guard let row = try await rows("SELECT patient FROM resource WHERE type = \(type) AND id = \(id)").first else { return (false, nil) }
        return (true, try row.decode(String?.self))
    }

    public func resource(type: String, id: String) async throws -> Data? {
        try await rows("SELECT content FROM resource WHERE type = \(type) AND id = \(id)").first?.decode(Data.self)
    }

    public func changes(patient: String, after cursor: Int64, limit: Int, maxBytes: Int) async throws -> (changes: [ResourceChange], more: Bool) {
        let found = try await rows("""
            SELECT change, type, id, content FROM resource WHERE patient = \(patient) AND change > \(cursor) ORDER BY change LIMIT \(limit + 1)
            """)
        var changes: [ResourceChange] = [], bytes = 0
        for row in found {
            let (change, type, id, json) = try row.decode((Int64, String, String, Data).self)
            if changes.count == limit || (!changes.isEmpty && bytes + json.count > maxBytes) { return (changes, true) }
            bytes += json.count
            changes.append(ResourceChange(change: change, type: type, id: id, json: json))
        }
        return (changes, false)
    }

    public func recordSyncPage(device: Device, resources: Int, cursor: Int64) async throws -> UInt64 {
        try await write { connection in
            let page = try await rows("UPDATE device SET last_sync_page = last_sync_page + 1 WHERE id = \(device.id) RETURNING last_sync_page",
                                      on: connection)[0].decode(Int64.self)
            try await Self.appendAudit(connection, logger, actor: "device:\(device.id)", action: "sync", subject: "page \(page)",
                                       outcome: "sent \(resources) resource\(resources == 1 ? "" : "s") up to change \(cursor)", patient: device.patient)
            return UInt64(page)
        }
    }

    public func storeReading(device: Device, sequence: UInt64, submitted: Data, id: String, json: Data,
                             signature: [UInt8], now: Date) async throws -> Result<String, PHRError> {
        let digest = Data(SHA256.hash(data: submitted))
        return try await write { connection in
            let last = try await rows("SELECT last_upload FROM device WHERE id = \(device.id) FOR UPDATE", on: connection).first?.decode(Int64.self) ?? 0
            if sequence <= UInt64(last) {
                let earlier = try await rows("SELECT observation, digest FROM upload WHERE device = \(device.id) AND sequence = \(Int64(sequence))",
                                             on: connection).first?.decode((String, Data).self)
                if let earlier, earlier.1 == digest { return .success(earlier.0) }
                try await Self.appendAudit(connection, logger, actor: "device:\(device.id)", action: "upload", subject: "sequence \(sequence)",
                                           outcome: "refused: sequence not above \(last)", patient: device.patient)
                return .failure(.sequenceReplayed(last: UInt64(last)))
            }
            let change = try await Self.nextChange(connection, logger)
            let contentDigest = Data(SHA256.hash(data: json))
            try await connection.query("""
                INSERT INTO resource (type, id, patient, version, digest, content, updated_at, change, source)
                VALUES ('Observation', \(id), \(device.patient), 1, \(contentDigest), \(json), \(now.timeIntervalSince1970), \(change), 'patient')
                """, logger: logger)
            try await connection.query("""
                INSERT INTO upload (device, sequence, observation, digest, signature)
                VALUES (\(device.id), \(Int64(sequence)), \("Observation/\(id)"), \(digest), \(Data(signature)))
                """, logger: logger)
            try await connection.query("UPDATE device SET last_upload = \(Int64(sequence)) WHERE id = \(device.id)", logger: logger)
            try await Self.appendAudit(connection, logger, actor: "device:\(device.id)", action: "upload", subject: "Observation/\(id)",
                                       outcome: "stored as patient-reported (sequence \(sequence))", patient: device.patient)
            return .success("Observation/\(id)")
        }
    }

    public func insertEnrollmentCode(_ code: EnrollmentCodeRecord, now: Double) async throws -> Bool {
        try await write { connection in
            if let existing = try await rows("SELECT used_at, expires_at FROM enrollment_code WHERE id = \(code.id) FOR UPDATE", on: connection).first {
                let (used, expires) = try existing.decode((Double?, Double).self)
                if used == nil && expires > now { return false }
                try await connection.query("DELETE FROM enrollment_code WHERE id = \(code.id)", logger: logger)
            }
            try await connection.query("DELETE FROM enrollment_code WHERE patient = \(code.patient) AND used_at IS NULL", logger: logger)
            try await connection.query("""
                INSERT INTO enrollment_code (id, patient, proof_key, created_at, expires_at)
                VALUES (\(code.id), \(code.patient), \(Data(code.proofKey)), \(now), \(code.expiresAt))
                """, logger: logger)
            try await Self.appendAudit(connection, logger, actor: "clinic", action: "enroll-code", subject: "code \(code.id)", outcome: "issued",
                                       patient: code.patient)
            return true
        }
    }

    public func enrollmentCode(_ id: String) async throws -> StoredEnrollmentCode? {
        guard let row = try await rows("SELECT id, patient, proof_key, expires_at, used_at, failures FROM enrollment_code WHERE id = \(id)").first else {
            return nil
        }
        let (codeID, patient, key, expires, used, failures) = try row.decode((String, String, Data, Double, Double?, Int32).self)
        return StoredEnrollmentCode(id: codeID, patient: patient, proofKey: Array(key), expiresAt: expires, usedAt: used, failures: Int(failures))
    }

    public func recordCodeFailure(_ id: String, patient: String, reason: String, now: Double) async throws {
        try await write { connection in
            try await connection.query("UPDATE enrollment_code SET failures = failures + 1, last_failure_at = \(now) WHERE id = \(id)", logger: logger)
            try await Self.appendAudit(connection, logger, actor: "device", action: "enroll", subject: "code \(id)", outcome: "refused: \(reason)",
                                       patient: patient)
        }
    }

    public func insertChallenge(id: String, nonce: [UInt8], expiresAt: Double, now: Double) async throws {
        try await write { connection in
            try await connection.query("DELETE FROM challenge WHERE expires_at < \(now - 3600)", logger: logger)
            try await connection.query("INSERT INTO challenge (id, nonce, expires_at) VALUES (\(id), \(Data(nonce)), \(expiresAt))", logger: logger)
        }
    }

    public func consumeChallenge(_ id: String, now: Double) async throws(PHRError) -> [UInt8] {
        let outcome: Result<[UInt8], PHRError>
        do {
            outcome = try await write { connection in
                guard let row = try await rows("SELECT nonce, expires_at, used_at FROM challenge WHERE id = \(id) FOR UPDATE", on: connection).first else {
                    return .failure(.unknownChallenge)
                }
                let (nonce, expires, used) = try row.decode((Data, Double, Double?).self)
                if used != nil { return .failure(.challengeUsed) }
                try await connection.query("UPDATE challenge SET used_at = \(now) WHERE id = \(id)", logger: logger)
                if expires < now { return .failure(.challengeExpired) }
                return .success(Array(nonce))
            }
        } catch {
            throw .storage
        }
        return try outcome.get()
    }

    public func enroll(device: Device, code: String) async throws(PHRError) {
        let done: Bool
        do {
            done = try await write { connection in
                let used = try await rows("UPDATE enrollment_code SET used_at = \(device.enrolledAt) WHERE id = \(code) AND used_at IS NULL RETURNING id",
                                          on: connection)
                guard !used.isEmpty else { return false }
                try await connection.query("""
                    INSERT INTO device (id, patient, signing_key, hpke_key, enrolled_at)
                    VALUES (\(device.id), \(device.patient), \(Data(device.signingKey)), \(Data(device.hpkeKey)), \(device.enrolledAt))
                    """, logger: logger)
                try await Self.appendAudit(connection, logger, actor: "device:\(device.id)", action: "enroll", subject: "code \(code)", outcome: "enrolled",
                                           patient: device.patient)
                return true
            }
        } catch {
            throw .storage
        }
        guard done else { throw .codeUsed }
    }

    public func device(_ id: String) async throws -> Device? {
        try await rows(PostgresQuery(unsafeSQL: "SELECT \(Self.deviceColumns) FROM device WHERE id = $1", binds: binds(id))).first.map(Self.device)
    }

    public func rememberNonce(device: String, nonce: String, now: Double, window: Double) async throws -> Bool {
        let purge = nonceSweep.isDue(at: now)
        if purge { try await client.query("DELETE FROM request_nonce WHERE time < \(now - 2 * window)", logger: logger) }
        let inserted = try await rows("""
            INSERT INTO request_nonce (device, nonce, time) VALUES (\(device), \(nonce), \(now)) ON CONFLICT DO NOTHING RETURNING nonce
            """)
        return !inserted.isEmpty
    }

    public func insertGrant(_ grant: SharingGrant, device: String) async throws {
        try await write { connection in
            try await connection.query("""
                INSERT INTO "grant" (id, patient, practitioner, resources, created_at, expires_at)
                VALUES (\(grant.id), \(grant.patient), \(grant.practitioner), \(grant.resources.joined(separator: " ")), \(grant.createdAt), \(grant.expiresAt))
                """, logger: logger)
            for resource in grant.resources {
                try await connection.query("INSERT INTO grant_resource (grant_id, resource) VALUES (\(grant.id), \(resource))", logger: logger)
            }
            try await Self.appendAudit(connection, logger, actor: "device:\(device)", action: "grant", subject: "grant \(grant.id) to \(grant.practitioner)",
                                       outcome: "granted \(grant.resources.count) resource\(grant.resources.count == 1 ? "" : "s") until \(Int64(grant.expiresAt))",
                                       patient: grant.patient)
        }
    }

    public func revokeGrant(_ id: String, device: Device, now: Double) async throws -> SharingGrant? {
        try await write { connection in
            let found = try await rows(PostgresQuery(unsafeSQL: "SELECT \(Self.grantColumns) FROM \"grant\" WHERE id = $1 AND patient = $2 FOR UPDATE",
                                                     binds: binds(id, device.patient)), on: connection)
            guard let grant = try found.first.map(Self.grant) else { return nil }
            guard grant.revokedAt == nil else { return grant }
            try await connection.query("UPDATE \"grant\" SET revoked_at = \(now) WHERE id = \(id)", logger: logger)
            try await Self.appendAudit(connection, logger, actor: "device:\(device.id)", action: "revoke", subject: "grant \(id)", outcome: "revoked",
                                       patient: device.patient)
            return SharingGrant(id: grant.id, patient: grant.patient, practitioner: grant.practitioner, resources: grant.resources,
                                createdAt: grant.createdAt, expiresAt: grant.expiresAt, revokedAt: now)
        }
    }

    public func grants(practitioner: String) async throws -> [SharingGrant] {
        try await rows(PostgresQuery(unsafeSQL: "SELECT \(Self.grantColumns) FROM \"grant\" WHERE practitioner = $1 ORDER BY created_at DESC",
                                     binds: binds(practitioner))).map(Self.grant)
    }

    public func grants(practitioner: String, resource: String) async throws -> [SharingGrant] {
        let columns = Self.grantColumns.split(separator: ", ").map { "g.\($0)" }.joined(separator: ", ")
        return try await rows(PostgresQuery(unsafeSQL: """
            SELECT \(columns) FROM "grant" g JOIN grant_resource r ON r.grant_id = g.id WHERE g.practitioner = $1 AND r.resource = $2
            """, binds: binds(practitioner, resource))).map(Self.grant)
    }

    public func practitioner(token: String) async throws -> String? {
        try await rows("SELECT practitioner FROM practitioner_token WHERE digest = \(RecordStore.tokenDigest(token))").first?.decode(String.self)
    }

    public func audit(actor: String, action: String, subject: String, outcome: String, patient: String?) async throws {
        try await write { connection in
            try await Self.appendAudit(connection, logger, actor: actor, action: action, subject: subject, outcome: outcome, patient: patient)
        }
    }

    public func auditTrail(patient: String?) async throws -> [AuditEntry] {
        let columns = "sequence, time, actor, action, subject, outcome, patient, previous_hash, hash"
        let found = if let patient {
            try await rows(PostgresQuery(unsafeSQL: "SELECT \(columns) FROM audit WHERE patient = $1 ORDER BY sequence", binds: binds(patient)))
        } else {
            try await rows(PostgresQuery(unsafeSQL: "SELECT \(columns) FROM audit ORDER BY sequence"))
        }
        return try found.map { row in
            let (sequence, time, actor, action, subject, outcome, patient, previous, hash) =
                try row.decode((Int64, Double, String, String, String, String, String?, Data, Data).self)
            return AuditEntry(sequence: sequence, time: time, actor: actor, action: action, subject: subject, outcome: outcome, patient: patient,
                              previousHash: previous, hash: hash)
        }
    }

    public func auditHead() async throws -> Data {
        try await rows("SELECT hash FROM audit ORDER BY sequence DESC LIMIT 1").first?.decode(Data.self) ?? Data(count: 32)
    }
}

/// Bindings for queries whose SQL is put together from constant pieces (column lists).
func binds(_ values: String...) -> PostgresBindings {
    var bindings = PostgresBindings()
    for value in values { bindings.append(value) }
    return bindings
}

/// No PostgreSQL could be reached at the database's address.
public struct PostgresUnreachable: Error, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let reason: String
    public var description: String { "cannot reach PostgreSQL at \(host):\(port): \(reason)" }
}
