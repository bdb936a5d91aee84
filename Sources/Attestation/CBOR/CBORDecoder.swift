import TrubiZoneWire

/// Why bytes are not an acceptable CBOR item, and where the decoder stopped.
public struct CBORError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        /// The input ends inside an item.
        case truncated
        /// Additional information 28–30 (reserved), or 31 where no indefinite length exists.
        case reservedAdditionalInformation
        /// A two-byte simple value below 32 (RFC 8949 §3.3).
        case invalidSimpleValue
        /// A chunk of an indefinite-length string that is not a definite string of the same type.
        case invalidChunk
        /// A break stop code outside an indefinite-length container.
        case unexpectedBreak
        /// An indefinite-length map ending after a key.
        case missingMapValue
        /// An indefinite length where the caller forbids them.
        case indefiniteLengthForbidden
        /// A text string that is not valid UTF-8.
        case invalidUTF8
        /// The same key twice in one map.
        case duplicateKey
        /// Nesting deeper than the limit.
        case tooDeep
        /// More items than the limit.
        case tooManyItems
        /// More bytes than the limit, or a length beyond what the input can hold.
        case tooLarge
        /// Bytes after the item.
        case trailingBytes
        /// Well-formed, but not the core deterministic encoding the caller requires: the detail
        /// says which rule (a longer argument than needed, an indefinite length, unsorted keys,
        /// a float that fits a shorter width).
        case notDeterministic(String)
    }

    public let reason: Reason
    /// The byte offset where the decoder stopped.
    public let offset: Int

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        let what: String
        switch reason {
        case .truncated: what = "the input ends inside an item"
        case .reservedAdditionalInformation: what = "reserved additional information (28–30, or 31 where not allowed)"
        case .invalidSimpleValue: what = "a two-byte simple value below 32"
        case .invalidChunk: what = "an indefinite-length string holds a chunk that is not a definite string of its type"
        case .unexpectedBreak: what = "a break code outside an indefinite-length item"
        case .missingMapValue: what = "a map key without a value"
        case .indefiniteLengthForbidden: what = "an indefinite length, which this format forbids"
        case .invalidUTF8: what = "a text string that is not valid UTF-8"
        case .duplicateKey: what = "a map with the same key twice"
        case .tooDeep: what = "nesting deeper than the decoder's limit"
        case .tooManyItems: what = "more items than the decoder's limit"
        case .tooLarge: what = "more bytes than the decoder's limit"
        case .trailingBytes: what = "bytes after the item"
        case let .notDeterministic(rule): what = "not the deterministic encoding: \(rule)"
        }
        return "CBOR: \(what) (at byte \(offset))"
    }
}

/// A strict CBOR decoder with limits.
///
/// It accepts only well-formed input (RFC 8949 §3 and Appendix F) that is also valid in the ways a
/// protocol can rely on: UTF-8 text, no duplicate map keys. With `requireDeterministic` it accepts
/// only the core deterministic encoding (§4.2.1), which is what signed structures (COSE, the
/// attestation token) demand, so one value has one encoding.
public struct CBORDecoder: Sendable {
    public var maxDepth: Int
    public var maxItems: Int
    public var maxBytes: Int
    public var requireDeterministic: Bool
    /// Whether indefinite-length strings, arrays and maps are accepted (COSE forbids them).
    public var allowIndefiniteLengths: Bool

    public init(maxDepth: Int = 32, maxItems: Int = 65536, maxBytes: Int = 1 << 20, requireDeterministic: Bool = false,
                allowIndefiniteLengths: Bool = true) {
        self.maxDepth = maxDepth
        self.maxItems = maxItems
        self.maxBytes = maxBytes
        self.requireDeterministic = requireDeterministic
        self.allowIndefiniteLengths = allowIndefiniteLengths
    }

    /// Decodes exactly one item that fills `bytes`.
    public func decode(_ bytes: [UInt8]) throws(CBORError) -> CBOR {
        guard bytes.count <= maxBytes else { throw CBORError(.tooLarge, at: 0) }
        var reader = Reader(bytes: bytes, limits: self)
        let item = try reader.item(depth: 0)
        guard reader.offset == bytes.count else { throw CBORError(.trailingBytes, at: reader.offset) }
        return item
    }

    struct Reader {
        let bytes: [UInt8]
        let limits: CBORDecoder
        var offset = 0
        var items = 0

        init(bytes: [UInt8], limits: CBORDecoder) {
            self.bytes = bytes
            self.limits = limits
        }

        private mutating func byte() throws(CBORError) -> UInt8 {
            guard offset < bytes.count else { throw CBORError(.truncated, at: offset) }
            defer { offset += 1 }
            return bytes[offset]
        }

        private mutating func take(_ count: UInt64) throws(CBORError) -> ArraySlice<UInt8> {
            guard count <= UInt64(bytes.count - offset) else { throw CBORError(.truncated, at: offset) }
            defer { offset += Int(count) }
            return bytes[offset..<(offset + Int(count))]
        }

        /// The argument of a head with additional information `info`; `nil` for 31 (indefinite).
        private mutating func argument(_ info: UInt8, start: Int) throws(CBORError) -> UInt64? {
            let value: UInt64
            switch info {
            case 0..<24: return UInt64(info)
            case 24: value = UInt64(try byte()); if value < 24 { try notShortest(start) }
            case 25: value = try take(2).reduce(0) { $0 << 8 | UInt64($1) }; if value <= 0xFF { try notShortest(start) }
            case 26: value = try take(4).reduce(0) { $0 << 8 | UInt64($1) }; if value <= 0xFFFF { try notShortest(start) }
            case 27: value = try take(8).reduce(0) { $0 << 8 | UInt64($1) }; if value <= 0xFFFF_FFFF { try notShortest(start) }
            case 31: return nil
            default: throw CBORError(.reservedAdditionalInformation, at: start)
            }
            return value
        }

        private func notShortest(_ start: Int) throws(CBORError) {
            if limits.requireDeterministic { throw CBORError(.notDeterministic("an integer or length in a longer form than needed"), at: start) }
        }

        private func indefinite(_ start: Int) throws(CBORError) {
            if limits.requireDeterministic { throw CBORError(.notDeterministic("an indefinite length"), at: start) }
            if !limits.allowIndefiniteLengths { throw CBORError(.indefiniteLengthForbidden, at: start) }
        }

        private func isBreak() -> Bool { offset < bytes.count && bytes[offset] == 0xFF }

        mutating func item(depth: Int) throws(CBORError) -> CBOR {
            let start = offset
            items += 1
            guard items <= limits.maxItems else { throw CBORError(.tooManyItems, at: start) }
            let initial = try byte()
            let major = initial >> 5, info = initial & 0x1F
            if initial == 0xFF { throw CBORError(.unexpectedBreak, at: start) }
            switch major {
            case 0, 1:
                guard let value = try argument(info, start: start) else { throw CBORError(.reservedAdditionalInformation, at: start) }
                return major == 0 ? .unsigned(value) : .negative(value)
            case 2, 3:
                let content: [UInt8]
                if let length = try argument(info, start: start) {
                    content = Array(try take(length))
                } else {
                    try indefinite(start)
                    var joined: [UInt8] = []
                    while !isBreak() {
                        let chunkStart = offset
                        let head = try byte()
                        // Each chunk is a definite-length string of the same major type.
                        guard head >> 5 == major, head & 0x1F != 31 else { throw CBORError(.invalidChunk, at: chunkStart) }
                        guard let length = try argument(head & 0x1F, start: chunkStart) else { throw CBORError(.invalidChunk, at: chunkStart) }
                        let chunk = try take(length)
                        if major == 3, !UTF8Check.isValid(chunk) { throw CBORError(.invalidUTF8, at: chunkStart) }
                        joined += chunk
                    }
                    offset += 1
                    content = joined
                }
                if major == 2 { return .bytes(content) }
                guard UTF8Check.isValid(content[...]) else { throw CBORError(.invalidUTF8, at: start) }
                return .text(String(decoding: content, as: UTF8.self))
            case 4:
                guard depth < limits.maxDepth else { throw CBORError(.tooDeep, at: start) }
                var elements: [CBOR] = []
                if let count = try argument(info, start: start) {
                    // Each element takes at least one byte: a count beyond the input is refused
                    // before anything is reserved for it.
                    guard count <= UInt64(bytes.count - offset) else { throw CBORError(.truncated, at: start) }
                    elements.reserveCapacity(Int(count))
                    for _ in 0..<count { elements.append(try item(depth: depth + 1)) }
                } else {
                    try indefinite(start)
                    while !isBreak() {
                        guard offset < bytes.count else { throw CBORError(.truncated, at: offset) }
                        elements.append(try item(depth: depth + 1))
                    }
                    offset += 1
                }
                return .array(elements)
            case 5:
                guard depth < limits.maxDepth else { throw CBORError(.tooDeep, at: start) }
                var entries: [CBORMapEntry] = []
                // Keys are compared by their deterministic encoding: that is CBOR's notion of the
                // same key (two NaNs are the same key; 0.0 and -0.0, or two spellings of "é", are not).
                var keys = Set<[UInt8]>()
                var previousKey: [UInt8]? = nil
                func entry(_ reader: inout Reader) throws(CBORError) {
                    let keyStart = reader.offset
                    let key = try reader.item(depth: depth + 1)
                    let keyEnd = reader.offset
                    if reader.isBreak() { throw CBORError(.missingMapValue, at: reader.offset) }
                    let value = try reader.item(depth: depth + 1)
                    guard keys.insert(key.encoded()).inserted else { throw CBORError(.duplicateKey, at: keyStart) }
                    if reader.limits.requireDeterministic {
                        let encodedKey = Array(reader.bytes[keyStart..<keyEnd])
                        if let previousKey, !previousKey.lexicographicallyPrecedes(encodedKey) {
                            throw CBORError(.notDeterministic("map keys out of order"), at: keyStart)
                        }
                        previousKey = encodedKey
                    }
                    entries.append(CBORMapEntry(key: key, value: value))
                }
                if let count = try argument(info, start: start) {
                    guard count <= UInt64(bytes.count - offset) / 2 else { throw CBORError(.truncated, at: start) }
                    entries.reserveCapacity(Int(count))
                    for _ in 0..<count { try entry(&self) }
                } else {
                    try indefinite(start)
                    while !isBreak() {
                        guard offset < bytes.count else { throw CBORError(.truncated, at: offset) }
                        try entry(&self)
                    }
                    offset += 1
                }
                return .map(entries)
            case 6:
                guard let tag = try argument(info, start: start) else { throw CBORError(.reservedAdditionalInformation, at: start) }
                guard depth < limits.maxDepth else { throw CBORError(.tooDeep, at: start) }
                return .tagged(tag, try item(depth: depth + 1))
            default:
                return try simpleOrFloat(info, start: start)
            }
        }

        private mutating func simpleOrFloat(_ info: UInt8, start: Int) throws(CBORError) -> CBOR {
            switch info {
            case 20: return .bool(false)
            case 21: return .bool(true)
            case 22: return .null
            case 23: return .undefined
            case 0..<20: return .simple(info)
            case 24:
                let value = try byte()
                guard value >= 32 else { throw CBORError(.invalidSimpleValue, at: start) }
                return .simple(value)
            case 25:
                let bits = try take(2).reduce(UInt16(0)) { $0 << 8 | UInt16($1) }
                let value = FloatWidths.double(fromHalf: bits)
                if limits.requireDeterministic, value.isNaN, bits != 0x7E00 {
                    throw CBORError(.notDeterministic("a NaN other than f97e00"), at: start)
                }
                return .float(value)
            case 26:
                let value = Double(Float(bitPattern: try take(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }))
                try shortestFloat(value, width: 4, start: start)
                return .float(value)
            case 27:
                let value = Double(bitPattern: try take(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
                try shortestFloat(value, width: 8, start: start)
                return .float(value)
            default:
                throw CBORError(.reservedAdditionalInformation, at: start)
            }
        }

        private func shortestFloat(_ value: Double, width: Int, start: Int) throws(CBORError) {
            guard limits.requireDeterministic else { return }
            let shorter = value.isNaN || FloatWidths.halfBits(exactly: value) != nil || (width == 8 && Float(exactly: value) != nil)
            if shorter { throw CBORError(.notDeterministic("a float that fits a shorter width"), at: start) }
        }
    }
}

