import Crypto
import Foundation
import Testing
import TrubiZoneClient
import TrubiZoneEmulatedDevice
import TrubiZoneProtocol
import TrubiZoneSampleTrustlets
import TrubiZoneSecureWorld
import TrubiZoneTesting

/// The developer's path with the built tools: keygen, build (reproducible), sign, inspect, and
/// install into a running daemon that trusts the key.
@Suite(.serialized) struct TrustletCLITests {
    let tool = BuiltProducts.path("trubizone")
    let daemonTool = BuiltProducts.path("trubizoned")
    /// The repository, from this file's place in it.
    let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    @Test func buildSignInspectAndInstallAsADeveloperWould() async throws {
        let work = TemporaryDirectory("tz-dev")
        let keygen = try runProcess(tool, ["keygen", "--out", work.appending("keys"), "--json"])
        #expect(keygen.status == 0, "\(keygen.stderr)")
        #expect(try FileManager.default.attributesOfItem(atPath: work.appending("keys/developer-key.pem"))[.posixPermissions] as? Int == 0o600)
        #expect(try runProcess(tool, ["keygen", "--out", work.appending("keys")]).status != 0, "must not overwrite a key")

        // The same sources build to the same bytes.
        let sdk = ["--sdk", repository + "/Trustlets/SDK/TrustletKit"]
        let source = repository + "/Trustlets/Samples/hello"
        for output in ["a.wasm", "b.wasm"] {
            let built = try runProcess(tool, ["trustlet", "build", source, "-o", work.appending(output)] + sdk)
            #expect(built.status == 0, "\(built.stderr)")
        }
        let a = try Data(contentsOf: URL(fileURLWithPath: work.appending("a.wasm")))
        let b = try Data(contentsOf: URL(fileURLWithPath: work.appending("b.wasm")))
        #expect(!a.isEmpty && a == b, "two builds of the same sources differ")
        // ...and the same bytes as `swift build` made with the plugin, from another folder.
        #expect(Array(a) == (try SampleTrustlets.wasm("hello")), "the CLI and the build plugin disagree")

        // Signed with the manifest beside the sources, named...
        let signed = try runProcess(tool, ["trustlet", "sign", "--key", work.appending("keys/developer-key.pem"),
                                           "--manifest", source + "/manifest.json", work.appending("a.wasm"), "-o", work.appending("hello.tzpkg")])
        #expect(signed.status == 0, "\(signed.stderr)")
        // ...or found beside the wasm, where `trustlet build DIR` writes it: the same package.
        try FileManager.default.createDirectory(atPath: work.appending("hello"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: source + "/manifest.json", toPath: work.appending("hello/manifest.json"))
        try FileManager.default.copyItem(atPath: work.appending("a.wasm"), toPath: work.appending("hello/hello.wasm"))
        let besides = try runProcess(tool, ["trustlet", "sign", "--key", work.appending("keys/developer-key.pem"), work.appending("hello/hello.wasm"),
                                            "-o", work.appending("beside.tzpkg")])
        #expect(besides.status == 0, "\(besides.stderr)")
        let noManifest = try runProcess(tool, ["trustlet", "sign", "--key", work.appending("keys/developer-key.pem"), work.appending("a.wasm"),
                                               "-o", work.appending("none.tzpkg")])
        #expect(noManifest.status == 64 && noManifest.stderr.contains("manifest.json"), "\(noManifest.stderr)")
        let inspected = try runProcess(tool, ["trustlet", "inspect", work.appending("hello.tzpkg"), "--json"])
        let info = try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [String: Any]
        let besideInfo = try JSONSerialization.jsonObject(with: Data(try runProcess(tool, ["trustlet", "inspect", work.appending("beside.tzpkg"), "--json"]).stdout.utf8)) as? [String: Any]
        #expect(info?["uuid"] as? String == Samples.hello.description && besideInfo?["uuid"] as? String == Samples.hello.description)
        #expect(info?["capabilities"] as? [String] == ["storage", "counters", "log"])
        #expect(info?["measurement"] as? String == Hex.encode(SHA256.hash(data: a)))
        let keys = try JSONSerialization.jsonObject(with: Data(keygen.stdout.utf8)) as? [String: Any]
        #expect(info?["signerID"] as? String == keys?["signerID"] as? String)

        // A tampered package is refused by inspect, with exit 1.
        var tampered = Array(try Data(contentsOf: URL(fileURLWithPath: work.appending("hello.tzpkg"))))
        tampered[tampered.count - 300] ^= 1
        _ = FileManager.default.createFile(atPath: work.appending("bad.tzpkg"), contents: Data(tampered))
        let refused = try runProcess(tool, ["trustlet", "inspect", work.appending("bad.tzpkg")])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("signature does not verify"))

        // A daemon that trusts the key installs it and runs it.
        let provision = try runProcess(tool, ["device", "provision", "--state", work.appending("state")])
        #expect(provision.status == 0)
        let (daemon, socket, _) = try startDaemon(in: work, ["--trusted-key", work.appending("keys/developer-key.pub.pem")])
        defer { kill(daemon.processIdentifier, SIGTERM); daemon.waitUntilExit() }
        let installed = try runProcess(tool, ["trustlet", "install", work.appending("hello.tzpkg"), "--socket", socket, "--json"])
        #expect(installed.status == 0, "\(installed.stderr)")
        let refusedInstall = try runProcess(tool, ["trustlet", "install", work.appending("bad.tzpkg"), "--socket", socket])
        #expect(refusedInstall.status == 1)
        #expect(refusedInstall.stderr.contains("TEEC_ERROR_SECURITY"))

        let context = try TEEContext.socket(path: socket)
        defer { context.close() }
        let session = try await context.openSession(uuid: Samples.hello)
        #expect(try await session.hello(Array("from the CLI".utf8)).echo == Array("from the CLI".utf8))
    }
}

extension TrustletCLITests {
    /// Starts `trubizoned` on the device in `work/state`, and waits for its socket.
    func startDaemon(in work: TemporaryDirectory, _ arguments: [String]) throws -> (Process, String, Pipe) {
        let socket = work.appending("d.sock")
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: daemonTool)
        daemon.arguments = ["--state", work.appending("state"), "--ree", work.appending("ree"), "--socket", socket] + arguments
        let log = Pipe()
        daemon.standardError = log
        try daemon.run()
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: socket) && daemon.isRunning { usleep(20_000) }
        return (daemon, socket, log)
    }

    @Test func theDaemonsScriptedTrustedUIAnswersAndRecordsTheScreen() async throws {
        let work = TemporaryDirectory("tz-ui")
        let developer = P256.Signing.PrivateKey()
        try developer.publicKey.pemRepresentation.write(toFile: work.appending("developer.pub.pem"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: work.appending("trustlets"), withIntermediateDirectories: true)
        let manifest = try TrustletManifest(decoding: SampleTrustlets.manifest("vault"))
        let vault = try TrustletPackage.sign(manifest: manifest, wasm: SampleTrustlets.wasm("vault"), key: developer)
        _ = FileManager.default.createFile(atPath: work.appending("trustlets/vault.tzpkg"), contents: Data(vault.bytes))
        try "# the user at the device\npin 8642\npin 8642\npin 8642\n".write(toFile: work.appending("user.script"), atomically: true, encoding: .utf8)
        #expect(try runProcess(tool, ["device", "provision", "--state", work.appending("state")]).status == 0)

        // Bad values are refused before anything starts.
        let unknown = try runProcess(daemonTool, ["--state", work.appending("state"), "--ree", work.appending("ree"), "--trusted-ui", "screen"])
        #expect(unknown.status == 64 && unknown.stderr.contains("'tty' or 'script:FILE'"))
        try "pin 8642\nswipe left\n".write(toFile: work.appending("bad.script"), atomically: true, encoding: .utf8)
        let badScript = try runProcess(daemonTool, ["--state", work.appending("state"), "--ree", work.appending("ree"),
                                                    "--trusted-ui", "script:" + work.appending("bad.script")])
        #expect(badScript.status == 1 && badScript.stderr.contains("line 2"))

        let (daemon, socket, log) = try startDaemon(in: work, ["--trusted-key", work.appending("developer.pub.pem"), "--trustlets", work.appending("trustlets"),
                                                               "--trusted-ui", "script:" + work.appending("user.script"), "--log-level", "trace"])
        let context = try TEEContext.socket(path: socket)
        let session = try await context.openSession(uuid: Samples.vault)
        _ = try await session.invoke(command: 0, parameters: [.input(Array("the launch code".utf8))])
        _ = try await session.invoke(command: 1, parameters: [])
        context.close()
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        let screen = try String(contentsOfFile: work.appending("user.script.screen"), encoding: .utf8)
        // Labelled with the signer, whom the package cannot choose: the trusted key's fingerprint.
        #expect(screen.contains("[vault · developer ") && screen.contains("] The secret: the launch code"))
        #expect(try FileManager.default.attributesOfItem(atPath: work.appending("user.script.screen"))[.posixPermissions] as? Int == 0o600)
        let logged = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(!logged.contains("launch code") && !logged.contains("8642"))
        for file in EmulatedDevice.files(under: work.appending("ree")) {
            #expect(file.bytes.firstRange(of: Array("launch code".utf8)) == nil)
        }
    }

    @Test func theDaemonInstallsTrustedPackagesFromADirectoryAtStart() async throws {
        let work = TemporaryDirectory("tz-dir")
        let developer = P256.Signing.PrivateKey(), stranger = P256.Signing.PrivateKey()
        try developer.publicKey.pemRepresentation.write(toFile: work.appending("developer.pub.pem"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: work.appending("trustlets"), withIntermediateDirectories: true)
        let manifest = TrustletManifest(uuid: Samples.hello.description, name: "hello", version: "1.0.0", capabilities: ["storage"])
        let good = try TrustletPackage.sign(manifest: manifest, wasm: SampleTrustlets.wasm("hello"), key: developer)
        var other = manifest
        other.uuid = Samples.hostile.description
        let untrusted = try TrustletPackage.sign(manifest: other, wasm: SampleTrustlets.wasm("hello"), key: stranger)
        _ = FileManager.default.createFile(atPath: work.appending("trustlets/hello.tzpkg"), contents: Data(good.bytes))
        _ = FileManager.default.createFile(atPath: work.appending("trustlets/untrusted.tzpkg"), contents: Data(untrusted.bytes))
        // What the normal world may leave in the folder: a FIFO that would block a reader for
        // good, and a link to an endless device. The daemon starts and names each.
        #expect(mkfifo(work.appending("trustlets/a-fifo.tzpkg"), 0o644) == 0)
        try FileManager.default.createSymbolicLink(atPath: work.appending("trustlets/b-zero.tzpkg"), withDestinationPath: "/dev/zero")
        #expect(try runProcess(tool, ["device", "provision", "--state", work.appending("state")]).status == 0)

        let (daemon, socket, log) = try startDaemon(in: work, ["--trusted-key", work.appending("developer.pub.pem"),
                                                              "--trustlets", work.appending("trustlets")])

        let context = try TEEContext.socket(path: socket)
        #expect(try await context.openSession(uuid: Samples.hello).hello(Array("loaded".utf8)).echo == Array("loaded".utf8))
        let error = await #expect(throws: TEEError.self) { try await context.openSession(uuid: Samples.hostile) }
        #expect(error?.code == .itemNotFound)
        context.close()
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        let logged = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(logged.contains("trustlet package refused") && logged.contains("does not trust"))
        #expect(logged.contains("a-fifo.tzpkg") && logged.contains("it is not a regular file"), "\(logged)")
        #expect(logged.contains("b-zero.tzpkg") && logged.contains("cannot be opened as a file"), "\(logged)")
    }

    @Test func theTrustPolicyFileNamesSignersGivesThemUUIDsAndCapsWhatTheyAskFor() async throws {
        let work = TemporaryDirectory("tz-policy")
        let developer = P256.Signing.PrivateKey(), other = P256.Signing.PrivateKey()
        try FileManager.default.createDirectory(atPath: work.appending("keys"), withIntermediateDirectories: true)
        try developer.publicKey.pemRepresentation.write(toFile: work.appending("keys/developer.pub.pem"), atomically: true, encoding: .utf8)
        try other.publicKey.pemRepresentation.write(toFile: work.appending("keys/other.pub.pem"), atomically: true, encoding: .utf8)
        #expect(try runProcess(tool, ["device", "provision", "--state", work.appending("state")]).status == 0)
        func daemon(_ policy: String) throws -> ProcessResult {
            try policy.write(toFile: work.appending("policy.json"), atomically: true, encoding: .utf8)
            return try runProcess(daemonTool, ["--state", work.appending("state"), "--ree", work.appending("ree"), "--socket", work.appending("bad.sock"),
                                               "--trust-policy", work.appending("policy.json")])
        }
        // A policy that cannot be meant as written stops the daemon before it serves.
        for (policy, says) in [
            (#"{"signers": [{"key": "keys/developer.pub.pem", "cpas": {}}]}"#, "unknown field \"cpas\""),
            (#"{"signers": [{"key": "keys/developer.pub.pem", "caps": {"memoryPage": 8}}]}"#, "unknown cap \"memoryPage\""),
            (#"{"signers": [{"key": "keys/missing.pem"}]}"#, "cannot read a P-256 public key"),
            (#"{"signers": [{"key": "keys/developer.pub.pem", "uuids": ["\#(Samples.hello)"]}, {"key": "keys/other.pub.pem", "uuids": ["\#(Samples.hello)"]}]}"#,
             "claim UUID"),
            (#"{"signers": [{"key": "keys/developer.pub.pem", "caps": {"memoryPages": 5000}}]}"#, "limits.memoryPages must be 1 to 1024"),
            (#"[]"#, "must be {\"signers\""),
            (#"{"signers": [{"key": "keys/developer.pub.pem", "trustlets": 0}]}"#, "\"trustlets\" must be"),
            (#"{"signers": [{"key": "keys/developer.pub.pem", "uuids": ["\#(Samples.hello)"]}, {"key": "keys/developer.pub.pem"}]}"#, "twice"),
        ] {
            let result = try daemon(policy)
            #expect(result.status == 64 && result.stderr.contains(says), "\(policy): \(result.stderr)")
        }

        try FileManager.default.createDirectory(atPath: work.appending("trustlets"), withIntermediateDirectories: true)
        func write(_ name: String, _ manifest: TrustletManifest, key: P256.Signing.PrivateKey) throws {
            let package = try TrustletPackage.sign(manifest: manifest, wasm: SampleTrustlets.wasm("hello"), key: key)
            _ = FileManager.default.createFile(atPath: work.appending("trustlets/\(name).tzpkg"), contents: Data(package.bytes))
        }
        // The other developer's package for the developer's UUID, and a package asking above its cap.
        try write("a-taker", TrustletManifest(uuid: Samples.hello.description, name: "hello", version: "9.0.0", capabilities: ["storage"]), key: other)
        try write("greedy", TrustletManifest(uuid: Samples.hostile.description, name: "greedy", version: "1.0.0", capabilities: [],
                                             limits: .init(memoryPages: 32)), key: other)
        try """
            {"signers": [{"key": "keys/developer.pub.pem", "name": "Clinic Apps Ltd", "uuids": ["\(Samples.hello)"]},
                         {"key": "keys/other.pub.pem", "caps": {"memoryPages": 16}}]}
            """.write(toFile: work.appending("policy.json"), atomically: true, encoding: .utf8)
        let (first, socket, log) = try startDaemon(in: work, ["--trust-policy", work.appending("policy.json"), "--trustlets", work.appending("trustlets")])
        let context = try TEEContext.socket(path: socket)
        for uuid in [Samples.hello, Samples.hostile] {
            let error = await #expect(throws: TEEError.self) { try await context.openSession(uuid: uuid) }
            #expect(error?.code == .itemNotFound)
        }
        context.close()
        kill(first.processIdentifier, SIGTERM)
        first.waitUntilExit()
        let logged = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(logged.contains("given to another signer by this device's trust policy"))
        #expect(logged.contains("limits.memoryPages = 32, above the 16 this device's trust policy allows"))
    }
}
