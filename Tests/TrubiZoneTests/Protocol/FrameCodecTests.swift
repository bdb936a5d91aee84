import Testing
import TrubiZoneProtocol
import TrubiZoneWire

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

    /// Frames written out byte by byte from the layout the README and `WorldSwitchCodec` state, so
    /// a change to the wire (not only one that breaks a round trip) fails here.
    @Test func framesAreTheDocumentedBytes() throws {
        func frame(kind: UInt8, id: [UInt8], _ parts: [[UInt8]]) -> [UInt8] {
            let body = parts.flatMap { $0 }
            let header: [[UInt8]] = [Array("TZWS".utf8), [1, kind, 0, 0], id, [0, 0, UInt8(body.count >> 8), UInt8(body.count & 0xFF)]]
            return header.flatMap { $0 } + body
        }
        #expect(WorldSwitchCodec.encode(.closeSession(session: 42), requestID: 7) == frame(kind: 3, id: [0, 0, 0, 7], [[0, 0, 0, 42]]))

        // session, command, token, then four slots: type u8 and its fields.
        let invoke: [[UInt8]] = [
            [0, 0, 0, 1], [0, 0, 0xDE, 0xAD], Array(1...16),
            [1, 1, 2, 3, 4, 0, 0, 0, 5],        // value input a = 0x01020304, b = 5
            [5, 0, 0, 0, 2, 0xAA, 0xBB],        // memref input, length 2
            [6, 0, 0, 0, 16],                   // memref output, capacity 16
            [7, 0, 0, 0, 8, 0, 0, 0, 1, 0xCC],  // memref inout, capacity 8, length 1
        ]
        let request = Request.invokeCommand(session: 1, command: 0xDEAD, parameters: Parameters([
            .valueInput(a: 0x0102_0304, b: 5), .memrefInput([0xAA, 0xBB]), .memrefOutput(capacity: 16), .memrefInout([0xCC], capacity: 8),
        ]), cancellationToken: Self.token)
        #expect(WorldSwitchCodec.encode(request, requestID: 0x0A0B_0C0D) == frame(kind: 2, id: [0x0A, 0x0B, 0x0C, 0x0D], invoke))
        #expect(try WorldSwitchCodec.decodeRequest(kind: 2, body: invoke.flatMap { $0 }) == request)

        // uuid, login, connection data, token, slots (an empty slot is its type alone).
        let open: [[UInt8]] = [Self.uuid.bytes, [0, 0, 0, 1], [0, 0, 0, 7], [UInt8](repeating: 0, count: 16), [2, 0, 0, 0]]
        let openRequest = Request.openSession(uuid: Self.uuid, login: .user, connectionData: 7, parameters: Parameters([.valueOutput]),
                                              cancellationToken: .none)
        #expect(WorldSwitchCodec.encode(openRequest, requestID: 1) == frame(kind: 1, id: [0, 0, 0, 1], open))

        // code, origin, session, four slots (value: a, b; memref: size and a u32-counted blob), message.
        let reply: [[UInt8]] = [
            [0xFF, 0xFF, 0x00, 0x10], [0, 0, 0, 4], [0, 0, 0, 9],
            [1, 0, 0, 0, 1, 0, 0, 0, 2],
            [2, 0, 0, 0, 3, 0, 0, 0, 3, 7, 8, 9],
            [2, 0, 0, 1, 0, 0, 0, 0, 0],
            [0],
            [0, 2], Array("ok".utf8),
        ]
        let replyValue = Reply(code: .shortBuffer, origin: .trustedApp, session: 9,
                               parameters: [.value(a: 1, b: 2), .memref(size: 3, bytes: [7, 8, 9]), .memref(size: 256, bytes: []), .none], message: "ok")
        #expect(WorldSwitchCodec.encode(replyValue, requestID: 5) == frame(kind: 0x80, id: [0, 0, 0, 5], reply))
        #expect(try WorldSwitchCodec.decodeReply(kind: 0x80, body: reply.flatMap { $0 }) == replyValue)
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

/// The GlobalPlatform numbers exist once (Trustlets/SDK/Wire/GlobalPlatform.swift), for the
/// protocol, the runtime, the client and TrustletKit alike.
@Suite struct GlobalPlatformNumberTests {
    @Test func eachReturnCodeHasOneNumberAndItsGPName() {
        #expect(GPReturnCode.all.count == 26)
        #expect(Set(GPReturnCode.all.map(\.code)).count == GPReturnCode.all.count, "no two codes share a number")
        for (code, name) in GPReturnCode.all {
            #expect(ReturnCode(rawValue: code).name == "\(name)")
            #expect("\(name)".hasPrefix("TEEC_") || "\(name)".hasPrefix("TEE_"))
        }
        #expect(ReturnCode.busy.rawValue == 0xFFFF_000D && ReturnCode.macInvalid.rawValue == 0xFFFF_3071, "GP's own numbers")
        #expect(ReturnCode(rawValue: 0x1234).name == "0x1234")
    }

    @Test func parameterTypesAreGPsAndFourIsNone() {
        let slots: [Parameter] = [.none, .valueInput(a: 1, b: 2), .valueOutput, .valueInout(a: 3, b: 4), .memrefInput([1]), .memrefOutput(capacity: 2),
                                  .memrefInout([3], capacity: 4)]
        #expect(slots.map(\.typeCode) == [0, 1, 2, 3, 5, 6, 7])
        #expect(slots.map { GPParameterType.isOutput(UInt32($0.typeCode)) } == slots.map(\.isOutput))
        #expect(!GPParameterType.isKnown(4) && !GPParameterType.isKnown(8) && (0...7).filter { GPParameterType.isKnown($0) }.count == 7)
    }
}
