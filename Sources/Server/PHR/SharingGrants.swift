import Crypto
import Foundation
import GRDB

/// A patient's grant to a practitioner: which resources, until when.
public struct SharingGrant: Sendable, Equatable {
    public let id: String
    public let patient: String
    public let practitioner: String
    public let resources: [String]
    public let createdAt: Double
    public let expiresAt: Double
    public let revokedAt: Double?

    /// Whether the grant lets its practitioner read at `now`: not revoked, and `now` before the expiry.
    public func isActive(at now: Double) -> Bool { revokedAt == nil && now < expiresAt }
}

/// Grants and practitioners' API tokens.
extension RecordStore {
    public func insertGrant(_ grant: SharingGrant, device: String) throws {
        try database.write { db in
            try db.execute(sql: "INSERT INTO \"grant\" (id, patient, practitioner, resources, createdAt, expiresAt) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [grant.id, grant.patient, grant.practitioner, grant.resources.joined(separator: " "), grant.createdAt, grant.expiresAt])
            for resource in grant.resources {
                try db.execute(sql: "INSERT INTO grantResource (\"grant\", resource) VALUES (?, ?)", arguments: [grant.id, resource])
            }
            try Self.appendAudit(db, actor: "device:\(device)", action: "grant", subject: "grant \(grant.id) to \(grant.practitioner)",
                                 outcome: "granted \(grant.resources.count) resource\(grant.resources.count == 1 ? "" : "s") until \(Int64(grant.expiresAt))",
                                 patient: grant.patient)
        }
    }

    public func grant(_ id: String) throws -> SharingGrant? {
        try database.read { db in try Row.fetchOne(db, sql: "SELECT * FROM \"grant\" WHERE id = ?", arguments: [id]).map(Self.grant) }
    }

    /// Every grant made to a practitioner, newest first.
    public func grants(practitioner: String) throws -> [SharingGrant] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM \"grant\" WHERE practitioner = ? ORDER BY createdAt DESC", arguments: [practitioner]).map(Self.grant)
        }
    }

    static func grant(_ row: Row) -> SharingGrant {
        SharingGrant(id: row["id"], patient: row["patient"], practitioner: row["practitioner"],
                     resources: (row["resources"] as String).split(separator: " ").map(String.init),
                     createdAt: row["createdAt"], expiresAt: row["expiresAt"], revokedAt: row["revokedAt"])
    }

    /// Revokes a grant of the device's patient; revoking twice keeps the first time.
    public func revokeGrant(_ id: String, device: Device, now: Double) throws -> SharingGrant? {
        try database.write { db in
            guard let grant = try Row.fetchOne(db, sql: "SELECT * FROM \"grant\" WHERE id = ? AND patient = ?", arguments: [id, device.patient]).map(Self.grant) else {
                return nil
            }
            guard grant.revokedAt == nil else { return grant }
            try db.execute(sql: "UPDATE \"grant\" SET revokedAt = ? WHERE id = ?", arguments: [now, id])
            try Self.appendAudit(db, actor: "device:\(device.id)", action: "revoke", subject: "grant \(id)", outcome: "revoked", patient: device.patient)
            return SharingGrant(id: grant.id, patient: grant.patient, practitioner: grant.practitioner, resources: grant.resources,
                                createdAt: grant.createdAt, expiresAt: grant.expiresAt, revokedAt: now)
        }
    }

    /// The grants that name this resource for this practitioner, live or not.
    public func grants(practitioner: String, resource: String) throws -> [SharingGrant] {
        try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT g.* FROM "grant" g JOIN grantResource r ON r."grant" = g.id WHERE g.practitioner = ? AND r.resource = ?
                """, arguments: [practitioner, resource]).map(Self.grant)
        }
    }

    // MARK: Practitioner tokens

    /// Issues a new API token for a practitioner, replacing the one they had.
    /// - Returns: the token, shown once; the store keeps only its SHA-256.
    public func issuePractitionerToken(_ practitioner: String) throws -> String {
        let token = Self.newPractitionerToken()
        try database.write { db in
            try db.execute(sql: "DELETE FROM practitionerToken WHERE practitioner = ?", arguments: [practitioner])
            try db.execute(sql: "INSERT INTO practitionerToken (digest, practitioner, createdAt) VALUES (?, ?, ?)",
                           arguments: [Self.tokenDigest(token), practitioner, Date().timeIntervalSince1970])
            try Self.appendAudit(db, actor: "clinic", action: "practitioner-token", subject: practitioner, outcome: "issued")
        }
        return token
    }

    /// The practitioner a token belongs to.
    public func practitioner(token: String) throws -> String? {
        try database.read { db in
            try String.fetchOne(db, sql: "SELECT practitioner FROM practitionerToken WHERE digest = ?", arguments: [Self.tokenDigest(token)])
        }
    }

    /// `tzp_` and 32 random bytes in base64url.
    static func newPractitionerToken() -> String {
        "tzp_" + Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func tokenDigest(_ token: String) -> Data { Data(SHA256.hash(data: Data(token.utf8))) }
}
