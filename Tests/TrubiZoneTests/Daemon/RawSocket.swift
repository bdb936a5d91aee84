import Foundation
import TrubiZoneProtocol

/// A hostile client's view of the daemon: raw bytes on the socket.
struct RawSocket {
    let socket: FrameSocket

    init(_ path: String) throws { socket = try FrameSocket.connect(path: path) }

    func send(_ bytes: [UInt8]) { try? socket.write(bytes) }

    /// Stops sending, so the daemon sees the end of the stream.
    func finishSending() { shutdown(socket.fd, Int32(SHUT_WR)) }

    /// The next reply, or `nil` if the daemon closed the connection or said nothing in time.
    func reply(timeoutMilliseconds: Int32 = 2_000) -> (requestID: UInt32, reply: Reply)? {
        guard let (header, body) = try? socket.readFrame(maxFrameSize: 1 << 22, idleTimeout: timeoutMilliseconds, frameTimeout: timeoutMilliseconds),
              let reply = try? WorldSwitchCodec.decodeReply(kind: header.kind, body: body) else { return nil }
        return (header.requestID, reply)
    }

    /// Whether the daemon has closed this connection (reads end of stream within the timeout).
    func isClosedByPeer(timeoutMilliseconds: Int32) -> Bool {
        var poller = pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, timeoutMilliseconds) == 1 else { return false }
        var byte: UInt8 = 0
        let n = recv(socket.fd, &byte, 1, Int32(MSG_PEEK))
        return n == 0 || (n < 0 && errno == ECONNRESET)
    }

    func close() { socket.close() }
}
