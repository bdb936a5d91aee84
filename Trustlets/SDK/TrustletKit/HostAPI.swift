// The internal API: functions the runtime gives a trustlet (wasm module "tz"). Every pointer and
// length is checked by the runtime against this trustlet's memory; a bad one ends the session.

@_extern(wasm, module: "tz", name: "log") @_extern(c)
func tz_log(_ message: UnsafeRawPointer?, _ length: Int32)

@_extern(wasm, module: "tz", name: "random") @_extern(c)
func tz_random(_ buffer: UnsafeMutableRawPointer?, _ length: Int32) -> UInt32

@_extern(wasm, module: "tz", name: "sha256") @_extern(c)
func tz_sha256(_ data: UnsafeRawPointer?, _ length: Int32, _ digest: UnsafeMutableRawPointer?) -> UInt32

@_extern(wasm, module: "tz", name: "storage_write") @_extern(c)
func tz_storage_write(_ id: UnsafeRawPointer?, _ idLength: Int32, _ data: UnsafeRawPointer?, _ dataLength: Int32) -> UInt32

@_extern(wasm, module: "tz", name: "storage_read") @_extern(c)
func tz_storage_read(_ id: UnsafeRawPointer?, _ idLength: Int32, _ buffer: UnsafeMutableRawPointer?, _ capacity: Int32,
                     _ length: UnsafeMutablePointer<UInt32>?) -> UInt32

@_extern(wasm, module: "tz", name: "storage_delete") @_extern(c)
func tz_storage_delete(_ id: UnsafeRawPointer?, _ idLength: Int32) -> UInt32

/// The trustlet's secure log: kept by the secure world, never shown to the normal world.
public enum SecureLog {
    public static func write(_ message: StaticString) {
        tz_log(UnsafeRawPointer(message.utf8Start), Int32(message.utf8CodeUnitCount))
    }

    public static func write(_ message: String) {
        withUTF8(message) { tz_log($0, $1) }
    }
}

/// Random bytes from the secure world's source.
public enum Random {
    /// `count` random bytes from the runtime.
    /// - Throws: the runtime's refusal (no `random` capability, too many bytes at once): never
    ///   zeros where randomness was asked for.
    public static func bytes(_ count: Int) throws(TrustletError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let code = out.withUnsafeMutableBytes { tz_random($0.baseAddress, Int32($0.count)) }
        try TrustletError.check(code)
        return out
    }
}

/// Digests computed by the runtime.
public enum Digest {
    public static func sha256(_ data: [UInt8]) throws(TrustletError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let code = data.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { tz_sha256(input.baseAddress, Int32(input.count), $0.baseAddress) }
        }
        try TrustletError.check(code)
        return out
    }
}

/// This trustlet's sealed objects: encrypted, authenticated and rollback-protected by the runtime,
/// in a namespace no other trustlet (and no other signer) can open.
public enum SecureStorage {
    /// Creates or replaces an object.
    public static func write(_ id: [UInt8], _ data: [UInt8]) throws(TrustletError) {
        let code = id.withUnsafeBytes { idBytes in
            data.withUnsafeBytes { tz_storage_write(idBytes.baseAddress, Int32(idBytes.count), $0.baseAddress, Int32($0.count)) }
        }
        try TrustletError.check(code)
    }

    /// Reads an object; `nil` if there is none with that ID.
    public static func read(_ id: [UInt8]) throws(TrustletError) -> [UInt8]? {
        do throws(TrustletError) {
            return try withBytes(id) { i, il throws(TrustletError) in
                try variableOutput(initial: 256) { tz_storage_read(i, il, $0, $1, $2) }
            }
        } catch where error == .itemNotFound {
            return nil
        }
    }

    public static func delete(_ id: [UInt8]) throws(TrustletError) {
        let code = id.withUnsafeBytes { tz_storage_delete($0.baseAddress, Int32($0.count)) }
        try TrustletError.check(code)
    }
}

@_extern(wasm, module: "tz", name: "counter_read") @_extern(c)
func tz_counter_read(_ id: UnsafeRawPointer?, _ idLength: Int32, _ value: UnsafeMutablePointer<UInt64>?) -> UInt32

@_extern(wasm, module: "tz", name: "counter_increment") @_extern(c)
func tz_counter_increment(_ id: UnsafeRawPointer?, _ idLength: Int32, _ value: UnsafeMutablePointer<UInt64>?) -> UInt32

@_extern(wasm, module: "tz", name: "time_monotonic") @_extern(c)
func tz_time_monotonic(_ nanoseconds: UnsafeMutablePointer<UInt64>?) -> UInt32

@_extern(wasm, module: "tz", name: "time_wall") @_extern(c)
func tz_time_wall(_ seconds: UnsafeMutablePointer<UInt64>?) -> UInt32

/// Counters in replay-protected memory: they only go up, and no rollback of the normal world's
/// files brings an old value back. IDs are 1 to 24 bytes, private to this trustlet and its signer.
public enum MonotonicCounter {
    public static func read(_ id: [UInt8]) throws(TrustletError) -> UInt64 {
        var value: UInt64 = 0
        let code = id.withUnsafeBytes { tz_counter_read($0.baseAddress, Int32($0.count), &value) }
        try TrustletError.check(code)
        return value
    }

    /// Adds one and returns the new value.
    public static func increment(_ id: [UInt8]) throws(TrustletError) -> UInt64 {
        var value: UInt64 = 0
        let code = id.withUnsafeBytes { tz_counter_increment($0.baseAddress, Int32($0.count), &value) }
        try TrustletError.check(code)
        return value
    }
}

/// Time from the secure world, not from the normal world's clock.
public enum TrustedTime {
    /// Nanoseconds since the runtime started; never goes back.
    public static func monotonicNanoseconds() throws(TrustletError) -> UInt64 {
        var value: UInt64 = 0
        try TrustletError.check(tz_time_monotonic(&value))
        return value
    }

    /// Seconds since 1970 (UTC).
    public static func wallClockSeconds() throws(TrustletError) -> UInt64 {
        var value: UInt64 = 0
        try TrustletError.check(tz_time_wall(&value))
        return value
    }
}
