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
        default:
            throw .notSupported
        }
    }

    mutating func closeSession() {
        if trapOnClose { fatalError("trap in close session") }
    }
}
