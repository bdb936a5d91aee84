import Foundation
import Logging
import PHRApp
import PHRServer
import Synchronization

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

    public func scan(_ sources: [Source]) -> [Finding] {
        var findings: [Finding] = []
        for source in sources {
            for needle in needles where Self.contains(source.bytes, needle.bytes) {
                findings.append(Finding(source: source.name, kind: needle.kind))
            }
        }
        return findings
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        let first = needle[0]
        var index = 0
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == first && haystack[index..<(index + needle.count)].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }
}

/// A log handler that appends every line to a file: the normal world's logs, as the attacker
/// (who can read them all) sees them.
public struct FileLogHandler: LogHandler {
    final class Sink: Sendable {
        let handle: Mutex<FileHandle?>
        init(path: String) {
            if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
            let file = FileHandle(forWritingAtPath: path)
            _ = try? file?.seekToEnd()
            handle = Mutex(file)
        }
        func write(_ line: String) { handle.withLock { $0?.write(Data((line + "\n").utf8)) } }
    }

    let label: String
    let sink: Sink
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace

    /// A factory for `Logger(label:factory:)` writing to `path`.
    public static func factory(path: String) -> @Sendable (String) -> LogHandler {
        let sink = Sink(path: path)
        return { label in FileLogHandler(label: label, sink: sink) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        sink.write("\(event.level) \(label): \(event.message) \(merged.map { "\($0)=\($1)" }.sorted().joined(separator: " "))")
    }
}
