import ArgumentParser
import Crypto
import Foundation
import TrubiZoneCLISupport
import TrubiZoneClient
import TrubiZoneProtocol
import TrubiZoneSecureWorld

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make a developer signing key (P-256) for trustlet packages.")

    @Option(name: .long, help: ArgumentHelp("Where to write developer-key.pem (0600) and developer-key.pub.pem.", valueName: "dir"))
    var out: String

    @Flag(name: .long, help: "Print machine-readable JSON.") var json = false

    func run() throws {
        let keyPath = out + "/developer-key.pem", publicPath = out + "/developer-key.pub.pem"
        guard !FileManager.default.fileExists(atPath: keyPath) else {
            throw fail("\(keyPath) exists; refusing to overwrite a signing key", code: ExitStatus.usage)
        }
        try CommandFile.makeDirectory(out, mode: 0o700)
        let key = P256.Signing.PrivateKey()
        try CommandFile.write(Array(key.pemRepresentation.utf8), to: keyPath, mode: 0o600, replacing: false)
        try CommandFile.write(Array(key.publicKey.pemRepresentation.utf8), to: publicPath)
        let signerID = Hex.encode(SHA256.hash(data: key.publicKey.x963Representation))
        if json { printJSON(["privateKey": keyPath, "publicKey": publicPath, "signerID": signerID]) } else {
            print("developer key: \(keyPath) (keep it secret)")
            print("public key:    \(publicPath) (give it to devices: trubizoned --trusted-key \(publicPath))")
            print("signer ID:     \(signerID)")
        }
    }
}

struct TrustletCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trustlet",
        abstract: "Build, sign, inspect and install trustlets.",
        subcommands: [Build.self, Sign.self, Inspect.self, Install.self, ABI.self])

    struct ABI: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "abi",
            abstract: "Print TrustletKit's declarations of the internal API, generated from its one table (HostABI).",
            discussion: "The output is \(InternalAPIDeclarations.path); a test fails when they differ.")

        func run() { print(InternalAPIDeclarations.render(), terminator: "") }
    }

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compile a trustlet's Swift sources (Embedded Swift) to wasm with TrustletKit.",
            discussion: "The same sources and toolchain give the same bytes.")

        @Argument(help: "The folder of the trustlet's .swift files.") var directory: String
        @Option(name: .shortAndLong, help: ArgumentHelp("The wasm to write (default: DIR/NAME.wasm).", valueName: "file")) var output: String?
        @Option(name: .long, help: ArgumentHelp("TrustletKit's sources (default: Trustlets/SDK/TrustletKit found above here).", valueName: "dir"))
        var sdk: String?

        func run() throws {
            let name = URL(fileURLWithPath: directory).standardizedFileURL.lastPathComponent
            let out = output ?? directory + "/" + name + ".wasm"
            do {
                try TrustletBuilder(sdk: sdk).build(directory: directory, output: out)
            } catch {
                throw fail("\(error)", code: ExitStatus.refused)
            }
            let wasm = try Data(contentsOf: URL(fileURLWithPath: out))
            print("built \(out) (\(wasm.count) bytes, measurement \(Hex.encode(SHA256.hash(data: wasm))))")
        }
    }

    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sign WASM with its manifest into a trustlet package.")
        @Option(name: .long, help: ArgumentHelp("The developer key (PEM).", valueName: "file")) var key: String
        @Option(name: .long, help: ArgumentHelp("The manifest (JSON: uuid, name, version, capabilities, limits; default: manifest.json beside the wasm).",
                                                 valueName: "file"))
        var manifest: String?
        @Argument(help: "The trustlet's wasm.") var wasm: String
        @Option(name: .shortAndLong, help: ArgumentHelp("The package to write (.tzpkg).", valueName: "file")) var output: String

        func run() throws {
            let signingKey: P256.Signing.PrivateKey
            do {
                signingKey = try P256.Signing.PrivateKey(pemRepresentation: String(contentsOfFile: key, encoding: .utf8))
            } catch {
                throw fail("cannot read a P-256 private key from \(key); make one with `trubizone keygen`", code: ExitStatus.refused)
            }
            // `trustlet build DIR` writes DIR/NAME.wasm, beside the manifest.json the sources keep.
            let manifest = self.manifest ?? URL(fileURLWithPath: wasm).deletingLastPathComponent().appending(path: "manifest.json").path
            let manifestBytes = try readInput(manifest)
            let parsed: TrustletManifest
            do { parsed = try TrustletManifest(decoding: manifestBytes) } catch { throw fail("\(manifest): \(error)", code: ExitStatus.refused) }
            let code = try readInput(wasm)
            // A WebAssembly module starts "\0asm" and version 1; anything else would be refused at install.
            guard code.starts(with: [0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00]) else {
                throw fail("\(wasm) is not a WebAssembly module (no \\0asm version 1 header); build it with `trubizone trustlet build`", code: ExitStatus.usage)
            }
            let package = try TrustletPackage.sign(manifest: parsed, wasm: code, key: signingKey)
            try CommandFile.write(package.bytes, to: output)
            print("signed \(parsed.name) \(parsed.version) into \(output)")
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a package's manifest, measurement and signer; check its signature.")
        @Argument(help: "The package (.tzpkg).") var package: String
        @Flag(name: .long, help: "Print machine-readable JSON.") var json = false

        func run() throws {
            let parsed: TrustletPackage
            do { parsed = try TrustletPackage(bytes: try readInput(package)) } catch { throw fail("\(package): \(error)", code: ExitStatus.refused) }
            let manifest = parsed.manifest
            if json {
                printJSON(["uuid": manifest.uuid, "name": manifest.name, "version": manifest.version, "capabilities": manifest.capabilities,
                           "measurement": Hex.encode(parsed.measurement), "signerID": Hex.encode(parsed.signerID),
                           "wasmSize": parsed.wasm.count, "signature": "valid"])
            } else {
                print("name:         \(manifest.name) \(manifest.version)")
                print("uuid:         \(manifest.uuid)")
                print("capabilities: \(manifest.capabilities.joined(separator: ", "))")
                print("measurement:  \(Hex.encode(parsed.measurement)) (SHA-256 of \(parsed.wasm.count) bytes of wasm)")
                print("signer ID:    \(Hex.encode(parsed.signerID))")
                print("signature:    valid")
            }
        }
    }

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Install a package into a running secure world.")
        @Argument(help: "The package (.tzpkg).") var package: String
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let bytes = try readInput(package)
            let result = try await withSession(BuiltInTrustlets.Installer.uuid, connection) { (session) async throws(TEEError) in
                try await session.invoke(command: BuiltInTrustlets.Installer.Command.install.rawValue, parameters: [.input(bytes), .output(capacity: 64)])
            }
            let out = result.bytes(1) ?? []
            let (measurement, signer) = (Hex.encode(out.prefix(32)), Hex.encode(out.dropFirst(32)))
            if connection.json { printJSON(["installed": true, "measurement": measurement, "signerID": signer]) } else {
                print("installed \(package): measurement \(measurement), signer \(signer)")
            }
        }
    }
}
