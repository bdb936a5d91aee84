import Foundation
import TrubiZoneClient
import TrubiZoneProtocol
import TrubiZoneSampleTrustlets
import TrubiZoneSecureWorld
import TrubiZoneTesting

enum Samples {
    static let hello = TrustletUUID("8e0b7a4c-1d2e-4f30-9a1b-000000000001")!
    static let hostile = TrustletUUID("8e0b7a4c-1d2e-4f30-9a1b-0000000000ff")!
    static let hostileCreate = TrustletUUID("8e0b7a4c-1d2e-4f30-9a1b-0000000000fe")!
    static let vault = TrustletUUID("8e0b7a4c-1d2e-4f30-9a1b-000000000002")!
    static let probe = TrustletUUID("8e0b7a4c-1d2e-4f30-9a1b-0000000000fd")!
    static let developer = Array(repeating: UInt8(0xD1), count: 32)
    static let otherDeveloper = Array(repeating: UInt8(0xD2), count: 32)

    /// Limits small enough that hostile loops end quickly in a debug build.
    static let testLimits = TrustletLimits(memoryPages: 32, fuelPerCall: 3_000_000, maxSessions: 8)

    @discardableResult
    static func install(_ name: String, as uuid: TrustletUUID, in world: SecureWorld, signer: [UInt8] = developer,
                        limits: TrustletLimits = testLimits, capabilities: Capabilities = .all) throws -> WasmTrustlet {
        let trustlet = try WasmTrustlet(wasm: SampleTrustlets.wasm(name), uuid: uuid, name: name, signerID: signer,
                                        limits: limits, capabilities: capabilities, storage: world.storage, secureLog: world.secureLog,
                                        trustedUI: world.trustedUI, attester: world.attester)
        world.install(trustlet)
        return trustlet
    }

    /// Installs `hello`, `hostile` and `hostile-create`.
    static func installAll(in world: SecureWorld) throws {
        try install("hello", as: hello, in: world)
        try install("hostile", as: hostile, in: world)
        try install("hostile-create", as: hostileCreate, in: world)
    }
}

extension TEESession {
    /// `hello` command 0: echo, and the invocation count.
    func hello(_ bytes: [UInt8]) async throws -> (echo: [UInt8], count: UInt32) {
        let result = try await invoke(command: 0, parameters: [.input(bytes), .output(capacity: bytes.count + 16), .valueOutput])
        return (result.bytes(1) ?? [], result.value(2)?.a ?? 0)
    }
}
