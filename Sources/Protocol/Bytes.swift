/// Big-endian writer for the wire formats.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(v & 0xFF)) }
    public mutating func u32(_ v: UInt32) {
        bytes.append(UInt8(v >> 24)); bytes.append(UInt8((v >> 16) & 0xFF))
        bytes.append(UInt8((v >> 8) & 0xFF)); bytes.append(UInt8(v & 0xFF))
    }
    public mutating func u64(_ v: UInt64) { u32(UInt32(v >> 32)); u32(UInt32(v & 0xFFFF_FFFF)) }
    public mutating func raw<Bytes: Sequence>(_ v: Bytes) where Bytes.Element == UInt8 { bytes.append(contentsOf: v) }
    /// A u32 length followed by the bytes.
    public mutating func blob(_ v: [UInt8]) { u32(UInt32(v.count)); bytes.append(contentsOf: v) }

    /// Overwrites four bytes at `offset` (used to back-fill a length).
    public mutating func patchU32(at offset: Int, _ v: UInt32) {
        bytes[offset] = UInt8(v >> 24); bytes[offset + 1] = UInt8((v >> 16) & 0xFF)
        bytes[offset + 2] = UInt8((v >> 8) & 0xFF); bytes[offset + 3] = UInt8(v & 0xFF)
    }
}

/// Big-endian reader that never reads past its input: every read checks the bytes left first.
public struct ByteReader: Sendable {
    public struct Truncated: Error, Sendable {
        /// What was being read when the input ran out.
        public let field: String
    }

    let bytes: [UInt8]
    public private(set) var offset: Int
    let end: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
        self.end = bytes.count
    }

    public var remaining: Int { end - offset }
    public var isAtEnd: Bool { offset == end }

    public mutating func u8(_ field: String) throws(Truncated) -> UInt8 {
        guard remaining >= 1 else { throw Truncated(field: field) }
        defer { offset += 1 }
        return bytes[offset]
    }
    public mutating func u16(_ field: String) throws(Truncated) -> UInt16 {
        guard remaining >= 2 else { throw Truncated(field: field) }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }
    public mutating func u32(_ field: String) throws(Truncated) -> UInt32 {
        guard remaining >= 4 else { throw Truncated(field: field) }
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }
    public mutating func u64(_ field: String) throws(Truncated) -> UInt64 {
        let high = try u32(field)
        let low = try u32(field)
        return UInt64(high) << 32 | UInt64(low)
    }
    public mutating func raw(_ count: Int, _ field: String) throws(Truncated) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw Truncated(field: field) }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }
    /// A u32 length followed by that many bytes.
    public mutating func blob(_ field: String) throws(Truncated) -> [UInt8] {
        let count = try u32(field)
        guard UInt64(count) <= UInt64(remaining) else { throw Truncated(field: field) }
        return try raw(Int(count), field)
    }
}
