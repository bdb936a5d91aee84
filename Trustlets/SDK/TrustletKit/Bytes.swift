// Small byte helpers for trustlet code: hex, big-endian integers, text.

public enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Lowercase hex.
    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hex (either case); `nil` for an odd length or a character that is not a hex digit.
    public static func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 2)
        var index = 0
        while index < input.count {
            guard let high = value(input[index]), let low = value(input[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case 0x30...0x39: digit - 0x30
        case 0x61...0x66: digit - 0x61 + 10
        case 0x41...0x46: digit - 0x41 + 10
        default: nil
        }
    }
}

public enum Bytes {
    /// The UTF-8 bytes of a string.
    public static func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Text from UTF-8 bytes (invalid sequences become U+FFFD).
    public static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    public static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    public static func bigEndian(_ value: UInt64) -> [UInt8] {
        bigEndian(UInt32(truncatingIfNeeded: value >> 32)) + bigEndian(UInt32(truncatingIfNeeded: value))
    }

    /// A big-endian `UInt32` from exactly four bytes at `offset`; `nil` if they are not there.
    public static func readUInt32(_ bytes: [UInt8], at offset: Int = 0) -> UInt32? {
        guard offset >= 0, offset + 4 <= bytes.count else { return nil }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    /// A big-endian `UInt64` from exactly eight bytes at `offset`; `nil` if they are not there.
    public static func readUInt64(_ bytes: [UInt8], at offset: Int = 0) -> UInt64? {
        guard let high = readUInt32(bytes, at: offset), let low = readUInt32(bytes, at: offset + 4) else { return nil }
        return UInt64(high) << 32 | UInt64(low)
    }

    /// The decimal digits of a number.
    public static func decimal(_ value: UInt64) -> String {
        if value == 0 { return "0" }
        var digits: [UInt8] = []
        var rest = value
        while rest > 0 {
            digits.append(UInt8(rest % 10) + 0x30)
            rest /= 10
        }
        return String(decoding: digits.reversed(), as: UTF8.self)
    }
}

/// Base64 (RFC 4648, with padding), for binary values in JSON bodies.
public enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let count = min(3, bytes.count - index)
            var group: UInt32 = 0
            var offset = 0
            while offset < 3 {
                group = group << 8 | (offset < count ? UInt32(bytes[index + offset]) : 0)
                offset += 1
            }
            out.append(alphabet[Int(group >> 18 & 0x3F)])
            out.append(alphabet[Int(group >> 12 & 0x3F)])
            out.append(count > 1 ? alphabet[Int(group >> 6 & 0x3F)] : 0x3D)
            out.append(count > 2 ? alphabet[Int(group & 0x3F)] : 0x3D)
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
