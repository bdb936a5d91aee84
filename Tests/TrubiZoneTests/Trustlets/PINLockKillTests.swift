import Foundation
import Testing
import TrubiZoneClient
import TrubiZoneEmulatedDevice
import TrubiZoneProtocol
@testable import TrubiZoneSecureWorld
import TrubiZoneTesting

/// TrustletKit's `PINLock` killed at every step of an attempt: before each host call an attempt
/// makes, the secure world stops (the session dies there, durable effects before it stay), then
/// restarts from its state. At every such point the kill costs at most the attempt in flight,
/// gives no attempt back, and leaves a lock that still opens and whose wait still ends.
@Suite struct PINLockKillTests {
    static let right = Array("2468".utf8), wrong = Array("0000".utf8)

    /// One boot of the secure world with the vault or the probe installed.
    struct Boot {
        let trustlet: WasmTrustlet
        let session: TEESession

        init(_ device: EmulatedDevice, answers: [ScriptedTrustedUI.Answer] = [], probe: Bool = false) async throws {
            let world = try device.secureWorld(trustedUI: TrustedUI(device: ScriptedTrustedUI(answers: answers)))
            trustlet = probe ? try Samples.install("probe", as: Samples.probe, in: world, limits: InternalAPITests.probeLimits)
                : try Samples.install("vault", as: Samples.vault, in: world)
            session = try await TEEContext.inProcess(world).openSession(uuid: probe ? Samples.probe : Samples.vault)
        }

        /// The vault's wrong PINs in a row.
        func vaultWrong() async throws -> UInt32 {
            try await session.invoke(command: 2, parameters: [.valueOutput, .valueOutput]).value(0)?.a ?? 99
        }

        /// Reveals the vault's secret with the PIN the script holds; killed after `allowed` host calls.
        func reveal(killAfter allowed: Int?) async -> (code: ReturnCode, hostCalls: Int) {
            trustlet.plannedKill.withLock { $0 = .init(remaining: allowed) }
            defer { trustlet.plannedKill.withLock { $0.remaining = nil } }
            do {
                _ = try await session.invoke(command: 1, parameters: [])
                return (.success, trustlet.plannedKill.withLock { $0.made })
            } catch {
                return (error.code, trustlet.plannedKill.withLock { $0.made })
            }
        }

        /// The probe's lock with a wait: `action` 0 sets `pin`, 1 tries it; killed after `allowed` host calls.
        func probeLock(_ pin: [UInt8], _ action: UInt32, killAfter allowed: Int? = nil) async -> (code: ReturnCode, wrong: UInt32, wait: UInt32, hostCalls: Int) {
            trustlet.plannedKill.withLock { $0 = .init(remaining: allowed) }
            defer { trustlet.plannedKill.withLock { $0.remaining = nil } }
            do {
                let result = try await session.invoke(command: 18, parameters: [.input(pin), .valueInput(action), .valueOutput, .valueOutput])
                return (.success, result.value(3)?.a ?? 99, result.value(3)?.b ?? 99, trustlet.plannedKill.withLock { $0.made })
            } catch {
                return (error.code, 99, 99, trustlet.plannedKill.withLock { $0.made })
            }
        }
    }

    @Test func aKillAtEveryStepOfAnAttemptCostsAtMostThatAttemptAndNeverWedgesTheLock() async throws {
        let device = try EmulatedDevice()
        let pin = ScriptedTrustedUI.Answer.pin(Self.right), bad = ScriptedTrustedUI.Answer.pin(Self.wrong)
        let setup = try await Boot(device, answers: [pin, pin])
        _ = try await setup.session.invoke(command: 0, parameters: [.input(Array("a secret".utf8))])

        for (answer, isRight) in [(pin, true), (bad, false)] {
            // The whole attempt once, unkilled, to learn its steps.
            let steps = try await Boot(device, answers: [answer]).reveal(killAfter: nil)
            #expect(steps.code == (isRight ? .success : .accessDenied))
            #expect(steps.hostCalls >= 5, "an attempt reads the lock, counts it and compares")
            if !isRight { _ = try await Boot(device, answers: [pin]).reveal(killAfter: nil) }

            for allowed in 0..<steps.hostCalls {
                let killed = try await Boot(device, answers: [answer]).reveal(killAfter: allowed)
                #expect(killed.code == .targetDead, "killed before host call \(allowed + 1)")
                let restarted = try await Boot(device, answers: [pin])
                let wrong = try await restarted.vaultWrong()
                // At most the attempt in flight is lost; a wrong PIN is never given back.
                #expect(wrong <= 1, "\(isRight ? "right" : "wrong") PIN killed at step \(allowed + 1): \(wrong) wrong")
                // The right PIN still opens the lock and clears the count.
                #expect(await restarted.reveal(killAfter: nil).code == .success, "killed at step \(allowed + 1)")
                #expect(try await restarted.vaultWrong() == 0)
            }
        }
    }

    @Test func aKillAtEveryStepOfAWrongAttemptLeavesAWaitThatRunsAndEnds() async throws {
        let device = try EmulatedDevice()
        func boot() async throws -> Boot { try await Boot(device, probe: true) }
        #expect(try await boot().probeLock(Self.right, 0).code == .success)
        let steps = try await boot().probeLock(Self.wrong, 1)
        #expect(steps.code == .success && steps.wrong == 1 && steps.wait >= 1 && steps.wait <= 2)
        #expect(try await boot().probeLock(Self.right, 1).code == .busy, "the wait holds across a restart")

        for allowed in 0..<steps.hostCalls {
            #expect(try await boot().probeLock(Self.right, 0).wrong == 0)
            let killed = try await boot().probeLock(Self.wrong, 1, killAfter: allowed)
            #expect(killed.code == .targetDead, "killed before host call \(allowed + 1)")
            let status = try await boot().probeLock([0], 2)
            #expect(status.code == .success)
            if status.wrong == 1 {
                // A counted attempt always has its time on record: the wait runs, and ends.
                #expect(status.wait >= 1 && status.wait <= 2, "killed at step \(allowed + 1): a wait of \(status.wait) s")
                try await Task.sleep(for: .seconds(2.2))
                let after = try await boot().probeLock(Self.right, 1)
                #expect(after.code == .success && after.wrong == 0, "killed at step \(allowed + 1): the right PIN after the wait: \(after.code.name)")
            } else {
                #expect(status.wrong == 0 && status.wait == 0, "killed at step \(allowed + 1)")
            }
        }
    }
}
