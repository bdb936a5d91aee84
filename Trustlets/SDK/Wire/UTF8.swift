// UTF-8 as RFC 3629 defines it, written once for the JSON reader (both worlds) and the CBOR
// decoder (the TCB's tokens): no overlong forms, no surrogates, nothing above U+10FFFF.

public enum UTF8Check {
    /// The length of the well-formed UTF-8 sequence that starts at `index`, or nil if the bytes
    /// there are not one.
    public static func sequenceLength(in bytes: ArraySlice<UInt8>, at index: Int) -> Int? {
        let lead = bytes[index]
        if lead < 0x80 { return 1 }
        let count: Int
        var second: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: count = 1
        case 0xE0: count = 2; second = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: count = 2
        case 0xED: count = 2; second = 0x80...0x9F
        case 0xF0: count = 3; second = 0x90...0xBF
        case 0xF1...0xF3: count = 3
        case 0xF4: count = 3; second = 0x80...0x8F
        default: return nil
        }
        guard bytes.endIndex - index > count else { return nil }
        for position in 1...count where !(position == 1 ? second : 0x80...0xBF).contains(bytes[index + position]) { return nil }
        return count + 1
    }

    /// Whether all of `bytes` is well-formed UTF-8.
    public static func isValid(_ bytes: ArraySlice<UInt8>) -> Bool {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            guard let length = sequenceLength(in: bytes, at: index) else { return false }
            index += length
        }
        return true
    }
}
