import Synchronization
import TrubiZoneProtocol

/// A connection to the secure world (`TEEC_Context`).
///
///     let context = try TEEContext.socket(path: "/run/trubizone.sock")
///     let session = try await context.openSession(uuid: BuiltInTrustlets.Storage.uuid)
///     try await session.invoke(command: 0, parameters: [.input(Array("note".utf8)), .input(bytes)])
public final class TEEContext: Sendable {
    public let transport: any TEETransport
    private let tokens: TokenSource

    public init(transport: any TEETransport) {
        self.transport = transport
        self.tokens = TokenSource()
    }

    /// Connects to `trubizoned` over its Unix socket.
    public static func socket(path: String) throws(TEEError) -> TEEContext {
        TEEContext(transport: try SocketTransport(path: path))
    }

    /// Uses a secure-world runtime in this process.
    public static func inProcess(_ endpoint: any WorldSwitchEndpoint, peer: PeerIdentity = .currentProcess) throws(TEEError) -> TEEContext {
        TEEContext(transport: try InProcessTransport(endpoint: endpoint, peer: peer))
    }

    /// Opens a session with a trustlet (`TEEC_OpenSession`).
    /// - Parameters:
    ///   - uuid: the trustlet.
    ///   - login: how the secure world should identify this client; it derives the identity
    ///     itself from the connection, so a client cannot claim to be another.
    ///   - connectionData: the group ID, for the group login methods.
    ///   - parameters: up to four parameters for the trustlet's open-session entry point.
    public func openSession(uuid: TrustletUUID, login: LoginMethod = .user, connectionData: UInt32 = 0,
                            parameters: [TEEParameter] = []) async throws(TEEError) -> TEESession {
        let wire = try Self.wire(parameters)
        let token = tokens.next()
        let reply = try await cancellable(token) { () async throws(TEEError) -> Reply in
            try await transport.send(.openSession(uuid: uuid, login: login, connectionData: connectionData,
                                                  parameters: wire, cancellationToken: token))
        }
        try Self.check(reply, parameters)
        return TEESession(context: self, id: reply.session)
    }

    /// Closes the connection and, with it, every session on it (`TEEC_FinalizeContext`).
    public func close() { transport.close() }

    func invoke(session: UInt32, command: UInt32, parameters: [TEEParameter]) async throws(TEEError) -> TEEResult {
        let wire = try Self.wire(parameters)
        let token = tokens.next()
        let reply = try await cancellable(token) { () async throws(TEEError) -> Reply in
            try await transport.send(.invokeCommand(session: session, command: command, parameters: wire, cancellationToken: token))
        }
        try Self.check(reply, parameters)
        return TEEResult(parameters: reply.parameters)
    }

    func closeSession(_ session: UInt32) async throws(TEEError) {
        let reply = try await transport.send(.closeSession(session: session))
        try Self.check(reply, [])
    }

    /// Maps Swift task cancellation onto GP `TEEC_RequestCancellation`.
    private func cancellable(_ token: CancellationToken, _ body: () async throws(TEEError) -> Reply) async throws(TEEError) -> Reply {
        let result: Result<Reply, TEEError> = await withTaskCancellationHandler {
            do throws(TEEError) { return .success(try await body()) } catch { return .failure(error) }
        } onCancel: {
            transport.cancel(token)
        }
        return try result.get()
    }

    private static func wire(_ parameters: [TEEParameter]) throws(TEEError) -> Parameters {
        guard parameters.count <= Parameters.count else {
            throw TEEError(code: .badParameters, origin: .api, message: "an operation takes at most four parameters")
        }
        var slots: [Parameter] = []
        for parameter in parameters { slots.append(try parameter.wire()) }
        return Parameters(slots)
    }

    /// Writes shared-memory outputs back and turns a failure code into a thrown `TEEError`.
    private static func check(_ reply: Reply, _ parameters: [TEEParameter]) throws(TEEError) {
        for (slot, parameter) in parameters.enumerated() where slot < reply.parameters.count {
            if case let .shared(memory) = parameter { memory.update(reply.parameters[slot]) }
        }
        guard reply.code == .success else {
            throw TEEError(code: reply.code, origin: reply.origin, message: reply.message, parameters: reply.parameters)
        }
    }
}

/// An open session with a trustlet (`TEEC_Session`).
public final class TEESession: Sendable {
    public let id: UInt32
    private let context: TEEContext

    init(context: TEEContext, id: UInt32) {
        self.context = context
        self.id = id
    }

    /// Invokes a command of the trustlet (`TEEC_InvokeCommand`). Cancelling the task asks the secure
    /// world to cancel the operation.
    @discardableResult
    public func invoke(command: UInt32, parameters: [TEEParameter] = []) async throws(TEEError) -> TEEResult {
        try await context.invoke(session: id, command: command, parameters: parameters)
    }

    /// Closes the session (`TEEC_CloseSession`).
    public func close() async throws(TEEError) {
        try await context.closeSession(id)
    }
}

/// Cancellation tokens: a random per-context prefix that other clients cannot guess, and a counter.
final class TokenSource: Sendable {
    private let prefix: [UInt8]
    private let counter = Atomic<UInt64>(0)

    init() {
        var generator = SystemRandomNumberGenerator()
        let random = generator.next() as UInt64
        prefix = (0..<8).map { UInt8((random >> UInt64(8 * $0)) & 0xFF) }
    }

    func next() -> CancellationToken {
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return CancellationToken(bytes: prefix + (0..<8).map { UInt8((n >> UInt64(8 * $0)) & 0xFF) })!
    }
}
