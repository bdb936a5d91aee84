import TrustletKit

// A trustlet that exposes TrustletKit's helpers and the internal API one command at a time, so the
// test suite can check them against independent implementations on the host.
//
//   0  JSON: [0] document → [1] its compact serialization; [2] value input (max depth, max bytes;
//      0 = default); [3] value output (0 or the JSONError reason, the offset)
//   1  HMAC-SHA256: [0] key, [1] data → [2] MAC
//   2  HKDF-SHA256: [0] IKM, [1] salt, [2] info → [3] as many bytes as its capacity
//   3  generate a runtime key: [0] ID, [1] value input a = kind → [2] public key
//   4  sign: [0] key ID, [1] data → [2] signature
//   5  AEAD seal / 6 AEAD open: [0] key ID, [1] associated data, [2] input → [3] output
//   7  HPKE open: [0] key ID, [1] info, [2] message → [3] plaintext (associated data "probe")
//   8  HPKE seal: [0] recipient, [1] info, [2] plaintext → [3] message (associated data "probe")
//   9  hex: [0] bytes → [1] hex text, checked to decode back
//   10 public key: [0] key ID → [1] public key
//   11 delete key: [0] key ID
//   12 FHIR: [0] resource → [1] "resourceType/id", [2] value output a = member count
//   13 memory: [0] value output a = linear memory pages
//   14 echo: [0] bytes → [1] the same bytes (a copy through the guest's heap)
//   16 channel open: [0] key ID, [1] message, [2] last sequence (8 bytes, all ones for none) ‖
//      sender key (65) ‖ request length (1) ‖ request ‖ purpose → [3] payload
//   17 channel seal: [0] key ID (the sender's), [1] payload, [2] sequence (8 bytes) ‖ recipient
//      key (65) ‖ request length (1) ‖ request ‖ purpose → [3] message
//   18 PIN lock with a wait (PINLock, 5 attempts, 2 s after the first wrong PIN): [0] PIN,
//      [1] value input a = 0 set / 1 attempt / 2 nothing → [2] value output a = 1 if right; [3] value output
//      a = wrong PINs in a row, b = seconds to wait
//   15 attest: [0] nonce, [1] signing key ID (may be empty), [2] HPKE key ID (may be empty) → [3] token
@main
struct Probe: Trustlet {
    static let aad: [UInt8] = [0x70, 0x72, 0x6F, 0x62, 0x65]  // "probe"

    init() throws(TrustletError) {}

    mutating func invoke(command: UInt32, parameters p: inout Parameters) throws(TrustletError) {
        switch command {
        case 0:
            try p.expect(.memrefInput, .memrefOutput, .valueInput, .valueOutput)
            let (depth, size) = try p.value(2)
            var limits = JSON.Limits()
            if depth > 0 { limits.maxDepth = Int(depth) }
            if size > 0 { limits.maxBytes = Int(size) }
            let input = try p.bytes(0)
            switch Result(catching: { () throws(JSONError) in try JSON.parse(input, limits: limits) }) {
            case let .success(document):
                try p.setValue(3, a: 0)
                try p.setBytes(1, document.serialized())
            case let .failure(error):
                try p.setValue(3, a: error.reason.rawValue, b: UInt32(truncatingIfNeeded: error.offset))
            }
        case 1:
            try p.expect(.memrefInput, .memrefInput, .memrefOutput)
            try p.setBytes(2, try Crypto.hmacSHA256(key: try p.bytes(0), data: try p.bytes(1)))
        case 2:
            try p.expect(.memrefInput, .memrefInput, .memrefInput, .memrefOutput)
            try p.setBytes(3, try Crypto.hkdfSHA256(ikm: try p.bytes(0), salt: try p.bytes(1), info: try p.bytes(2), count: p.capacity(3)))
        case 3:
            try p.expect(.memrefInput, .valueInput, .memrefOutput)
            guard let kind = RuntimeKey.Kind(rawValue: try p.value(1).a) else { throw .badParameters }
            try p.setBytes(2, try RuntimeKey.generate(kind, id: try p.bytes(0)).publicKey)
        case 4:
            try p.expect(.memrefInput, .memrefInput, .memrefOutput)
            try p.setBytes(2, try RuntimeKey(id: try p.bytes(0)).sign(try p.bytes(1)))
        case 5, 6:
            try p.expect(.memrefInput, .memrefInput, .memrefInput, .memrefOutput)
            let key = RuntimeKey(id: try p.bytes(0))
            let output = command == 5 ? try key.seal(try p.bytes(2), aad: try p.bytes(1)) : try key.open(try p.bytes(2), aad: try p.bytes(1))
            try p.setBytes(3, output)
        case 7:
            try p.expect(.memrefInput, .memrefInput, .memrefInput, .memrefOutput)
            try p.setBytes(3, try RuntimeKey(id: try p.bytes(0)).hpkeOpen(try p.bytes(2), info: try p.bytes(1), aad: Self.aad))
        case 8:
            try p.expect(.memrefInput, .memrefInput, .memrefInput, .memrefOutput)
            try p.setBytes(3, try HPKE.seal(to: try p.bytes(0), try p.bytes(2), info: try p.bytes(1), aad: Self.aad))
        case 9:
            try p.expect(.memrefInput, .memrefOutput)
            let bytes = try p.bytes(0)
            let text = Hex.encode(bytes)
            guard let back = Hex.decode(text), back == bytes else { throw .generic }
            try p.setBytes(1, Bytes.utf8(text))
        case 10:
            try p.expect(.memrefInput, .memrefOutput)
            try p.setBytes(1, try RuntimeKey(id: try p.bytes(0)).publicKey())
        case 11:
            try p.expect(.memrefInput)
            try RuntimeKey(id: try p.bytes(0)).delete()
        case 12:
            try p.expect(.memrefInput, .memrefOutput, .valueOutput)
            let resource = try JSON.read(try p.bytes(0))
            guard let type = resource["resourceType"]?.string, let id = resource["id"]?.string else { throw .badFormat }
            try p.setValue(2, a: UInt32(resource.members?.count ?? 0))
            try p.setBytes(1, Bytes.utf8(type + "/" + id))
        case 14:
            try p.expect(.memrefInput, .memrefOutput)
            try p.setBytes(1, try p.bytes(0))
        case 15:
            try p.expect(.memrefInput, .memrefInput, .memrefInput, .memrefOutput)
            let signing = try p.bytes(1), hpke = try p.bytes(2)
            try p.setBytes(3, try Attestation.token(nonce: try p.bytes(0), signingKey: signing.isEmpty ? nil : RuntimeKey(id: signing),
                                                    hpkeKey: hpke.isEmpty ? nil : RuntimeKey(id: hpke)))
        case 16, 17:
            try p.expect(.memrefInput, .memrefInput, .memrefInput, .memrefOutput)
            let control = try p.bytes(2)
            guard control.count > 8 + 65 + 1 else { throw .badParameters }
            var number: UInt64 = 0
            for byte in control[0..<8] { number = number << 8 | UInt64(byte) }
            let peer = Array(control[8..<73])
            let requestLength = Int(control[73])
            guard control.count > 74 + requestLength else { throw .badParameters }
            let request = Bytes.text(Array(control[74..<(74 + requestLength)]))
            let purpose = Bytes.text(Array(control[(74 + requestLength)...]))
            let key = RuntimeKey(id: try p.bytes(0))
            if command == 16 {
                let opened = try Channel.open(try p.bytes(1), key: key, from: peer, purpose: purpose, request: request,
                                              after: number == UInt64.max ? nil : number)
                try p.setBytes(3, opened.payload)
            } else {
                try p.setBytes(3, try Channel.seal(try p.bytes(1), key: key, to: peer, purpose: purpose, sequence: number, request: request))
            }
        case 13:
            try p.expect(.valueOutput)
            try p.setValue(0, a: UInt32(TrustletMemory.pages))
        case 18:
            try p.expect(.memrefInput, .valueInput, .valueOutput, .valueOutput)
            let lock = PINLock(name: "probe-pin", maxAttempts: 5, waits: [0, 2])
            let pin = try p.bytes(0)
            switch try p.value(1).a {
            case 0: try lock.set(pin)
            case 1: try p.setValue(2, a: try lock.attempt(pin) ? 1 : 0)
            case 2: break
            default: throw .badParameters
            }
            try p.setValue(3, a: UInt32(truncatingIfNeeded: try lock.wrongAttempts()), b: UInt32(truncatingIfNeeded: try lock.waitSeconds()))
        default:
            throw .notSupported
        }
    }
}
