import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Blocking frame I/O on a connected stream socket, for both ends of the world switch.
///
/// Reads are buffered, so a frame that arrives whole costs one `recv`, as in a raw ping-pong; the
/// idle and frame timeouts are the socket's receive timeout (`SO_RCVTIMEO`), changed only when a
/// frame arrives in pieces, so waiting costs no extra system call either. One thread at a time may
/// read; any thread may write.
public final class FrameSocket: @unchecked Sendable {
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// The peer closed the connection between frames.
        case closed
        /// The peer closed the connection inside a frame.
        case closedMidFrame
        /// No complete frame arrived in time.
        case timedOut
        case io(operation: String, errno: Int32)
        case frame(FrameError)

        public var description: String {
            switch self {
            case .closed: "the connection was closed"
            case .closedMidFrame: "the connection was closed in the middle of a frame"
            case .timedOut: "timed out waiting for a frame"
            case let .io(operation, code): "\(operation) failed: \(String(cString: strerror(code)))"
            case let .frame(error): error.description
            }
        }
    }

    public let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    private var start = 0
    private var end = 0
    /// The receive timeout now set on the socket, in milliseconds (-1: none; -2: not yet set).
    private var receiveTimeout: Int32 = -2

    public init(fd: Int32) { self.fd = fd }

    public func write(_ bytes: [UInt8]) throws(Failure) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "send", errno: errno)
            }
            done += n
        }
    }

    /// Reads one frame.
    /// - Parameters:
    ///   - maxFrameSize: frames announcing more are refused before their body is read.
    ///   - idleTimeout: milliseconds to wait for a frame to begin (`-1`: forever).
    ///   - frameTimeout: milliseconds a begun frame may take to arrive in full, so a peer cannot hold
    ///     a reader with a half-sent frame.
    public func readFrame(maxFrameSize: Int, idleTimeout: Int32 = -1, frameTimeout: Int32 = 10_000)
        throws(Failure) -> (header: WorldSwitchCodec.Header, body: [UInt8]) {
        try fill(WorldSwitchCodec.headerSize, idleTimeout: idleTimeout, frameTimeout: frameTimeout)
        let header: WorldSwitchCodec.Header
        do throws(FrameError) {
            header = try WorldSwitchCodec.parseHeader(Array(buffer[start..<start + WorldSwitchCodec.headerSize]), maxFrameSize: maxFrameSize)
        } catch {
            throw .frame(error)
        }
        let total = WorldSwitchCodec.headerSize + header.bodyLength
        try fill(total, idleTimeout: frameTimeout, frameTimeout: frameTimeout)
        let body = Array(buffer[start + WorldSwitchCodec.headerSize..<start + total])
        start += total
        if start == end { start = 0; end = 0 }
        return (header, body)
    }

    /// Makes at least `count` bytes available from `start`.
    private func fill(_ count: Int, idleTimeout: Int32, frameTimeout: Int32) throws(Failure) {
        if end - start >= count { return }
        if start > 0 {
            // Move the partial frame to the front so it can grow in place.
            buffer.withUnsafeMutableBytes { raw in
                _ = memmove(raw.baseAddress!, raw.baseAddress! + start, end - start)
            }
            end -= start
            start = 0
        }
        if buffer.count < count { buffer += [UInt8](repeating: 0, count: count - buffer.count) }
        let atBoundary = end == 0
        while end < count {
            try setReceiveTimeout(end == 0 ? idleTimeout : frameTimeout)
            let capacity = buffer.count
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + end, capacity - end, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw .timedOut }
                if errno == ECONNRESET { throw (atBoundary && end == 0) ? .closed : .closedMidFrame }
                throw .io(operation: "recv", errno: errno)
            }
            if n == 0 { throw (atBoundary && end == 0) ? .closed : .closedMidFrame }
            end += n
        }
    }

    private func setReceiveTimeout(_ milliseconds: Int32) throws(Failure) {
        guard milliseconds != receiveTimeout else { return }
        var value = timeval(tv_sec: milliseconds < 0 ? 0 : Int(milliseconds / 1000),
                            tv_usec: milliseconds < 0 ? 0 : Int(milliseconds % 1000) * 1000)
        guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            throw .io(operation: "setsockopt", errno: errno)
        }
        receiveTimeout = milliseconds
    }

    /// Makes a `sockaddr_un` for `path`, or `nil` if the path is too long for one.
    public static func withAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// Connects to a Unix socket.
    public static func connect(path: String) throws(Failure) -> FrameSocket {
        #if canImport(Glibc)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw .io(operation: "socket", errno: errno) }
        let result = withAddress(path) { Glibc.connect(fd, $0, $1) }
        guard let result else {
            _ = Glibc.close(fd)
            throw .io(operation: "connect", errno: ENAMETOOLONG)
        }
        if result != 0 {
            let code = errno
            _ = Glibc.close(fd)
            throw .io(operation: "connect", errno: code)
        }
        return FrameSocket(fd: fd)
    }

    private let closed = Atomic<Bool>(false)

    /// Closes the socket, once: a second call does nothing (closing the descriptor number again
    /// would close whatever the process opened under that number since).
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        _ = Glibc.close(fd)
    }
}
