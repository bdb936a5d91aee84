import TrubiZoneWire

/// The framing of the world switch.
///
/// Every frame is a 16-byte header followed by a body:
///
///     "TZWS" | version u8 | kind u8 | reserved u16 (zero) | request id u32 | body length u32
///
/// all big-endian. The header alone tells a reader how many bytes to expect, so a reader can refuse
/// an oversized frame before it allocates anything for it.
public enum WorldSwitchCodec {
    public static let magic: [UInt8] = Array("TZWS".utf8)
    public static let version: UInt8 = 1
    public static let headerSize = 16
    /// The default largest frame, header included.
    public static let defaultMaxFrameSize = 4 * 1024 * 1024
    /// Diagnostics longer than this are cut, so a reply's size stays predictable.
    public static let maxMessageLength = 1024

    public struct Header: Equatable, Sendable {
        public var kind: UInt8
        public var requestID: UInt32
        public var bodyLength: Int
    }

    /// Validates a frame header.
    /// - Parameters:
    ///   - bytes: at least `headerSize` bytes.
    ///   - maxFrameSize: the largest frame the reader accepts.
    /// - Returns: the header; it throws for input that cannot be framed, after which the
    ///   connection cannot be trusted to be in step and must be closed.
    public static func parseHeader(_ bytes: [UInt8], maxFrameSize: Int = defaultMaxFrameSize) throws(FrameError) -> Header {
        guard bytes.count >= headerSize else { throw .truncated("frame header") }
        guard Array(bytes[0..<4]) == magic else { throw .badMagic }
        guard bytes[4] == version else { throw .unsupportedVersion(bytes[4]) }
        guard bytes[6] == 0, bytes[7] == 0 else { throw .reservedBitsSet }
        var reader = ByteReader(bytes, offset: 8)
        let requestID = (try? reader.u32("request id")) ?? 0
        let length = (try? reader.u32("body length")) ?? 0
        guard Int(length) <= maxFrameSize - headerSize else {
            throw .frameTooLarge(size: Int(length) + headerSize, limit: maxFrameSize)
        }
        return Header(kind: bytes[5], requestID: requestID, bodyLength: Int(length))
    }

    // MARK: Requests

    public static func encode(_ request: Request, requestID: UInt32) -> [UInt8] {
        var body = ByteWriter()
        switch request {
        case let .openSession(uuid, login, connectionData, parameters, token):
            body.raw(uuid.bytes)
            body.u32(login.rawValue)
            body.u32(connectionData)
            body.raw(token.bytes)
            encode(parameters, into: &body)
        case let .invokeCommand(session, command, parameters, token):
            body.u32(session)
            body.u32(command)
            body.raw(token.bytes)
            encode(parameters, into: &body)
        case let .closeSession(session):
            body.u32(session)
        case let .requestCancellation(token):
            body.raw(token.bytes)
        }
        return frame(kind: request.kind.rawValue, requestID: requestID, body: body.bytes)
    }

    /// Decodes a request body whose header was already validated.
    public static func decodeRequest(kind: UInt8, body: [UInt8]) throws(FrameError) -> Request {
        guard let kind = MessageKind(rawValue: kind), kind != .reply else { throw .unknownMessageKind(kind) }
        var reader = ByteReader(body)
        do {
            let request: Request
            switch kind {
            case .openSession:
                guard let uuid = TrustletUUID(bytes: try reader.raw(16, "trustlet uuid")) else { throw FrameError.truncated("trustlet uuid") }
                let loginRaw = try reader.u32("login method")
                guard let login = LoginMethod(rawValue: loginRaw) else { throw FrameError.badLoginMethod(loginRaw) }
                let connectionData = try reader.u32("connection data")
                let token = try readToken(&reader)
                request = .openSession(uuid: uuid, login: login, connectionData: connectionData,
                                       parameters: try decodeParameters(&reader), cancellationToken: token)
            case .invokeCommand:
                let session = try reader.u32("session id")
                let command = try reader.u32("command id")
                let token = try readToken(&reader)
                request = .invokeCommand(session: session, command: command,
                                         parameters: try decodeParameters(&reader), cancellationToken: token)
            case .closeSession:
                request = .closeSession(session: try reader.u32("session id"))
            case .requestCancellation:
                request = .requestCancellation(token: try readToken(&reader))
            case .reply:
                throw FrameError.unknownMessageKind(kind.rawValue)
            }
            guard reader.isAtEnd else { throw FrameError.trailingBytes(reader.remaining) }
            return request
        } catch let error as FrameError {
            throw error
        } catch let error as ByteReader.Truncated {
            throw .truncated(error.field)
        } catch {
            throw .truncated("request")
        }
    }

    // MARK: Replies

    public static func encode(_ reply: Reply, requestID: UInt32) -> [UInt8] {
        var body = ByteWriter()
        body.u32(reply.code.rawValue)
        body.u32(reply.origin.rawValue)
        body.u32(reply.session)
        let slots = reply.parameters + Array(repeating: .none, count: max(0, Parameters.count - reply.parameters.count))
        for slot in slots.prefix(Parameters.count) {
            switch slot {
            case .none:
                body.u8(0)
            case let .value(a, b):
                body.u8(1); body.u32(a); body.u32(b)
            case let .memref(size, bytes):
                body.u8(2); body.u32(size); body.blob(bytes)
            }
        }
        let message = utf8Prefix(reply.message, maxBytes: maxMessageLength)
        body.u16(UInt16(message.count))
        body.raw(message)
        return frame(kind: MessageKind.reply.rawValue, requestID: requestID, body: body.bytes)
    }

    public static func decodeReply(kind: UInt8, body: [UInt8]) throws(FrameError) -> Reply {
        guard kind == MessageKind.reply.rawValue else { throw .unknownMessageKind(kind) }
        var reader = ByteReader(body)
        do {
            let code = ReturnCode(rawValue: try reader.u32("return code"))
            let originRaw = try reader.u32("return origin")
            guard let origin = ReturnOrigin(rawValue: originRaw) else { throw FrameError.badOrigin(originRaw) }
            let session = try reader.u32("session id")
            var parameters: [ReplyParameter] = []
            for slot in 0..<Parameters.count {
                switch try reader.u8("reply parameter type") {
                case 0: parameters.append(.none)
                case 1: parameters.append(.value(a: try reader.u32("value a"), b: try reader.u32("value b")))
                case 2:
                    let size = try reader.u32("memref size")
                    let bytes = try reader.blob("memref bytes")
                    guard bytes.isEmpty || bytes.count == Int(size) else { throw FrameError.memrefSizeMismatch(slot: slot) }
                    parameters.append(.memref(size: size, bytes: bytes))
                case let other: throw FrameError.badParameterType(slot: slot, type: other)
                }
            }
            let messageLength = Int(try reader.u16("message length"))
            guard messageLength <= maxMessageLength else { throw FrameError.truncated("message") }
            let message = String(decoding: try reader.raw(messageLength, "message"), as: UTF8.self)
            guard reader.isAtEnd else { throw FrameError.trailingBytes(reader.remaining) }
            return Reply(code: code, origin: origin, session: session, parameters: parameters, message: message)
        } catch let error as FrameError {
            throw error
        } catch let error as ByteReader.Truncated {
            throw .truncated(error.field)
        } catch {
            throw .truncated("reply")
        }
    }

    // MARK: Parts

    static func frame(kind: UInt8, requestID: UInt32, body: [UInt8]) -> [UInt8] {
        var out = ByteWriter(capacity: headerSize + body.count)
        out.raw(magic)
        out.u8(version)
        out.u8(kind)
        out.u16(0)
        out.u32(requestID)
        out.u32(UInt32(body.count))
        out.raw(body)
        return out.bytes
    }

    /// The longest prefix of `text` in at most `maxBytes` of UTF-8 that ends between characters,
    /// so a cut diagnostic is still valid UTF-8 on the other side.
    static func utf8Prefix(_ text: String, maxBytes: Int) -> [UInt8] {
        var bytes = Array(text.utf8.prefix(maxBytes + 1))
        guard bytes.count > maxBytes else { return bytes }
        bytes.removeLast()
        // Drop a scalar the cut split: its continuation bytes (10xxxxxx), then its lead byte.
        if text.utf8.dropFirst(maxBytes).first.map({ $0 & 0xC0 == 0x80 }) == true {
            while let last = bytes.last, last & 0xC0 == 0x80 { bytes.removeLast() }
            bytes.removeLast()
        }
        return bytes
    }

    static func readToken(_ reader: inout ByteReader) throws -> CancellationToken {
        CancellationToken(unchecked: try reader.raw(16, "cancellation token"))
    }

    static func encode(_ parameters: Parameters, into body: inout ByteWriter) {
        for slot in parameters.slots {
            body.u8(slot.typeCode)
            switch slot {
            case .none, .valueOutput:
                break
            case let .valueInput(a, b), let .valueInout(a, b):
                body.u32(a); body.u32(b)
            case let .memrefInput(bytes):
                body.blob(bytes)
            case let .memrefOutput(capacity):
                body.u32(capacity)
            case let .memrefInout(bytes, capacity):
                body.u32(capacity); body.blob(bytes)
            }
        }
    }

    static func decodeParameters(_ reader: inout ByteReader) throws -> Parameters {
        var slots: [Parameter] = []
        for slot in 0..<Parameters.count {
            let type = try reader.u8("parameter type")
            switch GPParameterType(rawValue: UInt32(type)) {
            case .none?: slots.append(.none)
            case .valueInput?: slots.append(.valueInput(a: try reader.u32("value a"), b: try reader.u32("value b")))
            case .valueOutput?: slots.append(.valueOutput)
            case .valueInout?: slots.append(.valueInout(a: try reader.u32("value a"), b: try reader.u32("value b")))
            case .memrefInput?: slots.append(.memrefInput(try reader.blob("memref bytes")))
            case .memrefOutput?: slots.append(.memrefOutput(capacity: try reader.u32("memref capacity")))
            case .memrefInout?:
                let capacity = try reader.u32("memref capacity")
                let bytes = try reader.blob("memref bytes")
                guard bytes.count <= Int(capacity) else { throw FrameError.memrefSizeMismatch(slot: slot) }
                slots.append(.memrefInout(bytes, capacity: capacity))
            case nil:
                throw FrameError.badParameterType(slot: slot, type: type)
            }
        }
        return Parameters(slots)
    }
}

/// Why a frame was refused.
public enum FrameError: Error, Equatable, Sendable, CustomStringConvertible {
    case badMagic
    case unsupportedVersion(UInt8)
    case reservedBitsSet
    case frameTooLarge(size: Int, limit: Int)
    case unknownMessageKind(UInt8)
    case truncated(String)
    case trailingBytes(Int)
    case badParameterType(slot: Int, type: UInt8)
    case memrefSizeMismatch(slot: Int)
    case badLoginMethod(UInt32)
    case badOrigin(UInt32)

    /// Whether the stream can no longer be trusted to be in step (the connection must close).
    public var isUnframeable: Bool {
        switch self {
        case .badMagic, .unsupportedVersion, .reservedBitsSet, .frameTooLarge: true
        default: false
        }
    }

    /// The GP code the secure world answers a framable but malformed request with.
    public var returnCode: ReturnCode {
        switch self {
        case .unknownMessageKind: .notSupported
        case .badParameterType, .memrefSizeMismatch, .badLoginMethod: .badParameters
        case .frameTooLarge: .excessData
        default: .badFormat
        }
    }

    public var description: String {
        switch self {
        case .badMagic: "not a world-switch frame (bad magic)"
        case let .unsupportedVersion(v): "unsupported world-switch protocol version \(v) (this side speaks \(WorldSwitchCodec.version))"
        case .reservedBitsSet: "reserved header bits are set"
        case let .frameTooLarge(size, limit): "frame of \(size) bytes exceeds the limit of \(limit) bytes"
        case let .unknownMessageKind(kind): "unknown message type 0x\(String(kind, radix: 16))"
        case let .truncated(field): "frame ends inside \(field)"
        case let .trailingBytes(n): "\(n) unexpected bytes after the message"
        case let .badParameterType(slot, type): "parameter \(slot) has invalid type \(type)"
        case let .memrefSizeMismatch(slot): "parameter \(slot): memory reference holds more bytes than its size"
        case let .badLoginMethod(raw): "unknown login method 0x\(String(raw, radix: 16))"
        case let .badOrigin(raw): "unknown return origin \(raw)"
        }
    }
}
