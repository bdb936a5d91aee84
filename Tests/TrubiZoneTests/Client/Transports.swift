import Foundation
import TrubiZoneClient
import TrubiZoneProtocol
import TrubiZoneSecureWorld
import TrubiZoneTesting

/// The two ways to reach the secure world; behaviour tests run over both.
enum TransportKind: String, CaseIterable, CustomStringConvertible {
    case inProcess, socket
    var description: String { rawValue }
}

/// A running secure world reachable over one transport.
final class World {
    let kind: TransportKind
    let device: EmulatedDevice
    let runtime: SecureWorld
    private let daemon: DaemonHarness?

    init(_ kind: TransportKind, limits: SecureWorld.Limits = .init(), trustedUI: TrustedUI = .none) throws {
        self.kind = kind
        if kind == .socket {
            let daemon = try DaemonHarness(limits: limits, trustedUI: trustedUI)
            self.daemon = daemon
            device = daemon.device
            runtime = daemon.world
        } else {
            daemon = nil
            device = try EmulatedDevice()
            runtime = try device.secureWorld(limits: limits, trustedUI: trustedUI)
        }
    }

    func context() throws -> TEEContext {
        switch kind {
        case .inProcess: try TEEContext.inProcess(runtime)
        case .socket: try daemon!.client()
        }
    }

    var logs: [String] { daemon?.logs.all ?? [] }

    deinit { daemon?.stop() }
}

typealias StorageCommand = BuiltInTrustlets.Storage.Command
typealias KeystoreCommand = BuiltInTrustlets.Keystore.Command

extension TEESession {
    func put(_ id: String, _ data: [UInt8]) async throws {
        try await invoke(command: StorageCommand.put.rawValue, parameters: [.input(Array(id.utf8)), .input(data)])
    }

    func get(_ id: String, capacity: Int = 1 << 20) async throws -> [UInt8] {
        try await invoke(command: StorageCommand.get.rawValue, parameters: [.input(Array(id.utf8)), .output(capacity: capacity)]).bytes(1) ?? []
    }
}
