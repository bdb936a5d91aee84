import Foundation
import Logging
import Synchronization
import TrubiZoneProtocol

#if canImport(Glibc)
import Glibc
#endif

/// The secure world's end of the emulated world switch: a Unix socket (mode 0600) on which each
/// connection is served by its own thread.
///
/// A thread per connection keeps a request to one `recv` and one `send`, with no hop between
/// threads, which is what keeps an invoke close to a raw socket ping-pong. Each connection is
/// bounded: frame size, time to send a frame once begun, idle time, and — in the runtime — sessions.
/// Garbage that cannot be framed closes only its own connection.
public final class WorldSwitchServer: Sendable {
    public struct Configuration: Sendable {
        public var socketPath: String
        /// The largest frame accepted, header included.
        public var maxFrameSize: Int
        /// A connection with no request for this long is closed (its sessions with it).
        public var idleTimeout: Duration
        /// A frame must arrive in full within this time once it has begun.
        public var frameTimeout: Duration

        public init(socketPath: String, maxFrameSize: Int = WorldSwitchCodec.defaultMaxFrameSize,
                    idleTimeout: Duration = .seconds(300), frameTimeout: Duration = .seconds(10)) {
            self.socketPath = socketPath
            self.maxFrameSize = maxFrameSize
            self.idleTimeout = idleTimeout
            self.frameTimeout = frameTimeout
        }
    }

    public enum StartError: Error, CustomStringConvertible {
        case pathTooLong(String)
        case inUse(String)
        case system(String)

        public var description: String {
            switch self {
            case let .pathTooLong(path): "socket path is too long for a Unix socket: \(path)"
            case let .inUse(path): "another trubizoned is already listening on \(path); stop it or choose another --socket"
            case let .system(message): message
            }
        }
    }

    private struct State {
        var listener: Int32 = -1
        var connections: Set<Int32> = []
        var stopping = false
    }

    public let configuration: Configuration
    private let endpoint: any WorldSwitchEndpoint
    private let logger: Logger
    private let state = Mutex(State())
    private let group = DispatchGroup()
    private static let umaskLock = Mutex(())

    public init(endpoint: any WorldSwitchEndpoint, configuration: Configuration,
                logger: Logger = Logger(label: "trubizone.daemon")) {
        self.endpoint = endpoint
        self.configuration = configuration
        self.logger = logger
    }

    /// Binds the socket and starts accepting connections in the background.
    public func start() throws(StartError) {
        let path = configuration.socketPath
        try removeStaleSocket(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket: errno \(errno)") }
        // The socket is created 0600 from the start: no window in which another user could connect.
        // The umask is the process's: two servers starting at once must not interleave it.
        let bound = Self.umaskLock.withLock { _ in
            let oldMask = umask(0o177)
            defer { umask(oldMask) }
            return FrameSocket.withAddress(path) { bind(fd, $0, $1) }
        }
        guard let bound else {
            close(fd)
            throw .pathTooLong(path)
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            let code = errno
            close(fd)
            throw .system("cannot listen on \(path): \(String(cString: strerror(code)))")
        }
        state.withLock { $0.listener = fd }
        group.enter()
        let thread = Thread { [self] in
            acceptLoop(fd)
            group.leave()
        }
        thread.name = "trubizoned.accept"
        thread.start()
        logger.info("listening", metadata: ["socket": "\(path)"])
    }

    /// Stops accepting, lets every request in progress finish and reply, closes every connection,
    /// and returns when all are closed. Acknowledged writes were durable before their reply left.
    /// How many clients are connected now (a connection counts until its thread has let it go).
    public var openConnections: Int { state.withLock { $0.connections.count } }

    public func shutdown() {
        let (listener, connections) = state.withLock { state -> (Int32, Set<Int32>) in
            state.stopping = true
            defer { state.listener = -1 }
            return (state.listener, state.connections)
        }
        if listener >= 0 {
            Glibc.shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
        }
        // Ends the read side only: a connection that is executing a request still sends its reply.
        for fd in connections { Glibc.shutdown(fd, Int32(SHUT_RD)) }
        group.wait()
        unlink(configuration.socketPath)
        logger.info("stopped")
    }

    // MARK: Connections

    private func acceptLoop(_ listener: Int32) {
        while true {
            let fd = accept(listener, nil, nil)
            if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE {
                    logger.warning("out of file descriptors; pausing accept")
                    usleep(50_000)
                    continue
                }
                return
            }
            let accepted = state.withLock { state -> Bool in
                guard !state.stopping else { return false }
                state.connections.insert(fd)
                return true
            }
            guard accepted else {
                close(fd)
                return
            }
            group.enter()
            let thread = Thread { [self] in
                serve(fd)
                state.withLock { _ = $0.connections.remove(fd) }
                close(fd)
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.name = "trubizoned.connection"
            thread.start()
        }
    }

    private func serve(_ fd: Int32) {
        let socket = FrameSocket(fd: fd)
        let peer = Self.peerIdentity(fd)
        let connection: ConnectionID
        do throws(WorldSwitchRefusal) {
            connection = try endpoint.connect(peer: peer)
        } catch {
            try? socket.write(WorldSwitchCodec.encode(.failure(error.code, .comms, error.message), requestID: 0))
            return
        }
        defer { endpoint.disconnect(connection) }
        // A client that hangs up while its call runs is gone: its calls are stopped, not finished.
        // A stopping daemon shuts the read side of every connection itself, which looks the same
        // to the watch: then the calls in progress finish and reply, as `shutdown` promises.
        let watch = HangupWatch(fd: fd) { [self] in
            if !state.withLock({ $0.stopping }) { endpoint.abandon(connection) }
        }
        defer { watch.stop() }
        let idle = Int32(clamping: configuration.idleTimeout.components.seconds * 1000)
        let frameTimeout = Int32(clamping: configuration.frameTimeout.components.seconds * 1000)

        while true {
            let header: WorldSwitchCodec.Header
            let body: [UInt8]
            do throws(FrameSocket.Failure) {
                (header, body) = try socket.readFrame(maxFrameSize: configuration.maxFrameSize,
                                                      idleTimeout: idle, frameTimeout: frameTimeout)
            } catch {
                switch error {
                case .closed: break
                case .timedOut:
                    logger.debug("closing connection", metadata: ["connection": "\(connection)", "reason": "timed out"])
                case let .frame(frameError):
                    // The stream is out of step: say why once, then close.
                    logger.notice("closing connection: unframeable input", metadata: ["connection": "\(connection)", "error": "\(frameError)"])
                    try? socket.write(WorldSwitchCodec.encode(
                        .failure(frameError.returnCode, .comms, frameError.description), requestID: 0))
                default:
                    logger.debug("closing connection", metadata: ["connection": "\(connection)", "reason": "\(error)"])
                }
                return
            }
            let reply: Reply
            do throws(FrameError) {
                let request = try WorldSwitchCodec.decodeRequest(kind: header.kind, body: body)
                reply = endpoint.handle(request, on: connection)
            } catch {
                logger.debug("malformed request", metadata: ["connection": "\(connection)", "error": "\(error)"])
                reply = .failure(error.returnCode, .comms, "malformed request: \(error)")
            }
            do throws(FrameSocket.Failure) {
                try socket.write(WorldSwitchCodec.encode(reply, requestID: header.requestID))
            } catch {
                return
            }
        }
    }

    /// The peer's user, group and executable from the kernel (`SO_PEERCRED`), not from the client.
    static func peerIdentity(_ fd: Int32) -> PeerIdentity {
        // `struct ucred` (pid, uid, gid), which Glibc only exports under _GNU_SOURCE.
        struct PeerCredentials { var pid: Int32 = 0; var uid: UInt32 = 0; var gid: UInt32 = 0 }
        var credentials = PeerCredentials()
        var length = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else {
            return PeerIdentity(uid: UInt32.max, gid: UInt32.max, application: nil)
        }
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/\(credentials.pid)/exe", &buffer, buffer.count - 1)
        let exe = n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
        return PeerIdentity(uid: credentials.uid, gid: credentials.gid, application: exe)
    }

    /// Removes a socket file left by a daemon that died; refuses if a daemon is listening on it.
    private func removeStaleSocket(_ path: String) throws(StartError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw .system("\(path) exists and is not a socket; refusing to replace it")
        }
        if let probe = try? FrameSocket.connect(path: path) {
            probe.close()
            throw .inUse(path)
        }
        unlink(path)
    }
}

/// Watches a connection for its client hanging up, while the connection's thread is busy running
/// a call and does not read: `poll` for `POLLRDHUP`, which sees the peer close without taking any
/// of the bytes the connection's thread will read.
final class HangupWatch: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let fd: Int32
    private let onHangup: @Sendable () -> Void
    /// Linux's `POLLRDHUP` (Glibc exports it only under `_GNU_SOURCE`).
    static let peerClosed: Int16 = 0x2000

    init(fd: Int32, onHangup: @escaping @Sendable () -> Void) {
        (self.fd, self.onHangup) = (fd, onHangup)
        let thread = Thread { [self] in watch() }
        thread.stackSize = 64 << 10
        thread.name = "trubizoned.hangup-watch"
        thread.start()
    }

    private func watch() {
        var entry = pollfd(fd: fd, events: Self.peerClosed, revents: 0)
        while !stopped.load(ordering: .acquiring) {
            entry.revents = 0
            let ready = poll(&entry, 1, 250)
            if stopped.load(ordering: .acquiring) { return }
            if ready > 0 && entry.revents & (Self.peerClosed | Int16(POLLHUP) | Int16(POLLERR) | Int16(POLLNVAL)) != 0 {
                onHangup()
                return
            }
            if ready < 0 && errno != EINTR { return }
        }
    }

    func stop() { stopped.store(true, ordering: .releasing) }
}
