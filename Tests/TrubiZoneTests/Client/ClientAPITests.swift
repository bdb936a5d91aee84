import Crypto
import Foundation
import Testing
import TrubiZoneClient
import TrubiZoneProtocol
import TrubiZoneSecureWorld
import TrubiZoneTesting

/// The GP client API against the runtime, over both transports: the same calls must give the same
/// answers either way.
@Suite struct ClientAPITests {
    @Test(arguments: TransportKind.allCases)
    func storageRoundTripAndShortBuffer(_ kind: TransportKind) async throws {
        let world = try World(kind)
        let context = try world.context()
        defer { context.close() }
        let session = try await context.openSession(uuid: BuiltInTrustlets.Storage.uuid)
        let data = Array("a blood pressure of 120/80".utf8)
        try await session.put("reading", data)
        #expect(try await session.get("reading") == data)

        // GP short-buffer rule: the call fails and says how much room it needs.
        let error = await #expect(throws: TEEError.self) {
            try await session.invoke(command: StorageCommand.get.rawValue, parameters: [.input(Array("reading".utf8)), .output(capacity: 4)])
        }
        #expect(error?.code == .shortBuffer)
        #expect(error?.origin == .trustedApp)
        #expect(error?.requiredSize(1) == data.count)

        // Shared memory is written back in place.
        let shared = TEESharedMemory(capacity: 64, direction: .output)
        try await session.invoke(command: StorageCommand.get.rawValue, parameters: [.input(Array("reading".utf8)), .shared(shared)])
        #expect(shared.size == data.count)
        #expect(shared.bytes == data)

        let size = try await session.invoke(command: StorageCommand.size.rawValue, parameters: [.input(Array("reading".utf8)), .valueOutput])
        #expect(size.value(1)?.a == UInt32(data.count))
        try await session.close()
    }

    @Test(arguments: TransportKind.allCases)
    func badCallsGetSpecificGPErrors(_ kind: TransportKind) async throws {
        let world = try World(kind)
        let context = try world.context()
        defer { context.close() }

        let unknown = TrustletUUID("00000000-0000-0000-0000-000000000bad")!
        var error = await #expect(throws: TEEError.self) { try await context.openSession(uuid: unknown) }
        #expect(error?.code == .itemNotFound)
        #expect(error?.origin == .tee)

        let session = try await context.openSession(uuid: BuiltInTrustlets.Storage.uuid)
        // Wrong parameter types for the command.
        error = await #expect(throws: TEEError.self) { try await session.invoke(command: StorageCommand.put.rawValue, parameters: [.valueInput(1), .input([])]) }
        #expect(error?.code == .badParameters)
        #expect(error?.message.contains("parameter 0") == true)
        // No such command.
        error = await #expect(throws: TEEError.self) { try await session.invoke(command: 999) }
        #expect(error?.code == .notSupported)
        // Not found.
        error = await #expect(throws: TEEError.self) { _ = try await session.get("missing") }
        #expect(error?.code == .itemNotFound)
        // Object ID too long.
        error = await #expect(throws: TEEError.self) { try await session.put(String(repeating: "x", count: 65), [1]) }
        #expect(error?.code == .badParameters)
        // A session that is not open on this connection.
        try await session.close()
        error = await #expect(throws: TEEError.self) { try await session.invoke(command: StorageCommand.list.rawValue, parameters: [.output(capacity: 10)]) }
        #expect(error?.code == .badParameters)
        #expect(error?.message.contains("no session") == true)
        error = await #expect(throws: TEEError.self) { try await session.close() }
        #expect(error?.code == .badParameters)
    }

    @Test(arguments: TransportKind.allCases)
    func sessionsAreLimitedPerConnection(_ kind: TransportKind) async throws {
        let world = try World(kind, limits: .init(maxSessionsPerConnection: 3))
        let context = try world.context()
        defer { context.close() }
        var sessions: [TEESession] = []
        for _ in 0..<3 { sessions.append(try await context.openSession(uuid: BuiltInTrustlets.Storage.uuid)) }
        let error = await #expect(throws: TEEError.self) { try await context.openSession(uuid: BuiltInTrustlets.Storage.uuid) }
        #expect(error?.code == .busy)
        try await sessions[0].close()
        _ = try await context.openSession(uuid: BuiltInTrustlets.Storage.uuid)
    }

    @Test func sessionsAreLimitedPerUserAcrossConnections() async throws {
        let world = try World(.inProcess, limits: .init(maxSessionsPerConnection: 2, maxSessionsPerUser: 3))
        let peer = PeerIdentity(uid: 1000, gid: 1000, application: nil)
        let first = try TEEContext.inProcess(world.runtime, peer: peer)
        let second = try TEEContext.inProcess(world.runtime, peer: peer)
        for _ in 0..<2 { _ = try await first.openSession(uuid: BuiltInTrustlets.Storage.uuid) }
        _ = try await second.openSession(uuid: BuiltInTrustlets.Storage.uuid)
        let error = await #expect(throws: TEEError.self) { try await second.openSession(uuid: BuiltInTrustlets.Storage.uuid) }
        #expect(error?.code == .busy)
        #expect(error?.message.contains("this user") == true)
        // Another user is not held back by this one.
        let other = try TEEContext.inProcess(world.runtime, peer: PeerIdentity(uid: 1001, gid: 1001, application: nil))
        _ = try await other.openSession(uuid: BuiltInTrustlets.Storage.uuid)
    }

    @Test(arguments: TransportKind.allCases)
    func keystoreKeysSignButNeverLeave(_ kind: TransportKind) async throws {
        let world = try World(kind)
        let context = try world.context()
        defer { context.close() }
        let keystore = try await context.openSession(uuid: BuiltInTrustlets.Keystore.uuid)
        let alias = Array("device-signing".utf8)
        let generated = try await keystore.invoke(command: KeystoreCommand.generate.rawValue,
                                                  parameters: [.input(alias), .valueInput(1), .output(capacity: 65)])
        let publicKey = try P256.Signing.PublicKey(x963Representation: generated.bytes(2) ?? [])

        let message = Array("systolic=121".utf8)
        let signed = try await keystore.invoke(command: KeystoreCommand.sign.rawValue, parameters: [.input(alias), .input(message), .output(capacity: 64)])
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: signed.bytes(2) ?? [])
        #expect(publicKey.isValidSignature(signature, for: message))

        let fetched = try await keystore.invoke(command: KeystoreCommand.publicKey.rawValue, parameters: [.input(alias), .output(capacity: 65), .valueOutput])
        #expect(fetched.bytes(1) == Array(publicKey.x963Representation))
        #expect(fetched.value(2)?.a == 1)

        // The alias is taken; HPKE keys do not sign; deleted keys are gone.
        var error = await #expect(throws: TEEError.self) {
            try await keystore.invoke(command: KeystoreCommand.generate.rawValue, parameters: [.input(alias), .valueInput(1), .output(capacity: 65)])
        }
        #expect(error?.code == .accessConflict)
        try await keystore.invoke(command: KeystoreCommand.generate.rawValue, parameters: [.input(Array("hpke".utf8)), .valueInput(2), .output(capacity: 65)])
        error = await #expect(throws: TEEError.self) {
            try await keystore.invoke(command: KeystoreCommand.sign.rawValue, parameters: [.input(Array("hpke".utf8)), .input(message), .output(capacity: 64)])
        }
        #expect(error?.code == .accessDenied)
        error = await #expect(throws: TEEError.self) {
            try await keystore.invoke(command: KeystoreCommand.generate.rawValue, parameters: [.input(Array("x".utf8)), .valueInput(9), .output(capacity: 65)])
        }
        #expect(error?.code == .badParameters)
        let listed = try await keystore.invoke(command: KeystoreCommand.list.rawValue, parameters: [.output(capacity: 256)])
        #expect(BuiltInTrustlets.decodeList(listed.bytes(0) ?? [])?.count == 2)
        try await keystore.invoke(command: KeystoreCommand.delete.rawValue, parameters: [.input(alias)])
        error = await #expect(throws: TEEError.self) {
            try await keystore.invoke(command: KeystoreCommand.sign.rawValue, parameters: [.input(alias), .input(message), .output(capacity: 64)])
        }
        #expect(error?.code == .itemNotFound)
    }

    @Test func eachUserHasItsOwnNamespace() async throws {
        let world = try World(.inProcess)
        let alice = try TEEContext.inProcess(world.runtime, peer: PeerIdentity(uid: 1000, gid: 1000, application: "/usr/bin/phr"))
        let bob = try TEEContext.inProcess(world.runtime, peer: PeerIdentity(uid: 1001, gid: 1001, application: "/usr/bin/phr"))
        let a = try await alice.openSession(uuid: BuiltInTrustlets.Storage.uuid)
        let b = try await bob.openSession(uuid: BuiltInTrustlets.Storage.uuid)
        try await a.put("diary", Array("alice".utf8))
        let error = await #expect(throws: TEEError.self) { _ = try await b.get("diary") }
        #expect(error?.code == .itemNotFound)

        // Application login separates apps of the same user.
        let phr = try await alice.openSession(uuid: BuiltInTrustlets.Storage.uuid, login: .application)
        let other = await #expect(throws: TEEError.self) { _ = try await phr.get("diary") }
        #expect(other?.code == .itemNotFound)
    }

    @Test func groupLoginRequiresTheClientsOwnGroup() async throws {
        let world = try World(.inProcess)
        let context = try TEEContext.inProcess(world.runtime, peer: PeerIdentity(uid: 1000, gid: 50, application: nil))
        _ = try await context.openSession(uuid: BuiltInTrustlets.Storage.uuid, login: .group, connectionData: 50)
        var error = await #expect(throws: TEEError.self) {
            try await context.openSession(uuid: BuiltInTrustlets.Storage.uuid, login: .group, connectionData: 0)
        }
        #expect(error?.code == .accessDenied)
        error = await #expect(throws: TEEError.self) { try await context.openSession(uuid: BuiltInTrustlets.Storage.uuid, login: .application) }
        #expect(error?.code == .accessDenied)
    }

    @Test func cancellationThatArrivesFirstCancelsTheOperation() async throws {
        let world = try World(.inProcess)
        let transport = try InProcessTransport(endpoint: world.runtime)
        let token = CancellationToken.random()
        transport.cancel(token)
        let reply = try await transport.send(.openSession(uuid: BuiltInTrustlets.Storage.uuid, login: .user, connectionData: 0,
                                                          parameters: Parameters(), cancellationToken: token))
        #expect(reply.code == .cancel)
        // Another token is unaffected.
        let ok = try await transport.send(.openSession(uuid: BuiltInTrustlets.Storage.uuid, login: .user, connectionData: 0,
                                                       parameters: Parameters(), cancellationToken: .random()))
        #expect(ok.code == .success)
    }

    @Test(arguments: TransportKind.allCases)
    func closingTheContextClosesItsSessions(_ kind: TransportKind) async throws {
        // One session per user: the next connection gets one only once the closed one's is gone.
        let world = try World(kind, limits: .init(maxSessionsPerUser: 1))
        let context = try world.context()
        let session = try await context.openSession(uuid: BuiltInTrustlets.Storage.uuid)
        try await session.put("kept", [1, 2, 3])
        let crowded = try world.context()
        let full = await #expect(throws: TEEError.self) { _ = try await crowded.openSession(uuid: BuiltInTrustlets.Storage.uuid) }
        #expect(full?.code == .busy)
        crowded.close()
        context.close()
        let error = await #expect(throws: TEEError.self) { _ = try await session.get("kept") }
        #expect(error?.origin == .comms)
        let closedCode: ReturnCode = kind == .inProcess ? .badState : .communication
        #expect(error?.code == closedCode)
        // The session is closed in the secure world, and the data is still there for a new connection.
        let again = try world.context()
        defer { again.close() }
        let reopened = try await Self.openWhenFree(again)
        #expect(try await reopened.get("kept") == [1, 2, 3])
    }

    @Test(arguments: TransportKind.allCases)
    func tamperingIsReportedToTheClientWithItsDiagnostic(_ kind: TransportKind) async throws {
        let world = try World(kind)
        let context = try world.context()
        defer { context.close() }
        let session = try await context.openSession(uuid: BuiltInTrustlets.Storage.uuid)
        try await session.put("record", Array("secret".utf8))
        for file in world.device.reeFiles() { try FileManager.default.removeItem(atPath: file.path) }
        var error = await #expect(throws: TEEError.self) { _ = try await session.get("record") }
        #expect(error?.code == .corruptObject)
        #expect(error?.message.contains("deleted behind the runtime's back") == true)
        error = await #expect(throws: TEEError.self) {
            try await session.invoke(command: StorageCommand.list.rawValue, parameters: [.output(capacity: 100)])
        }
        #expect(error?.code == .security)
        try await session.invoke(command: StorageCommand.reset.rawValue)
        #expect(try await session.invoke(command: StorageCommand.list.rawValue, parameters: [.output(capacity: 100)]).bytes(0) == [])
    }

    /// A storage session on `context` as soon as the user's one session is free again (the daemon
    /// sees a closed socket on its own time).
    static func openWhenFree(_ context: TEEContext) async throws -> TEESession {
        let deadline = ContinuousClock.now + .seconds(15)
        while true {
            do {
                return try await context.openSession(uuid: BuiltInTrustlets.Storage.uuid)
            } catch {
                guard error.code == .busy, ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }
}
