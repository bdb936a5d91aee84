/// The secure world's time: a monotonic timer no one outside can set, and the wall clock the
/// platform keeps for it (a secure RTC on a phone; the host's on an emulated device).
///
/// The runtime reads time only through this interface: trustlets' `time_monotonic` and
/// `time_wall`, and the attestation token's issue time.
public protocol SecureClock: Sendable {
    /// Nanoseconds since the secure world started; never goes back.
    func monotonicNanoseconds() -> UInt64
    /// Seconds since 1970 (UTC).
    func wallClockSeconds() -> Int64
}
