import ArgumentParser
import Crypto
import Foundation
import SwiftASN1
import TrubiZoneCLISupport
import TrubiZoneClient
import TrubiZoneEAT
import TrubiZoneProtocol
import TrubiZoneSecureWorld
import TrubiZoneVerifier
import X509

struct AttestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attest",
        abstract: "Attestation tokens: get one from the secure world, appraise one, make reference values.",
        subcommands: [Issue.self, Verify.self, Reference.self])

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Get a token from the daemon for the built-in keystore (EAT with PSA claims, COSE_Sign1 ES256).")
        @Option(name: .long, help: ArgumentHelp("The verifier's nonce: 32, 48 or 64 bytes in hex.", valueName: "hex")) var nonce: String
        @Option(name: .long, help: ArgumentHelp("A keystore key to bind in the token's cnf claim.", valueName: "alias")) var key: String?
        @Option(name: .shortAndLong, help: ArgumentHelp("Write the token here (binary); without it, hex goes to standard output.", valueName: "file"))
        var output: String?
        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            guard let bytes = Hex.decode(nonce), Attester.nonceSizes.contains(bytes.count) else {
                throw ValidationError("--nonce must be 32, 48 or 64 bytes of hex (64, 96 or 128 hex digits)")
            }
        }

        func run() async throws {
            let nonceBytes = Hex.decode(nonce) ?? []
            let result = try await withSession(BuiltInTrustlets.Keystore.uuid, connection) { (session) async throws(TEEError) in
                try await session.invoke(command: BuiltInTrustlets.Keystore.Command.attest.rawValue,
                                         parameters: [.input(nonceBytes), .input(Array((key ?? "").utf8)), .output(capacity: 8192)])
            }
            let token = result.bytes(2) ?? []
            if let output {
                try CommandFile.write(token, to: output)
                if connection.json { printJSON(["token": output, "bytes": token.count]) }
            } else if connection.json {
                printJSON(["token": Hex.encode(token)])
            } else {
                print(Hex.encode(token))
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Appraise a token against trusted roots, reference values and the nonce sent.",
            discussion: "Exit status 0 only when the appraisal is affirming; 1 for warning or contraindicated; 64 for bad usage.")
        @Argument(help: "The token: a file (binary or hex), or - for standard input.") var token: String
        @Option(name: .long, help: ArgumentHelp("Trusted manufacturer root certificates (PEM); repeatable.", valueName: "file")) var roots: [String]
        @Option(name: .long, help: ArgumentHelp("Reference values (JSON from `trubizone attest reference`).", valueName: "file")) var reference: String
        @Option(name: .long, help: ArgumentHelp("The nonce that was sent, in hex.", valueName: "hex")) var nonce: String
        @Option(name: .long, parsing: .unconditional, help: "Seconds a token may be old.") var maxAge: Int = 300
        @Flag(name: .long, help: "Print the appraisal as JSON.") var json = false

        func validate() throws {
            guard Hex.decode(nonce) != nil else { throw ValidationError("--nonce is not hex") }
            guard !roots.isEmpty else { throw ValidationError("give at least one --roots certificate") }
            guard maxAge >= 0 else { throw ValidationError("--max-age must be 0 or more seconds, not \(maxAge)") }
        }

        func run() async throws {
            var certificates: [Certificate] = []
            for path in roots {
                guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else { throw fail("cannot read \(path)", code: ExitStatus.usage) }
                let found: [Certificate]
                do {
                    found = try PEMDocument.parseMultiple(pemString: pem).map { try Certificate(pemDocument: $0) }
                } catch {
                    throw fail("\(path) holds no PEM certificate", code: ExitStatus.usage)
                }
                guard !found.isEmpty else { throw fail("\(path) holds no PEM certificate; give the manufacturer's ca-cert.pem", code: ExitStatus.usage) }
                certificates += found
            }
            let referenceValues: ReferenceValues
            do {
                referenceValues = try JSONDecoder().decode(ReferenceValues.self, from: Data(try readInput(reference)))
            } catch DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty {
                throw fail("\(reference): \(context.debugDescription)", code: ExitStatus.usage)
            } catch {
                throw fail("\(reference) is not reference values JSON (make one with `trubizone attest reference`)", code: ExitStatus.usage)
            }
            var bytes = try readInput(token)
            // A hex token (as `attest issue` prints it) is accepted too.
            let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if let decoded = Hex.decode(text), !decoded.isEmpty { bytes = decoded }
            let policy = AttestationPolicy(trustedRoots: certificates, reference: referenceValues, expectedNonce: Hex.decode(nonce) ?? [],
                                           maxAge: TimeInterval(maxAge))
            let appraisal = await AttestationVerifier(policy: policy).appraise(bytes)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                struct Output: Encodable { let status: String; let checks: [Appraisal.Check]; let boundKeys: [Appraisal.BoundKeyDescription] }
                let data = try encoder.encode(Output(status: appraisal.status.rawValue, checks: appraisal.checks, boundKeys: appraisal.boundKeys))
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(appraisal.status.rawValue)
                for check in appraisal.checks { print("  \(check.status == .affirming ? "ok  " : check.status == .warning ? "warn" : "FAIL") \(check.name): \(check.reason)") }
            }
            if appraisal.status != .affirming { throw ExitCode(1) }
        }
    }

    struct Reference: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print reference values (JSON) for a runtime build, trustlet packages and the built-in keystore.")
        @Option(name: .long, help: ArgumentHelp("The runtime executable whose build to accept (default: the trubizoned beside this tool).",
                                                valueName: "file"))
        var runtime: String?
        @Option(name: .long, help: ArgumentHelp("A signed trustlet package to accept; repeatable.", valueName: "file")) var package: [String] = []
        @Flag(name: .long, help: "Accept the built-in keystore (tokens from `attest issue`).") var keystore = false

        func run() throws {
            let executable = runtime ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("trubizoned").path
            guard let data = FileManager.default.contents(atPath: executable) else {
                throw fail("cannot read the runtime executable \(executable); name it with --runtime", code: ExitStatus.usage)
            }
            // The implementation ID is the runtime build; the keystore is measured as part of it.
            let build = Hex.encode(SHA256.hash(data: data))
            var values = ReferenceValues(runtimeImplementationIDs: [build])
            if keystore {
                values.trustlets.append(.init(measurement: build, signer: Hex.encode(Attester.builtInSignerID)))
            }
            for path in package {
                let package: TrustletPackage
                do {
                    package = try TrustletPackage(bytes: try readInput(path))
                } catch {
                    throw fail("\(path): \(error)", code: ExitStatus.refused)
                }
                values.trustlets.append(.init(measurement: Hex.encode(package.measurement), signer: Hex.encode(package.signerID)))
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(values), as: UTF8.self))
        }
    }
}
