import ArgumentParser
import Crypto
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOSSL
import PHRServer
import PHRServerHTTP
import SwiftASN1
import TrubiZoneCLISupport
import TrubiZoneVerifier
import X509

extension PHRServerCommand {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the PHR protocol over HTTP: enrollment, sync, uploads, sharing, audit.",
            discussion: """
                Only devices whose PHR trustlet attests to a build in --reference, on a device certified by one of \
                the --roots, can enroll. Make reference values with `trubizone attest reference --package PHR.tzpkg`; \
                the manufacturer's root is ca.pem in the device's CA directory. Options may also come from the \
                environment: PHR_HOST, PHR_PORT, PHR_REFERENCE, PHR_ROOTS (colon-separated), PHR_TLS_CERT, PHR_TLS_KEY, \
                PHR_DATABASE. Records and readings are end-to-end protected either way; TLS also protects practitioners' \
                tokens and the metadata of requests.
                """)

        @Option(name: .long, help: "The address to listen on.") var host = ProcessInfo.processInfo.environment["PHR_HOST"] ?? "127.0.0.1"
        @Option(name: .long, help: "The port to listen on (0: any free port, printed at start).")
        var port = Int(ProcessInfo.processInfo.environment["PHR_PORT"] ?? "") ?? 8080
        @Option(name: .long, help: ArgumentHelp("Accepted trustlet and runtime builds (JSON from `trubizone attest reference`).", valueName: "file"))
        var reference: String? = ProcessInfo.processInfo.environment["PHR_REFERENCE"]
        @Option(name: .long, help: ArgumentHelp("Trusted manufacturer root certificates (PEM); repeatable.", valueName: "file"))
        var roots: [String] = ProcessInfo.processInfo.environment["PHR_ROOTS"]?.split(separator: ":").map(String.init) ?? []
        @Option(name: .long, help: ArgumentHelp("Serve HTTPS with this certificate chain (PEM); needs --tls-key.", valueName: "file"))
        var tlsCert: String? = ProcessInfo.processInfo.environment["PHR_TLS_CERT"]
        @Option(name: .long, help: ArgumentHelp("The TLS private key (PEM).", valueName: "file"))
        var tlsKey: String? = ProcessInfo.processInfo.environment["PHR_TLS_KEY"]
        @Option(name: .long, help: ArgumentHelp(
            "The server's channel key (PEM, P-256): devices seal readings and grants to it. Created (0600) if missing; keep it.",
            valueName: "file"))
        var channelKey: String? = ProcessInfo.processInfo.environment["PHR_CHANNEL_KEY"]
        @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.") var logLevel = "info"
        @OptionGroup var options: DatabaseOptions

        func validate() throws {
            guard reference != nil else { throw ValidationError("give --reference FILE: the trustlet builds this server accepts") }
            guard !roots.isEmpty else { throw ValidationError("give --roots FILE: the device manufacturer's root certificate") }
            guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
            guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be trace, debug, info, notice, warning or error") }
            guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("give both --tls-cert and --tls-key, or neither") }
            guard channelKey != nil else { throw ValidationError("give --channel-key FILE: the server's channel key (created if missing)") }
        }

        func run() async throws {
            let referenceValues = try Self.readReference(reference ?? "")
            let trustedRoots = try Self.readRoots(roots)
            let tls = try Self.readTLS(certificate: tlsCert, key: tlsKey)
            let store = try await options.open()
            // Last, once every other input is known good: a mistyped option leaves no new key behind.
            let key = try Self.readChannelKey(channelKey ?? "")
            let service = PHRService(store: store, policy: PHRServerPolicy(trustedRoots: trustedRoots, reference: referenceValues, channelKey: key))
            var logger = Logger(label: "phr-server")
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            let scheme = tls == nil ? "http" : "https"
            let app = try PHRApplication.application(service: service, host: host, port: port, logger: logger, tls: tls) { address in
                // Written straight to the descriptor: a script waits for this line to know the port.
                FileHandle.standardOutput.write(Data("phr-server: listening on \(scheme)://\(host):\(address.port ?? port) (database \(options.database))\n".utf8))
            }
            try await app.runService()
        }

        static func readRoots(_ paths: [String]) throws -> [Certificate] {
            var certificates: [Certificate] = []
            for path in paths {
                guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else { throw fail("cannot read \(path)", code: ExitStatus.usage) }
                let found = try? PEMDocument.parseMultiple(pemString: pem).map { try Certificate(pemDocument: $0) }
                guard let found, !found.isEmpty else { throw fail("\(path) holds no PEM certificate", code: ExitStatus.usage) }
                certificates += found
            }
            return certificates
        }

        /// Reads the channel key, or makes one (0600) where none is yet.
        static func readChannelKey(_ path: String) throws -> P256.KeyAgreement.PrivateKey {
            if let pem = try? String(contentsOfFile: path, encoding: .utf8) {
                guard let key = try? P256.KeyAgreement.PrivateKey(pemRepresentation: pem) else {
                    throw fail("\(path) holds no P-256 private key (PEM); move it away to make a new one, and re-enroll every device", code: ExitStatus.usage)
                }
                return key
            }
            guard !FileManager.default.fileExists(atPath: path) else { throw fail("cannot read \(path)", code: ExitStatus.usage) }
            let key = P256.KeyAgreement.PrivateKey()
            try CommandFile.write(Array(key.pemRepresentation.utf8), to: path, mode: 0o600, replacing: false)
            return key
        }

        static func readTLS(certificate: String?, key: String?) throws -> TLSConfiguration? {
            guard let certificate, let key else { return nil }
            let chain: [NIOSSLCertificate]
            do { chain = try NIOSSLCertificate.fromPEMFile(certificate) } catch { throw fail("\(certificate) holds no PEM certificate chain", code: ExitStatus.usage) }
            guard !chain.isEmpty else { throw fail("\(certificate) holds no PEM certificate chain", code: ExitStatus.usage) }
            let privateKey: NIOSSLPrivateKey
            do { privateKey = try NIOSSLPrivateKey(file: key, format: .pem) } catch { throw fail("\(key) holds no PEM private key", code: ExitStatus.usage) }
            return TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        }

        static func readReference(_ path: String) throws -> ReferenceValues {
            guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot read \(path)", code: ExitStatus.usage) }
            do {
                let values = try JSONDecoder().decode(ReferenceValues.self, from: data)
                guard !values.trustlets.isEmpty, !values.runtimeImplementationIDs.isEmpty else {
                    throw fail("\(path) names no trustlet (measurement and signer) or runtime build: no device could enroll", code: ExitStatus.usage)
                }
                return values
            } catch let exit as ExitCode {
                throw exit
            } catch DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty {
                throw fail("\(path): \(context.debugDescription)", code: ExitStatus.usage)
            } catch {
                throw fail("\(path) is not reference values JSON (make one with `trubizone attest reference`)", code: ExitStatus.usage)
            }
        }
    }
}

