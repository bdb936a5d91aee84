// A strict JSON (RFC 8259) reader and writer, written once for both worlds: compiled into
// TrustletKit (Embedded Swift, wasm32), where trustlets read and produce FHIR resources with it,
// and into the host module TrubiZoneWire, where the runtime reads trustlet manifests with it (the
// TCB uses no Foundation decoder).
//
// Strict means the reader accepts exactly RFC 8259 and I-JSON's (RFC 7493) further rules: UTF-8
// only, no duplicate member names, no unpaired surrogates; no comments, trailing commas, leading
// zeros, NaN or bare control characters. Numbers are kept as the literal text, so a FHIR decimal
// like 1.50 round-trips exactly. Limits on input size and nesting depth keep a hostile document
// from exhausting the trustlet's memory or stack.

public enum JSON: Equatable {
    case null
    case bool(Bool)
    /// A number, as its literal (already checked against the grammar).
    case number(String)
    case string(String)
    case array([JSON])
    /// An object's members, in document order.
    case object([JSONMember])

    /// How much a document may ask of the reader.
    public struct Limits {
        /// The longest document, in bytes.
        public var maxBytes: Int
        /// The deepest nesting of arrays and objects.
        public var maxDepth: Int

        public init(maxBytes: Int = 1 << 20, maxDepth: Int = 32) {
            self.maxBytes = maxBytes
            self.maxDepth = maxDepth
        }
    }

    /// Reads a document.
    /// - Throws: `JSONError` with the reason and the byte offset where reading stopped.
    public static func parse(_ bytes: [UInt8], limits: Limits = Limits()) throws(JSONError) -> JSON {
        guard bytes.count <= limits.maxBytes else { throw JSONError(.tooLarge, at: limits.maxBytes) }
        var reader = JSONReader(bytes: bytes, maxDepth: limits.maxDepth)
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.index == bytes.count else { throw JSONError(.trailingData, at: reader.index) }
        return value
    }

    /// Reads a document that is an object, and also gives where each element of one of its
    /// top-level arrays lies in `bytes`: the caller can keep those bytes exactly as they came
    /// instead of writing the parsed values back.
    /// - Parameter member: the top-level member whose array's element ranges are wanted.
    /// - Returns: the document and the byte range of each element of `member` (empty if it is absent or not an array).
    public static func parse(_ bytes: [UInt8], limits: Limits = Limits(), elementRangesOf member: String) throws(JSONError) -> (document: JSON, ranges: [Range<Int>]) {
        guard bytes.count <= limits.maxBytes else { throw JSONError(.tooLarge, at: limits.maxBytes) }
        var reader = JSONReader(bytes: bytes, maxDepth: limits.maxDepth)
        reader.rangesOf = Array(member.utf8)
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.index == bytes.count else { throw JSONError(.trailingData, at: reader.index) }
        return (value, reader.ranges)
    }

    // MARK: Reading values

    /// The value of the first member with this name, for an object.
    public subscript(key: String) -> JSON? {
        guard case let .object(members) = self else { return nil }
        // Comparing lengths first (constant time for native strings) skips almost every member.
        let length = key.utf8.count
        for member in members where member.key.utf8.count == length && member.key.sameUTF8(key) { return member.value }
        return nil
    }

    /// The element at `index`, for an array.
    public subscript(index: Int) -> JSON? {
        guard case let .array(elements) = self, index >= 0, index < elements.count else { return nil }
        return elements[index]
    }

    public var string: String? {
        if case let .string(value) = self { return value }
        return nil
    }

    public var bool: Bool? {
        if case let .bool(value) = self { return value }
        return nil
    }

    public var array: [JSON]? {
        if case let .array(value) = self { return value }
        return nil
    }

    public var members: [JSONMember]? {
        if case let .object(value) = self { return value }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// The number as an integer, if it is written as one (no fraction or exponent) and fits.
    public var integer: Int64? {
        guard case let .number(literal) = self else { return nil }
        var digits = Array(literal.utf8)
        let negative = digits.first == 0x2D
        if negative { digits.removeFirst() }
        var magnitude: UInt64 = 0
        for digit in digits {
            guard digit >= 0x30 && digit <= 0x39 else { return nil }
            // Checked by division: a 64-bit multiply with overflow needs a 128-bit helper wasm32 lacks.
            let value = UInt64(digit - 0x30)
            guard magnitude <= (UInt64.max - value) / 10 else { return nil }
            magnitude = magnitude &* 10 &+ value
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    // MARK: Writing

    /// The compact serialization (no whitespace), members in their order.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        write(into: &out)
        return out
    }

    private func write(into out: inout [UInt8]) {
        switch self {
        case .null: out += [0x6E, 0x75, 0x6C, 0x6C]
        case .bool(true): out += [0x74, 0x72, 0x75, 0x65]
        case .bool(false): out += [0x66, 0x61, 0x6C, 0x73, 0x65]
        case let .number(literal): out += Array(literal.utf8)
        case let .string(text): Self.writeString(text, into: &out)
        case let .array(elements):
            out.append(0x5B)
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(0x2C) }
                element.write(into: &out)
            }
            out.append(0x5D)
        case let .object(members):
            out.append(0x7B)
            for (index, member) in members.enumerated() {
                if index > 0 { out.append(0x2C) }
                Self.writeString(member.key, into: &out)
                out.append(0x3A)
                member.value.write(into: &out)
            }
            out.append(0x7D)
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func writeString(_ text: String, into out: inout [UInt8]) {
        out.append(0x22)
        // Most strings need no escape: copy them whole.
        var text = text
        let plain = text.withUTF8 { buffer -> Bool in
            for byte in buffer where byte < 0x20 || byte == 0x22 || byte == 0x5C { return false }
            out.append(contentsOf: buffer)
            return true
        }
        if plain {
            out.append(0x22)
            return
        }
        for byte in text.utf8 {
            switch byte {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case 0x08: out += [0x5C, 0x62]
            case 0x0C: out += [0x5C, 0x66]
            case 0x00..<0x20: out += [0x5C, 0x75, 0x30, 0x30, hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]]
            default: out.append(byte)
            }
        }
        out.append(0x22)
    }
}

public struct JSONMember: Equatable {
    public var key: String
    public var value: JSON

    public init(_ key: String, _ value: JSON) {
        self.key = key
        self.value = value
    }
}

/// Why a document was refused, and where.
public struct JSONError: Error, Equatable {
    public enum Reason: UInt32, Sendable {
        case tooLarge = 1, tooDeep, unexpectedEnd, unexpectedCharacter, invalidNumber, invalidEscape,
             invalidUTF8, controlCharacter, duplicateKey, trailingData
    }

    public let reason: Reason
    /// The byte offset where reading stopped.
    public let offset: Int

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }
}

/// The recursive-descent reader behind `JSON.parse`.
struct JSONReader {
    let bytes: [UInt8]
    let maxDepth: Int
    var index = 0
    /// The top-level member whose array elements' ranges are recorded, if any.
    var rangesOf: [UInt8]? = nil
    var ranges: [Range<Int>] = []
    private var recording = false

    init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    mutating func skipWhitespace() {
        let start = index
        index = bytes.withUnsafeBufferPointer { buffer -> Int in
            var position = start
            while position < buffer.count {
                let byte = buffer[position]
                guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { break }
                position += 1
            }
            return position
        }
    }

    private func peek() throws(JSONError) -> UInt8 {
        guard index < bytes.count else { throw JSONError(.unexpectedEnd, at: index) }
        return bytes[index]
    }

    mutating func value(depth: Int) throws(JSONError) -> JSON {
        skipWhitespace()
        switch try peek() {
        case 0x7B: return try object(depth: depth + 1)
        case 0x5B: return try array(depth: depth + 1)
        case 0x22: return .string(try string())
        case 0x74: try literal([0x74, 0x72, 0x75, 0x65]); return .bool(true)
        case 0x66: try literal([0x66, 0x61, 0x6C, 0x73, 0x65]); return .bool(false)
        case 0x6E: try literal([0x6E, 0x75, 0x6C, 0x6C]); return .null
        case 0x2D, 0x30...0x39: return .number(try number())
        default: throw JSONError(.unexpectedCharacter, at: index)
        }
    }

    private mutating func literal(_ word: [UInt8]) throws(JSONError) {
        for expected in word {
            guard try peek() == expected else { throw JSONError(.unexpectedCharacter, at: index) }
            index += 1
        }
    }

    private mutating func expect(_ byte: UInt8) throws(JSONError) {
        skipWhitespace()
        guard try peek() == byte else { throw JSONError(.unexpectedCharacter, at: index) }
        index += 1
    }

    private mutating func array(depth: Int) throws(JSONError) -> JSON {
        guard depth <= maxDepth else { throw JSONError(.tooDeep, at: index) }
        index += 1
        var elements: [JSON] = []
        skipWhitespace()
        if try peek() == 0x5D {
            index += 1
            return .array(elements)
        }
        // Only the array that is the named member of the top-level object records its elements.
        let records = recording && depth == 2
        recording = false
        while true {
            skipWhitespace()
            let start = index
            elements.append(try value(depth: depth))
            if records { ranges.append(start..<index) }
            skipWhitespace()
            let next = try peek()
            index += 1
            if next == 0x5D { return .array(elements) }
            guard next == 0x2C else { throw JSONError(.unexpectedCharacter, at: index - 1) }
        }
    }

    private mutating func object(depth: Int) throws(JSONError) -> JSON {
        guard depth <= maxDepth else { throw JSONError(.tooDeep, at: index) }
        index += 1
        var members: [JSONMember] = []
        // Names seen so far, for the duplicate check: a scan while few, a set beyond.
        var seen = Set<[UInt8]>()
        skipWhitespace()
        if try peek() == 0x7D {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard try peek() == 0x22 else { throw JSONError(.unexpectedCharacter, at: index) }
            let keyStart = index
            let key = try string()
            let keyBytes = Array(key.utf8)
            if members.count < 8 {
                for member in members where member.key.utf8.count == keyBytes.count && member.key.sameUTF8(key) {
                    throw JSONError(.duplicateKey, at: keyStart)
                }
                if members.count == 7 { for member in members { seen.insert(Array(member.key.utf8)) }; seen.insert(keyBytes) }
            } else if !seen.insert(keyBytes).inserted {
                throw JSONError(.duplicateKey, at: keyStart)
            }
            try expect(0x3A)
            if depth == 1, let rangesOf, keyBytes == rangesOf { recording = true }
            members.append(JSONMember(key, try value(depth: depth)))
            recording = false
            skipWhitespace()
            let next = try peek()
            index += 1
            if next == 0x7D { return .object(members) }
            guard next == 0x2C else { throw JSONError(.unexpectedCharacter, at: index - 1) }
        }
    }

    /// A string, from its opening quote.
    private mutating func string() throws(JSONError) -> String {
        index += 1
        // Most strings are plain ASCII with no escapes: find their end in one tight pass and take
        // them whole. The interpreter runs this loop far faster than the general one below.
        let start = index
        let plainEnd = bytes.withUnsafeBufferPointer { buffer -> Int in
            var position = start
            while position < buffer.count {
                let byte = buffer[position]
                if byte == 0x22 || byte == 0x5C || byte < 0x20 || byte >= 0x80 { break }
                position += 1
            }
            return position
        }
        if plainEnd < bytes.count && bytes[plainEnd] == 0x22 {
            index = plainEnd + 1
            return String(decoding: bytes[start..<plainEnd], as: UTF8.self)
        }
        var out = [UInt8](copying: bytes[start..<plainEnd])
        index = plainEnd
        while true {
            let byte = try peek()
            switch byte {
            case 0x22:
                index += 1
                return String(decoding: out, as: UTF8.self)
            case 0x5C:
                try escape(into: &out)
            case 0x00..<0x20:
                throw JSONError(.controlCharacter, at: index)
            case 0x80...0xFF:
                try utf8Sequence(into: &out)
            default:
                out.append(byte)
                index += 1
            }
        }
    }

    private mutating func escape(into out: inout [UInt8]) throws(JSONError) {
        let start = index
        index += 1
        let byte = try peek()
        index += 1
        switch byte {
        case 0x22, 0x5C, 0x2F: out.append(byte)
        case 0x62: out.append(0x08)
        case 0x66: out.append(0x0C)
        case 0x6E: out.append(0x0A)
        case 0x72: out.append(0x0D)
        case 0x74: out.append(0x09)
        case 0x75:
            var scalar = try hex4(start)
            if scalar >= 0xD800 && scalar <= 0xDBFF {
                // A high surrogate must be followed by an escaped low one.
                guard index + 1 < bytes.count, bytes[index] == 0x5C, bytes[index + 1] == 0x75 else { throw JSONError(.invalidEscape, at: start) }
                index += 2
                let low = try hex4(start)
                guard low >= 0xDC00 && low <= 0xDFFF else { throw JSONError(.invalidEscape, at: start) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                throw JSONError(.invalidEscape, at: start)
            }
            appendUTF8(scalar, into: &out)
        default:
            throw JSONError(.invalidEscape, at: start)
        }
    }

    private mutating func hex4(_ start: Int) throws(JSONError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            let digit = try peek()
            index += 1
            switch digit {
            case 0x30...0x39: value = value << 4 | UInt32(digit - 0x30)
            case 0x61...0x66: value = value << 4 | UInt32(digit - 0x61 + 10)
            case 0x41...0x46: value = value << 4 | UInt32(digit - 0x41 + 10)
            default: throw JSONError(.invalidEscape, at: start)
            }
        }
        return value
    }

    private func appendUTF8(_ scalar: UInt32, into out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out += [UInt8(0xC0 | scalar >> 6), UInt8(0x80 | scalar & 0x3F)]
        case 0x800..<0x10000:
            out += [UInt8(0xE0 | scalar >> 12), UInt8(0x80 | (scalar >> 6) & 0x3F), UInt8(0x80 | scalar & 0x3F)]
        default:
            out += [UInt8(0xF0 | scalar >> 18), UInt8(0x80 | (scalar >> 12) & 0x3F), UInt8(0x80 | (scalar >> 6) & 0x3F), UInt8(0x80 | scalar & 0x3F)]
        }
    }

    /// One multi-byte UTF-8 sequence, checked as RFC 3629 defines it (`UTF8Check`).
    private mutating func utf8Sequence(into out: inout [UInt8]) throws(JSONError) {
        guard let length = UTF8Check.sequenceLength(in: bytes[...], at: index), length > 1 else { throw JSONError(.invalidUTF8, at: index) }
        out += bytes[index..<(index + length)]
        index += length
    }

    /// A number literal: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    private mutating func number() throws(JSONError) -> String {
        let start = index
        func digits(_ reader: inout JSONReader) -> Int {
            var count = 0
            while reader.index < reader.bytes.count, reader.bytes[reader.index] >= 0x30, reader.bytes[reader.index] <= 0x39 {
                reader.index += 1
                count += 1
            }
            return count
        }
        if bytes[index] == 0x2D { index += 1 }
        guard index < bytes.count else { throw JSONError(.invalidNumber, at: start) }
        if bytes[index] == 0x30 {
            index += 1
        } else if digits(&self) == 0 {
            throw JSONError(.invalidNumber, at: start)
        }
        if index < bytes.count, bytes[index] == 0x2E {
            index += 1
            guard digits(&self) > 0 else { throw JSONError(.invalidNumber, at: start) }
        }
        if index < bytes.count, bytes[index] == 0x65 || bytes[index] == 0x45 {
            index += 1
            if index < bytes.count, bytes[index] == 0x2B || bytes[index] == 0x2D { index += 1 }
            guard digits(&self) > 0 else { throw JSONError(.invalidNumber, at: start) }
        }
        // A digit right after a complete number ("01") is a leading zero.
        if index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { throw JSONError(.invalidNumber, at: start) }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }
}
