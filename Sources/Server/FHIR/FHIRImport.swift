import Crypto
import Foundation

/// One FHIR resource ready to store: its type, its logical ID, the patient it belongs to (if
/// any), and its JSON with the bundle's references resolved.
public struct FHIRResource: Sendable, Equatable {
    public let type: String
    public let id: String
    /// The `Patient/ID` this resource is about, when it says.
    public let patient: String?
    public let json: Data
    /// `system|value` of each identifier, for conditional references.
    public let identifiers: [String]
}

/// Why a file could not be imported. Nothing of a refused file is stored.
public struct ImportError: Error, Equatable, CustomStringConvertible {
    public let file: String
    /// The entry (0-based) at fault, if one is.
    public let entry: Int?
    public let reason: String

    public init(file: String, entry: Int?, reason: String) {
        self.file = file
        self.entry = entry
        self.reason = reason
    }

    public var description: String {
        "\(file)" + (entry.map { ", entry \($0)" } ?? "") + ": \(reason)"
    }
}

/// Reads FHIR R4 JSON files: a single resource, or a Bundle (transaction, batch, collection,
/// searchset, document, …) whose entries are taken in order.
///
/// References are resolved as a FHIR server resolves them on a transaction: `urn:uuid:` full URLs
/// become `Type/id`, and conditional references (`Practitioner?identifier=system|value`) become
/// the matching resource's `Type/id` when one is in the bundle or already stored; otherwise they
/// stay as written and are counted. Entries that carry no resource (DELETE, GET) are skipped and
/// counted.
public enum FHIRImport {
    /// The clinical types the PHR understands; others are kept as opaque resources.
    public static let clinicalTypes: Set<String> = [
        "Patient", "Practitioner", "Organization", "Observation", "Condition", "MedicationRequest", "MedicationStatement",
        "AllergyIntolerance", "Immunization", "Procedure", "DiagnosticReport", "Encounter", "DocumentReference",
    ]
    /// The largest file read.
    public static let maxFileSize = 64 << 20

    public struct Parsed {
        public var resources: [FHIRResource]
        public var skippedEntries: Int
        /// Conditional references left as written (no match in the bundle or the store).
        public var unresolvedConditional: Int
    }

    /// A file read and checked, its resources given IDs, references not yet resolved.
    public struct Prepared {
        let file: String
        let entries: [(index: Int?, resource: [String: Any], type: String, id: String)]
        let references: [String: String]
        let skippedEntries: Int
        /// "Type|system|value" → "Type/id" for the resources of this file.
        public let identifiers: [String: String]
    }

    /// Reads one file and resolves its references (`read`, then `resolve`).
    /// - Parameter lookup: finds a stored resource by `Type` and `system|value` identifier.
    public static func parse(_ data: Data, file: String, lookup: (String, String) -> String?) throws(ImportError) -> Parsed {
        try resolve(try read(data, file: file), lookup: lookup)
    }

    /// Reads one file: checks its JSON and every entry, gives each resource its ID.
    public static func read(_ data: Data, file: String) throws(ImportError) -> Prepared {
        guard data.count <= maxFileSize else { throw ImportError(file: file, entry: nil, reason: "larger than \(maxFileSize >> 20) MiB") }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ImportError(file: file, entry: nil, reason: "not JSON (\((error as NSError).localizedDescription))")
        }
        guard let root = object as? [String: Any], let rootType = root["resourceType"] as? String else {
            throw ImportError(file: file, entry: nil, reason: "not a FHIR resource: no resourceType")
        }
        var prepared: [(index: Int?, resource: [String: Any], type: String, id: String)] = []
        var references: [String: String] = [:]   // fullUrl → Type/id
        var skipped = 0
        if rootType == "Bundle" {
            guard root["entry"] == nil || root["entry"] is [Any] else { throw ImportError(file: file, entry: nil, reason: "Bundle.entry is not an array") }
            for (index, element) in (root["entry"] as? [Any] ?? []).enumerated() {
                guard let entry = element as? [String: Any] else { throw ImportError(file: file, entry: index, reason: "the entry is not an object") }
                guard let resource = entry["resource"] else { skipped += 1; continue }
                guard let object = resource as? [String: Any] else { throw ImportError(file: file, entry: index, reason: "entry.resource is not an object") }
                let fullUrl = entry["fullUrl"] as? String
                let (body, type, id) = try prepare(object, fullUrl: fullUrl, file: file, entry: index)
                if let fullUrl { references[fullUrl] = "\(type)/\(id)" }
                prepared.append((index, body, type, id))
            }
        } else {
            let (body, type, id) = try prepare(root, fullUrl: nil, file: file, entry: nil)
            prepared.append((nil, body, type, id))
        }
        var identifiers: [String: String] = [:]
        for item in prepared {
            for identifier in identifierStrings(item.resource) { identifiers["\(item.type)|\(identifier)"] = "\(item.type)/\(item.id)" }
        }
        return Prepared(file: file, entries: prepared, references: references, skippedEntries: skipped, identifiers: identifiers)
    }

    /// Resolves a read file's references and writes its resources back as JSON.
    public static func resolve(_ prepared: Prepared, lookup: (String, String) -> String?) throws(ImportError) -> Parsed {
        var resources: [FHIRResource] = []
        var unresolved = 0
        for item in prepared.entries {
            let (resource, missing) = try finish((item.resource, item.type, item.id), references: prepared.references, lookup: { type, identifier in
                prepared.identifiers["\(type)|\(identifier)"] ?? lookup(type, identifier)
            }, file: prepared.file, entry: item.index)
            resources.append(resource)
            unresolved += missing
        }
        return Parsed(resources: resources, skippedEntries: prepared.skippedEntries, unresolvedConditional: unresolved)
    }

    /// Checks a resource's type and gives it its logical ID.
    private static func prepare(_ object: [String: Any], fullUrl: String?, file: String, entry: Int?) throws(ImportError)
        -> ([String: Any], String, String) {
        guard let type = object["resourceType"] as? String, isResourceType(type) else {
            throw ImportError(file: file, entry: entry, reason: "no valid resourceType")
        }
        var body = object
        var id = object["id"] as? String
        if id == nil, let fullUrl {
            if fullUrl.hasPrefix("urn:uuid:") {
                id = String(fullUrl.dropFirst("urn:uuid:".count))
            } else if let last = fullUrl.split(separator: "/").last, fullUrl.split(separator: "/").dropLast().last.map(String.init) == type {
                id = String(last)
            }
        }
        if id == nil {
            // No ID anywhere: one derived from the content, so importing again finds the same resource.
            let canonical = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            id = SHA256.hash(data: canonical).prefix(16).map { String(format: "%02x", $0) }.joined()
        }
        guard let id, isFHIRID(id) else {
            throw ImportError(file: file, entry: entry, reason: "\(type) has an ID that is not a FHIR id ([A-Za-z0-9-.]{1,64})")
        }
        body["id"] = id
        return (body, type, id)
    }

    /// Rewrites references and serializes.
    private static func finish(_ item: ([String: Any], String, String), references: [String: String], lookup: (String, String) -> String?,
                               file: String, entry: Int?) throws(ImportError) -> (FHIRResource, Int) {
        var unresolved = 0
        func rewrite(_ value: Any) -> Any {
            if let object = value as? [String: Any] {
                var out: [String: Any] = [:]
                for (key, child) in object {
                    if key == "reference", let reference = child as? String {
                        out[key] = resolve(reference)
                    } else {
                        out[key] = rewrite(child)
                    }
                }
                return out
            }
            if let array = value as? [Any] { return array.map(rewrite) }
            return value
        }
        func resolve(_ reference: String) -> String {
            if let resolved = references[reference] { return resolved }
            if let question = reference.firstIndex(of: "?") {
                let type = String(reference[..<question])
                let query = reference[reference.index(after: question)...]
                if query.hasPrefix("identifier="), let found = lookup(type, String(query.dropFirst("identifier=".count))) { return found }
                unresolved += 1
            }
            return reference
        }
        guard let body = rewrite(item.0) as? [String: Any] else { throw ImportError(file: file, entry: entry, reason: "unreadable") }
        let json: Data
        do {
            json = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw ImportError(file: file, entry: entry, reason: "cannot be written back as JSON")
        }
        let (type, id) = (item.1, item.2)
        let patient: String?
        if type == "Patient" {
            patient = "Patient/\(id)"
        } else {
            let subject = ((body["subject"] as? [String: Any]) ?? (body["patient"] as? [String: Any]))?["reference"] as? String
            patient = subject?.hasPrefix("Patient/") == true ? subject : nil
        }
        return (FHIRResource(type: type, id: id, patient: patient, json: json, identifiers: identifierStrings(body)), unresolved)
    }

    /// `[A-Z][A-Za-z]{1,63}`.
    static func isResourceType(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (2...64).contains(bytes.count), (0x41...0x5A).contains(bytes[0]) else { return false }
        return bytes.allSatisfy { (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
    }

    /// A FHIR id: `[A-Za-z0-9\-\.]{1,64}`.
    static func isFHIRID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D || $0 == 0x2E }
    }

    private static func identifierStrings(_ resource: [String: Any]) -> [String] {
        (resource["identifier"] as? [[String: Any]] ?? []).compactMap { identifier in
            guard let system = identifier["system"] as? String, let value = identifier["value"] as? String else { return nil }
            return "\(system)|\(value)"
        }
    }
}

extension FHIRImport {
    /// A run of files read and resolved together, before anything is stored.
    ///
    /// Every file is read first, so that a conditional reference finds a resource of any file of
    /// the run, before or after its own, as well as one already stored. When several files carry
    /// the same resource, only the last one's content is stored (as FHIR's PUT would).
    public struct Run {
        /// Each file, resolved, or why it is refused.
        public let parsed: [Result<Parsed, ImportError>]
        /// The index of the last file of the run that carries each `Type/id`.
        public let lastFile: [String: Int]

        /// - Parameter stored: the stored resource (`Type/id`) with a `type` and `identifier`
        ///   (`system|value`), if any.
        public init(_ files: [(name: String, data: Data)], stored: (String, String) -> String?) {
            let read: [Result<Prepared, ImportError>] = files.map { file in
                Result { () throws(ImportError) in try FHIRImport.read(file.data, file: file.name) }
            }
            var runIdentifiers: [String: String] = [:]
            for case let .success(prepared) in read { runIdentifiers.merge(prepared.identifiers) { _, later in later } }
            parsed = read.map { result in
                result.flatMap { prepared in
                    Result { () throws(ImportError) in
                        try FHIRImport.resolve(prepared) { type, identifier in runIdentifiers["\(type)|\(identifier)"] ?? stored(type, identifier) }
                    }
                }
            }
            var lastFile: [String: Int] = [:]
            for (index, result) in parsed.enumerated() {
                if case let .success(content) = result { for resource in content.resources { lastFile["\(resource.type)/\(resource.id)"] = index } }
            }
            self.lastFile = lastFile
        }

        /// Whether a later file of the run stores this resource instead of file `index`.
        public func isSuperseded(_ resource: FHIRResource, in index: Int) -> Bool {
            lastFile["\(resource.type)/\(resource.id)"] != index
        }
    }
}
