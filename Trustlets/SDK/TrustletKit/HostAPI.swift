// The internal API's core groups as Swift: log, random, digests, sealed storage, counters, time.
// The raw declarations are generated from the one table (InternalAPI.generated.swift).

/// The trustlet's secure log: kept by the secure world, never shown to the normal world.
public enum SecureLog {
    public static func write(_ message: StaticString) {
        tz_log(message: UnsafeRawPointer(message.utf8Start), messageLength: Int32(message.utf8CodeUnitCount))
    }

    public static func write(_ message: String) {
        withUTF8(message) { tz_log(message: $0, messageLength: $1) }
    }
}

/// Random bytes from the secure world's source.
public enum Random {
    /// `count` random bytes from the runtime.
    /// - Throws: the runtime's refusal (no `random` capability, too many bytes at once): never
    ///   zeros where randomness was asked for.
    public static func bytes(_ count: Int) throws(TrustletError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let code = out.withUnsafeMutableBytes { tz_random(buffer: $0.baseAddress, bufferLength: Int32($0.count)) }
        try TrustletError.check(code)
        return out
    }
}

/// Digests computed by the runtime.
public enum Digest {
    public static func sha256(_ data: [UInt8]) throws(TrustletError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let code = data.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { tz_sha256(data: input.baseAddress, dataLength: Int32(input.count), digest: $0.baseAddress) }
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
            data.withUnsafeBytes { tz_storage_write(id: idBytes.baseAddress, idLength: Int32(idBytes.count), data: $0.baseAddress, dataLength: Int32($0.count)) }
        }
        try TrustletError.check(code)
    }

    /// Reads an object; `nil` if there is none with that ID.
    public static func read(_ id: [UInt8]) throws(TrustletError) -> [UInt8]? {
        do throws(TrustletError) {
            return try withBytes(id) { i, il throws(TrustletError) in
                try variableOutput(initial: 256) { tz_storage_read(id: i, idLength: il, buffer: $0, bufferCapacity: $1, bufferLength: $2) }
            }
        } catch where error == .itemNotFound {
            return nil
        }
    }

    public static func delete(_ id: [UInt8]) throws(TrustletError) {
        let code = id.withUnsafeBytes { tz_storage_delete(id: $0.baseAddress, idLength: Int32($0.count)) }
        try TrustletError.check(code)
    }
}

/// Counters in replay-protected memory: they only go up, and no rollback of the normal world's
/// files brings an old value back. IDs are 1 to 24 bytes, private to this trustlet and its signer.
public enum MonotonicCounter {
    public static func read(_ id: [UInt8]) throws(TrustletError) -> UInt64 {
        var value: UInt64 = 0
        let code = id.withUnsafeBytes { tz_counter_read(id: $0.baseAddress, idLength: Int32($0.count), value: &value) }
        try TrustletError.check(code)
        return value
    }

    /// Adds one and returns the new value.
    public static func increment(_ id: [UInt8]) throws(TrustletError) -> UInt64 {
        var value: UInt64 = 0
        let code = id.withUnsafeBytes { tz_counter_increment(id: $0.baseAddress, idLength: Int32($0.count), value: &value) }
        try TrustletError.check(code)
        return value
    }
}

/// Time from the secure world, not from the normal world's clock.
public enum TrustedTime {
    /// Nanoseconds since the runtime started; never goes back.
    public static func monotonicNanoseconds() throws(TrustletError) -> UInt64 {
        var value: UInt64 = 0
        try TrustletError.check(tz_time_monotonic(nanoseconds: &value))
        return value
    }

    /// Seconds since 1970 (UTC).
    public static func wallClockSeconds() throws(TrustletError) -> UInt64 {
        var value: UInt64 = 0
        try TrustletError.check(tz_time_wall(seconds: &value))
        return value
    }
}
