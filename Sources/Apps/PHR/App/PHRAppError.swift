import Foundation
import TrubiZoneClient
import TrubiZoneProtocol

/// Why a PHR app operation did not complete, in words that say what to do next. No case carries
/// a record, a PIN, a code or a key: these messages are printed and logged.
public enum PHRAppError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The trustlet refused (a GP code), with what it means for this command.
    case refused(ReturnCode, String)
    /// The secure world cannot be reached (no daemon on the socket, or the connection broke).
    case secureWorldUnreachable(String)
    /// The provider server cannot be reached.
    case serverUnreachable(String, String)
    /// The server answered with an error (`{"error", "message"}`).
    case server(status: Int, error: String, message: String)
    /// An answer that is not what the protocol says.
    case badAnswer(String)

    init(_ error: TEEError, command: PHRTrustlet.Command) {
        if error.code == .communication || error.code == .targetDead && error.origin == .comms {
            self = .secureWorldUnreachable(error.message)
            return
        }
        self = .refused(error.code, Self.meaning(error.code, command: command))
    }

    /// What a GP code from the PHR trustlet means for the user.
    public static func meaning(_ code: ReturnCode, command: PHRTrustlet.Command) -> String {
        switch code {
        case .accessDenied: "wrong PIN"
        case .security where command == .unlock || command == .setPIN: "the PIN is locked after too many wrong attempts; `phr reset` erases the record"
        case .security: "a message failed its check in the trustlet (tampered, replayed or for another device), or the PIN is locked"
        case .macInvalid: "a message did not authenticate in the trustlet as the server's (forged or altered on the way); nothing was kept"
        case .busy: "too many wrong PINs: wait a few seconds before the next attempt (`phr status` says how long)"
        case .cancel: "cancelled on the trusted UI"
        case .badState where command == .setPIN: "a PIN is already set"
        case .badState where command == .share:
            "the server's clock was not asked for first, arrived over 2 minutes late, or the prompt stayed open over 9 minutes: share again"
        case .badState: "not ready: set a PIN and enroll first (`phr enroll`), and sync before adding readings"
        case .itemNotFound: "no such record (see `phr list`)"
        case .badParameters: "the trustlet refused the parameters"
        case .badFormat: "the input was not in the expected form"
        case .notSupported: "the trusted UI is not available: start trubizoned with --trusted-ui tty"
        case .corruptObject: "the sealed records are damaged; `phr reset` and sync again"
        case .targetDead: "the PHR trustlet stopped (out of memory or time)"
        default: "the trustlet refused"
        }
    }

    public var description: String {
        switch self {
        case let .refused(code, meaning): "\(meaning) (\(code.name))"
        case let .secureWorldUnreachable(why): "cannot reach the secure world (\(why)); is trubizoned running? (--socket, TRUBIZONE_SOCKET)"
        case let .serverUnreachable(url, why): "cannot reach the PHR server at \(url): \(why); is `phr-server serve` running there? (--server, PHR_SERVER)"
        case let .server(status, error, message): "the server refused (\(status) \(error)): \(message)"
        case let .badAnswer(why): "unexpected answer: \(why)"
        }
    }

    /// The process exit status for this error: 69 unreachable, 1 refused.
    public var exitCode: Int32 {
        switch self {
        case .secureWorldUnreachable, .serverUnreachable: 69
        default: 1
        }
    }
}

/// A request the trustlet built and signed: the method, target and headers from its head, and
/// the body. The normal world sends it as it is; changing a byte breaks the signature.
public struct SignedHTTPRequest: Sendable {
    public let method: String
    public let target: String
    public let headers: [(String, String)]
    public let body: [UInt8]

    init(head: [UInt8], body: [UInt8]) throws(PHRAppError) {
        let lines = String(decoding: head, as: UTF8.self).split(separator: "\n").map(String.init)
        guard let first = lines.first, let space = first.firstIndex(of: " ") else { throw .badAnswer("the trustlet's request has no request line") }
        method = String(first[..<space])
        target = String(first[first.index(after: space)...])
        var headers: [(String, String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw .badAnswer("the trustlet's request has a malformed header") }
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
        }
        self.headers = headers
        self.body = body
    }
}
