import Foundation
import Logging
import PHRContract
import PHRProtocol

/// The patient's app: the flows between the PHR trustlet and the provider server. It moves bytes
/// and counts; every decision about the records is the trustlet's.
public struct PatientApp: Sendable {
    public let device: PHRDevice
    public let server: PHRConnection
    public let logger: Logger

    public init(device: PHRDevice, server: PHRConnection, logger: Logger = Logger(label: "phr")) {
        (self.device, self.server, self.logger) = (device, server, logger)
    }

    /// Sets a PIN if there is none, then enrolls: the server's challenge goes to the trustlet,
    /// which reads the code on the trusted UI and answers with its attested keys.
    /// - Returns: the device ID the server gave.
    public func enroll() async throws(PHRAppError) -> String {
        if !(try await device.status().pin) { try await device.setPIN() }
        let challenge = try await server.send("POST", PHRRoute.enrollmentChallenge).checked()
        let body = try await device.enrollBegin(challenge: challenge.body)
        let answer = try await server.send("POST", PHRRoute.enrollment, headers: [("Content-Type", "application/json")], body: body).checked()
        try await device.enrollFinish(answer: answer.body)
        let status = try await device.status()
        logger.info("enrolled", metadata: ["device": "\(status.device.prefix(8))…"])
        return status.device
    }

    public struct SyncOutcome: Sendable, Codable {
        public var pages = 0
        public var stored = 0
        public var bytes = 0
        public var records = 0

        public init() {}
    }

    /// Fetches pages until the server has no more. Each page is kept by the trustlet before the
    /// next is asked for, so a sync cut short resumes from the last page kept.
    /// - Parameter progress: called after each page with the outcome so far.
    public func sync(progress: (SyncOutcome) -> Void = { _ in }) async throws(PHRAppError) -> SyncOutcome {
        var outcome = SyncOutcome()
        while true {
            let request = try await device.syncRequest()
            let answer = try await server.send(request).checked()
            let page = try await device.syncPage(answer.body)
            outcome.pages += 1
            outcome.stored += page.stored
            outcome.bytes += answer.body.count
            progress(outcome)
            if !page.more { break }
        }
        outcome.records = try await device.status().records
        logger.info("synced", metadata: ["pages": "\(outcome.pages)", "records": "\(outcome.records)"])
        return outcome
    }

    /// Sends every queued reading, oldest first.
    /// - Returns: how many the server took.
    public func uploadQueued() async throws(PHRAppError) -> Int {
        var sent = 0
        while let request = try await device.uploadRequest() {
            let answer = try await server.send(request).checked()
            try await device.uploaded(receipt: answer.body)
            sent += 1
        }
        logger.info("readings uploaded", metadata: ["count": "\(sent)"])
        return sent
    }

    /// Shares records with a practitioner, once the patient confirms on the trusted UI.
    public func share(_ request: PHRDevice.ShareRequest) async throws(PHRAppError) -> GrantReceipt {
        // The prompt is dated from the server's time, fetched just before.
        let clock = try await server.send(try await device.clockRequest()).checked()
        let answer = try await server.send(try await device.share(request, clock: clock.body)).checked()
        let receipt = try await device.shareDone(receipt: answer.body)
        logger.info("shared", metadata: ["grant": "\(receipt.grant.prefix(8))…", "records": "\(receipt.resources)"])
        return receipt
    }

    public func revoke(grant: String) async throws(PHRAppError) -> GrantReceipt {
        guard PHRIdentifier.isIdentifier(grant) else {
            throw .badAnswer("a grant ID is 32 lowercase hex digits")
        }
        let answer = try await server.send(try await device.revoke(grant: grant)).checked()
        return try await device.revokeDone(receipt: answer.body)
    }

    /// The server's audit trail for this patient, checked in the trustlet.
    public func serverAudit() async throws(PHRAppError) -> PHRDevice.ServerAudit {
        let answer = try await server.send(try await device.auditRequest()).checked()
        return try await device.serverAudit(answer.body)
    }
}
