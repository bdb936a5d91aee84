import Foundation
import PHRFHIR
import Synchronization

/// Where the PHR server keeps its state: what `PHRService` needs from a database, one operation
/// per method, each its own transaction (and its audit entry, where it has one). `RecordStore`
/// keeps it in SQLite.
///
/// The operations are coarse on purpose: each is one transaction whose invariants (a code
/// enrolls one device, a sequence number is accepted once, an audit entry joins the chain in
/// order) the store keeps, so that a second database only has to keep the same ones.
public protocol PHRStore: Sendable {
    // MARK: Records

    /// Whether a resource is stored, and its patient.
    func owner(type: String, id: String) async throws -> (exists: Bool, patient: String?)
    /// A stored resource's JSON.
    func resource(type: String, id: String) async throws -> Data?
    /// The patient's resources changed after `cursor`, oldest first, within `limit` and `maxBytes`.
    func changes(patient: String, after cursor: Int64, limit: Int, maxBytes: Int) async throws -> (changes: [ResourceChange], more: Bool)
    /// Takes the device's next sync page number and audits the page.
    func recordSyncPage(device: Device, resources: Int, cursor: Int64) async throws -> UInt64
    /// Stores an accepted reading once per device and sequence (see `RecordStore.storeReading`).
    func storeReading(device: Device, sequence: UInt64, submitted: Data, id: String, json: Data,
                      signature: [UInt8], now: Date) async throws -> Result<String, PHRError>

    // MARK: Enrollment

    /// Stores a new code, replacing the patient's unused one; `false` if a live code has its ID.
    func insertEnrollmentCode(_ code: EnrollmentCodeRecord, now: Double) async throws -> Bool
    func enrollmentCode(_ id: String) async throws -> StoredEnrollmentCode?
    /// Counts a wrong proof against a code and audits it.
    func recordCodeFailure(_ id: String, patient: String, reason: String, now: Double) async throws
    func insertChallenge(id: String, nonce: [UInt8], expiresAt: Double, now: Double) async throws
    /// Marks a challenge used, once, and returns its nonce.
    func consumeChallenge(_ id: String, now: Double) async throws(PHRError) -> [UInt8]
    /// Uses the code and stores the device, in one transaction.
    func enroll(device: Device, code: String) async throws(PHRError)

    // MARK: Devices

    func device(_ id: String) async throws -> Device?
    /// Remembers a request nonce; `false` if the device used it before.
    func rememberNonce(device: String, nonce: String, now: Double, window: Double) async throws -> Bool

    // MARK: Sharing

    func insertGrant(_ grant: SharingGrant, device: String) async throws
    /// Revokes one of the device's patient's grants; `nil` if it has no such grant.
    func revokeGrant(_ id: String, device: Device, now: Double) async throws -> SharingGrant?
    func grants(practitioner: String) async throws -> [SharingGrant]
    /// The grants that name this resource for this practitioner, live or not.
    func grants(practitioner: String, resource: String) async throws -> [SharingGrant]
    /// The practitioner an API token belongs to.
    func practitioner(token: String) async throws -> String?

    // MARK: The clinic

    /// Imports FHIR files, each whole or not at all (see `RecordStore.importFiles`).
    func importFiles(_ files: [(name: String, data: Data)],
                     progress: (Int, Result<RecordStore.FileResult, ImportError>) -> Void) async throws -> [Result<RecordStore.FileResult, ImportError>]
    func patientIDs() async throws -> [String]
    /// How many resources of each type are stored.
    func counts() async throws -> [String: Int]
    /// `Type/id` of every resource of a patient (`Patient/id`), sorted.
    func resources(ofPatient patient: String) async throws -> [String]
    func revokeDevice(_ id: String, now: Double) async throws -> Bool
    /// A new API token for a practitioner, replacing theirs; only its digest is kept.
    func issuePractitionerToken(_ practitioner: String) async throws -> String

    // MARK: Audit

    func audit(actor: String, action: String, subject: String, outcome: String, patient: String?) async throws
    func auditTrail(patient: String?) async throws -> [AuditEntry]
    /// The newest entry's hash (32 zero bytes for an empty log).
    func auditHead() async throws -> Data
}

extension PHRStore {
    /// Every audit entry, oldest first.
    public func auditTrail() async throws -> [AuditEntry] { try await auditTrail(patient: nil) }

    /// Walks the audit chain from the first entry.
    /// - Returns: how many entries verified.
    /// - Throws: `AuditChainBroken` at the first entry that does not follow from the one before.
    @discardableResult
    public func verifyChain() async throws -> Int {
        try AuditEntry.verify(try await auditTrail(patient: nil))
    }
}

/// When a store last swept its old request nonces: old nonces can never be accepted again (their
/// time is refused first), so a store sweeps them once a minute rather than on every request.
final class NonceSweep: Sendable {
    private let last = Mutex<Double>(0)

    /// Whether a sweep is due at `now` (seconds since 1970); if so, it counts as done.
    func isDue(at now: Double) -> Bool {
        last.withLock { last in
            guard now - last >= 60 else { return false }
            last = now
            return true
        }
    }
}

/// A pending enrollment code, as stored: its HMAC key, never the code.
public struct StoredEnrollmentCode: Sendable, Equatable {
    public let id: String
    public let patient: String
    public let proofKey: [UInt8]
    public let expiresAt: Double
    public let usedAt: Double?
    public let failures: Int

    public init(id: String, patient: String, proofKey: [UInt8], expiresAt: Double, usedAt: Double?, failures: Int) {
        (self.id, self.patient, self.proofKey, self.expiresAt, self.usedAt, self.failures) = (id, patient, proofKey, expiresAt, usedAt, failures)
    }
}

/// A new enrollment code, as a store keeps it.
public struct EnrollmentCodeRecord: Sendable, Equatable {
    public let id: String
    public let patient: String
    public let proofKey: [UInt8]
    public let expiresAt: Double

    public init(id: String, patient: String, proofKey: [UInt8], expiresAt: Double) {
        (self.id, self.patient, self.proofKey, self.expiresAt) = (id, patient, proofKey, expiresAt)
    }
}
