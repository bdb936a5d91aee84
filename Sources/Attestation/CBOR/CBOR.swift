/// A CBOR data item (RFC 8949), as the data model sees it: an indefinite-length string or
/// container read from the wire is the same item as its definite-length form.
public indirect enum CBOR: Hashable, Sendable {
    case unsigned(UInt64)
    /// The negative integer −1 − n.
    case negative(UInt64)
    case bytes([UInt8])
    case text(String)
    case array([CBOR])
    /// Map entries in the order they were read or built; the encoder sorts them (§4.2.1).
    case map([CBORMapEntry])
    case tagged(UInt64, CBOR)
    /// A simple value other than false, true, null and undefined (0–19, 32–255).
    case simple(UInt8)
    case bool(Bool)
    case null
    case undefined
    case float(Double)

    /// An integer.
    public static func int(_ value: Int64) -> CBOR {
        value >= 0 ? .unsigned(UInt64(value)) : .negative(UInt64(bitPattern: -1 - value))
    }

    /// A map from entries in the given order.
    public static func map(_ pairs: KeyValuePairs<CBOR, CBOR>) -> CBOR {
        .map(pairs.map { CBORMapEntry(key: $0.key, value: $0.value) })
    }

    // MARK: Reading values

    /// The value of an integer that fits in `Int64`.
    public var int: Int64? {
        switch self {
        case let .unsigned(value): value <= UInt64(Int64.max) ? Int64(value) : nil
        case let .negative(value): value <= UInt64(Int64.max) ? -1 - Int64(value) : nil
        default: nil
        }
    }

    public var bytes: [UInt8]? {
        if case let .bytes(value) = self { return value }
        return nil
    }

    public var text: String? {
        if case let .text(value) = self { return value }
        return nil
    }

    public var array: [CBOR]? {
        if case let .array(value) = self { return value }
        return nil
    }

    public var entries: [CBORMapEntry]? {
        if case let .map(value) = self { return value }
        return nil
    }

    /// The value for `key`, in a map.
    public subscript(key: CBOR) -> CBOR? {
        guard case let .map(entries) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }

    /// The value for an integer key, in a map (COSE and CWT labels).
    public subscript(label: Int64) -> CBOR? { self[.int(label)] }

    /// A short name of the item's type, for error messages.
    public var typeName: String {
        switch self {
        case .unsigned, .negative: "integer"
        case .bytes: "byte string"
        case .text: "text string"
        case .array: "array"
        case .map: "map"
        case .tagged: "tag"
        case .simple: "simple value"
        case .bool: "boolean"
        case .null: "null"
        case .undefined: "undefined"
        case .float: "float"
        }
    }
}

public struct CBORMapEntry: Hashable, Sendable {
    public var key: CBOR
    public var value: CBOR

    public init(key: CBOR, value: CBOR) {
        self.key = key
        self.value = value
    }
}

extension CBOR: CustomStringConvertible {
    /// Diagnostic notation (RFC 8949 §8).
    public var description: String {
        switch self {
        case let .unsigned(value): return String(value)
        case let .negative(value): return value == UInt64.max ? "-18446744073709551616" : "-" + String(value + 1)
        case let .bytes(value): return "h'" + value.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() + "'"
        case let .text(value): return Self.quoted(value)
        case let .array(items): return "[" + items.map(\.description).joined(separator: ", ") + "]"
        case let .map(entries): return "{" + entries.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        case let .tagged(tag, item): return "\(tag)(\(item))"
        case let .simple(value): return "simple(\(value))"
        case let .bool(value): return value ? "true" : "false"
        case .null: return "null"
        case .undefined: return "undefined"
        case let .float(value):
            if value.isNaN { return "NaN" }
            if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
            return "\(value)"
        }
    }

    private static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default:
                if scalar.value < 0x20 {
                    out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
