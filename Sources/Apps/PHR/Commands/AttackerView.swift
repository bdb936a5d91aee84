import Foundation
import PHRApp
import PHRServer

/// What an attacker who owns the phone's normal world gets to read, and the search of it for
/// anything from the patient's records.
public struct AttackerView: Sendable {
    /// Something that must not appear: what kind it is, and its bytes. A finding names the kind,
    /// never the text, so the report itself leaks nothing.
    public struct Needle: Sendable {
        public let kind: String
        public let bytes: [UInt8]
    }

    /// One place the attacker reads: a file, the wire, a log.
    public struct Source: Sendable {
        public let name: String
        public let bytes: [UInt8]
        /// Ciphertext by design (sealed objects in the REE): there a needle shorter than
        /// `sealedMinimum` turns up by chance (a 4-byte name about once in 4 GiB, and a suite
        /// reads tens of MiB of sealed pages against hundreds of names), so only longer ones count.
        public let sealed: Bool

        public init(name: String, bytes: [UInt8], sealed: Bool = false) { (self.name, self.bytes, self.sealed) = (name, bytes, sealed) }
    }

    /// The shortest needle searched for in a sealed source: chance finds one of 6 bytes about once
    /// in 2^48 positions, far beyond what a suite reads.
    public static let sealedMinimum = 6

    public struct Finding: Sendable, CustomStringConvertible {
        public let source: String
        public let kind: String
        public var description: String { "\(kind) in \(source)" }
    }

    public var needles: [Needle] = []

    public init() {}

    /// Adds `text` as a needle, in every common encoding a careless log or file could hold it in:
    /// as it is, lower-cased, upper-cased, JSON-escaped, percent-encoded, as hex (either case) and
    /// as base64 or base64url at each of the three alignments it can have inside a longer encoding
    /// (bare numbers are not searched: a reading's "131" is in every timestamp).
    public mutating func add(_ kind: String, _ text: String, minimumLength: Int = 6) {
        let bytes = Array(text.utf8)
        guard bytes.count >= minimumLength else { return }
        // Another form is searched only from 8 bytes: a short name lower-cased, or a few base64
        // characters, turns up by chance in the hex and base64 that logs and headers are full of.
        for form in Self.encodings(of: text) where (form == bytes || form.count >= max(minimumLength, 8)) && !needles.contains(where: { $0.bytes == form }) {
            needles.append(Needle(kind: kind, bytes: form))
        }
    }

    /// `text` and its encodings; the first is the text's own UTF-8.
    static func encodings(of text: String) -> [[UInt8]] {
        let bytes = Array(text.utf8)
        var forms = [bytes, Array(text.lowercased().utf8), Array(text.uppercased().utf8)]
        // JSON: escaped quotes, backslashes and solidus, non-ASCII as \uXXXX (Foundation's and ours).
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "/": escaped += "\\/"
            case _ where scalar.value < 0x20 || scalar.value > 0x7E:
                for unit in String(scalar).utf16 { escaped += "\\u" + String(format: "%04x", unit) }
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        forms.append(Array(escaped.utf8))
        forms.append(Array(escaped.replacingOccurrences(of: "\\/", with: "/").utf8))
        // Percent-encoding, as a URL's path or query would carry it.
        if let percent = text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) { forms.append(Array(percent.utf8)) }
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        forms += [Array(hex.utf8), Array(hex.uppercased().utf8)]
        // Base64 at each alignment: only the characters that depend on the text's bytes alone.
        for offset in 0..<3 {
            let encoded = Array(Data([UInt8](repeating: 0, count: offset) + bytes).base64EncodedString().utf8)
            let first = (8 * offset + 5) / 6, end = (8 * (offset + bytes.count)) / 6
            guard end > first else { continue }
            let middle = Array(encoded[first..<end])
            forms.append(middle)
            forms.append(middle.map { $0 == UInt8(ascii: "+") ? UInt8(ascii: "-") : $0 == UInt8(ascii: "/") ? UInt8(ascii: "_") : $0 })
        }
        var unique: [[UInt8]] = []
        for form in forms where !unique.contains(form) { unique.append(form) }
        return unique
    }

    /// The names, identifiers, clinical texts and values in a patient's records.
    public mutating func addRecords(of patient: String, from store: RecordStore) throws {
        for reference in try store.resources(ofPatient: patient) {
            let parts = reference.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2, let data = try store.resource(type: parts[0], id: parts[1]),
                  let resource = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { continue }
            add("a record identifier", parts[1], minimumLength: 8)
            if parts[0] == "Patient" {
                for name in resource["name"] as? [[String: Any]] ?? [] {
                    if let family = name["family"] as? String { add("the patient's name", family, minimumLength: 4) }
                    for given in name["given"] as? [String] ?? [] { add("the patient's name", given, minimumLength: 4) }
                }
            }
            for concept in [resource["code"], resource["medicationCodeableConcept"], resource["vaccineCode"]] {
                guard let concept = concept as? [String: Any] else { continue }
                if let text = concept["text"] as? String { add("a clinical text", text, minimumLength: 10) }
                for coding in concept["coding"] as? [[String: Any]] ?? [] {
                    if let display = coding["display"] as? String { add("a clinical text", display, minimumLength: 10) }
                }
            }
            if let quantity = resource["valueQuantity"] as? [String: Any], let value = quantity["value"] as? NSNumber,
               let unit = (quantity["unit"] ?? quantity["code"]) as? String {
                add("a value", "\(value) \(unit)")
            }
            for note in resource["note"] as? [[String: Any]] ?? [] {
                if let text = note["text"] as? String { add("a note", text, minimumLength: 10) }
            }
        }
    }

    /// Every file under a directory, with its path (names can leak too).
    /// Every file under `directory`, named `label/relative path`; `sealed` for the REE, whose
    /// files are ciphertext by design.
    public static func files(under directory: String, label: String, sealed: Bool = false) -> [Source] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var out: [Source] = []
        for case let relative as String in walker {
            let path = directory + "/" + relative
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  let data = FileManager.default.contents(atPath: path) else { continue }
            out.append(Source(name: "\(label)/\(relative)", bytes: Array(relative.utf8) + [0] + Array(data), sealed: sealed))
        }
        return out.sorted { $0.name < $1.name }
    }

    public static func wire(_ log: WireLog) -> [Source] {
        log.all.enumerated().map { Source(name: "message \($0.offset + 1) (\($0.element.direction.rawValue))", bytes: $0.element.bytes) }
    }

    /// Every needle found in every source. One pass over each source, whatever the number of
    /// needles: the attack suite searches tens of MiB for hundreds of them.
    public func scan(_ sources: [Source]) -> [Finding] {
        var byPrefix: [UInt32: [Int]] = [:]
        var short: [Int] = []
        for (index, needle) in needles.enumerated() {
            if needle.bytes.count >= 4 {
                byPrefix[needle.bytes.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }, default: []].append(index)
            } else {
                short.append(index)
            }
        }
        var findings: [Finding] = []
        for source in sources {
            var found = Set(source.sealed ? [] : short.filter { Self.occurs(needles[$0].bytes, in: source.bytes) })
            source.bytes.withUnsafeBufferPointer { haystack in
                var window: UInt32 = 0  // the four bytes ending at `end`
                for end in 0..<haystack.count {
                    window = window << 8 | UInt32(haystack[end])
                    guard end >= 3, let candidates = byPrefix[window] else { continue }
                    let start = end - 3
                    for index in candidates where !found.contains(index) {
                        let needle = needles[index].bytes
                        if source.sealed, needle.count < Self.sealedMinimum { continue }
                        if start + needle.count <= haystack.count, haystack[start..<(start + needle.count)].elementsEqual(needle) { found.insert(index) }
                    }
                }
            }
            // One finding per kind and source, however many of its needles or encodings are there.
            var kinds: [String] = []
            for index in found.sorted() where !kinds.contains(needles[index].kind) { kinds.append(needles[index].kind) }
            findings += kinds.map { Finding(source: source.name, kind: $0) }
        }
        return findings
    }

    static func occurs(_ needle: [UInt8], in haystack: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
