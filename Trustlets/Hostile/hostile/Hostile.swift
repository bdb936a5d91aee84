import TrustletKit

// A trustlet that attacks the runtime, for the test suite. Each command is one attack; none of them
// may harm the runtime or any other session.
//
//   open session  [0] value input a: 0 normal, 1 trap in open, 2 trap in close
//   1  infinite loop                 2  memory bomb                3  trap (fatalError)
//   10 + n  out-of-bounds pointer to host function n (0 log, 1 random, 2 sha256,
//           3 storage_write, 4 storage_read, 5 storage_delete, 6 storage_read length pointer,
//           7 counter_read, 8 counter_increment, 9 time_monotonic, 10 time_wall)
//   20  read the object "count" (hello keeps its counter under that ID) → [1] value output a = found
//   30  [0] value input (f, n): call host function f (HostAPI order below) with every argument 16 —
//       a small valid address or length — except argument n, which is 0xFFFFFF00 (none if n ≥ 13)
//   40  [0] value input (kind, n) → [1] value output (done, code): take the secure world's state
//       without end — kind 0 creates counters, 1 writes 1 KiB objects, 2 writes 64 KiB objects,
//       3 generates AEAD keys, 4 logs lines — n times or until the first refusal; done counts what
//       was taken, code is that refusal (0 if none)

@_extern(wasm, module: "tz", name: "log") @_extern(c)
func raw_log(_ message: UInt32, _ length: Int32)
@_extern(wasm, module: "tz", name: "random") @_extern(c)
func raw_random(_ buffer: UInt32, _ length: Int32) -> UInt32
@_extern(wasm, module: "tz", name: "sha256") @_extern(c)
func raw_sha256(_ data: UInt32, _ length: Int32, _ digest: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "storage_write") @_extern(c)
func raw_storage_write(_ id: UInt32, _ idLength: Int32, _ data: UInt32, _ dataLength: Int32) -> UInt32
@_extern(wasm, module: "tz", name: "storage_read") @_extern(c)
func raw_storage_read(_ id: UInt32, _ idLength: Int32, _ buffer: UInt32, _ capacity: Int32, _ length: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "storage_delete") @_extern(c)
func raw_storage_delete(_ id: UInt32, _ idLength: Int32) -> UInt32
@_extern(wasm, module: "tz", name: "counter_read") @_extern(c)
func raw_counter_read(_ id: UInt32, _ idLength: Int32, _ value: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "counter_increment") @_extern(c)
func raw_counter_increment(_ id: UInt32, _ idLength: Int32, _ value: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "time_monotonic") @_extern(c)
func raw_time_monotonic(_ value: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "time_wall") @_extern(c)
func raw_time_wall(_ value: UInt32) -> UInt32

@_extern(wasm, module: "tz", name: "hmac_sha256") @_extern(c)
func raw_hmac_sha256(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ e: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "hkdf_sha256") @_extern(c)
func raw_hkdf_sha256(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ e: UInt32, _ f: UInt32, _ g: UInt32, _ h: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "hpke_seal") @_extern(c)
func raw_hpke_seal(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ e: UInt32, _ f: UInt32, _ g: UInt32, _ h: UInt32,
                   _ i: UInt32, _ j: UInt32, _ k: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "key_generate") @_extern(c)
func raw_key_generate(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ e: UInt32, _ f: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "key_public") @_extern(c)
func raw_key_public(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ e: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "key_sign") @_extern(c)
func raw_key_sign(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ e: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "key_delete") @_extern(c)
func raw_key_delete(_ a: UInt32, _ b: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "aead_seal") @_extern(c)
func raw_aead_seal(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ e: UInt32, _ f: UInt32, _ g: UInt32, _ h: UInt32, _ i: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "aead_open") @_extern(c)
func raw_aead_open(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ e: UInt32, _ f: UInt32, _ g: UInt32, _ h: UInt32, _ i: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "hpke_open") @_extern(c)
func raw_hpke_open(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ e: UInt32, _ f: UInt32, _ g: UInt32, _ h: UInt32,
                   _ i: UInt32, _ j: UInt32, _ k: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "ui_show") @_extern(c)
func raw_ui_show(_ a: UInt32, _ b: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "ui_confirm") @_extern(c)
func raw_ui_confirm(_ a: UInt32, _ b: UInt32, _ c: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "attest") @_extern(c)
func raw_attest(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ e: UInt32, _ f: UInt32, _ g: UInt32, _ h: UInt32, _ i: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "ui_read_pin") @_extern(c)
func raw_ui_read_pin(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ e: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "ui_read_text") @_extern(c)
func raw_ui_read_text(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ e: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "hpke_seal_auth") @_extern(c)
func raw_hpke_seal_auth(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ e: UInt32, _ f: UInt32, _ g: UInt32, _ h: UInt32,
                        _ i: UInt32, _ j: UInt32, _ k: UInt32, _ l: UInt32, _ m: UInt32) -> UInt32
@_extern(wasm, module: "tz", name: "hpke_open_auth") @_extern(c)
func raw_hpke_open_auth(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ e: UInt32, _ f: UInt32, _ g: UInt32, _ h: UInt32,
                        _ i: UInt32, _ j: UInt32, _ k: UInt32, _ l: UInt32, _ m: UInt32) -> UInt32

/// Calls host function `function` (in HostAPI.functionNames' documented order) with `a`.
func callHost(_ function: UInt32, _ a: [UInt32]) -> UInt32 {
    switch function {
    case 0: raw_log(a[0], Int32(bitPattern: a[1])); return 0
    case 1: return raw_random(a[0], Int32(bitPattern: a[1]))
    case 2: return raw_sha256(a[0], Int32(bitPattern: a[1]), a[2])
    case 3: return raw_storage_write(a[0], Int32(bitPattern: a[1]), a[2], Int32(bitPattern: a[3]))
    case 4: return raw_storage_read(a[0], Int32(bitPattern: a[1]), a[2], Int32(bitPattern: a[3]), a[4])
    case 5: return raw_storage_delete(a[0], Int32(bitPattern: a[1]))
    case 6: return raw_counter_read(a[0], Int32(bitPattern: a[1]), a[2])
    case 7: return raw_counter_increment(a[0], Int32(bitPattern: a[1]), a[2])
    case 8: return raw_time_monotonic(a[0])
    case 9: return raw_time_wall(a[0])
    case 10: return raw_hmac_sha256(a[0], a[1], a[2], a[3], a[4])
    case 11: return raw_hkdf_sha256(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7])
    case 12: return raw_hpke_seal(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10])
    case 13: return raw_key_generate(a[0], a[1], a[2], a[3], a[4], a[5])
    case 14: return raw_key_public(a[0], a[1], a[2], a[3], a[4])
    case 15: return raw_key_sign(a[0], a[1], a[2], a[3], a[4])
    case 16: return raw_key_delete(a[0], a[1])
    case 17: return raw_aead_seal(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8])
    case 18: return raw_aead_open(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8])
    case 19: return raw_hpke_open(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10])
    case 20: return raw_ui_show(a[0], a[1])
    case 21: return raw_ui_confirm(a[0], a[1], a[2])
    case 22: return raw_ui_read_pin(a[0], a[1], a[2], a[3], a[4])
    case 23: return raw_attest(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8])
    case 24: return raw_ui_read_text(a[0], a[1], a[2], a[3], a[4])
    case 25: return raw_hpke_seal_auth(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12])
    case 26: return raw_hpke_open_auth(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12])
    default: return GPReturnCode.notSupported
    }
}

nonisolated(unsafe) var sink: UInt32 = 0
nonisolated(unsafe) var hoard: [[UInt8]] = []

@main
struct Hostile: Trustlet {
    var trapOnClose = false

    init() throws(TrustletError) {}

    mutating func openSession(parameters: inout Parameters) throws(TrustletError) {
        if parameters.type(0) == .valueInput {
            let mode = try parameters.value(0).a
            if mode == 1 { fatalError("trap in open session") }
            trapOnClose = mode == 2
        }
    }

    mutating func invoke(command: UInt32, parameters: inout Parameters) throws(TrustletError) {
        let far: UInt32 = 0xFFFF_FF00
        switch command {
        case 1:
            var spin: UInt32 = 1
            while spin != 0 { spin = spin &* 1_664_525 &+ 1_013_904_223; sink = spin | 1 }
        case 2:
            while true { hoard.append([UInt8](repeating: 0xAB, count: 1 << 20)) }
        case 3:
            fatalError("trap in invoke")
        case 4:
            // Work done by the runtime, not the guest: hashing 1 MiB per call, for ever.
            let buffer = [UInt8](repeating: 0x5A, count: 1 << 20)
            var digest = [UInt8](repeating: 0, count: 32)
            buffer.withUnsafeBytes { input in
                digest.withUnsafeMutableBytes { output in
                    let (from, to) = (UInt32(UInt(bitPattern: input.baseAddress)), UInt32(UInt(bitPattern: output.baseAddress)))
                    while true { sink = raw_sha256(from, 1 << 20, to) }
                }
            }
        case 10: raw_log(far, 4096)
        case 11: sink = raw_random(far, 4096)
        case 12: sink = raw_sha256(far, 4096, 16)
        case 13: sink = raw_storage_write(16, 8, far, 4096)
        case 14: sink = raw_storage_read(16, 8, far, 4096, 32)
        case 15: sink = raw_storage_delete(far, 64)
        case 16: sink = raw_storage_read(16, 8, 64, 16, far)
        case 17: sink = raw_counter_read(16, 4, far)
        case 18: sink = raw_counter_increment(far, 8, 64)
        case 19: sink = raw_time_monotonic(far)
        case 21: sink = raw_time_wall(far)
        case 20:
            try parameters.expect(.none, .valueOutput)
            let found = try SecureStorage.read([0x63, 0x6F, 0x75, 0x6E, 0x74]) != nil
            try parameters.setValue(1, a: found ? 1 : 0)
        case 30:
            try parameters.expect(.valueInput)
            let (function, bad) = try parameters.value(0)
            var arguments = [UInt32](repeating: 16, count: 13)
            if bad < 13 { arguments[Int(bad)] = far }
            sink = callHost(function, arguments)
        case 40:
            try parameters.expect(.valueInput, .valueOutput)
            let (kind, count) = try parameters.value(0)
            let (done, code) = flood(kind, count)
            try parameters.setValue(1, a: done, b: code)
        default:
            throw .notSupported
        }
    }

    /// Takes `count` of one kind of secure state, stopping at the first refusal.
    func flood(_ kind: UInt32, _ count: UInt32) -> (UInt32, UInt32) {
        let data = [UInt8](repeating: 0xC5, count: kind == 2 ? 65536 : 1024)
        var value = [UInt8](repeating: 0, count: 8)
        var publicKey = [UInt8](repeating: 0, count: 8)
        var publicLength: UInt32 = 0
        var done: UInt32 = 0
        while done < count {
            let id: [UInt8] = [0x71, UInt8(done >> 24 & 0xFF), UInt8(done >> 16 & 0xFF), UInt8(done >> 8 & 0xFF), UInt8(done & 0xFF)]
            let code: UInt32 = id.withUnsafeBytes { idBytes in
                let idAddress = UInt32(UInt(bitPattern: idBytes.baseAddress))
                switch kind {
                case 0:
                    return value.withUnsafeMutableBytes { raw_counter_increment(idAddress, 5, UInt32(UInt(bitPattern: $0.baseAddress))) }
                case 1, 2:
                    return data.withUnsafeBytes { raw_storage_write(idAddress, 5, UInt32(UInt(bitPattern: $0.baseAddress)), Int32(data.count)) }
                case 3:
                    return publicKey.withUnsafeMutableBytes { key in
                        withUnsafeMutablePointer(to: &publicLength) { length in
                            raw_key_generate(3, idAddress, 5, UInt32(UInt(bitPattern: key.baseAddress)), 8, UInt32(UInt(bitPattern: length)))
                        }
                    }
                case 4:
                    data.withUnsafeBytes { raw_log(UInt32(UInt(bitPattern: $0.baseAddress)), 64) }
                    return 0
                default:
                    return GPReturnCode.notSupported
                }
            }
            if code != 0 { return (done, code) }
            done += 1
        }
        return (done, 0)
    }

    mutating func closeSession() {
        if trapOnClose { fatalError("trap in close session") }
    }
}
