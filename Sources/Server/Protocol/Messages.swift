import Foundation
import PHRContract

/// The JSON bodies of the PHR protocol. Binary values are hex (keys, nonces, proofs) or base64
/// (attestation tokens); times are Unix seconds.
///
/// Routes:
/// - `POST /v1/enrollment/challenge` → `Challenge`
/// - `POST /v1/enrollment` (`EnrollmentRequest`) → `Enrollment`, with the server's channel key
/// - `POST /v1/sync` (signed, `SyncRequest`) → a sealed envelope (`application/octet-stream`,
///   purpose `phr-sync`) whose payload is a `SyncPage`
/// - `POST /v1/observations` (signed; an `UploadRequest` sealed to the server's channel key,
///   purpose `phr-upload`, sequence = the reading's) → an `UploadReceipt` sealed to the device
///   (purpose `phr-receipt`)
/// - `POST /v1/grants` (signed; a `GrantRequest` sealed to the server, purpose `phr-grant`) →
///   a `GrantReceipt` sealed to the device (purpose `phr-grant-receipt`, sequence = its expiry);
///   `DELETE /v1/grants/ID` (signed) → a `GrantReceipt` sealed to the device (purpose
///   `phr-revoke-receipt`, sequence = its revocation time)
/// - `GET /v1/audit` (signed) → an `AuditTrail` sealed to the device (purpose `phr-audit`)
///
/// Everything that names or holds a record travels sealed, so the phone's normal world, which
/// relays it, sees ciphertext only. Every sealed message is authenticated by its sender's
/// channel key (HPKE Auth mode: the server's, or the device's attested HPKE key), and every answer
/// is bound to the nonce of the signed request it answers, so the normal world can neither make
/// one nor hand an old one in.
/// - `GET /v1/shared` and `GET /v1/shared/TYPE/ID` (practitioner, `Authorization: Bearer`)
/// - Errors: a status and `ErrorBody`.
public enum PHRMessage {
    /// The purpose of sealed sync pages.
    public static let syncPurpose = PHRPurpose.sync
    /// Readings sealed to the server.
    public static let uploadPurpose = PHRPurpose.upload
    /// Upload receipts sealed to the device.
    public static let receiptPurpose = PHRPurpose.receipt
    /// Grant receipts sealed to the device.
    public static let grantReceiptPurpose = PHRPurpose.grantReceipt
    /// Revocation receipts sealed to the device.
    public static let revokeReceiptPurpose = PHRPurpose.revokeReceipt
    /// Grants sealed to the server.
    public static let grantPurpose = PHRPurpose.grant
    /// The patient's audit trail sealed to the device.
    public static let auditPurpose = PHRPurpose.audit
    /// The server's time, sealed to the device.
    public static let clockPurpose = PHRPurpose.clock
    /// The most a request body may hold.
    public static let maxBodySize = 256 << 10
    /// Every sync page is padded to this bucket, so that a page's size says nothing about the
    /// records in it: only the number of pages says roughly how many there are.
    public static let syncPageBucket = 256 << 10
    /// Sync pages hold at most this much record JSON, which leaves room in the bucket for the
    /// page's own fields (one resource larger than this goes alone, in a larger bucket).
    public static let maxPageBytes = syncPageBucket - (4 << 10)
}

public struct Challenge: Codable, Sendable, Equatable {
    public let challenge: String
    /// 32 bytes, hex: the nonce the attestation token must carry.
    public let nonce: String
    public let expiresAt: Int64

    public init(challenge: String, nonce: String, expiresAt: Int64) {
        (self.challenge, self.nonce, self.expiresAt) = (challenge, nonce, expiresAt)
    }
}

public struct EnrollmentRequest: Codable, Sendable, Equatable {
    public let challenge: String
    /// The attestation token, base64.
    public let token: String
    /// The enrollment code's first group.
    public let code: String
    /// `EnrollmentCode.proof`, hex.
    public let proof: String

    public init(challenge: String, token: String, code: String, proof: String) {
        (self.challenge, self.token, self.code, self.proof) = (challenge, token, code, proof)
    }
}

/// The server's answer to an enrollment. The patient is not named: the trustlet learns it from
/// the first sealed sync page, so the normal world never does.
public struct Enrollment: Codable, Sendable, Equatable {
    public let device: String
    /// The server's channel key (P-256, SEC1 uncompressed, hex): readings and grants are sealed to it.
    public let channelKey: String
    /// `EnrollmentCode.serverKeyProof`, hex: the server knows the code, so the key is the clinic's.
    public let keyProof: String

    public init(device: String, channelKey: String, keyProof: String) {
        (self.device, self.channelKey, self.keyProof) = (device, channelKey, keyProof)
    }
}

public struct SyncRequest: Codable, Sendable, Equatable {
    /// The `cursor` of the last page received, or `nil` for everything.
    public let cursor: String?
    /// At most this many resources (default 100, at most 500).
    public let limit: Int?

    public init(cursor: String?, limit: Int? = nil) { (self.cursor, self.limit) = (cursor, limit) }
}

/// A sync page, inside the sealed envelope. `resources` are the stored FHIR JSON, unchanged.
/// The server writes it by hand (resources are embedded as stored); this type reads it.
public struct SyncPage: Decodable, Sendable {
    public let cursor: String
    /// Whether more pages follow.
    public let more: Bool
    public let resources: [RawJSON]
}

/// A JSON value kept as its bytes.
public struct RawJSON: Decodable, Sendable {
    public let object: [String: JSONValue]

    public init(from decoder: any Decoder) throws {
        object = try decoder.singleValueContainer().decode([String: JSONValue].self)
    }
}

/// Any JSON value.
public indirect enum JSONValue: Codable, Sendable, Equatable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case let .bool(value): try container.encode(value)
        case let .number(value): try container.encode(value)
        case let .string(value): try container.encode(value)
        case let .array(value): try container.encode(value)
        case let .object(value): try container.encode(value)
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case let .object(object) = self { object[key] } else { nil }
    }

    public var string: String? { if case let .string(value) = self { value } else { nil } }
}

public struct UploadRequest: Codable, Sendable, Equatable {
    /// The device's upload counter: each upload's is higher than the last accepted.
    public let sequence: UInt64
    /// A FHIR R4 Observation.
    public let observation: JSONValue

    public init(sequence: UInt64, observation: JSONValue) { (self.sequence, self.observation) = (sequence, observation) }
}

public struct UploadReceipt: Codable, Sendable, Equatable {
    /// `Observation/id`, as stored.
    public let observation: String
    public let sequence: UInt64

    public init(observation: String, sequence: UInt64) { (self.observation, self.sequence) = (observation, sequence) }
}

public struct GrantRequest: Codable, Sendable, Equatable {
    /// `Practitioner/id`.
    public let practitioner: String
    /// `Type/id` of each shared resource: the patient's own.
    public let resources: [String]
    /// The end the patient was shown, on the phone's (normal-world) clock.
    public let expiresAt: Int64
    /// The duration the patient confirmed: the grant ends no later than this long after the
    /// server takes it, whatever the phone's clock said.
    public let hours: Int64
    /// The server time (`GET /v1/clock`) the trustlet dated the prompt from; the server refuses a
    /// grant whose clock is missing or more than its window old (`stale-clock`).
    public let clock: Int64?

    public init(practitioner: String, resources: [String], expiresAt: Int64, hours: Int64 = 24, clock: Int64?) {
        (self.practitioner, self.resources, self.expiresAt, self.hours, self.clock) = (practitioner, resources, expiresAt, hours, clock)
    }
}

/// `GET /v1/clock`, sealed to the device (purpose `phr-clock`, bound to the request's nonce): the
/// server's time, which the trustlet dates a grant's prompt from instead of the phone's clock.
public struct ClockAnswer: Codable, Sendable, Equatable {
    /// Unix seconds.
    public let time: Int64
    public init(time: Int64) { self.time = time }
}

public struct Grant: Codable, Sendable, Equatable {
    public let grant: String
    public let patient: String
    public let practitioner: String
    public let resources: [String]
    public let expiresAt: Int64
    public let revokedAt: Int64?

    public init(grant: String, patient: String, practitioner: String, resources: [String], expiresAt: Int64, revokedAt: Int64?) {
        (self.grant, self.patient, self.practitioner, self.resources, self.expiresAt, self.revokedAt) =
            (grant, patient, practitioner, resources, expiresAt, revokedAt)
    }
}

/// What a device learns about its grant: no patient, no practitioner, no records.
public struct GrantReceipt: Codable, Sendable, Equatable {
    public let grant: String
    public let expiresAt: Int64
    public let resources: Int
    public let revokedAt: Int64?

    public init(grant: String, expiresAt: Int64, resources: Int, revokedAt: Int64?) {
        (self.grant, self.expiresAt, self.resources, self.revokedAt) = (grant, expiresAt, resources, revokedAt)
    }
}

public struct AuditTrail: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public let sequence: Int64
        public let time: Double
        /// The time's IEEE 754 bits in decimal, as the entry's hash covers them.
        public let timeBits: String
        public let actor: String
        public let action: String
        public let subject: String
        public let outcome: String
        /// Hex: the previous entry's hash and this one's, so each entry can be checked.
        public let previousHash: String
        public let hash: String

        public init(sequence: Int64, time: Double, actor: String, action: String, subject: String, outcome: String, previousHash: String, hash: String) {
            (self.sequence, self.time, self.actor, self.action, self.subject, self.outcome, self.previousHash, self.hash) =
                (sequence, time, actor, action, subject, outcome, previousHash, hash)
            timeBits = String(time.bitPattern)
        }
    }

    public let patient: String
    public let entries: [Entry]
    /// The newest hash of the server's whole chain.
    public let head: String

    public init(patient: String, entries: [Entry], head: String) { (self.patient, self.entries, self.head) = (patient, entries, head) }
}

/// Every error answer's body.
public struct ErrorBody: Codable, Sendable, Equatable {
    /// A stable, machine-readable name (`challenge-expired`, `replayed-request`, …).
    public let error: String
    /// What went wrong and what to do, for a person. Never health data or secrets.
    public let message: String

    public init(error: String, message: String) { (self.error, self.message) = (error, message) }
}
