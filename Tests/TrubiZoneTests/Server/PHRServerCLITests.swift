import AsyncHTTPClient
import Crypto
import Foundation
import NIOSSL
import PHRApp
import PHRProtocol
import SwiftASN1
import Testing
import TrubiZoneTesting
import X509

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
        try Data(#"{"trustlets": []}"#.utf8).write(to: URL(fileURLWithPath: empty))
        // The first format's separate lists, which let one trustlet's build pass with another's signer.
        let unpaired = directory.appending("unpaired.json")
        try Data(#"{"trustletMeasurements":["\#(String(repeating: "ab", count: 32))"],"trustletSigners":["\#(String(repeating: "ab", count: 32))"],"runtimeImplementationIDs":[]}"#.utf8)
            .write(to: URL(fileURLWithPath: unpaired))
        try Data("not a certificate".utf8).write(to: URL(fileURLWithPath: notPEM))
        let digest = String(repeating: "ab", count: 32)
        try Data(#"{"trustlets":[{"measurement":"\#(digest)","signer":"\#(digest)"}],"runtimeImplementationIDs":["\#(digest)"]}"#.utf8)
            .write(to: URL(fileURLWithPath: good))
        let root = directory.appending("ca.pem")
        try Data(try PHRServerTLSTests.selfSigned().pem.utf8).write(to: URL(fileURLWithPath: root))
        let key = ["--channel-key", directory.appending("channel-key.pem")]
        let cases: [([String], String)] = [
            (["--roots", notPEM], "give --reference"),
            (["--reference", good], "give --roots"),
            (["--reference", good, "--roots", notPEM], "give --channel-key"),
            (["--reference", good, "--roots", root, "--channel-key", notPEM], "holds no P-256 private key"),
            (["--reference", empty, "--roots", notPEM] + key, "names no trustlet (measurement and signer)"),
            (["--reference", unpaired, "--roots", notPEM] + key, "list each trustlet as"),
            (["--reference", notPEM, "--roots", notPEM] + key, "is not reference values JSON"),
            (["--reference", good, "--roots", notPEM] + key, "holds no PEM certificate"),
            (["--reference", good, "--roots", directory.appending("missing.pem")] + key, "cannot read"),
            (["--reference", good, "--roots", notPEM, "--port", "70000"] + key, "--port must be"),
            (["--reference", good, "--roots", notPEM, "--log-level", "loud"] + key, "--log-level must be"),
        ]
        for (arguments, message) in cases {
            let result = try runProcess(Self.tool, ["serve", "--database", database] + arguments, environment: [:])
            #expect(result.status == 64 && result.stderr.contains(message), "\(arguments): \(result.status) \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.appending("channel-key.pem")), "a refused start makes no channel key")
    }

    @Test func filesThatCannotBeReadOrWrittenAreNamedAndNothingIsStored() throws {
        let directory = TemporaryDirectory("phr-cli-files")
        defer { withExtendedLifetime(directory) {} }
        let database = directory.appending("phr.sqlite"), file = directory.appending("plain-file")
        #expect(FileManager.default.createFile(atPath: file, contents: Data("{}".utf8)))
        let missing = try runProcess(Self.tool, ["import", file, directory.appending("nowhere.json"), "--database", database])
        #expect(missing.status == 64 && missing.stderr.contains("nowhere.json does not exist"), "\(missing.stderr)")
        let folder = try runProcess(Self.tool, ["import", directory.path, "--database", database])
        #expect(folder.status == 64 && folder.stderr.contains("is a folder"), "\(folder.stderr)")
        let underAFile = try runProcess(Self.tool, ["seed", "--patients", "1", "--out", file + "/bundles", "--database", database])
        #expect(underAFile.status == 64 && underAFile.stderr.contains("cannot make the folder \(file)/bundles"), "\(underAFile.stderr)")
        #expect(!FileManager.default.fileExists(atPath: database), "no database was made for a refused command")
    }

    @Test func aPostgreSQLThatDoesNotAnswerIsUnavailableAndItsPasswordUnsaid() throws {
        let port = PHRConnectionTests.closedPort()
        let result = try runProcess(Self.tool, ["patient", "list", "--database", "postgres://clinic:s3cretpw@127.0.0.1:\(port)/phr"], timeout: 60)
        #expect(result.status == 69, "\(result.stderr)")
        #expect(result.stderr.contains("cannot reach PostgreSQL at 127.0.0.1:\(port)"), "\(result.stderr)")
        #expect(!result.stderr.contains("s3cretpw") && !result.stdout.contains("s3cretpw"), "the password is never printed")
    }
}

/// `phr-server serve --tls-cert --tls-key`: HTTPS with the clinic's certificate.
@Suite struct PHRServerTLSTests {
    /// A self-signed certificate for 127.0.0.1, made with swift-certificates, and its key.
    static func selfSigned() throws -> (pem: String, key: P256.Signing.PrivateKey) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("phr-server test") }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: Date().addingTimeInterval(-60),
            notValidAfter: Date().addingTimeInterval(3600), issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions { SubjectAlternativeNames([.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))]) },
            issuerPrivateKey: .init(key))
        return (try certificate.serializeAsPEM().pemString, key)
    }

    @Test func serveSpeaksTLSWithTheGivenCertificate() async throws {
        let (directory, database) = try PHRServerCLITests.seeded()
        defer { withExtendedLifetime(directory) {} }
        let (certificatePEM, key) = try Self.selfSigned()
        try Data(certificatePEM.utf8).write(to: URL(fileURLWithPath: directory.appending("cert.pem")))
        try Data(key.pemRepresentation.utf8).write(to: URL(fileURLWithPath: directory.appending("key.pem")))
        let digest = String(repeating: "ab", count: 32)
        try Data(#"{"trustlets":[{"measurement":"\#(digest)","signer":"\#(digest)"}],"runtimeImplementationIDs":["\#(digest)"]}"#.utf8)
            .write(to: URL(fileURLWithPath: directory.appending("reference.json")))

        let mismatched = try runProcess(PHRServerCLITests.tool, ["serve", "--database", database, "--reference", directory.appending("reference.json"),
                                                                 "--roots", directory.appending("cert.pem"), "--tls-cert", directory.appending("cert.pem"),
                                                                 "--channel-key", directory.appending("channel-key.pem")],
                                        environment: [:])
        #expect(mismatched.status == 64 && mismatched.stderr.contains("both --tls-cert and --tls-key"))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: PHRServerCLITests.tool)
        process.arguments = ["serve", "--database", database, "--reference", directory.appending("reference.json"), "--roots", directory.appending("cert.pem"),
                             "--tls-cert", directory.appending("cert.pem"), "--tls-key", directory.appending("key.pem"), "--port", "0", "--log-level", "warning",
                             "--channel-key", directory.appending("channel-key.pem")]
        process.environment = [:]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        defer { process.terminate(); process.waitUntilExit() }
        // The first line names the address.
        var line = [UInt8]()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self)
        let url = try #require(text.split(separator: " ").first { $0.hasPrefix("https://") }.map(String.init), "\(text)")

        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates([try NIOSSLCertificate(bytes: Array(certificatePEM.utf8), format: .pem)])
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        do {
            let response = try await client.execute(HTTPClientRequest(url: url + "/health"), timeout: .seconds(10))
            #expect(response.status == .ok)
            // A client that does not trust the certificate cannot talk to it.
            var once = HTTPClient.Configuration()
            once.connectionPool.retryConnectionEstablishment = false
            let stranger = HTTPClient(eventLoopGroupProvider: .singleton, configuration: once)
            let refused = await #expect(throws: NIOSSLError.self) { _ = try await stranger.execute(HTTPClientRequest(url: url + "/health"), timeout: .seconds(10)) }
            if case .handshakeFailed? = refused {} else {
                Issue.record("expected the TLS handshake to fail on the certificate, got \(String(describing: refused))")
            }
            try await stranger.shutdown()
            // The phone's app says so in words.
            let untrusted = try #require(await PHRConnectionTests.refusal(url))
            if case let .serverUnreachable(_, why) = untrusted { #expect(why.contains("certificate is not one this machine trusts"), "\(why)") } else {
                Issue.record("\(untrusted)")
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }
}
