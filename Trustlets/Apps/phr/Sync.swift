import TrustletKit

/// Sync: the server's pages arrive sealed to this trustlet's HPKE key and authenticated by the
/// server's channel key (HPKE Auth mode), each answering the signed request this session made;
/// the normal world relays them, never sees a record and cannot make one.
///
/// A page is kept in this order: a note in the state that it is being written, the page itself,
/// the index, then the state with the new cursor and the pages the index stopped using, which are
/// deleted last. If the secure world stops in between, the next sync starts again from the old
/// cursor and the same records land on the same index entries: nothing is lost and nothing is
/// counted twice. The next page first deletes what such a stop left behind (the noted page if the
/// index does not use it, the pages to sweep), so that no stop, however often, leaves sealed
/// objects that fill the trustlet's quota and outlive a reset.
enum Sync {
    static let purpose = PHRPurpose.sync
    static let pageLimit: Int64 = 100

    static func request() throws(TrustletError) -> (head: [UInt8], body: [UInt8], nonce: String) {
        let state = try DeviceState.enrolled()
        var members = [JSONMember("limit", .integer(pageLimit))]
        if !state.cursor.isEmpty { members.insert(JSONMember("cursor", .string(state.cursor)), at: 0) }
        let body = JSON.object(members).serialized()
        let signed = try SignedRequest.make("POST", PHRRoute.sync, body: body, contentType: "application/json", state: state)
        return (signed.head, body, signed.nonce)
    }

    /// Keeps a page that answers the request whose nonce is `nonce`.
    static func receive(page: [UInt8], answering nonce: String) throws(TrustletError) -> (stored: Int, more: Bool) {
        var state = try DeviceState.enrolled()
        let opened = try Channel.open(page, key: Enrollment.hpkeKey, from: state.serverKey, purpose: purpose, request: nonce, after: state.lastPage)
        // The index keeps page numbers as CBOR's signed integers: a server never comes near 2^63.
        guard opened.sequence <= UInt64(Int64.max) else { throw .badFormat }
        let parsed: (document: JSON, ranges: [Range<Int>])
        do throws(JSONError) {
            parsed = try JSON.parse(opened.payload, limits: JSON.Limits(maxBytes: 1 << 20, maxDepth: 40), elementRangesOf: "resources")
        } catch {
            throw .badFormat
        }
        let document = parsed.document
        guard let cursor = document["cursor"]?.string, let more = document["more"]?.bool,
              let resources = document["resources"]?.array, resources.count == parsed.ranges.count else { throw .badFormat }
        var index = try RecordIndex.load()
        // What a stop during an earlier page left behind, unless the index (as it was kept) uses it.
        for page in state.sweep + (state.writing.map { [$0] } ?? []) where !index.uses(page) { try deletePage(page) }
        state.sweep = []
        state.writing = nil
        var replaced: [UInt64] = []
        var patient: String? = nil
        for (position, resource) in resources.enumerated() {
            var entry = try FHIRIndexer.entry(for: resource)
            let range = parsed.ranges[position]
            (entry.page, entry.start, entry.length) = (opened.sequence, range.lowerBound, range.count)
            if let previous = index.upsert(entry), previous != opened.sequence, !replaced.contains(previous) { replaced.append(previous) }
            if Text.same(entry.type, "Patient") { patient = entry.key }
        }
        // Pages whose every record came again hold nothing the index needs.
        replaced = replaced.filter { !index.uses($0) }
        if !resources.isEmpty {
            // Noted before anything is written: the page, and the pages it makes unused.
            var noted = state
            (noted.writing, noted.sweep) = (opened.sequence, replaced)
            try noted.save()
            // The page as it came: the records' bytes stay exactly the server's.
            try SecureStorage.write(RecordIndex.pageObject(opened.sequence), RecordIndex.padded(opened.payload, to: RecordIndex.pageBucket))
            try index.save()
        }
        if let patient { state.patient = patient }
        state.cursor = cursor
        state.lastPage = opened.sequence
        state.sweep = replaced
        try state.save()
        for page in replaced { try deletePage(page) }
        try AuditChain.append("sync", detail: Bytes.decimal(UInt64(resources.count)) + " records to cursor " + cursor)
        return (resources.count, more)
    }

    static func deletePage(_ page: UInt64) throws(TrustletError) {
        do throws(TrustletError) { try SecureStorage.delete(RecordIndex.pageObject(page)) } catch where error == .itemNotFound {}
    }
}
