import Foundation
import PackagePlugin

/// Builds the trustlets in `Trustlets/` with the toolchain's own Embedded Swift for
/// `wasm32-unknown-none-wasm`, so `swift build` and `swift test` build them too.
///
/// The SDK (`Trustlets/SDK/TrustletKit`) becomes a module first; each folder under
/// `Trustlets/Samples` and `Trustlets/Hostile` then becomes `<folder>.wasm`, a resource of the
/// target this plugin is applied to.
@main
struct TrustletBuilder: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let swiftc = try context.tool(named: "swiftc").url
        let root = context.package.directoryURL.appending(path: "Trustlets")
        let work = context.pluginWorkDirectoryURL
        let kit = work.appending(path: "TrustletKit")
        let sdk = try swiftFiles(in: root.appending(path: "SDK/TrustletKit"))
        let kitObject = kit.appending(path: "TrustletKit.o")
        let kitModule = kit.appending(path: "TrustletKit.swiftmodule")

        var commands: [Command] = [
            .buildCommand(
                displayName: "Building TrustletKit for wasm32",
                executable: swiftc,
                arguments: TrustletFlags.compile + ["-emit-module", "-module-name", "TrustletKit",
                                                    "-emit-module-path", kitModule.path, "-c"] + sdk.map(\.path) + ["-o", kitObject.path],
                inputFiles: sdk,
                outputFiles: [kitObject, kitModule]),
        ]
        for group in ["Samples", "Hostile"] {
            let folder = root.appending(path: group)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            for name in names.sorted() {
                let sources = try swiftFiles(in: folder.appending(path: name))
                guard !sources.isEmpty else { continue }
                let output = work.appending(path: "trustlets/\(name).wasm")
                commands.append(.buildCommand(
                    displayName: "Building trustlet \(name)",
                    executable: swiftc,
                    arguments: TrustletFlags.compile + ["-I", kit.path, "-module-name", name.replacingOccurrences(of: "-", with: "_")]
                        + sources.map(\.path) + [kitObject.path, "-o", output.path] + TrustletFlags.link,
                    inputFiles: sources + [kitObject, kitModule],
                    outputFiles: [output]))
            }
        }
        return commands
    }

    private func swiftFiles(in directory: URL) throws -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".swift") }.sorted().map { directory.appending(path: $0) }
    }
}

/// The flags that make a trustlet; `trubizone trustlet build` uses the same ones.
enum TrustletFlags {
    static let compile = [
        "-target", "wasm32-unknown-none-wasm",
        "-enable-experimental-feature", "Embedded",
        "-enable-experimental-feature", "Extern",
        "-enable-experimental-feature", "BuiltinModule",
        "-wmo", "-Osize", "-parse-as-library",
        "-Xfrontend", "-disable-stack-protector",
    ]
    static let exports = ["__main_argc_argv", "tz_create", "tz_open_session", "tz_invoke", "tz_close_session", "tz_alloc", "tz_free"]
    static let link = ["-Xclang-linker", "-nostdlib", "-Xlinker", "--no-entry", "-Xlinker", "--stack-first",
                       "-Xlinker", "-z", "-Xlinker", "stack-size=65536", "-Xlinker", "--wrap=free"]
        + exports.flatMap { ["-Xlinker", "--export=\($0)"] }
}
