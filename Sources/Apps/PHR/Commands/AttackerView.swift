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

        public init(name: String, bytes: [UInt8]) { (self.name, self.bytes) = (name, bytes) }
    }

    public struct Finding: Sendable, CustomStringConvertible {
        public let source: String
        public let kind: String
        public var description: String { "\(kind) in \(source)" }
    }

    public var needles: [Needle] = []

    public init() {}

    public mutating func add(_ kind: String, _ text: String, minimumLength: Int = 6) {
        let bytes = Array(text.utf8)
        guard bytes.count >= minimumLength, !needles.contains(where: { $0.bytes == bytes }) else { return }
        needles.append(Needle(kind: kind, bytes: bytes))
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
    public static func files(under directory: String, label: String) -> [Source] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var out: [Source] = []
        for case let relative as String in walker {
            let path = directory + "/" + relative
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  let data = FileManager.default.contents(atPath: path) else { continue }
            out.append(Source(name: "\(label)/\(relative)", bytes: Array(relative.utf8) + [0] + Array(data)))
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
            var found = Set(short.filter { Self.occurs(needles[$0].bytes, in: source.bytes) })
            source.bytes.withUnsafeBufferPointer { haystack in
                var window: UInt32 = 0  // the four bytes ending at `end`
                for end in 0..<haystack.count {
                    window = window << 8 | UInt32(haystack[end])
                    guard end >= 3, let candidates = byPrefix[window] else { continue }
                    let start = end - 3
                    for index in candidates where !found.contains(index) {
                        let needle = needles[index].bytes
                        if start + needle.count <= haystack.count, haystack[start..<(start + needle.count)].elementsEqual(needle) { found.insert(index) }
                    }
                }
            }
            findings += found.sorted().map { Finding(source: source.name, kind: needles[$0].kind) }
        }
        return findings
    }

    static func occurs(_ needle: [UInt8], in haystack: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
