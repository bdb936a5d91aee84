import Foundation
import GRDB

/// One stored resource as a sync page carries it.
public struct ResourceChange: Sendable, Equatable {
    /// The store-wide change number; a cursor is the last one a device received.
    public let change: Int64
    public let type: String
    public let id: String
    public let json: Data
}

/// The changes a device has not seen yet.
extension RecordStore {
    /// The patient's resources changed after `cursor`, oldest first: at most `limit` of them and,
    /// past the first, no more than `maxBytes` of JSON.
    /// - Returns: the changes and whether more follow.
    public func changes(patient: String, after cursor: Int64, limit: Int, maxBytes: Int) async throws -> (changes: [ResourceChange], more: Bool) {
        try await database.read { db in
            let cursor = try Row.fetchCursor(db, sql: """
                SELECT change, type, id, content FROM resource WHERE patient = ? AND change > ? ORDER BY change LIMIT ?
                """, arguments: [patient, cursor, limit + 1])
            var changes: [ResourceChange] = [], bytes = 0
            while let row = try cursor.next() {
                let json: Data = row["content"]
                if changes.count == limit || (!changes.isEmpty && bytes + json.count > maxBytes) { return (changes, true) }
                bytes += json.count
                changes.append(ResourceChange(change: row["change"], type: row["type"], id: row["id"], json: json))
            }
            return (changes, false)
        }
    }

    /// Takes the device's next sync page number and audits the page, in one transaction.
    public func recordSyncPage(device: Device, resources: Int, cursor: Int64) async throws -> UInt64 {
        try await database.write { db in
            try db.execute(sql: "UPDATE device SET lastSyncPage = lastSyncPage + 1 WHERE id = ?", arguments: [device.id])
            let page = try Int64.fetchOne(db, sql: "SELECT lastSyncPage FROM device WHERE id = ?", arguments: [device.id]) ?? 0
            try Self.appendAudit(db, actor: "device:\(device.id)", action: "sync", subject: "page \(page)",
                                 outcome: "sent \(resources) resource\(resources == 1 ? "" : "s") up to change \(cursor)", patient: device.patient)
            return UInt64(page)
        }
    }

    /// The patient a stored resource belongs to, if it is stored.
    public func owner(type: String, id: String) throws -> (exists: Bool, patient: String?) {
        try database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT patient FROM resource WHERE type = ? AND id = ?", arguments: [type, id]) else {
                return (false, nil)
            }
            return (true, row["patient"])
        }
    }
}
