import Foundation
import Testing
import TrubiZoneManufacturer
import TrubiZoneTesting

/// `trubizone attest issue | reference | verify` as built executables against a daemon.
@Suite(.serialized) struct AttestCLITests {
    let tool = BuiltProducts.path("trubizone")

    @Test func issueReferenceAndVerifyAsAVerifierWould() throws {
        let daemon = try DaemonHarness()
        defer { daemon.stop() }
        let work = TemporaryDirectory("tz-attest")
        let nonce = String(repeating: "5a", count: 48)
        let socket = ["--socket", daemon.socketPath]
        #expect(try runProcess(tool, ["keystore", "generate", "signer"] + socket).status == 0)
        let issued = try runProcess(tool, ["attest", "issue", "--nonce", nonce, "--key", "signer", "-o", work.appending("token.cbor")] + socket)
        #expect(issued.status == 0, "\(issued.stderr)")
        // The test process is the runtime here (an in-process daemon): its executable is the build to pin.
        let reference = try runProcess(tool, ["attest", "reference", "--runtime", "/proc/\(getpid())/exe", "--keystore"])
        #expect(reference.status == 0, "\(reference.stderr)")
        _ = FileManager.default.createFile(atPath: work.appending("reference.json"), contents: Data(reference.stdout.utf8))
        let roots = ["--roots", daemon.device.caDirectory + "/" + Manufacturer.caCertificateFile]
        let verify = ["attest", "verify", work.appending("token.cbor"), "--reference", work.appending("reference.json")] + roots

        let affirmed = try runProcess(tool, verify + ["--nonce", nonce, "--json"])
        #expect(affirmed.status == 0, "\(affirmed.stdout)\(affirmed.stderr)")
        let appraisal = try JSONSerialization.jsonObject(with: Data(affirmed.stdout.utf8)) as? [String: Any]
        #expect(appraisal?["status"] as? String == "affirming")
        #expect((appraisal?["boundKeys"] as? [[String: String]])?.first?["use"] == "signing")

        // Another nonce: contraindicated, exit 1, and the reason named.
        let replayed = try runProcess(tool, verify + ["--nonce", String(repeating: "00", count: 48)])
        #expect(replayed.status == 1 && replayed.stdout.contains("FAIL nonce"))
        // Bad usage: exit 64 with what to do.
        let shortNonce = try runProcess(tool, ["attest", "issue", "--nonce", "abcd"] + socket)
        #expect(shortNonce.status == 64 && shortNonce.stderr.contains("32, 48 or 64 bytes"))
        let noReference = try runProcess(tool, ["attest", "verify", work.appending("token.cbor"), "--reference", work.appending("missing.json"),
                                                "--nonce", nonce] + roots)
        #expect(noReference.status == 64)
        let noRuntime = try runProcess(tool, ["attest", "reference", "--runtime", work.appending("nothing")])
        #expect(noRuntime.status == 64 && noRuntime.stderr.contains("--runtime"))
        // A truncated token: contraindicated at the format check.
        let token = try Data(contentsOf: URL(fileURLWithPath: work.appending("token.cbor")))
        _ = FileManager.default.createFile(atPath: work.appending("cut.cbor"), contents: token.prefix(200))
        let cut = try runProcess(tool, ["attest", "verify", work.appending("cut.cbor"), "--reference", work.appending("reference.json"),
                                        "--nonce", nonce] + roots)
        #expect(cut.status == 1 && cut.stdout.contains("FAIL format"))
    }
}
