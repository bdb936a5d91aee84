import FuzzDriver
import Foundation
import TrubiZoneProtocol

// The world-switch frame decoder, as the secure world meets a stream from the normal world: a
// header, then a body of the length it names, as many frames as the bytes hold.
//
// Beyond "never crashes": every request that decodes must encode back to exactly the frame it
// came from (the codec has one encoding), and a reply, once encoded, must survive round trips.
@main
enum FuzzFrame {
    static func main() { exit(trubizone_fuzz(CommandLine.argc, CommandLine.unsafeArgv, fuzzFrame)) }
}

func fuzzFrame(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var stream = Array(UnsafeBufferPointer(start: data, count: size))[...]
    while stream.count >= WorldSwitchCodec.headerSize {
        let header: WorldSwitchCodec.Header
        do {
            header = try WorldSwitchCodec.parseHeader(Array(stream.prefix(WorldSwitchCodec.headerSize)), maxFrameSize: 1 << 16)
        } catch {
            precondition(error.isUnframeable || error == .truncated("frame header"), "a header refusal that keeps the stream: \(error)")
            return 0
        }
        let frameEnd = stream.startIndex + WorldSwitchCodec.headerSize + header.bodyLength
        guard frameEnd <= stream.endIndex else { return 0 }
        let frame = Array(stream[stream.startIndex..<frameEnd])
        let body = Array(frame[WorldSwitchCodec.headerSize...])
        stream = stream[frameEnd...]
        if let request = try? WorldSwitchCodec.decodeRequest(kind: header.kind, body: body) {
            let again = WorldSwitchCodec.encode(request, requestID: header.requestID)
            precondition(again == frame, "a request that does not encode back to its frame")
        } else if let reply = try? WorldSwitchCodec.decodeReply(kind: header.kind, body: body) {
            // A message with invalid UTF-8 is read with replacement characters, which may make it
            // longer than a reply carries; from then on a round trip must change nothing.
            let once = roundTrip(reply, header.requestID)
            precondition(roundTrip(once, header.requestID) == once, "a reply that changes in a second round trip")
        }
    }
    return 0
}

func roundTrip(_ reply: Reply, _ requestID: UInt32) -> Reply {
    let frame = WorldSwitchCodec.encode(reply, requestID: requestID)
    let header = try! WorldSwitchCodec.parseHeader(frame)
    return try! WorldSwitchCodec.decodeReply(kind: header.kind, body: Array(frame[WorldSwitchCodec.headerSize...]))
}
