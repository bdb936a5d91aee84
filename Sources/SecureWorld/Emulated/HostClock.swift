#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TrubiZoneSecureWorld

/// The emulated device's secure clock: the host's monotonic and real-time clocks. The emulation
/// trusts the host's real-time clock as a phone's secure world trusts its RTC.
///
/// Monotonic time counts from the first time any secure world of this process read it: the
/// process is the emulated device's power cycle, so secure worlds restarted within it (as tests
/// and the attack suite restart them) see one clock that never goes back, as a device's own
/// timer runs on across a restart of its TEE.
public struct HostClock: SecureClock {
    private static let origin = ContinuousClock.now

    public init() { _ = Self.origin }

    public func monotonicNanoseconds() -> UInt64 {
        // Read the origin first: a lazily initialized static read after `now` would be later
        // than it, and the runtime must never trap on arithmetic a guest can trigger.
        let origin = Self.origin
        let elapsed = ContinuousClock.now - origin
        let seconds = UInt64(clamping: max(0, elapsed.components.seconds))
        return seconds &* 1_000_000_000 &+ UInt64(clamping: max(0, elapsed.components.attoseconds / 1_000_000_000))
    }

    public func wallClockSeconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec)
    }
}
