#if canImport(Glibc)
import Glibc
#endif

/// Process-wide allocator settings for the secure-world daemon.
public enum MemoryTuning {
    /// Keeps freed heap memory for reuse instead of returning it to the kernel at every free.
    ///
    /// Every sealed read allocates a few buffers of the object's size (the file, and swift-crypto's
    /// ciphertext and plaintext). With glibc's default 128 KiB trim threshold, freeing them shrinks
    /// the heap and the next request faults the same pages in again; on a VM those faults cost more
    /// than the decryption (measured: a 64 KiB get took ~103 µs, ~38 µs with this setting). The cost
    /// is that the daemon keeps up to `keep` bytes of freed memory mapped.
    /// - Parameter keep: how much freed memory may stay mapped, in bytes.
    /// - Returns: whether the allocator accepted the setting (`false` where it is not glibc).
    @discardableResult
    public static func keepFreedMemory(upTo keep: Int32 = 64 << 20) -> Bool {
        #if canImport(Glibc)
        // `mallopt` lives in <malloc.h>, which the Glibc module does not export.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let program = dlopen(nil, RTLD_NOW), let symbol = dlsym(program, "mallopt") else { return false }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let trimThreshold: Int32 = -1, topPad: Int32 = -2
        return mallopt(trimThreshold, keep) == 1 && mallopt(topPad, 1 << 20) == 1
        #else
        return false
        #endif
    }
}
