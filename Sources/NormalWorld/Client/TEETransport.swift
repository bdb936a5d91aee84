import TrubiZoneProtocol

/// How a context reaches the secure world. Both transports deliver the same requests to the same
/// runtime entry point, so a client behaves the same over either.
public protocol TEETransport: Sendable {
    /// Sends one request and waits for its reply.
    func send(_ request: Request) async throws(TEEError) -> Reply
    /// Asks the secure world to cancel the operation carrying `token` (a hint; it may have finished).
    func cancel(_ token: CancellationToken)
    /// Closes the connection; the secure world closes its sessions.
    func close()
}

/// The runtime in this process: a direct call, for tests and one-process apps.
public final class InProcessTransport: TEETransport {
    private let endpoint: any WorldSwitchEndpoint
    private let connection: ConnectionID

    /// - Parameters:
    ///   - endpoint: the secure-world runtime.
    ///   - peer: the identity this process presents; by default its real user, group and executable.
    public init(endpoint: any WorldSwitchEndpoint, peer: PeerIdentity = .currentProcess) throws(TEEError) {
        self.endpoint = endpoint
        do throws(WorldSwitchRefusal) {
            connection = try endpoint.connect(peer: peer)
        } catch {
            throw TEEError(code: error.code, origin: .comms, message: error.message)
        }
    }

    public func send(_ request: Request) async throws(TEEError) -> Reply {
        endpoint.handle(request, on: connection)
    }

    public func cancel(_ token: CancellationToken) {
        _ = endpoint.handle(.requestCancellation(token: token), on: connection)
    }

    public func close() {
        endpoint.abandon(connection)
        endpoint.disconnect(connection)
    }
}

extension PeerIdentity {
    /// This process's user, group and executable.
    public static var currentProcess: PeerIdentity {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
        return PeerIdentity(uid: UInt32(getuid()), gid: UInt32(getgid()), application: exe)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
