// What the PHR trustlet, its app and its server all know, written once. This file is compiled into
// the trustlet (Embedded Swift, wasm32: `build-trustlet.sh` takes a trustlet's `Contract/` folder
// with its sources) and into the host module `PHRContract`, which the app and the server build on;
// a command, a reading kind, a purpose or a route exists here or nowhere. The typed interfaces
// that follow will generate this from one interface definition.
//
// Numbers and strings only, no Foundation, so Embedded Swift builds it.

/// The PHR trustlet's commands, by number (`TEEC_InvokeCommand`'s command ID). The parameters of
/// each are in `Trustlets/Apps/phr/PHR.swift`.
public enum PHRCommand: UInt32, Sendable, CaseIterable {
    case status = 0, setPIN, unlock, enrollBegin, enrollFinish, syncRequest, syncPage, query, show, summary, release
    case addReading, uploadRequest, uploadDone, share, revoke, auditRequest, serverAudit, localAudit, reset
    case shareDone, revokeDone, clockRequest
}

/// What a patient can measure at home and add as a reading (command `addReading`, value a).
public enum PHRReadingKind: UInt32, Sendable, CaseIterable {
    case bloodPressure = 1, weight = 2, glucose = 3
}

/// The purpose every sealed channel message carries (`ChannelMessage`): what it is for, so a
/// message made for one use is refused in every other.
public enum PHRPurpose {
    /// Sync pages, server → device.
    public static let sync = "phr-sync"
    /// Readings, device → server.
    public static let upload = "phr-upload"
    /// Upload receipts, server → device.
    public static let receipt = "phr-receipt"
    /// Grants, device → server.
    public static let grant = "phr-grant"
    /// Grant receipts, server → device.
    public static let grantReceipt = "phr-grant-receipt"
    /// Revocation receipts, server → device.
    public static let revokeReceipt = "phr-revoke-receipt"
    /// The patient's audit trail, server → device.
    public static let audit = "phr-audit"
    /// The server's time, server → device.
    public static let clock = "phr-clock"
}

/// The server's routes the device and its app call (the practitioner's are the server's alone).
public enum PHRRoute {
    public static let enrollmentChallenge = "/v1/enrollment/challenge"
    public static let enrollment = "/v1/enrollment"
    public static let sync = "/v1/sync"
    public static let observations = "/v1/observations"
    public static let grants = "/v1/grants"
    /// `DELETE /v1/grants/ID` revokes grant ID.
    public static let grantPrefix = "/v1/grants/"
    public static let audit = "/v1/audit"
    public static let clock = "/v1/clock"
}

/// The fields of the trustlet's status (command `status`), the one JSON object it gives anyone.
public enum PHRStatusField {
    public static let all: [String] = [
        "pin", "locked", "wrongPINs", "attemptsLeft", "waitSeconds", "unlocked", "enrolled", "device", "records", "cursor",
        "pendingUploads", "auditEntries",
    ]
}
