import TrustletKit

/// The trustlet's own audit log: everything it did, hash-chained, in sealed storage.
///
/// Each entry is (sequence, time, action, digest): the digest is an HMAC, under a key that never
/// leaves the trustlet, of the entry's detail (which record, which practitioner), so the released
/// log can be checked by anyone and still says nothing about the records. An entry's hash is
///
///     SHA-256(previous hash ‖ for each of sequence, time, action, digest: u16 length ‖ UTF-8)
///
/// with 32 zero bytes before the first entry. The newest 2,000 entries are kept; when older ones
/// go, the hash they ended with stays as the chain's base.
enum AuditChain {
    static let object = Bytes.utf8("audit")
    static let keyObject = Bytes.utf8("audit-key")
    static let maxEntries = 2000

    struct Entry {
        var sequence: UInt64
        var time: UInt64
        var action: String
        var digest: String
        var hash: [UInt8]
    }

    struct Log {
        var base: [UInt8]
        var entries: [Entry]
        var count: Int { entries.count }
    }

    static func load() throws(TrustletError) -> Log {
        guard let bytes = try SecureStorage.read(object) else { return Log(base: [UInt8](repeating: 0, count: 32), entries: []) }
        let document = try JSON.read(bytes)
        guard let base = document["base"]?.string.flatMap(Hex.decode), let rows = document["entries"]?.array else { throw .corruptObject }
        var entries: [Entry] = []
        for row in rows {
            guard let sequence = row[0]?.integer, let time = row[1]?.integer, let action = row[2]?.string, let digest = row[3]?.string,
                  let hash = row[4]?.string.flatMap(Hex.decode) else { throw .corruptObject }
            entries.append(Entry(sequence: UInt64(sequence), time: UInt64(time), action: action, digest: digest, hash: hash))
        }
        return Log(base: base, entries: entries)
    }

    /// Records an action; `detail` (a record, a practitioner) is kept only as its keyed digest.
    static func append(_ action: String, detail: String) throws(TrustletError) {
        var log = try load()
        let previous = log.entries.last?.hash ?? log.base
        let sequence = (log.entries.last?.sequence ?? 0) + 1
        let digest = Hex.encode(try Crypto.hmacSHA256(key: try key(), data: Bytes.utf8(detail)))
        let time = try TrustedTime.wallClockSeconds()
        log.entries.append(Entry(sequence: sequence, time: time, action: action, digest: digest,
                                 hash: try hash(previous: previous, sequence: sequence, time: time, action: action, digest: digest)))
        if log.entries.count > maxEntries {
            let dropped = log.entries.count - maxEntries + 500
            log.base = log.entries[dropped - 1].hash
            log.entries.removeFirst(dropped)
        }
        try save(log)
    }

    static func hash(previous: [UInt8], sequence: UInt64, time: UInt64, action: String, digest: String) throws(TrustletError) -> [UInt8] {
        var input = previous
        for field in [Bytes.decimal(sequence), Bytes.decimal(time), action, digest] {
            let bytes = Bytes.utf8(field)
            input += [UInt8(bytes.count >> 8 & 0xFF), UInt8(bytes.count & 0xFF)] + bytes
        }
        return try Digest.sha256(input)
    }

    /// Whether every entry's hash follows from the one before.
    static func verify(_ log: Log) throws(TrustletError) -> Bool {
        var previous = log.base
        for entry in log.entries {
            let expected = try hash(previous: previous, sequence: entry.sequence, time: entry.time, action: entry.action, digest: entry.digest)
            guard Crypto.equalInConstantTime(expected, entry.hash) else { return false }
            previous = entry.hash
        }
        return true
    }

    /// The log as the normal world may have it: actions, times, digests and hashes.
    static func released() throws(TrustletError) -> JSON {
        let log = try load()
        var actions: [JSON] = []
        for entry in log.entries {
            actions.append(.object([
                JSONMember("sequence", .integer(Int64(entry.sequence))), JSONMember("time", .integer(Int64(entry.time))),
                JSONMember("action", .string(entry.action)), JSONMember("digest", .string(entry.digest)),
                JSONMember("hash", .string(Hex.encode(entry.hash))),
            ]))
        }
        return .object([
            JSONMember("entries", .integer(Int64(log.count))), JSONMember("verified", .bool(try verify(log))),
            JSONMember("base", .string(Hex.encode(log.base))),
            JSONMember("head", .string(Hex.encode(log.entries.last?.hash ?? log.base))), JSONMember("actions", .array(actions)),
        ])
    }

    private static func save(_ log: Log) throws(TrustletError) {
        var rows: [JSON] = []
        rows.reserveCapacity(log.entries.count)
        for entry in log.entries {
            rows.append(.array([.integer(Int64(entry.sequence)), .integer(Int64(entry.time)), .string(entry.action), .string(entry.digest),
                                .string(Hex.encode(entry.hash))]))
        }
        try SecureStorage.write(object, JSON.object([JSONMember("base", .string(Hex.encode(log.base))), JSONMember("entries", .array(rows))]).serialized())
    }

    private static func key() throws(TrustletError) -> [UInt8] {
        if let key = try SecureStorage.read(keyObject), key.count == 32 { return key }
        let key = try Random.bytes(32)
        try SecureStorage.write(keyObject, key)
        return key
    }
}
