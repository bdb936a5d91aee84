import Foundation
import PHRProtocol
import Testing
import TrubiZoneTesting

/// The clinic's `phr-server` commands, as built executables: codes, tokens, revocation, and a
/// server that will not start without the trust it needs.
@Suite struct PHRServerCLITests {
    static let tool = BuiltProducts.path("phr-server")

    static func seeded() throws -> (TemporaryDirectory, String) {
        let directory = try TemporaryDirectory("phr-cli")
        let database = directory.appending("phr.sqlite")
        let seed = try runProcess(tool, ["seed", "--patients", "2", "--seed", "3", "--database", database, "--json"])
        #expect(seed.status == 0, "\(seed.stderr)")
        return (directory, database)
    }

    @Test func theClinicIssuesCodesAndTokensAndRevokesDevices() throws {
        let (directory, database) = try Self.seeded()
        defer { withExtendedLifetime(directory) {} }
        let list = try runProcess(Self.tool, ["patient", "list", "--database", database, "--json"])
        let patients = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String])
        #expect(patients.count == 2)

        let issued = try runProcess(Self.tool, ["patient", "enroll-code", "Patient/\(patients[0])", "--database", database, "--json"])
        #expect(issued.status == 0, "\(issued.stderr)")
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(issued.stdout.utf8)) as? [String: String])
        let code = try #require(EnrollmentCode(answer["code"] ?? ""))
        #expect(answer["code"] == code.formatted && answer["patient"] == "Patient/\(patients[0])")
        let again = try runProcess(Self.tool, ["patient", "enroll-code", patients[0], "--database", database])
        #expect(again.status == 0 && again.stdout.contains("enrollment code for Patient/\(patients[0])"))

        let unknown = try runProcess(Self.tool, ["patient", "enroll-code", "nobody", "--database", database])
        #expect(unknown.status == 1 && unknown.stderr.contains("Patient/nobody does not exist"))

        let token = try runProcess(Self.tool, ["practitioner", "token", "clinic-1", "--database", database])
        #expect(token.status == 0 && token.stdout.hasPrefix("tzp_") && token.stdout.count > 40)
        let stranger = try runProcess(Self.tool, ["practitioner", "token", "Practitioner/nobody", "--database", database])
        #expect(stranger.status == 1 && stranger.stderr.contains("is not stored"))
        let revoke = try runProcess(Self.tool, ["device", "revoke", String(repeating: "a", count: 32), "--database", database])
        #expect(revoke.status == 1 && revoke.stderr.contains("no active device"))

        // The audit log holds the code's issue but never the code, and verifies.
        let verify = try runProcess(Self.tool, ["audit", "verify", "--database", database])
        #expect(verify.status == 0, "\(verify.stderr)")
        let sqlite = try String(decoding: Data(contentsOf: URL(fileURLWithPath: database)), as: UTF8.self)
            + ((try? String(contentsOfFile: database + "-wal", encoding: .isoLatin1)) ?? "")
        #expect(!sqlite.contains(code.characters) && !sqlite.contains(code.formatted), "the database keeps no enrollment code")
        #expect(!sqlite.contains(token.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "the database keeps no practitioner token")
    }

    @Test func serveRefusesToStartWithoutWhatItTrusts() throws {
        let (directory, database) = try Self.seeded()
        defer { withExtendedLifetime(directory) {} }
        let empty = directory.appending("empty.json"), notPEM = directory.appending("root.pem"), good = directory.appending("reference.json")
        try Data(#"{"trustletMeasurements": []}"#.utf8).write(to: URL(fileURLWithPath: empty))
        try Data("not a certificate".utf8).write(to: URL(fileURLWithPath: notPEM))
        let digest = String(repeating: "ab", count: 32)
        try Data(#"{"trustletMeasurements":["\#(digest)"],"trustletSigners":["\#(digest)"],"runtimeImplementationIDs":["\#(digest)"]}"#.utf8)
            .write(to: URL(fileURLWithPath: good))
        let cases: [([String], String)] = [
            (["--roots", notPEM], "give --reference"),
            (["--reference", good], "give --roots"),
            (["--reference", empty, "--roots", notPEM], "names no trustlet build"),
            (["--reference", notPEM, "--roots", notPEM], "is not reference values JSON"),
            (["--reference", good, "--roots", notPEM], "holds no PEM certificate"),
            (["--reference", good, "--roots", directory.appending("missing.pem")], "cannot read"),
            (["--reference", good, "--roots", notPEM, "--port", "70000"], "--port must be"),
            (["--reference", good, "--roots", notPEM, "--log-level", "loud"], "--log-level must be"),
        ]
        for (arguments, message) in cases {
            let result = try runProcess(Self.tool, ["serve", "--database", database] + arguments, environment: [:])
            #expect(result.status == 64 && result.stderr.contains(message), "\(arguments): \(result.status) \(result.stderr)")
        }
    }
}
