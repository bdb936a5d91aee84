import Foundation
import Testing
import TrubiZoneTesting

/// The trusted computing base is the code `trubizoned` runs: each of its targets imports only
/// the modules it is allowed, and the built daemon carries no code of the developer tool, the
/// client, the manufacturer, the verifier or the servers.
@Suite struct TCBTests {
    static let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// `.ci/tcb.json`: each TCB folder and the modules it may import, and the modules the daemon
    /// must never link. A new import fails here until it is added there, with a reason.
    struct Definition: Decodable {
        struct Folder: Decodable { let path: String; let target: String; let imports: Set<String> }
        let binary: String
        let folders: [Folder]
        let never: [String]
    }

    static func definition() throws -> Definition {
        try JSONDecoder().decode(Definition.self, from: Data(contentsOf: URL(fileURLWithPath: checkout + "/.ci/tcb.json")))
    }

    /// The modules `import` lines name in the Swift files under `folder`, with the file of each.
    static func imports(in folder: String) throws -> [(module: String, file: String)] {
        let root = checkout + "/" + folder
        let files = try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.hasSuffix(".swift") }
        var found: [(String, String)] = []
        for file in files {
            for line in try String(contentsOfFile: root + "/" + file, encoding: .utf8).split(separator: "\n") {
                // `import X`, `@testable import X`, `@_spi(Y) import X`, `import struct X.Y`, `#if canImport(X)` aside.
                let words = line.split(separator: " ").filter { !$0.hasPrefix("@") }
                guard words.first == "import" || (words.first == "public" && words.dropFirst().first == "import") else { continue }
                guard let name = words.last?.split(separator: ".").first else { continue }
                found.append((String(name), folder + "/" + file))
            }
        }
        return found
    }

    @Test func eachTCBTargetImportsOnlyWhatItIsAllowed() throws {
        let definition = try Self.definition()
        #expect(definition.folders.count >= 10)
        for folder in definition.folders {
            let found = try Self.imports(in: folder.path)
            #expect(!found.isEmpty || folder.imports.isEmpty, "\(folder.path) holds no Swift file that imports anything; is the folder right?")
            for (module, file) in found where !folder.imports.contains(module) {
                Issue.record("\(file) imports \(module), which the TCB's \(folder.target) may not (.ci/tcb.json)")
            }
        }
    }

    @Test func theDaemonBinaryCarriesNoCodeFromOutsideTheTCB() throws {
        let definition = try Self.definition()
        let binary = try #require(FileManager.default.contents(atPath: BuiltProducts.path(definition.binary)), "build trubizoned first")
        // Swift mangles a module into each of its symbols as `$s<length><name>`.
        func carries(_ module: String) -> Bool { binary.range(of: Data("$s\(module.count)\(module)".utf8)) != nil }
        #expect(carries("TrubiZoneSecureWorld") && carries("TrubiZoneDaemon"), "the search finds the modules the daemon does link")
        #expect(definition.never.count >= 10)
        for module in definition.never {
            #expect(!carries(module), "trubizoned links \(module)")
        }
    }
}
