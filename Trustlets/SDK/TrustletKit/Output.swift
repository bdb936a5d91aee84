// Variable-length results from the internal API: the runtime writes the length it needs and
// answers short-buffer when the buffer is too small, and the call is made again with one that fits.

/// Calls `body(buffer, capacity, length)` with a buffer of `initial` bytes, and again with a larger
/// one while the runtime answers short-buffer.
func variableOutput(initial: Int,
                    _ body: (UnsafeMutableRawPointer?, Int32, UnsafeMutablePointer<UInt32>) -> UInt32) throws(TrustletError) -> [UInt8] {
    var capacity = initial
    var attempts = 0
    while true {
        var buffer = [UInt8](repeating: 0, count: capacity)
        var length: UInt32 = 0
        let code = buffer.withUnsafeMutableBytes { body($0.baseAddress, Int32(truncatingIfNeeded: $0.count), &length) }
        attempts += 1
        if code == TrustletError.shortBuffer.code, Int(length) > capacity, attempts < 4 {
            capacity = Int(length)
            continue
        }
        try TrustletError.check(code)
        guard Int(length) <= capacity else { throw .generic }
        buffer.removeLast(capacity - Int(length))
        return buffer
    }
}

/// Runs `body` with the UTF-8 bytes of `text`.
func withUTF8<R, E: Error>(_ text: String, _ body: (UnsafeRawPointer?, Int32) throws(E) -> R) throws(E) -> R {
    try withBytes(Array(text.utf8), body)
}

/// Runs `body` with the (pointer, length) of `bytes`.
func withBytes<R, E: Error>(_ bytes: [UInt8], _ body: (UnsafeRawPointer?, Int32) throws(E) -> R) throws(E) -> R {
    // `withUnsafeBytes` rethrows untyped; keep the typed error across it.
    var result: Result<R, E>? = nil
    bytes.withUnsafeBytes { buffer in
        do throws(E) {
            result = .success(try body(buffer.baseAddress, Int32(truncatingIfNeeded: buffer.count)))
        } catch {
            result = .failure(error)
        }
    }
    return try result!.get()
}
