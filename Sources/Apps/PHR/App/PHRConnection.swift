import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import PHRProtocol
import Synchronization

/// The app's HTTP connection to the provider server. It carries what the trustlet built: the
/// normal world adds nothing to a request and reads nothing of a sealed answer.
///
/// Every byte that crosses it can be kept in a `WireLog`, which is what an attacker on the phone
/// or the network sees; the demo searches it for health data.
public final class PHRConnection: Sendable {
    public let baseURL: String
    public let wire: WireLog?
    private let client: HTTPClient

    /// - Parameters:
    ///   - baseURL: the server, e.g. `http://127.0.0.1:8080`.
    ///   - wire: where to keep a copy of every request and answer, if anywhere.
    public init(baseURL: String, wire: WireLog? = nil) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.wire = wire
        client = Self.client
    }

    /// How long a connection may take before the server counts as unreachable.
    public static let connectTimeout: TimeAmount = .seconds(5)
    /// How long an answer may take once connected.
    public static let answerTimeout: TimeAmount = .seconds(60)

    /// The process's one client. A refused connection fails at once and a silent address after
    /// `connectTimeout` (the shared client retries for a minute); redirects are not followed, so a
    /// signed request goes to the server named and nowhere else. It is never shut down, like
    /// `HTTPClient.shared`, so no path can leave one running.
    private static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: connectTimeout, read: answerTimeout)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// Why a request reached no answer, in words a user can act on.
    static func reason(_ error: any Error) -> String {
        switch error {
        case let error as HTTPClientError:
            switch error {
            case .connectTimeout: return "no connection within \(connectTimeout.nanoseconds / 1_000_000_000) s; is the address right and the server up?"
            case .readTimeout, .deadlineExceeded: return "connected, but no answer within \(answerTimeout.nanoseconds / 1_000_000_000) s"
            case .remoteConnectionClosed: return "the server closed the connection without answering"
            case .invalidURL, .emptyHost, .emptyScheme: return "the URL is not a server address"
            case .tlsHandshakeTimeout: return "the TLS handshake did not finish; if the server speaks plain HTTP, use an http:// URL"
            default: return "\(error)"
            }
        case let error as NIOSSLError:
            let said = "\(error)"
            if said.contains("CERTIFICATE_VERIFY_FAILED") { return "the server's TLS certificate is not one this machine trusts" }
            if said.contains("WRONG_VERSION_NUMBER") || said.contains("PACKET_LENGTH_TOO_LONG") {
                return "the server does not speak TLS; if it serves plain HTTP, use an http:// URL"
            }
            return "the TLS handshake failed"

        case let error as NIOConnectionError:
            if error.dnsAError != nil && error.dnsAAAAError != nil { return "the host name \(error.host) does not resolve" }
            return error.connectionErrors.first.map { reason($0.error) } ?? "no address of \(error.host) took the connection"
        case let error as IOError where error.errnoCode == ECONNREFUSED:
            return "nothing listens there (connection refused)"
        case let error as IOError:
            return "the connection failed (\(String(cString: strerror(error.errnoCode))))"
        default:
            return "\(type(of: error))"
        }
    }

    public struct Answer: Sendable {
        public let status: Int
        public let contentType: String
        public let body: [UInt8]

        /// The server's `{"error", "message"}` as a `PHRAppError`, for a status that is not success.
        public func checked() throws(PHRAppError) -> Answer {
            guard status >= 300 else { return self }
            let error = try? JSONDecoder().decode(ErrorBody.self, from: Data(body))
            throw .server(status: status, error: error?.error ?? "http-\(status)", message: error?.message ?? "no explanation given")
        }
    }

    /// Sends a request the trustlet signed, exactly as it is.
    public func send(_ request: SignedHTTPRequest) async throws(PHRAppError) -> Answer {
        try await send(request.method, request.target, headers: request.headers, body: request.body)
    }

    public func send(_ method: String, _ target: String, headers: [(String, String)] = [], body: [UInt8] = []) async throws(PHRAppError) -> Answer {
        var request = HTTPClientRequest(url: baseURL + target)
        request.method = .init(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if !body.isEmpty { request.body = .bytes(ByteBuffer(bytes: body)) }
        wire?.record(.request, Array("\(method) \(target)\n".utf8) + Array(headers.map { "\($0): \($1)\n" }.joined().utf8) + body)
        do {
            let response = try await client.execute(request, timeout: Self.answerTimeout + Self.connectTimeout)
            var buffer = try await response.body.collect(upTo: 16 << 20)
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            let contentType = response.headers.first(name: "content-type") ?? ""
            // All that a network observer sees: the status line, every header, the body.
            wire?.record(.answer, Array("\(response.status.code)\n".utf8) + Array(response.headers.map { "\($0.name): \($0.value)\n" }.joined().utf8) + bytes)
            return Answer(status: Int(response.status.code), contentType: contentType, body: bytes)
        } catch {
            throw .serverUnreachable(baseURL, Self.reason(error))
        }
    }
}

/// A copy of every message between the app and the server, in order.
public final class WireLog: Sendable {
    public enum Direction: String, Sendable { case request, answer }

    private let messages = Mutex<[(Direction, [UInt8])]>([])

    public init() {}

    func record(_ direction: Direction, _ bytes: [UInt8]) { messages.withLock { $0.append((direction, bytes)) } }

    public var count: Int { messages.withLock { $0.count } }
    public var bytes: Int { messages.withLock { $0.reduce(0) { $0 + $1.1.count } } }
    public var all: [(direction: Direction, bytes: [UInt8])] { messages.withLock { $0.map { ($0.0, $0.1) } } }
}
