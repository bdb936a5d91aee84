import Crypto
import Foundation
import Testing
import TrubiZoneProtocol
import TrubiZoneSampleTrustlets
import TrubiZoneTesting

/// The tools as a user runs them: the built `trubizone` and `trubizoned` executables.
@Suite(.serialized) struct CLITests {
    let tool = BuiltProducts.path("trubizone")
    let daemonTool = BuiltProducts.path("trubizoned")

    /// A running `trubizoned` process on a fresh device.
    final class DaemonProcess {
        let directory = TemporaryDirectory("tz-cli")
        let process = Process()
        let stderr = Pipe()
        var state: String { directory.appending("state") }
        var ree: String { directory.appending("ree") }
        var socket: String { directory.appending("d.sock") }

        init(tool: String, daemon: String, logLevel: String = "info") throws {
            let provision = try runProcess(tool, ["device", "provision", "--state", directory.appending("state"), "--json"])
            guard provision.status == 0 else { throw CLIError.failed(provision.stderr) }
            try start(daemon: daemon, logLevel: logLevel)
        }

        func start(daemon: String, logLevel: String = "info") throws {
            process.executableURL = URL(fileURLWithPath: daemon)
            process.arguments = ["--state", state, "--ree", ree, "--socket", socket, "--log-level", logLevel]
            process.standardError = stderr
            try process.run()
            for _ in 0..<200 where !FileManager.default.fileExists(atPath: socket) { usleep(20_000) }
        }

        func stop() -> Int32 {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
            return process.terminationStatus
        }

        var log: String { String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
    }

    enum CLIError: Error { case failed(String) }

    @Test func provisionAndInfoShowTheDeviceButNoSecret() throws {
        let directory = TemporaryDirectory("tz-cli")
        let state = directory.appending("state")
        let provision = try runProcess(tool, ["device", "provision", "--state", state, "--json"])
        #expect(provision.status == 0)
        let provisioned = try JSONSerialization.jsonObject(with: Data(provision.stdout.utf8)) as? [String: Any]
        let deviceID = try #require(provisioned?["deviceID"] as? String)
        #expect(deviceID.hasPrefix("01") && deviceID.count == 66)

        // Files 0600 in a 0700 directory; the CA in its own directory.
        let attributes = try FileManager.default.attributesOfItem(atPath: state)
        #expect(attributes[.posixPermissions] as? Int == 0o700)
        for file in ["huk", "attestation-key", "certificate-chain.pem"] {
            #expect(try FileManager.default.attributesOfItem(atPath: state + "/" + file)[.posixPermissions] as? Int == 0o600)
        }
        #expect(FileManager.default.fileExists(atPath: directory.appending("manufacturer-ca/ca-cert.pem")))

        let info = try runProcess(tool, ["device", "info", "--state", state, "--json"])
        #expect(info.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any]
        #expect(json?["deviceID"] as? String == deviceID)
        #expect((json?["certificateChain"] as? String)?.components(separatedBy: "BEGIN CERTIFICATE").count == 3)

        // Nothing printed holds the hardware unique key or the attestation key, in any encoding.
        for secret in ["huk", "attestation-key"] {
            let bytes = Array(FileManager.default.contents(atPath: state + "/" + secret)!)
            for encoded in [Hex.encode(bytes), Data(bytes).base64EncodedString()] {
                #expect(!info.stdout.contains(encoded) && !provision.stdout.contains(encoded))
            }
        }

        let again = try runProcess(tool, ["device", "provision", "--state", state])
        #expect(again.status != 0)
        #expect(again.stderr.contains("already holds a provisioned device"))
    }

    @Test func storageAndKeystoreThroughTheDaemon() throws {
        let daemon = try DaemonProcess(tool: tool, daemon: daemonTool)
        let socket = ["--socket", daemon.socket]
        let secret = "insulin 12 units \(UUID())"
        #expect(try runProcess(tool, ["storage", "put", "dose"] + socket, stdin: Array(secret.utf8)).status == 0)
        let got = try runProcess(tool, ["storage", "get", "dose"] + socket)
        #expect(got.status == 0)
        #expect(got.stdout == secret)
        let listed = try runProcess(tool, ["storage", "ls", "--json"] + socket)
        #expect(listed.stdout.contains("\"dose\""))
        let missing = try runProcess(tool, ["storage", "get", "nothing"] + socket)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("TEEC_ERROR_ITEM_NOT_FOUND"))
        #expect(try runProcess(tool, ["storage", "rm", "dose"] + socket).status == 0)

        // Tampering shows up as exit 1 with the GP code, and reset (confirmed) recovers the store.
        #expect(try runProcess(tool, ["storage", "put", "a"] + socket, stdin: [1]).status == 0)
        for file in EmulatedDevice.files(under: daemon.ree) { try FileManager.default.removeItem(atPath: file.path) }
        let tampered = try runProcess(tool, ["storage", "ls"] + socket)
        #expect(tampered.status == 1)
        #expect(tampered.stderr.contains("TEEC_ERROR_SECURITY"))
        #expect(try runProcess(tool, ["storage", "reset"] + socket).status == 64)
        #expect(try runProcess(tool, ["storage", "reset", "--yes"] + socket).status == 0)
        #expect(try runProcess(tool, ["storage", "ls"] + socket).status == 0)

        let generated = try runProcess(tool, ["keystore", "generate", "k", "--json"] + socket)
        #expect(generated.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(generated.stdout.utf8)) as? [String: Any]
        let publicKey = try P256.Signing.PublicKey(x963Representation: Data(base64Encoded: json?["publicKey"] as? String ?? "") ?? Data())
        let signed = try runProcess(tool, ["keystore", "sign", "k"] + socket, stdin: Array("hello".utf8))
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: Hex.decode(signed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? [])
        #expect(publicKey.isValidSignature(signature, for: Array("hello".utf8)))
        let pem = try runProcess(tool, ["keystore", "public", "k"] + socket)
        #expect(try P256.Signing.PublicKey(pemRepresentation: pem.stdout).x963Representation == publicKey.x963Representation)

        #expect(daemon.stop() == 0)
        // Nothing the daemon logged holds the stored secret.
        #expect(!daemon.log.contains(secret))
        #expect(!FileManager.default.fileExists(atPath: daemon.socket))
    }

    @Test func sigtermKeepsEveryAcknowledgedWrite() throws {
        let daemon = try DaemonProcess(tool: tool, daemon: daemonTool)
        for i in 0..<20 {
            #expect(try runProcess(tool, ["storage", "put", "item-\(i)", "--socket", daemon.socket], stdin: Array("value \(i)".utf8)).status == 0)
        }
        #expect(daemon.stop() == 0)
        let restarted = Process()
        restarted.executableURL = URL(fileURLWithPath: daemonTool)
        restarted.arguments = ["--state", daemon.state, "--ree", daemon.ree, "--socket", daemon.socket]
        restarted.standardError = Pipe()
        try restarted.run()
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: daemon.socket) { usleep(20_000) }
        defer { kill(restarted.processIdentifier, SIGTERM); restarted.waitUntilExit() }
        for i in 0..<20 {
            let got = try runProcess(tool, ["storage", "get", "item-\(i)", "--socket", daemon.socket])
            #expect(got.stdout == "value \(i)")
        }
    }

    @Test func usageErrorsAndAnUnreachableDaemonHaveTheirExitCodes() throws {
        let help = try runProcess(tool, ["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("storage") && help.stdout.contains("keystore") && help.stdout.contains("device"))
        let usage = try runProcess(tool, ["storage", "put"])
        #expect(usage.status == 64)
        let unreachable = try runProcess(tool, ["storage", "ls", "--socket", "/nonexistent/tz.sock"])
        #expect(unreachable.status == 69)
        #expect(unreachable.stderr.contains("is trubizoned running?"))
        let notProvisioned = try runProcess(daemonTool, ["--state", "/nonexistent", "--ree", "/tmp", "--socket", "/tmp/x.sock"])
        #expect(notProvisioned.status != 0)
        #expect(notProvisioned.stderr.contains("trubizone device provision"))
        let badLevel = try runProcess(daemonTool, ["--state", "/x", "--ree", "/x", "--log-level", "loud"])
        #expect(badLevel.status == 64)
    }

    /// Bad local input is refused before anything starts, as usage (64), with what to give instead.
    @Test func badPathsNumbersAndFilesAreRefusedByName() throws {
        let work = TemporaryDirectory("cli-bad-input")
        defer { withExtendedLifetime(work) {} }
        let file = work.appending("plain-file")
        #expect(FileManager.default.createFile(atPath: file, contents: Data("not a directory, not wasm, no certificate".utf8)))
        let provisioned = try runProcess(tool, ["device", "provision", "--state", work.appending("state"), "--manufacturer", work.appending("ca")])
        #expect(provisioned.status == 0)
        let base = ["--state", work.appending("state"), "--socket", work.appending("tz.sock")]

        let missingFolder = try runProcess(daemonTool, base + ["--ree", work.appending("ree"), "--trustlets", work.appending("nowhere")])
        #expect(missingFolder.status == 64)
        #expect(missingFolder.stderr.contains("is not a directory"))
        let reeIsAFile = try runProcess(daemonTool, base + ["--ree", file])
        #expect(reeIsAFile.status == 64)
        #expect(reeIsAFile.stderr.contains("is a file, not a directory"))
        let negative = try runProcess(daemonTool, base + ["--ree", work.appending("ree"), "--max-sessions", "-1"])
        #expect(negative.status == 64)
        #expect(negative.stderr.contains("limits must be positive"), "a negative number is read as one, not as a missing value")

        let keygen = try runProcess(tool, ["keygen", "--out", work.appending("developer")])
        #expect(keygen.status == 0)
        let manifest = work.appending("manifest.json")
        let manifestJSON = #"{"uuid": "7e1d0c2a-95b3-4f0e-8c61-3a9d2b4e5f70", "name": "hello", "version": "1.0.0", "capabilities": []}"#
        #expect(FileManager.default.createFile(atPath: manifest, contents: Data(manifestJSON.utf8)))
        let notWasm = try runProcess(tool, ["trustlet", "sign", "--key", work.appending("developer/developer-key.pem"), "--manifest", manifest, file,
                                            "-o", work.appending("x.tzpkg")])
        #expect(notWasm.status == 64)
        #expect(notWasm.stderr.contains("is not a WebAssembly module"))
        #expect(!FileManager.default.fileExists(atPath: work.appending("x.tzpkg")), "nothing was signed")

        let noRoots = try runProcess(tool, ["attest", "verify", file, "--roots", file, "--reference", file, "--nonce", "00"])
        #expect(noRoots.status == 64)
        #expect(noRoots.stderr.contains("holds no PEM certificate"))
        let oldAge = try runProcess(tool, ["attest", "verify", file, "--roots", file, "--reference", file, "--nonce", "00", "--max-age", "-5"])
        #expect(oldAge.status == 64)
        #expect(oldAge.stderr.contains("--max-age must be 0 or more"))

        // Paths it cannot write are named with the reason, as usage, and leave nothing half made.
        let keyUnderAFile = try runProcess(tool, ["keygen", "--out", file + "/developer"])
        #expect(keyUnderAFile.status == 64 && keyUnderAFile.stderr.contains("cannot make the folder \(file)/developer"), "\(keyUnderAFile.stderr)")
        let secondKey = try runProcess(tool, ["keygen", "--out", work.appending("developer")])
        #expect(secondKey.status == 64 && secondKey.stderr.contains("refusing to overwrite a signing key"))
        let wasm = work.appending("hello.wasm")
        #expect(FileManager.default.createFile(atPath: wasm, contents: Data(try SampleTrustlets.wasm("hello"))))
        let nowhere = try runProcess(tool, ["trustlet", "sign", "--key", work.appending("developer/developer-key.pem"), "--manifest", manifest, wasm,
                                            "-o", work.appending("no/such/x.tzpkg")])
        #expect(nowhere.status == 64 && nowhere.stderr.contains("the folder \(work.appending("no/such")) does not exist"), "\(nowhere.stderr)")
        let stateUnderAFile = try runProcess(tool, ["device", "provision", "--state", file + "/state", "--manufacturer", work.appending("ca")])
        #expect(stateUnderAFile.status == 64 && stateUnderAFile.stderr.contains("plain-file is a file, not a folder"), "\(stateUnderAFile.stderr)")
    }
}
