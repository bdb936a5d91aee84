// Negative controls: a test build of a trustlet can have one of its own checks turned off.

/// Whether the attack suite's negative control turned the check `name` off (a `Weakening`'s name
/// in the runtime, such as "senderKey"). Only a test build of a trustlet asks the runtime: the
/// build plugin makes `<name>-weakened.wasm` with `-D TRUBIZONE_WEAKENINGS` beside each app, and
/// only a debug runtime defines `tz.test_weakened`, so a test build cannot even be loaded by a
/// release one. Every other build answers false without a call.
@inline(__always)
public func weakened(_ name: StaticString) -> Bool {
    #if TRUBIZONE_WEAKENINGS
    return tz_test_weakened(name: UnsafeRawPointer(name.utf8Start), nameLength: Int32(name.utf8CodeUnitCount)) == 0
    #else
    return false
    #endif
}
