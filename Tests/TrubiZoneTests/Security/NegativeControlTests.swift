#if TRUBIZONE_WEAKENINGS
import Foundation
import Testing
@testable import TrubiZoneAttacks
import PHRApp
import TrubiZoneProtocol
import TrubiZoneTesting

/// The attack suite's negative controls: with the defence an attack tests turned off (a switch only
/// debug builds have), the attack must report ACCEPTED or LEAKED. An attack that still says
/// "defended" against a system without its defence is not evidence of anything.
@Suite struct NegativeControlTests {
    /// Each attack and the defences that, turned off together, let it through. Two where the
    /// system holds the line twice (a replayed enrollment meets a used challenge and a used code).
    static let controls: [(attack: String, off: Set<Weakening>)] = [
        ("identity-forged-token", [.attestationAppraisal]),
        ("identity-modified-trustlet", [.attestationAppraisal]),
        ("identity-replayed-token", [.challengeSingleUse, .codeSingleUse]),
        ("identity-stolen-code", [.codeSingleUse]),
        ("identity-unsigned-reading", [.requestSignature]),
        ("identity-junk-enrollments", [.appraisalFirst]),
        ("identity-replayed-reading", [.requestNonce]),
        ("network-modify-request", [.requestSignature]),
        ("access-expired-grant", [.grantEnd]),
        ("access-revoked-grant", [.grantEnd]),
        ("access-other-patient", [.grantScope]),
        ("network-drop", [.uploadOnce]),
        ("logging-scan", [.pageLogging]),
        ("logging-after-attacks", [.pageLogging]),
        ("network-read", [.pageInClear]),
        ("api-session-hijack", [.sessionOwnership]),
        ("identity-uuid-takeover", [.uuidOwnership]),
        ("storage-rollback-object", [.rollbackCounter]),
        ("storage-rollback-namespace", [.rollbackCounter]),
        ("storage-rollback-ree", [.rollbackCounter]),
        ("storage-delete", [.rollbackCounter]),
        ("storage-swap", [.nameBinding]),
        ("storage-add", [.unknownFiles]),
        ("storage-move", [.unknownFiles, .rollbackCounter]),
        ("api-connection-hog", [.fairShare]),
        ("api-state-flood", [.quotas]),
        ("api-builtin-namespaces", [.quotas]),
        ("api-hostile-trustlets", [.hostCallFuel]),
        ("storage-flip", [.objectSealing]),
        ("storage-scan", [.objectSealing]),
        // The trustlet's own checks: the lab runs the PHR trustlet's test build.
        ("network-replay-answer", [.answerBinding]),
        ("network-reorder", [.answerBinding]),
        ("forge-audit-trail", [.answerBinding]),
        ("forge-server-clock", [.answerBinding]),
        ("forge-enrollment-answer", [.enrollmentProof]),
        ("forge-sync-page", [.senderKey]),
        ("forge-upload-receipt", [.senderKey]),
        ("forge-grant-receipts", [.senderKey]),
        ("access-no-pin", [.pinGate]),
        ("api-foreign-client", [.pinGate]),
        ("access-pin-brute-force", [.pinLock]),
        ("traffic-analysis", [.storagePadding]),
        ("sensor-injected-reading", [.trustedInput]),
        ("storage-rollback-pin", [.pinCounters, .rollbackCounter]),
        ("access-downgrade", [.versionFloor]),
        ("access-unsigned-trustlet", [.packageSignature]),
    ]

    /// Attacks that search what others left: played after one that leaves something to find.
    static let preparedBy: [String: String] = ["logging-after-attacks": "storage-flip"]

    /// The attacks no switch can make fail, and why; every other attack has a control above.
    static let withoutControl: [String: String] = [
        "network-modify-answer": "a changed byte fails the AEAD tag inside swift-crypto's HPKE, which no switch of ours can turn off without writing crypto; the forge-* attacks control the channel's own checks",
        "api-malformed-frames": "its defence is a frame limit and a parser that never traps; without them the daemon would allocate 4 GiB or crash the test process itself",
        "api-huge-allocations": "its defence refuses before allocating; without it the allocation (4 GiB of zeros) would take the test process's memory",
        "identity-other-device": "held twice: with the signature unchecked, the reading's seal, made from the sending device's own key, is refused (400 not-sealed), and that seal is HPKE's",
        "storage-truncate": "with the object's checks off (objectSealing), the PHR trustlet's own parser refuses the cut data (TEEC_ERROR_BAD_FORMAT), a defence in depth no runtime switch reaches",
        "api-invalid-parameters": "every accessor of a parameter checks its type again, so no single switch lets a wrong type through; the fuzzers in .ci/run search the same space",
    ]

    @Test func eachAttackReportsItsDefenceTurnedOffAsAccepted() async throws {
        let directory = TemporaryDirectory("negative-controls")
        defer { withExtendedLifetime(directory) {} }
        let lab = try await AttackLab.start(root: directory.path, trustlet: PHRTrustlet.name + "-weakened")
        // `NEGATIVE_CONTROLS=id,id` plays only those (while writing one); CI plays every control.
        let only = ProcessInfo.processInfo.environment["NEGATIVE_CONTROLS"].map { Set($0.split(separator: ",").map(String.init)) }
        for (id, off) in Self.controls where only?.contains(id) ?? true {
            let attack = try #require(AttackSuite.all.first { $0.id == id }, "no attack \(id)")
            let first = try Self.preparedBy[id].map { first in try #require(AttackSuite.all.first { $0.id == first }, "no attack \(first)") }
            let report = await Weakening.off(off, under: directory.path) {
                if let first { _ = await AttackSuite.play(first, in: lab) }
                return await AttackSuite.play(attack, in: lab)
            }
            #expect(report.outcome == .accepted || report.outcome == .leaked,
                    "\(id) with \(off.map(\.rawValue).sorted()) off: \(report.outcome.rawValue): \(report.evidence)")
        }
        await lab.stop()
    }

    /// A weakening reaches only the components under its directory: a system beside it keeps
    /// every defence.
    @Test func aWeakeningStaysInsideItsDirectory() async {
        let inside = await Weakening.off([.versionFloor], under: "/tmp/weakened") {
            (Weakening.isOff(.versionFloor, at: "/tmp/weakened/phone/ree"), Weakening.isOff(.versionFloor, at: "/tmp/weakened-not/ree"),
             Weakening.isOff(.packageSignature, at: "/tmp/weakened/phone/ree"))
        }
        #expect(inside == (true, false, false))
        #expect(!Weakening.isOff(.versionFloor, at: "/tmp/weakened/phone/ree"))
    }

    /// Every switch has an attack that notices it.
    @Test func everyWeakeningHasItsAttack() {
        #expect(Set(Self.controls.flatMap(\.off)) == Set(Weakening.allCases))
    }

    /// Every attack of the suite has a negative control, or a reason here why none can exist.
    @Test func everyAttackHasAControlOrAReason() {
        let covered = Set(Self.controls.map(\.attack)).union(Self.withoutControl.keys)
        #expect(Set(AttackSuite.all.map(\.id)).subtracting(covered).sorted() == [])
        #expect(Set(Self.controls.map(\.attack)).isDisjoint(with: Self.withoutControl.keys))
    }
}
#endif
