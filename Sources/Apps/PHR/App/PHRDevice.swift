import Crypto
import Foundation
import PHRContract
import PHRProtocol
import TrubiZoneClient
import TrubiZoneProtocol

/// The PHR trustlet's identity and commands (see `Trustlets/Apps/phr/PHR.swift`).
public enum PHRTrustlet {
    public static let uuid = TrustletUUID("4a0d6f0e-7c1b-4e55-8f3a-5048520000a1")!
    public static let name = "phr"

    /// The commands, as the trustlet numbers them (`PHRContract`, compiled into both).
    public typealias Command = PHRCommand
}

/// The normal world's handle on the PHR trustlet: one session, typed commands, and only what the
/// trustlet's release policy lets out.
public final class PHRDevice: Sendable {
    public let session: TEESession

    public init(session: TEESession) { self.session = session }

    /// Opens a session to the PHR trustlet.
    public static func open(_ context: TEEContext) async throws(TEEError) -> PHRDevice {
        PHRDevice(session: try await context.openSession(uuid: PHRTrustlet.uuid))
    }

    // MARK: State

    /// What the trustlet tells anyone: counts and the sync state, never a record.
    public struct Status: Codable, Sendable, Equatable {
        public let pin: Bool
        public let locked: Bool
        public let wrongPINs: Int
        public let attemptsLeft: Int
        public let waitSeconds: Int
        public let unlocked: Bool
        public let enrolled: Bool
        public let device: String
        public let records: Int
        public let cursor: String
        public let pendingUploads: Int
        public let auditEntries: Int
    }

    public func status() async throws(PHRAppError) -> Status {
        try decode(Status.self, try await call(.status, [.output(capacity: 1024)]).bytes(0))
    }

    /// Asks for a new PIN on the trusted UI (twice).
    public func setPIN() async throws(PHRAppError) { _ = try await call(.setPIN, []) }

    /// Asks for the PIN on the trusted UI; the session stays unlocked for five minutes.
    public func unlock() async throws(PHRAppError) { _ = try await call(.unlock, []) }

    // MARK: Enrollment and sync

    public func enrollBegin(challenge: [UInt8]) async throws(PHRAppError) -> [UInt8] {
        try await call(.enrollBegin, [.input(challenge), .output(capacity: 8192)]).bytes(1) ?? []
    }

    public func enrollFinish(answer: [UInt8]) async throws(PHRAppError) { _ = try await call(.enrollFinish, [.input(answer)]) }

    public func syncRequest() async throws(PHRAppError) -> SignedHTTPRequest {
        let result = try await call(.syncRequest, [.output(capacity: 1024), .output(capacity: 256)])
        return try SignedHTTPRequest(head: result.bytes(0) ?? [], body: result.bytes(1) ?? [])
    }

    public func syncPage(_ sealed: [UInt8]) async throws(PHRAppError) -> (stored: Int, more: Bool) {
        let result = try await call(.syncPage, [.input(sealed), .valueOutput])
        return (Int(result.value(1)?.a ?? 0), result.value(1)?.b == 1)
    }

    // MARK: The index, and records on the trusted UI

    /// A filter over the index; every part optional, `until` exclusive.
    public struct Query: Codable, Sendable, Equatable {
        public var type: String?
        public var category: String?
        public var since: String?
        public var until: String?
        public var offset: Int?
        public var limit: Int?

        public init(type: String? = nil, category: String? = nil, since: String? = nil, until: String? = nil, offset: Int? = nil, limit: Int? = nil) {
            (self.type, self.category, self.since, self.until, self.offset, self.limit) = (type, category, since, until, offset, limit)
        }
    }

    /// One record as the normal world may know it.
    public struct IndexEntry: Codable, Sendable, Equatable {
        /// The record's number: its handle for `show`, `release` and `share`.
        public let n: Int
        public let type: String
        /// The day, `YYYY-MM-DD` ("" if the record has none).
        public let date: String
        public let category: String
    }

    public struct QueryResult: Codable, Sendable, Equatable {
        public let total: Int
        public let entries: [IndexEntry]
    }

    public func query(_ query: Query = Query()) async throws(PHRAppError) -> QueryResult {
        let filter: [UInt8]
        do { filter = Array(try JSONEncoder().encode(query)) } catch { throw .badAnswer("the query cannot be encoded") }
        return try decode(QueryResult.self, try await call(.query, [.input(filter), .output(capacity: 64 << 10)]).bytes(1))
    }

    /// Shows record `n` on the trusted UI (after the PIN); nothing comes back.
    public func show(_ n: Int) async throws(PHRAppError) { _ = try await call(.show, [.valueInput(UInt32(clamping: n))]) }

    /// Shows the summary on the trusted UI (after the PIN).
    /// - Returns: how many lines it showed.
    public func summary() async throws(PHRAppError) -> Int {
        Int(try await call(.summary, [.valueOutput]).value(0)?.a ?? 0)
    }

    /// Record `n` in full, if the patient confirms its release on the trusted UI.
    public func release(_ n: Int) async throws(PHRAppError) -> [UInt8] {
        try await call(.release, [.valueInput(UInt32(clamping: n)), .output(capacity: 64 << 10)]).bytes(1) ?? []
    }

    // MARK: Readings, sharing, audit

    public typealias ReadingKind = PHRReadingKind

    /// A reading typed on the trusted UI, confirmed, signed and queued.
    /// - Returns: its sequence number.
    public func addReading(_ kind: ReadingKind) async throws(PHRAppError) -> UInt64 {
        UInt64(try await call(.addReading, [.valueInput(kind.rawValue), .valueOutput]).value(1)?.a ?? 0)
    }

    /// The next queued reading's upload, or `nil` when none waits.
    public func uploadRequest() async throws(PHRAppError) -> SignedHTTPRequest? {
        do throws(PHRAppError) {
            let result = try await call(.uploadRequest, [.output(capacity: 1024), .output(capacity: 8192), .valueOutput])
            return try SignedHTTPRequest(head: result.bytes(0) ?? [], body: result.bytes(1) ?? [])
        } catch let .refused(code, _) where code == .itemNotFound {
            return nil
        }
    }

    public func uploaded(receipt: [UInt8]) async throws(PHRAppError) { _ = try await call(.uploadDone, [.input(receipt)]) }

    public struct ShareRequest: Codable, Sendable {
        public let practitioner: String
        public let display: String?
        public let records: [Int]
        public let hours: Int

        public init(practitioner: String, display: String? = nil, records: [Int], hours: Int) {
            (self.practitioner, self.display, self.records, self.hours) = (practitioner, display, records, hours)
        }
    }

    /// The signed request for the server's time, which `share` dates its prompt from.
    public func clockRequest() async throws(PHRAppError) -> SignedHTTPRequest {
        try SignedHTTPRequest(head: try await call(.clockRequest, [.output(capacity: 1024)]).bytes(0) ?? [], body: [])
    }

    /// Asks the patient on the trusted UI; `clock` is the server's sealed answer to `clockRequest`.
    public func share(_ request: ShareRequest, clock: [UInt8]) async throws(PHRAppError) -> SignedHTTPRequest {
        let input: [UInt8]
        do { input = Array(try JSONEncoder().encode(request)) } catch { throw .badAnswer("the share request cannot be encoded") }
        let result = try await call(.share, [.input(input), .output(capacity: 1024), .output(capacity: 16 << 10), .input(clock)])
        return try SignedHTTPRequest(head: result.bytes(1) ?? [], body: result.bytes(2) ?? [])
    }

    /// The server's sealed receipt for the grant this session sent last, as the trustlet read it
    /// (only then does its audit log say "shared").
    public func shareDone(receipt: [UInt8]) async throws(PHRAppError) -> GrantReceipt {
        try decode(GrantReceipt.self, try await call(.shareDone, [.input(receipt), .output(capacity: 4096)]).bytes(1))
    }

    public func revoke(grant: String) async throws(PHRAppError) -> SignedHTTPRequest {
        try SignedHTTPRequest(head: try await call(.revoke, [.input(Array(grant.utf8)), .output(capacity: 1024)]).bytes(1) ?? [], body: [])
    }

    /// The server's sealed receipt for the revocation this session sent last, as the trustlet read
    /// it (only then does its audit log say "revoked").
    public func revokeDone(receipt: [UInt8]) async throws(PHRAppError) -> GrantReceipt {
        try decode(GrantReceipt.self, try await call(.revokeDone, [.input(receipt), .output(capacity: 4096)]).bytes(1))
    }

    public func auditRequest() async throws(PHRAppError) -> SignedHTTPRequest {
        try SignedHTTPRequest(head: try await call(.auditRequest, [.output(capacity: 1024)]).bytes(0) ?? [], body: [])
    }

    /// The server's trail, as the trustlet released it after checking every entry's hash.
    public struct ServerAudit: Codable, Sendable {
        public struct Action: Codable, Sendable {
            public let sequence: Int64
            public let time: Int64
            /// "this device", "practitioner" or "server".
            public let actor: String
            public let action: String
            public let refused: Bool
        }

        public let entries: Int
        public let verified: Bool
        public let actions: [Action]
    }

    public func serverAudit(_ sealed: [UInt8]) async throws(PHRAppError) -> ServerAudit {
        try decode(ServerAudit.self, try await call(.serverAudit, [.input(sealed), .output(capacity: 1 << 20)]).bytes(1))
    }

    /// The trustlet's own hash-chained log, as released: actions, times, keyed digests, hashes.
    public struct LocalAudit: Codable, Sendable {
        public struct Entry: Codable, Sendable {
            public let sequence: UInt64
            public let time: UInt64
            public let action: String
            public let digest: String
            public let hash: String
        }

        public let entries: Int
        public let verified: Bool
        public let base: String
        public let head: String
        public let actions: [Entry]

        /// Checks the chain here, in the normal world, from the released fields alone.
        public func verifiesIndependently() -> Bool {
            var previous = Array(Hex.decode(base) ?? [])
            for entry in actions {
                var input = previous
                for field in [String(entry.sequence), String(entry.time), entry.action, entry.digest] {
                    let bytes = Array(field.utf8)
                    input += [UInt8(bytes.count >> 8 & 0xFF), UInt8(bytes.count & 0xFF)] + bytes
                }
                let hash = Array(SHA256.hash(data: input))
                guard Hex.decode(entry.hash) == hash else { return false }
                previous = hash
            }
            return true
        }
    }

    public func localAudit() async throws(PHRAppError) -> LocalAudit {
        try decode(LocalAudit.self, try await call(.localAudit, [.output(capacity: 1 << 20)]).bytes(0))
    }

    /// Erases everything, after a confirmation on the trusted UI.
    public func reset() async throws(PHRAppError) { _ = try await call(.reset, []) }

    // MARK: Calls

    /// Invokes a command with any parameters (the typed methods above are built on it); an output
    /// too small for the answer is enlarged to the size the trustlet asked for (the GP short-buffer
    /// convention).
    public func call(_ command: PHRTrustlet.Command, _ parameters: [TEEParameter]) async throws(PHRAppError) -> TEEResult {
        var parameters = parameters
        for _ in 0..<3 {
            do throws(TEEError) {
                return try await session.invoke(command: command.rawValue, parameters: parameters)
            } catch where error.code == .shortBuffer {
                var grown = false
                for (slot, parameter) in parameters.enumerated() {
                    guard case .output = parameter, let needed = error.requiredSize(slot), needed > 0 else { continue }
                    parameters[slot] = .output(capacity: needed)
                    grown = true
                }
                if !grown { throw PHRAppError(error, command: command) }
            } catch {
                throw PHRAppError(error, command: command)
            }
        }
        throw .badAnswer("the trustlet kept asking for a larger buffer")
    }

    private func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]?) throws(PHRAppError) -> T {
        do { return try JSONDecoder().decode(type, from: Data(bytes ?? [])) } catch { throw .badAnswer("the trustlet's answer is not \(type)") }
    }
}
