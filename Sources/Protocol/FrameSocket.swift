#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Blocking frame I/O on a connected stream socket, for both ends of the world switch.
public struct FrameSocket: Sendable {
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
        var headerBytes = [UInt8](repeating: 0, count: WorldSwitchCodec.headerSize)
        try readExactly(&headerBytes, firstTimeout: idleTimeout, restTimeout: frameTimeout, atBoundary: true)
        let header: WorldSwitchCodec.Header
        do throws(FrameError) {
            header = try WorldSwitchCodec.parseHeader(headerBytes, maxFrameSize: maxFrameSize)
        } catch {
            throw .frame(error)
        }
        var body = [UInt8](repeating: 0, count: header.bodyLength)
        if header.bodyLength > 0 {
            try readExactly(&body, firstTimeout: frameTimeout, restTimeout: frameTimeout, atBoundary: false)
        }
        return (header, body)
    }

    private func readExactly(_ buffer: inout [UInt8], firstTimeout: Int32, restTimeout: Int32, atBoundary: Bool) throws(Failure) {
        var done = 0
        while done < buffer.count {
            let timeout = done == 0 ? firstTimeout : restTimeout
            if timeout >= 0 {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&poller, 1, timeout)
                if ready < 0 {
                    if errno == EINTR { continue }
                    throw .io(operation: "poll", errno: errno)
                }
                if ready == 0 { throw .timedOut }
            }
            let count = buffer.count
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + done, count - done, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { throw (atBoundary && done == 0) ? .closed : .closedMidFrame }
                throw .io(operation: "recv", errno: errno)
            }
            if n == 0 { throw (atBoundary && done == 0) ? .closed : .closedMidFrame }
            done += n
        }
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

    public func close() { _ = Glibc.close(fd) }
}
