import Synchronization
import TrubiZoneProtocol

#if canImport(Glibc)
import Glibc
#endif

/// The world switch over a Unix socket to `trubizoned`.
///
/// One connection carries one request at a time; concurrent calls on the same context wait their
/// turn. The I/O is blocking and happens on the calling thread — a deliberate choice: it keeps an
/// invoke to two system calls, which is what lets the socket round trip stay near a raw ping-pong.
/// A call into a trustlet that waits on the trusted UI holds its thread for that long.
public final class SocketTransport: TEETransport {
    private let path: String
    private let socket: FrameSocket
    private let maxFrameSize: Int
    private let lock = Mutex<UInt32>(0)

    /// Connects to the daemon.
    /// - Parameters:
    ///   - path: the daemon's socket.
    ///   - maxFrameSize: the largest reply accepted.
    public init(path: String, maxFrameSize: Int = WorldSwitchCodec.defaultMaxFrameSize) throws(TEEError) {
        self.path = path
        self.maxFrameSize = maxFrameSize
        do throws(FrameSocket.Failure) {
            socket = try FrameSocket.connect(path: path)
        } catch {
            throw Self.unreachable(path, error)
        }
    }

    deinit { socket.close() }

    public func send(_ request: Request) async throws(TEEError) -> Reply {
        try exchange(request)
    }

    /// The same exchange without `async`, for callers that are not in a task.
    public func exchange(_ request: Request) throws(TEEError) -> Reply {
        try lock.withLock { (nextID: inout UInt32) throws(TEEError) -> Reply in
            nextID &+= 1
            if nextID == 0 { nextID = 1 }
            let id = nextID
            let frame = WorldSwitchCodec.encode(request, requestID: id)
            guard frame.count <= maxFrameSize else {
                throw TEEError(code: .excessData, origin: .api,
                               message: "the request is \(frame.count) bytes; frames are limited to \(maxFrameSize) bytes")
            }
            let header: WorldSwitchCodec.Header
            let body: [UInt8]
            do throws(FrameSocket.Failure) {
                (header, body) = try transact(frame)
            } catch {
                throw TEEError.comms("lost the connection to the secure world at \(path): \(error)")
            }
            let reply: Reply
            do throws(FrameError) {
                reply = try WorldSwitchCodec.decodeReply(kind: header.kind, body: body)
            } catch {
                throw TEEError.comms("the secure world sent a malformed reply: \(error)")
            }
            // Request ID 0 is the daemon refusing the connection before reading anything.
            if header.requestID == 0, reply.code != .success {
                throw TEEError(code: reply.code, origin: .comms, message: reply.message)
            }
            guard header.requestID == id else {
                throw TEEError.comms("the secure world answered request \(header.requestID), expected \(id)")
            }
            return reply
        }
    }

    /// Sends a frame and reads the answer.
    private func transact(_ frame: [UInt8]) throws(FrameSocket.Failure) -> (WorldSwitchCodec.Header, [UInt8]) {
        do throws(FrameSocket.Failure) {
            try socket.write(frame)
        } catch {
            // The daemon may have refused the connection and closed it before our request arrived;
            // its refusal can still be waiting to be read.
            guard let refusal = try? socket.readFrame(maxFrameSize: maxFrameSize, idleTimeout: 1_000) else { throw error }
            return refusal
        }
        return try socket.readFrame(maxFrameSize: maxFrameSize)
    }

    /// Sends the cancellation on a connection of its own, since this one is busy with the operation.
    public func cancel(_ token: CancellationToken) {
        guard let side = try? FrameSocket.connect(path: path) else { return }
        defer { side.close() }
        try? side.write(WorldSwitchCodec.encode(.requestCancellation(token: token), requestID: 1))
        _ = try? side.readFrame(maxFrameSize: 4096, idleTimeout: 2_000)
    }

    public func close() { shutdown(socket.fd, Int32(SHUT_RDWR)) }

    static func unreachable(_ path: String, _ failure: FrameSocket.Failure) -> TEEError {
        TEEError.comms("cannot reach the secure world at \(path) (\(failure)); is trubizoned running? "
            + "Start it with: trubizoned --state DIR --ree DIR --socket \(path)")
    }
}
