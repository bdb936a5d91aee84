/// The secure world as the normal world reaches it: something that takes a request from a
/// connection and answers it.
///
/// The in-process transport calls it directly; the daemon calls it for each frame it reads from a
/// socket. Both paths get the same behaviour because both end here.
public protocol WorldSwitchEndpoint: Sendable {
    /// Registers a new normal-world connection and returns its handle. Sessions belong to their
    /// connection and close with it.
    func connect(peer: PeerIdentity) throws(WorldSwitchRefusal) -> ConnectionID

    /// Answers one request. It never throws: every failure is a GP return code in the reply.
    func handle(_ request: Request, on connection: ConnectionID) -> Reply

    /// Stops the calls in progress on a connection whose client is gone, before the connection
    /// is closed: the transport saw the client hang up while a call ran.
    func abandon(_ connection: ConnectionID)

    /// Closes every session of the connection.
    func disconnect(_ connection: ConnectionID)
}

/// A normal-world connection's handle inside the secure world.
public struct ConnectionID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { "conn-\(rawValue)" }
}

/// Who is on the other end of a connection, as the secure world's side of the transport
/// established it (from socket peer credentials, or given by the process for in-process use).
public struct PeerIdentity: Hashable, Sendable {
    public var uid: UInt32
    public var gid: UInt32
    /// The client's executable, for `LoginMethod.application`; `nil` when unknown.
    public var application: String?

    public init(uid: UInt32, gid: UInt32, application: String?) {
        self.uid = uid
        self.gid = gid
        self.application = application
    }
}

/// Why the secure world would not take a new connection.
public struct WorldSwitchRefusal: Error, Sendable {
    public let code: ReturnCode
    public let message: String
    public init(code: ReturnCode, message: String) {
        self.code = code
        self.message = message
    }
}
