/// The calls that cross the world switch, as GlobalPlatform names them.
public enum Request: Equatable, Sendable {
    /// `TEEC_OpenSession`. `cancellationToken` is chosen by the client (all zero: not cancellable)
    /// so that a later `requestCancellation` can name this operation from any connection.
    case openSession(uuid: TrustletUUID, login: LoginMethod, connectionData: UInt32,
                     parameters: Parameters, cancellationToken: CancellationToken)
    /// `TEEC_InvokeCommand`.
    case invokeCommand(session: UInt32, command: UInt32, parameters: Parameters,
                       cancellationToken: CancellationToken)
    /// `TEEC_CloseSession`.
    case closeSession(session: UInt32)
    /// `TEEC_RequestCancellation`: a hint; the operation it names may already have finished.
    case requestCancellation(token: CancellationToken)

    var kind: MessageKind {
        switch self {
        case .openSession: .openSession
        case .invokeCommand: .invokeCommand
        case .closeSession: .closeSession
        case .requestCancellation: .requestCancellation
        }
    }
}

/// The secure world's answer to one request.
public struct Reply: Equatable, Sendable {
    public var code: ReturnCode
    public var origin: ReturnOrigin
    /// The new session's identifier, for a successful `openSession`; zero otherwise.
    public var session: UInt32
    public var parameters: [ReplyParameter]
    /// A short human-readable diagnostic. It never holds a secret or stored content.
    public var message: String

    public init(code: ReturnCode, origin: ReturnOrigin, session: UInt32 = 0,
                parameters: [ReplyParameter] = [], message: String = "") {
        self.code = code
        self.origin = origin
        self.session = session
        self.parameters = parameters
        self.message = message
    }

    public static func failure(_ code: ReturnCode, _ origin: ReturnOrigin, _ message: String) -> Reply {
        Reply(code: code, origin: origin, message: message)
    }
}

/// A 16-byte random value that names one operation for cancellation.
public struct CancellationToken: Hashable, Sendable {
    public let bytes: [UInt8]
    public static let none = CancellationToken(unchecked: Array(repeating: 0, count: 16))

    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    /// A fresh token from the system's random source.
    public static func random() -> CancellationToken {
        var generator = SystemRandomNumberGenerator()
        return CancellationToken(unchecked: (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    public var isNone: Bool { bytes.allSatisfy { $0 == 0 } }
}

enum MessageKind: UInt8 {
    case openSession = 1
    case invokeCommand = 2
    case closeSession = 3
    case requestCancellation = 4
    case reply = 0x80
}
