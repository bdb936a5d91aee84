import Foundation

/// Compiles a trustlet with the toolchain's Embedded Swift for `wasm32-unknown-none-wasm`, by
/// running `Trustlets/SDK/build-trustlet.sh` — the recipe the `swift build` plugin runs too.
struct TrustletBuilder {
    struct Failure: Error, CustomStringConvertible { let description: String }

    /// TrustletKit's sources; `nil` to look for `Trustlets/SDK/TrustletKit` above the current
    /// directory and above the executable.
    let sdk: String?

    func build(directory: String, output: String) throws {
        let sdk = try sdkDirectory()
        let script = URL(fileURLWithPath: sdk).deletingLastPathComponent().appendingPathComponent("build-trustlet.sh").path
        guard FileManager.default.fileExists(atPath: script) else {
            throw Failure(description: "\(script) is missing; --sdk must be the TrustletKit folder of a TrubiZone checkout")
        }
        let absoluteOutput = URL(fileURLWithPath: output).standardizedFileURL.path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [script, try Self.swiftc(), absoluteOutput, URL(fileURLWithPath: directory).standardizedFileURL.path, sdk]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "the trustlet did not compile:\n" + String(decoding: message, as: UTF8.self))
        }
    }

    private func sdkDirectory() throws -> String {
        if let sdk { return URL(fileURLWithPath: sdk).standardizedFileURL.path }
        for start in [FileManager.default.currentDirectoryPath, URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path] {
            var url = URL(fileURLWithPath: start).standardizedFileURL
            for _ in 0..<8 {
                let candidate = url.appendingPathComponent("Trustlets/SDK/TrustletKit").path
                if FileManager.default.fileExists(atPath: candidate) { return candidate }
                url = url.deletingLastPathComponent()
            }
        }
        throw Failure(description: "cannot find TrustletKit's sources; pass --sdk PATH/Trustlets/SDK/TrustletKit")
    }

    static func swiftc() throws -> String {
        if let explicit = ProcessInfo.processInfo.environment["SWIFTC"] { return explicit }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = String(directory) + "/swiftc"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw Failure(description: "swiftc is not on PATH; install the Swift toolchain or set SWIFTC")
    }
}
