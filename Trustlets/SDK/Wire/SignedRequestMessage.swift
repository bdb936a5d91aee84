// The bytes a device signs for a request to its server, written once for both worlds (compiled
// into TrustletKit and into the host module `TrubiZoneWire`): the trustlet signs them, the server
// and the attack suite rebuild them to verify. Bytes only, so Embedded Swift builds it.

/// What a device's ES256 signature covers:
///
///     "TrubiZone PHR request v1" LF METHOD LF TARGET LF DEVICE LF TIME LF NONCE LF BODY
///
/// `TARGET` is the path with its query, `DEVICE` the ID the server gave at enrollment, `TIME`
/// Unix seconds in decimal (no sign, no leading zeros), `NONCE` 32 lowercase hex digits, and
/// `BODY` the exact body bytes (nothing for a request without one). LF is 0x0A.
public enum SignedRequestMessage {
    public static let label: [UInt8] = Array("TrubiZone PHR request v1".utf8)

    /// The signed bytes of one request.
    public static func message(method: [UInt8], target: [UInt8], device: [UInt8], time: UInt64, nonce: [UInt8], body: [UInt8]) -> [UInt8] {
        var bytes = label
        bytes.reserveCapacity(label.count + method.count + target.count + device.count + nonce.count + body.count + 26)
        for field in [method, target, device, decimal(time), nonce] {
            bytes.append(0x0A)
            bytes += field
        }
        bytes.append(0x0A)
        bytes += body
        return bytes
    }

    /// `value` in decimal ASCII.
    public static func decimal(_ value: UInt64) -> [UInt8] {
        if value == 0 { return [0x30] }
        var digits: [UInt8] = []
        var rest = value
        while rest > 0 {
            digits.insert(UInt8(truncatingIfNeeded: rest % 10) + 0x30, at: 0)
            rest /= 10
        }
        return digits
    }
}
