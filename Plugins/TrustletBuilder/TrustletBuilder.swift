import Foundation
import PackagePlugin

/// Builds the trustlets in `Trustlets/` with the toolchain's own Embedded Swift for
/// `wasm32-unknown-none-wasm`, so `swift build` and `swift test` build them too.
///
/// Each folder under `Trustlets/Apps`, `Trustlets/Samples`, `Trustlets/Hostile`, `Trustlets/Probes` and `Trustlets/Bench` becomes `<folder>.wasm`, a
/// resource of the target this plugin is applied to, with `<folder>.manifest.json` when the folder
/// has a `manifest.json`; each app also `<folder>-weakened.wasm`, its
/// test build for the attack suite's negative controls. The recipe is `Trustlets/SDK/build-trustlet.sh`,
/// the same one `trubizone trustlet build` runs, so both give the same bytes.
@main
struct TrustletBuilder: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let swiftc = try context.tool(named: "swiftc").url
        let root = context.package.directoryURL.appending(path: "Trustlets")
        let script = root.appending(path: "SDK/build-trustlet.sh")
        let sdk = root.appending(path: "SDK/TrustletKit")
        // The wire formats both worlds share are compiled into TrustletKit too.
        let sdkSources = swiftFiles(in: sdk) + swiftFiles(in: root.appending(path: "SDK/Wire"))
        var commands: [Command] = []
        for group in ["Apps", "Samples", "Hostile", "Probes", "Bench"] {
            let folder = root.appending(path: group)
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted() {
                let directory = folder.appending(path: name)
                let sources = swiftFiles(in: directory) + swiftFiles(in: directory.appending(path: "Contract"))
                guard !sources.isEmpty else { continue }
                let output = context.pluginWorkDirectoryURL.appending(path: "trustlets/\(name).wasm")
                commands.append(.buildCommand(
                    displayName: "Building trustlet \(name)",
                    executable: URL(fileURLWithPath: "/bin/sh"),
                    arguments: [script.path, swiftc.path, output.path, directory.path, sdk.path],
                    inputFiles: [script] + sdkSources + sources,
                    outputFiles: [output]))
                // Its manifest, beside its sources: what `phr package`, the tests and the developer's
                // `trubizone trustlet sign` all sign it with.
                let manifest = directory.appending(path: "manifest.json")
                if FileManager.default.fileExists(atPath: manifest.path) {
                    commands.append(.buildCommand(
                        displayName: "Copying the manifest of trustlet \(name)",
                        executable: URL(fileURLWithPath: "/bin/cp"),
                        arguments: [manifest.path, context.pluginWorkDirectoryURL.appending(path: "trustlets/\(name).manifest.json").path],
                        inputFiles: [manifest],
                        outputFiles: [context.pluginWorkDirectoryURL.appending(path: "trustlets/\(name).manifest.json")]))
                }
                // Each app's test build, for the attack suite's negative controls (never packaged).
                guard group == "Apps" else { continue }
                let weakened = context.pluginWorkDirectoryURL.appending(path: "trustlets/\(name)-weakened.wasm")
                commands.append(.buildCommand(
                    displayName: "Building the test build of trustlet \(name)",
                    executable: URL(fileURLWithPath: "/bin/sh"),
                    arguments: [script.path, swiftc.path, weakened.path, directory.path, sdk.path, "test"],
                    inputFiles: [script] + sdkSources + sources,
                    outputFiles: [weakened]))
            }
        }
        return commands
    }

    private func swiftFiles(in directory: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".swift") }.sorted().map { directory.appending(path: $0) }
    }
}
