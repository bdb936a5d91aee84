import Testing
import TrubiZoneProtocol

@Suite struct FrameCodecTests {
    static let uuid = TrustletUUID("12345678-9abc-def0-1234-56789abcdef0")!
    static let token = CancellationToken(bytes: Array(1...16))!

    static let requests: [Request] = [
        .openSession(uuid: uuid, login: .user, connectionData: 7,
                     parameters: Parameters([.valueInput(a: 1, b: 2), .memrefInput([9, 8]), .memrefOutput(capacity: 10)]),
                     cancellationToken: token),
        .invokeCommand(session: 3, command: 0xDEAD, parameters: Parameters([
            .valueOutput, .valueInout(a: 5, b: 6), .memrefInout([1, 2, 3], capacity: 8), .memrefInput([]),
        ]), cancellationToken: .none),
        .closeSession(session: 42),
        .requestCancellation(token: token),
    ]

    @Test(arguments: requests)
    func requestsRoundTrip(_ request: Request) throws {
        let frame = WorldSwitchCodec.encode(request, requestID: 77)
        let header = try WorldSwitchCodec.parseHeader(frame)
        #expect(header.requestID == 77)
        #expect(header.bodyLength == frame.count - WorldSwitchCodec.headerSize)
        let decoded = try WorldSwitchCodec.decodeRequest(kind: header.kind, body: Array(frame[WorldSwitchCodec.headerSize...]))
        #expect(decoded == request)
    }

    @Test func repliesRoundTrip() throws {
        let reply = Reply(code: .shortBuffer, origin: .trustedApp, session: 9,
                          parameters: [.value(a: 1, b: 2), .memref(size: 100, bytes: []), .memref(size: 2, bytes: [7, 7]), .none],
                          message: "parameter 1 needs 100 bytes")
        let frame = WorldSwitchCodec.encode(reply, requestID: 5)
        let header = try WorldSwitchCodec.parseHeader(frame)
        #expect(try WorldSwitchCodec.decodeReply(kind: header.kind, body: Array(frame[16...])) == reply)
    }

    /// A diagnostic longer than a reply carries is cut between characters, never inside one.
    @Test(arguments: ["é", "€", "🩺"]) func aLongMessageIsCutBetweenCharacters(_ wide: String) throws {
        let message = String(repeating: "a", count: WorldSwitchCodec.maxMessageLength - 1) + wide + "tail"
        let frame = WorldSwitchCodec.encode(Reply.failure(.badParameters, .trustedApp, message), requestID: 1)
        let decoded = try WorldSwitchCodec.decodeReply(kind: frame[5], body: Array(frame[16...]))
        #expect(decoded.message == String(repeating: "a", count: WorldSwitchCodec.maxMessageLength - 1))
        let fits = String(repeating: "a", count: WorldSwitchCodec.maxMessageLength - wide.utf8.count) + wide
        let whole = WorldSwitchCodec.encode(Reply.failure(.badParameters, .trustedApp, fits + "tail"), requestID: 1)
        #expect(try WorldSwitchCodec.decodeReply(kind: whole[5], body: Array(whole[16...])).message == fits)
    }

    @Test func headerWithBadMagicCannotBeFramed() {
        var frame = WorldSwitchCodec.encode(.closeSession(session: 1), requestID: 1)
        frame[0] = UInt8(ascii: "X")
        #expect(throws: FrameError.badMagic) { try WorldSwitchCodec.parseHeader(frame) }
        #expect(FrameError.badMagic.isUnframeable)
    }

    @Test func otherProtocolVersionsAndReservedBitsAreRefused() {
        var frame = WorldSwitchCodec.encode(.closeSession(session: 1), requestID: 1)
        frame[4] = 9
        #expect(throws: FrameError.unsupportedVersion(9)) { try WorldSwitchCodec.parseHeader(frame) }
        frame[4] = WorldSwitchCodec.version
        frame[7] = 1
        #expect(throws: FrameError.reservedBitsSet) { try WorldSwitchCodec.parseHeader(frame) }
    }

    @Test func oversizedFrameIsRefusedFromItsHeaderAlone() {
        var writer = ByteWriter()
        writer.raw(WorldSwitchCodec.magic); writer.u8(1); writer.u8(2); writer.u16(0); writer.u32(1)
        writer.u32(UInt32(WorldSwitchCodec.defaultMaxFrameSize))
        #expect(throws: FrameError.frameTooLarge(size: WorldSwitchCodec.defaultMaxFrameSize + 16,
                                                 limit: WorldSwitchCodec.defaultMaxFrameSize)) {
            try WorldSwitchCodec.parseHeader(writer.bytes)
        }
    }

    @Test func everyTruncationOfEveryRequestIsRefusedWithoutCrashing() throws {
        for request in Self.requests {
            let body = Array(WorldSwitchCodec.encode(request, requestID: 1)[16...])
            let kind = WorldSwitchCodec.encode(request, requestID: 1)[5]
            for cut in 0..<body.count {
                #expect(throws: FrameError.self) { try WorldSwitchCodec.decodeRequest(kind: kind, body: Array(body[0..<cut])) }
            }
            #expect(throws: FrameError.trailingBytes(1)) { try WorldSwitchCodec.decodeRequest(kind: kind, body: body + [0]) }
        }
    }

    @Test func unknownMessageKindsAndParameterTypesGetSpecificCodes() throws {
        #expect(throws: FrameError.unknownMessageKind(0x33)) { try WorldSwitchCodec.decodeRequest(kind: 0x33, body: []) }
        #expect(FrameError.unknownMessageKind(0x33).returnCode == .notSupported)

        var body = ByteWriter()
        body.u32(1); body.u32(2); body.raw([UInt8](repeating: 0, count: 16))
        body.u8(4)  // 4 is not a GP parameter type
        #expect(throws: FrameError.badParameterType(slot: 0, type: 4)) { try WorldSwitchCodec.decodeRequest(kind: 2, body: body.bytes) }
        #expect(FrameError.badParameterType(slot: 0, type: 4).returnCode == .badParameters)
    }

    @Test func inoutMemrefLargerThanItsCapacityIsRefused() {
        var body = ByteWriter()
        body.u32(1); body.u32(2); body.raw([UInt8](repeating: 0, count: 16))
        body.u8(7); body.u32(2); body.blob([1, 2, 3])
        body.u8(0); body.u8(0); body.u8(0)
        #expect(throws: FrameError.memrefSizeMismatch(slot: 0)) { try WorldSwitchCodec.decodeRequest(kind: 2, body: body.bytes) }
    }

    @Test func memrefLengthBeyondTheFrameIsRefused() {
        var body = ByteWriter()
        body.u32(1); body.u32(2); body.raw([UInt8](repeating: 0, count: 16))
        body.u8(5); body.u32(0xFFFF_FFF0)
        #expect(throws: FrameError.truncated("memref bytes")) { try WorldSwitchCodec.decodeRequest(kind: 2, body: body.bytes) }
    }

    @Test func uuidsParseOnlyInCanonicalForm() {
        #expect(TrustletUUID("12345678-9ABC-def0-1234-56789abcdef0")?.description == "12345678-9abc-def0-1234-56789abcdef0")
        #expect(TrustletUUID("12345678-9abc-def0-1234-56789abcdef") == nil)
        #expect(TrustletUUID("12345678x9abc-def0-1234-56789abcdef0") == nil)
        #expect(TrustletUUID("g2345678-9abc-def0-1234-56789abcdef0") == nil)
    }
}

extension Request: CustomTestStringConvertible {
    public var testDescription: String {
        switch self {
        case .openSession: "openSession"
        case .invokeCommand: "invokeCommand"
        case .closeSession: "closeSession"
        case .requestCancellation: "requestCancellation"
        }
    }
}
