import Foundation
import GRDB
import TrubiZoneProtocol

/// An enrolled device: the PHR trustlet's keys on one phone, bound to one patient.
public struct Device: Sendable, Equatable {
    public let id: String
    /// `Patient/id`.
    public let patient: String
    /// SEC1 uncompressed P-256 keys, from the attestation token.
    public let signingKey: [UInt8]
    public let hpkeKey: [UInt8]
    public let enrolledAt: Double
    public let revokedAt: Double?
    /// The highest upload sequence accepted.
    public let lastUpload: UInt64
    /// The sequence number of the last sealed sync page sent.
    public let lastSyncPage: UInt64
}

/// Devices, enrollment codes, challenges and request nonces, in the record store's database.
extension RecordStore: PHRStore {
    static func registerDeviceMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v5: devices") { db in
            try db.create(table: "enrollmentCode") { table in
                table.column("id", .text).primaryKey()
                table.column("patient", .text).notNull()
                table.column("proofKey", .blob).notNull()
                table.column("createdAt", .double).notNull()
                table.column("expiresAt", .double).notNull()
                table.column("usedAt", .double)
                table.column("failures", .integer).notNull().defaults(to: 0)
                table.column("lastFailureAt", .double)
            }
            try db.create(table: "challenge") { table in
                table.column("id", .text).primaryKey()
                table.column("nonce", .blob).notNull()
                table.column("expiresAt", .double).notNull()
                table.column("usedAt", .double)
            }
            try db.create(table: "device") { table in
                table.column("id", .text).primaryKey()
                table.column("patient", .text).notNull()
                table.column("signingKey", .blob).notNull()
                table.column("hpkeKey", .blob).notNull()
                table.column("enrolledAt", .double).notNull()
                table.column("revokedAt", .double)
                table.column("lastUpload", .integer).notNull().defaults(to: 0)
                table.column("lastSyncPage", .integer).notNull().defaults(to: 0)
            }
            try db.create(index: "device_patient", on: "device", columns: ["patient"])
            try db.create(table: "requestNonce") { table in
                table.column("device", .text).notNull()
                table.column("nonce", .text).notNull()
                table.column("time", .double).notNull()
                table.primaryKey(["device", "nonce"])
            }
            try db.create(index: "requestNonce_time", on: "requestNonce", columns: ["time"])
            try db.create(table: "upload") { table in
                table.column("device", .text).notNull()
                table.column("sequence", .integer).notNull()
                table.column("observation", .text).notNull()
                table.column("digest", .blob).notNull()
                table.column("signature", .blob).notNull()
                table.primaryKey(["device", "sequence"])
            }
            try db.create(table: "grant") { table in
                table.column("id", .text).primaryKey()
                table.column("patient", .text).notNull()
                table.column("practitioner", .text).notNull()
                table.column("resources", .text).notNull()
                table.column("createdAt", .double).notNull()
                table.column("expiresAt", .double).notNull()
                table.column("revokedAt", .double)
            }
            try db.create(index: "grant_practitioner", on: "grant", columns: ["practitioner"])
            try db.create(table: "grantResource") { table in
                table.column("grant", .text).notNull().references("grant")
                table.column("resource", .text).notNull()
                table.primaryKey(["grant", "resource"])
            }
            try db.create(table: "practitionerToken") { table in
                table.column("digest", .blob).primaryKey()
                table.column("practitioner", .text).notNull().unique()
                table.column("createdAt", .double).notNull()
            }
        }
    }

    // MARK: Enrollment codes

    /// Stores a new code for `patient`, replacing any unused one the patient had.
    /// - Returns: `false` if a live code already has this code's ID (draw another).
    public func insertEnrollmentCode(_ code: EnrollmentCodeRecord, now: Double) throws -> Bool {
        try database.write { db in
            if let existing = try Row.fetchOne(db, sql: "SELECT usedAt, expiresAt FROM enrollmentCode WHERE id = ?", arguments: [code.id]) {
                let used: Double? = existing["usedAt"], expiresAt: Double = existing["expiresAt"]
                if used == nil && expiresAt > now { return false }
                try db.execute(sql: "DELETE FROM enrollmentCode WHERE id = ?", arguments: [code.id])
            }
            try db.execute(sql: "DELETE FROM enrollmentCode WHERE patient = ? AND usedAt IS NULL", arguments: [code.patient])
            try db.execute(sql: "INSERT INTO enrollmentCode (id, patient, proofKey, createdAt, expiresAt) VALUES (?, ?, ?, ?, ?)",
                           arguments: [code.id, code.patient, Data(code.proofKey), now, code.expiresAt])
            try Self.appendAudit(db, actor: "clinic", action: "enroll-code", subject: "code \(code.id)", outcome: "issued", patient: code.patient)
            return true
        }
    }

    public func enrollmentCode(_ id: String) throws -> StoredEnrollmentCode? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM enrollmentCode WHERE id = ?", arguments: [id]).map { row in
                StoredEnrollmentCode(id: row["id"], patient: row["patient"], proofKey: Array(row["proofKey"] as Data), expiresAt: row["expiresAt"],
                                     usedAt: row["usedAt"], failures: row["failures"])
            }
        }
    }

    // MARK: Challenges

    public func insertChallenge(id: String, nonce: [UInt8], expiresAt: Double, now: Double) throws {
        try database.write { db in
            // Expired challenges are of no use to anyone; they go as new ones come.
            try db.execute(sql: "DELETE FROM challenge WHERE expiresAt < ?", arguments: [now - 3600])
            try db.execute(sql: "INSERT INTO challenge (id, nonce, expiresAt) VALUES (?, ?, ?)", arguments: [id, Data(nonce), expiresAt])
        }
    }

    /// Marks a challenge used, once, whatever the enrollment's outcome: a nonce is never appraised twice.
    public func consumeChallenge(_ id: String, now: Double) throws(PHRError) -> [UInt8] {
        let outcome: Result<[UInt8], PHRError>
        do {
            outcome = try database.write { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT nonce, expiresAt, usedAt FROM challenge WHERE id = ?", arguments: [id]) else {
                    return .failure(.unknownChallenge)
                }
                if (row["usedAt"] as Double?) != nil, !Weakening.isOff(.challengeSingleUse, at: path) { return .failure(.challengeUsed) }
                try db.execute(sql: "UPDATE challenge SET usedAt = ? WHERE id = ?", arguments: [now, id])
                if (row["expiresAt"] as Double) < now { return .failure(.challengeExpired) }
                return .success(Array(row["nonce"] as Data))
            }
        } catch {
            throw .storage
        }
        return try outcome.get()
    }

    // MARK: Devices

    /// Counts a wrong proof against the code and audits it.
    public func recordCodeFailure(_ id: String, patient: String, reason: String, now: Double) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE enrollmentCode SET failures = failures + 1, lastFailureAt = ? WHERE id = ?", arguments: [now, id])
            try Self.appendAudit(db, actor: "device", action: "enroll", subject: "code \(id)", outcome: "refused: \(reason)", patient: patient)
        }
    }

    /// Uses the code and stores the device, in one transaction: a code enrolls one device.
    public func enroll(device: Device, code: String) throws(PHRError) {
        let done: Bool
        do {
            done = try database.write { db in
                let again = Weakening.isOff(.codeSingleUse, at: path)
                try db.execute(sql: "UPDATE enrollmentCode SET usedAt = ? WHERE id = ? AND (usedAt IS NULL OR ?)", arguments: [device.enrolledAt, code, again])
                guard db.changesCount == 1 else { return false }
                try db.execute(sql: "INSERT INTO device (id, patient, signingKey, hpkeKey, enrolledAt) VALUES (?, ?, ?, ?, ?)",
                               arguments: [device.id, device.patient, Data(device.signingKey), Data(device.hpkeKey), device.enrolledAt])
                try Self.appendAudit(db, actor: "device:\(device.id)", action: "enroll", subject: "code \(code)", outcome: "enrolled", patient: device.patient)
                return true
            }
        } catch {
            throw .storage
        }
        guard done else { throw .codeUsed }
    }

    public func device(_ id: String) async throws -> Device? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM device WHERE id = ?", arguments: [id]).map { row in
                Device(id: row["id"], patient: row["patient"], signingKey: Array(row["signingKey"] as Data), hpkeKey: Array(row["hpkeKey"] as Data),
                       enrolledAt: row["enrolledAt"], revokedAt: row["revokedAt"], lastUpload: UInt64(row["lastUpload"] as Int64),
                       lastSyncPage: UInt64(row["lastSyncPage"] as Int64))
            }
        }
    }

    /// Revokes a device's enrollment.
    /// - Returns: whether the device existed and was active.
    public func revokeDevice(_ id: String, now: Double) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "UPDATE device SET revokedAt = ? WHERE id = ? AND revokedAt IS NULL", arguments: [now, id])
            guard db.changesCount == 1 else { return false }
            let patient = try String.fetchOne(db, sql: "SELECT patient FROM device WHERE id = ?", arguments: [id])
            try Self.appendAudit(db, actor: "clinic", action: "revoke-device", subject: "device:\(id)", outcome: "revoked", patient: patient)
            return true
        }
    }

    /// Remembers a request nonce; `false` if the device used it before.
    public func rememberNonce(device: String, nonce: String, now: Double, window: Double) async throws -> Bool {
        let purge = nonceSweep.isDue(at: now)
        return try await database.write { db in
            // Nonces older than twice the window can never be accepted again anyway (their time is
            // refused first); they are swept once a minute rather than on every request.
            if purge { try db.execute(sql: "DELETE FROM requestNonce WHERE time < ?", arguments: [now - 2 * window]) }
            try db.execute(sql: "INSERT OR IGNORE INTO requestNonce (device, nonce, time) VALUES (?, ?, ?)", arguments: [device, nonce, now])
            return db.changesCount == 1
        }
    }
}
