import Foundation
import Testing
import TrubiZoneCBOR
import TrubiZoneTesting

/// Our CBOR against RFC 8949 Appendix A (`../shared/data/cbor/appendix_a.json`) and the
/// not-well-formed cases of `fail.json`.
@Suite struct CBORTests {
    struct Vector {
        let hex: String
        let roundtrip: Bool
        let decoded: Any?
        let diagnostic: String?
        /// The JSON text of `decoded`, for numbers beyond what Foundation keeps exactly.
        let decodedText: String?
    }

    static func appendixA() throws -> [Vector] {
        let data = try Data(contentsOf: URL(fileURLWithPath: SharedData.path("cbor/appendix_a.json")))
        let entries = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] ?? []
        return entries.map { entry in
            Vector(hex: entry["hex"] as? String ?? "", roundtrip: entry["roundtrip"] as? Bool ?? false, decoded: entry["decoded"],
                   diagnostic: entry["diagnostic"] as? String, decodedText: (entry["decoded"] as? NSNumber)?.stringValue)
        }
    }

    @Test func appendixAVectorsDecodeAndRoundTrip() throws {
        let vectors = try Self.appendixA()
        #expect(vectors.count == 82)
        var checked = 0
        for vector in vectors {
            let bytes = hexBytes(vector.hex)
            if vector.hex == "f818" {
                // RFC 8949 §3.3: a two-byte simple value below 32 is not well-formed (the file
                // follows RFC 7049 here; see ../shared/NOTES-toolchain.md).
                #expect(throws: CBORError(.invalidSimpleValue, at: 0)) { try CBORDecoder().decode(bytes) }
                continue
            }
            let item = try CBORDecoder().decode(bytes)
            if let diagnostic = vector.diagnostic {
                // Our data model joins indefinite-length chunks (§3.2.3), so the one vector
                // whose notation shows the chunks is compared as the joined string.
                let expected = diagnostic == "(_ h'0102', h'030405')" ? "h'0102030405'" : diagnostic
                #expect(item.description == expected, "\(vector.hex)")
            } else {
                #expect(Self.matches(item, vector.decoded, literal: vector.decodedText), "\(vector.hex) decoded as \(item)")
            }
            if vector.roundtrip {
                #expect(item.encoded() == bytes, "\(vector.hex) re-encoded as \(item.encoded().map { String(format: "%02x", $0) }.joined())")
            }
            checked += 1
        }
        #expect(checked == 81)
    }

    @Test func everyNotWellFormedInputIsRejected() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: SharedData.path("cbor/fail.json")))
        let entries = try JSONSerialization.jsonObject(with: data) as? [[String: String]] ?? []
        #expect(entries.count == 679)
        for entry in entries {
            let hex = entry["hex"] ?? ""
            #expect(throws: CBORError.self, "\(hex) was accepted") { try CBORDecoder().decode(hexBytes(hex)) }
        }
    }

    @Test func deterministicModeRefusesOtherEncodingsOfTheSameValue() throws {
        let strict = CBORDecoder(requireDeterministic: true)
        for (hex, rule) in [("1817", "longer form"), ("190017", "longer form"), ("9f01ff", "indefinite"), ("5f4101ff", "indefinite"),
                            ("a2616201616101", "out of order"), ("fa3fc00000", "shorter width"), ("fb3ff8000000000000", "shorter width"),
                            ("f97e01", "NaN")] {
            let error = #expect(throws: CBORError.self) { try strict.decode(hexBytes(hex)) }
            guard case let .notDeterministic(detail)? = error?.reason else {
                Issue.record("\(hex): \(String(describing: error))")
                continue
            }
            #expect(detail.contains(rule), "\(hex): \(detail)")
            _ = try CBORDecoder().decode(hexBytes(hex))  // well-formed all the same
        }
        // What the encoder writes, the strict decoder takes back unchanged.
        let item = CBOR.map([.int(-7): .float(1.5), .text("b"): .array([.bytes([1, 2]), .null]), .int(1): .tagged(18, .bool(true))])
        #expect(try strict.decode(item.encoded()).encoded() == item.encoded())
    }

    @Test func limitsAndMalformedInputFailWithTheirReason() throws {
        let deep = [UInt8](repeating: 0x81, count: 40) + [0x00]
        #expect(throws: CBORError(.tooDeep, at: 32)) { try CBORDecoder().decode(deep) }
        #expect(throws: CBORError(.tooManyItems, at: 3)) { try CBORDecoder(maxItems: 3).decode(hexBytes("83010203")) }
        #expect(throws: CBORError(.tooLarge, at: 0)) { try CBORDecoder(maxBytes: 3).decode(hexBytes("83010203")) }
        #expect(throws: CBORError(.duplicateKey, at: 3)) { try CBORDecoder().decode(hexBytes("a201020103")) }
        #expect(throws: CBORError(.invalidUTF8, at: 0)) { try CBORDecoder().decode(hexBytes("62c0af")) }
        #expect(throws: CBORError(.trailingBytes, at: 1)) { try CBORDecoder().decode(hexBytes("0000")) }
        // A length far beyond the input is refused without reserving memory for it.
        #expect(throws: CBORError(.truncated, at: 0)) { try CBORDecoder().decode(hexBytes("9bffffffffffffffff")) }
        #expect(throws: CBORError(.truncated, at: 9)) { try CBORDecoder().decode(hexBytes("5bffffffffffffffff00")) }
    }

    @Test func randomMutationsNeverCrashTheDecoder() throws {
        var generator = SystemRandomNumberGenerator()
        let seeds = try Self.appendixA().map { hexBytes($0.hex) }
        for round in 0..<20_000 {
            var bytes = seeds[round % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                switch Int.random(in: 0..<3, using: &generator) {
                case 0 where !bytes.isEmpty: bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: Int.random(in: 0...bytes.count, using: &generator))
                default: if !bytes.isEmpty { bytes.removeLast() }
                }
            }
            if let item = try? CBORDecoder().decode(bytes) {
                // Whatever is accepted re-encodes to something the strict decoder accepts.
                _ = try CBORDecoder(requireDeterministic: true).decode(item.encoded())
            }
        }
    }

    /// Compares a decoded item with the JSON value of the vector file.
    static func matches(_ item: CBOR, _ expected: Any?, literal: String?) -> Bool {
        switch (item, expected) {
        case (.null, is NSNull): return true
        case let (.bool(value), number as NSNumber): return value == number.boolValue
        case let (.unsigned(value), _): return literal == String(value)
        case (.negative, _): return literal == item.description
        case let (.tagged(2, .bytes(magnitude)), _): return literal == decimal(magnitude)
        case let (.tagged(3, .bytes(magnitude)), _): return literal == "-" + decimal(magnitude, plusOne: true)
        case let (.float(value), number as NSNumber):
            // Foundation may keep a large literal as a decimal; its text is exact.
            let expected = literal.flatMap(Double.init) ?? number.doubleValue
            return value == expected && value.sign == expected.sign
        case let (.text(value), text as String): return value == text
        case let (.array(items), array as [Any]):
            return items.count == array.count && zip(items, array).allSatisfy { matches($0, $1, literal: ($1 as? NSNumber)?.stringValue) }
        case let (.map(entries), object as [String: Any]):
            return entries.count == object.count && entries.allSatisfy { entry in
                guard let key = entry.key.text, let value = object[key] else { return false }
                return matches(entry.value, value, literal: (value as? NSNumber)?.stringValue)
            }
        default: return false
        }
    }

    /// A big-endian magnitude in decimal (plus one, for tag 3's −1 − n).
    static func decimal(_ magnitude: [UInt8], plusOne: Bool = false) -> String {
        var digits = [UInt8](repeating: 0, count: 1)  // little-endian base-10 digits
        for byte in magnitude {
            var carry = Int(byte)
            for index in digits.indices {
                let value = Int(digits[index]) * 256 + carry
                digits[index] = UInt8(value % 10)
                carry = value / 10
            }
            while carry > 0 { digits.append(UInt8(carry % 10)); carry /= 10 }
        }
        if plusOne {
            var index = 0
            while true {
                if index == digits.count { digits.append(0) }
                if digits[index] == 9 { digits[index] = 0; index += 1 } else { digits[index] += 1; break }
            }
        }
        while digits.count > 1, digits.last == 0 { digits.removeLast() }
        return digits.reversed().map(String.init).joined()
    }
}
