import Crypto
import Foundation
import Testing
import TrubiZoneTesting

/// `phr`, the built executable, with bad arguments: each refused as usage (64) before it reaches
/// the secure world or the server, naming what to give instead.
@Suite struct PHRCLITests {
    let tool = BuiltProducts.path("phr")

    @Test(arguments: [
        (["list", "--since", "2026-13-45"], "--since takes a calendar day as YYYY-MM-DD"),
        (["list", "--since", "yesterday"], "--since takes a calendar day as YYYY-MM-DD"),
        (["list", "--until", "2025-02-29"], "--until takes a calendar day"),
        (["list", "--since", "2026-03-01", "--until", "2026-02-01"], "--until must be after --since"),
        (["list", "--limit", "-1"], "--limit must be 1 to 1000"),
        (["share", "--practitioner", "Practitioner/p1", "--record", "1", "--hours", "-5"], "--hours must be 1 to 8784"),
        (["share", "--practitioner", "Practitioner/p1", "--record", "0"], "--record numbers start at 1"),
        (["revoke", "bogus"], "a grant ID is the 32 lowercase hex digits"),
        (["show", "0"], "record numbers start at 1"),
        (["release", "0"], "record numbers start at 1"),
        // Checked before the trusted UI is asked: a released record that cannot be written is lost.
        (["release", "1", "-o", "/nonexistent/record.json"], "the folder /nonexistent does not exist"),
    ])
    func badArgumentsAreUsageErrors(_ arguments: [String], _ said: String) throws {
        // A socket nobody listens on: were the arguments let through, the answer would be 69.
        let result = try runProcess(tool, arguments + ["--socket", "/nonexistent/tz.sock"])
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains(said), "\(arguments): \(result.stderr)")
    }

    @Test func packageNamesAKeyItCannotReadAndAFileItCannotWrite() throws {
        let work = TemporaryDirectory("phr-package")
        defer { withExtendedLifetime(work) {} }
        let noKey = try runProcess(tool, ["package", "--key", work.appending("missing.pem"), "-o", work.appending("phr.tzpkg")])
        #expect(noKey.status == 64 && noKey.stderr.contains("the developer key \(work.appending("missing.pem")) does not exist"), "\(noKey.stderr)")
        let key = work.appending("developer-key.pem")
        #expect(FileManager.default.createFile(atPath: key, contents: Data(P256.Signing.PrivateKey().pemRepresentation.utf8)))
        let nowhere = try runProcess(tool, ["package", "--key", key, "-o", work.appending("no/phr.tzpkg")])
        #expect(nowhere.status == 64 && nowhere.stderr.contains("the folder \(work.appending("no")) does not exist"), "\(nowhere.stderr)")
        let written = try runProcess(tool, ["package", "--key", key, "-o", work.appending("phr.tzpkg")])
        #expect(written.status == 0 && FileManager.default.fileExists(atPath: work.appending("phr.tzpkg")), "\(written.stderr)")
    }

    @Test func aWellFormedListReachesForTheSecureWorld() throws {
        let result = try runProcess(tool, ["list", "--since", "2024-02-29", "--until", "2026-12-01", "--socket", "/nonexistent/tz.sock"])
        #expect(result.status == 69, "\(result.stderr)")
    }
}
