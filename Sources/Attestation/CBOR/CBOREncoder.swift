extension CBOR {
    /// The item in the core deterministic encoding (RFC 8949 §4.2.1): the shortest argument for
    /// every integer and length, definite lengths only, map entries sorted by the bytewise order of
    /// their encoded keys, and each float in the shortest of half, single or double precision that
    /// keeps its value (NaN as `f97e00`).
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    func encode(into out: inout [UInt8]) {
        switch self {
        case let .unsigned(value): Self.head(0, value, into: &out)
        case let .negative(value): Self.head(1, value, into: &out)
        case let .bytes(value):
            Self.head(2, UInt64(value.count), into: &out)
            out += value
        case let .text(value):
            Self.head(3, UInt64(value.utf8.count), into: &out)
            out += value.utf8
        case let .array(items):
            Self.head(4, UInt64(items.count), into: &out)
            for item in items { item.encode(into: &out) }
        case let .map(entries):
            Self.head(5, UInt64(entries.count), into: &out)
            let encoded = entries.map { (key: $0.key.encoded(), value: $0.value) }
            for entry in encoded.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                out += entry.key
                entry.value.encode(into: &out)
            }
        case let .tagged(tag, item):
            Self.head(6, tag, into: &out)
            item.encode(into: &out)
        case let .simple(value):
            if value < 24 { out.append(0xE0 | value) } else { out += [0xF8, value] }
        case let .bool(value): out.append(value ? 0xF5 : 0xF4)
        case .null: out.append(0xF6)
        case .undefined: out.append(0xF7)
        case let .float(value): Self.float(value, into: &out)
        }
    }

    /// A major type and its argument, in the shortest form.
    static func head(_ major: UInt8, _ argument: UInt64, into out: inout [UInt8]) {
        let type = major << 5
        switch argument {
        case 0..<24: out.append(type | UInt8(argument))
        case 24...0xFF: out += [type | 24, UInt8(argument)]
        case 0x100...0xFFFF: out += [type | 25, UInt8(argument >> 8), UInt8(argument & 0xFF)]
        case 0x1_0000...0xFFFF_FFFF: out.append(type | 26); out += (0..<4).map { UInt8((argument >> UInt64(24 - 8 * $0)) & 0xFF) }
        default: out.append(type | 27); out += (0..<8).map { UInt8((argument >> UInt64(56 - 8 * $0)) & 0xFF) }
        }
    }

    static func float(_ value: Double, into out: inout [UInt8]) {
        if value.isNaN {
            out += [0xF9, 0x7E, 0x00]
        } else if let half = FloatWidths.halfBits(exactly: value) {
            out += [0xF9, UInt8(half >> 8), UInt8(half & 0xFF)]
        } else if let single = Float(exactly: value) {
            let bits = single.bitPattern
            out.append(0xFA)
            out += (0..<4).map { UInt8((bits >> UInt32(24 - 8 * $0)) & 0xFF) }
        } else {
            let bits = value.bitPattern
            out.append(0xFB)
            out += (0..<8).map { UInt8((bits >> UInt64(56 - 8 * $0)) & 0xFF) }
        }
    }
}

/// IEEE 754 half precision, without relying on `Float16` (not on every platform Swift runs on).
enum FloatWidths {
    /// The value of a half-precision bit pattern (RFC 8949 Appendix D).
    static func double(fromHalf half: UInt16) -> Double {
        let exponent = Int((half >> 10) & 0x1F)
        let mantissa = Double(half & 0x3FF)
        let magnitude: Double
        switch exponent {
        case 0: magnitude = mantissa * 0x1p-24
        case 31: magnitude = mantissa == 0 ? .infinity : .nan
        default: magnitude = (mantissa + 1024) * Double(sign: .plus, exponent: exponent - 25, significand: 1)
        }
        return half & 0x8000 != 0 ? -magnitude : magnitude
    }

    /// The half-precision bits of `value` if it is exactly representable (not NaN).
    static func halfBits(exactly value: Double) -> UInt16? {
        guard !value.isNaN else { return nil }
        let sign: UInt16 = value.sign == .minus ? 0x8000 : 0
        let magnitude = value.magnitude
        if magnitude == 0 { return sign }
        if magnitude.isInfinite { return sign | 0x7C00 }
        // Subnormal halves: multiples of 2^-24 below 2^-14.
        if magnitude < 0x1p-14 {
            let units = magnitude / 0x1p-24
            guard units == units.rounded(.towardZero), units < 1024 else { return nil }
            return sign | UInt16(units)
        }
        let exponent = Int(magnitude.exponent)
        guard exponent <= 15 else { return nil }
        let scaled = magnitude / Double(sign: .plus, exponent: exponent - 10, significand: 1)  // 1024 ..< 2048
        guard scaled == scaled.rounded(.towardZero) else { return nil }
        return sign | UInt16(exponent + 15) << 10 | (UInt16(scaled) - 1024)
    }
}
