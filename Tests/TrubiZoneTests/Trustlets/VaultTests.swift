import Foundation
import Testing
import TrubiZoneClient
import TrubiZoneEmulatedDevice
import TrubiZoneProtocol
import TrubiZoneSecureWorld
import TrubiZoneTesting

/// The `vault` sample: a secret shown only on the trusted UI after the right PIN, and a lockout
/// after five wrong PINs that neither a restart nor a rollback of the REE directory undoes.
@Suite struct VaultTests {
    static let secret = Array("correct horse battery staple".utf8)

    /// A device with the vault installed and a scripted user.
    final class Fixture {
        let device: EmulatedDevice
        private(set) var world: SecureWorld
        private(set) var user: ScriptedTrustedUI
        private(set) var session: TEESession

        init(_ answers: [ScriptedTrustedUI.Answer], kind: TransportKind = .inProcess, device: EmulatedDevice? = nil) async throws {
            self.device = try device ?? EmulatedDevice()
            user = ScriptedTrustedUI(answers: answers)
            world = try self.device.secureWorld(trustedUI: TrustedUI(device: user))
            try Samples.install("vault", as: Samples.vault, in: world)
            session = try await TEEContext.inProcess(world).openSession(uuid: Samples.vault)
        }

        /// Restarts the secure world with a new script, as after a reboot.
        func restart(_ answers: [ScriptedTrustedUI.Answer]) async throws {
            user = ScriptedTrustedUI(answers: answers)
            world = try device.secureWorld(trustedUI: TrustedUI(device: user))
            try Samples.install("vault", as: Samples.vault, in: world)
            session = try await TEEContext.inProcess(world).openSession(uuid: Samples.vault)
        }

        func store(_ secret: [UInt8]) async -> ReturnCode { await code(0, [.input(secret)]) }
        func reveal() async -> ReturnCode { await code(1, []) }
        func reset() async -> ReturnCode { await code(3, []) }

        func status() async throws -> (wrong: UInt32, left: UInt32, stored: Bool, locked: Bool) {
            let result = try await session.invoke(command: 2, parameters: [.valueOutput, .valueOutput])
            return (result.value(0)?.a ?? 99, result.value(0)?.b ?? 99, result.value(1)?.a == 1, result.value(1)?.b == 1)
        }

        private func code(_ command: UInt32, _ parameters: [TEEParameter]) async -> ReturnCode {
            do {
                _ = try await session.invoke(command: command, parameters: parameters)
                return .success
            } catch {
                return error.code
            }
        }
    }

    static func pin(_ digits: String) -> ScriptedTrustedUI.Answer { .pin(Array(digits.utf8)) }

    @Test func theSecretIsShownOnlyOnTheTrustedUIAfterTheRightPIN() async throws {
        let vault = try await Fixture([Self.pin("4096"), Self.pin("4096"), Self.pin("1111"), Self.pin("4096")])
        #expect(await vault.store(Self.secret) == .success)
        #expect(await vault.reveal() == .accessDenied)
        #expect(try await vault.status().wrong == 1)
        #expect(!vault.user.record.contains { $0.contains("correct horse") }, "shown before the right PIN")
        #expect(await vault.reveal() == .success)
        #expect(vault.user.record.contains("[vault · developer d1d1-d1d1-d1d1-d1d1-d1d1] The secret: correct horse battery staple"))
        #expect(try await vault.status() == (0, 5, true, false))
        // Every line of every screen carries the vault's verified name; no PIN is recorded.
        #expect(vault.user.record.allSatisfy { $0.hasPrefix("[vault · developer d1d1-d1d1-d1d1-d1d1-d1d1] ") || $0.hasPrefix("  → ") })
        #expect(!vault.user.record.joined().contains("4096"))
        // Neither the secret nor the PIN reaches a normal-world file.
        for file in vault.device.reeFiles() {
            #expect(file.bytes.firstRange(of: Self.secret) == nil && file.bytes.firstRange(of: Array("4096".utf8)) == nil)
        }
    }

    @Test func fiveWrongPINsLockTheVaultAcrossRestartAndREERollback() async throws {
        let wrong = Array(repeating: Self.pin("0000"), count: 5)
        let vault = try await Fixture([Self.pin("2468"), Self.pin("2468")] + wrong + [Self.pin("2468")])
        #expect(await vault.store(Self.secret) == .success)
        let snapshot = vault.device.reeFiles()
        for attempt in 1...5 {
            #expect(await vault.reveal() == .accessDenied, "wrong PIN \(attempt)")
        }
        #expect(try await vault.status() == (5, 0, true, true))
        // Locked: the right PIN is not even asked for.
        #expect(await vault.reveal() == .security)
        #expect(vault.user.remainingAnswers == 1)

        // The attacker rolls the whole REE directory back to before the wrong PINs and reboots.
        try vault.device.restoreREE(snapshot)
        try await vault.restart([Self.pin("2468")])
        #expect(try await vault.status().locked)
        #expect(await vault.reveal() == .security)
        #expect(!vault.user.record.contains { $0.contains("correct horse") })

        // Only a reset, confirmed by the user, opens it again, and it erases the secret.
        try await vault.restart([.confirm(false), .confirm(true), Self.pin("1357"), Self.pin("1357"), Self.pin("1357")])
        #expect(await vault.reset() == .cancel)
        #expect(try await vault.status().locked)
        #expect(await vault.reset() == .success)
        #expect(try await vault.status() == (0, 5, false, false))
        #expect(await vault.reveal() == .itemNotFound)
        #expect(await vault.store(Array("new".utf8)) == .success)
        #expect(await vault.reveal() == .success)
        #expect(vault.user.record.contains("[vault · developer d1d1-d1d1-d1d1-d1d1-d1d1] The secret: new"))
    }

    @Test func aCancelledPromptCostsNoAttemptAndMismatchedPINsStoreNothing() async throws {
        let vault = try await Fixture([Self.pin("1234"), Self.pin("4321"), Self.pin("1234"), Self.pin("1234"), .cancel, .confirm(true)])
        #expect(await vault.store(Self.secret) == .cancel)
        #expect(try await vault.status().stored == false)
        #expect(await vault.store(Self.secret) == .success)
        #expect(await vault.reveal() == .cancel)
        #expect(try await vault.status().wrong == 0)
        // A script answer of the wrong kind is a cancel too, and so is running out of answers.
        #expect(await vault.reveal() == .cancel)
        #expect(await vault.reveal() == .cancel)
        #expect(try await vault.status().wrong == 0)
        #expect(vault.user.record.contains("  → cancelled: the script answers `confirm` here, not `pin`"))
        #expect(vault.user.record.contains("  → cancelled: the script has no answer left"))
    }

    @Test func withoutATrustedUIOrTheCapabilityTheVaultCannotAsk() async throws {
        let device = try EmulatedDevice()
        defer { withExtendedLifetime(device) {} }
        let world = try device.secureWorld()
        try Samples.install("vault", as: Samples.vault, in: world)
        let session = try await TEEContext.inProcess(world).openSession(uuid: Samples.vault)
        var error = await #expect(throws: TEEError.self) { try await session.invoke(command: 0, parameters: [.input(Self.secret)]) }
        #expect(error?.code == .notSupported)
        let vault = try await Fixture([Self.pin("1234"), Self.pin("1234")])
        try Samples.install("vault", as: Samples.vault, in: vault.world, capabilities: Capabilities.all.subtracting(.ui))
        let denied = try await TEEContext.inProcess(vault.world).openSession(uuid: Samples.vault)
        error = await #expect(throws: TEEError.self) { try await denied.invoke(command: 0, parameters: [.input(Self.secret)]) }
        #expect(error?.code == .accessDenied)
        #expect(vault.user.remainingAnswers == 2)
    }

    @Test func theVaultWorksOverTheSocket() async throws {
        let user = ScriptedTrustedUI(answers: [Self.pin("9753"), Self.pin("9753"), Self.pin("9753")])
        let world = try World(.socket, trustedUI: TrustedUI(device: user))
        try Samples.install("vault", as: Samples.vault, in: world.runtime)
        let session = try await world.context().openSession(uuid: Samples.vault)
        _ = try await session.invoke(command: 0, parameters: [.input(Self.secret)])
        _ = try await session.invoke(command: 1, parameters: [])
        #expect(user.record.contains("[vault · developer d1d1-d1d1-d1d1-d1d1-d1d1] The secret: correct horse battery staple"))
        #expect(!world.logs.joined().contains("correct horse") && !world.logs.joined().contains("9753"))
    }
}
