import TrustletKit

/// Sync: the server's pages arrive sealed to this trustlet's HPKE key; the normal world relays
/// them and never sees a record.
///
/// A page is kept in this order: every record, then the index, then the state with the new
/// cursor. If the secure world stops in between, the next sync starts again from the old cursor
/// and the same records land on the same objects and the same index entries: nothing is lost and
/// nothing is counted twice.
enum Sync {
    static let purpose = "phr-sync"
    static let pageLimit: Int64 = 100

    static func request() throws(TrustletError) -> (head: [UInt8], body: [UInt8], nonce: String) {
        let state = try DeviceState.enrolled()
        var members = [JSONMember("limit", .integer(pageLimit))]
        if !state.cursor.isEmpty { members.insert(JSONMember("cursor", .string(state.cursor)), at: 0) }
        let body = JSON.object(members).serialized()
        let signed = try SignedRequest.make("POST", "/v1/sync", body: body, contentType: "application/json", state: state)
        return (signed.head, body, signed.nonce)
    }

    static func receive(page: [UInt8], answering nonce: String?) throws(TrustletError) -> (stored: Int, more: Bool) {
        var state = try DeviceState.enrolled()
        let opened = try Channel.open(page, key: Enrollment.hpkeKey, purpose: purpose, after: state.lastPage)
        let document = try JSON.read(opened.payload, limits: JSON.Limits(maxBytes: 1 << 20, maxDepth: 40))
        guard let inResponseTo = document["inResponseTo"]?.string, let cursor = document["cursor"]?.string, let more = document["more"]?.bool,
              let resources = document["resources"]?.array else { throw .badFormat }
        if let nonce, !Text.same(nonce, inResponseTo) { throw .security }
        var index = try RecordIndex.load()
        for resource in resources {
            let entry = try FHIRIndexer.entry(for: resource)
            try SecureStorage.write(try RecordIndex.objectID(entry.key), resource.serialized())
            index.upsert(entry)
            if Text.same(entry.type, "Patient") { state.patient = entry.key }
        }
        try index.save()
        state.cursor = cursor
        state.lastPage = opened.sequence
        try state.save()
        try AuditChain.append("sync", detail: Bytes.decimal(UInt64(resources.count)) + " records to cursor " + cursor)
        return (resources.count, more)
    }
}
