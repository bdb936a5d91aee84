import ArgumentParser
import Crypto
import Foundation
import TrubiZoneCLISupport
import TrubiZoneChannel

/// `trubizone channel`: seals and opens end-to-end channel messages with keys in PEM files, so
/// a developer (and CI's independent implementation) can check the format from outside.
struct ChannelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "channel",
        abstract: "Seal and open end-to-end channel messages (HPKE Auth mode, TZE2) with P-256 keys in PEM files.",
        discussion: "Exit status 0 when the message was made or opened, 1 when it was refused (the reason is printed), 64 for bad usage.",
        subcommands: [Seal.self, Open.self])

    struct Seal: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Seal FILE (or standard input) from the sender's private key to the recipient's public key.")
        @Argument(help: "The payload: a file, or - for standard input.") var input: String = "-"
        @Option(name: .long, help: ArgumentHelp("The recipient's public key (PEM).", valueName: "file")) var to: String
        @Option(name: .long, help: ArgumentHelp("The sender's private key (PEM).", valueName: "file")) var from: String
        @Option(name: .long, help: "The purpose (1 to 64 printable ASCII characters).") var purpose: String
        @Option(name: .long, help: "The message's sequence number.") var sequence: UInt64
        @Option(name: .long, help: "The nonce of the request it answers (default: none).") var request = ""
        @Option(name: .long, help: "Pad to at least this bucket (bytes).") var bucket = 0
        @Option(name: .shortAndLong, help: ArgumentHelp("Write the message here (default: standard output).", valueName: "file")) var output: String?

        func run() throws {
            let recipient = try publicKey(to), sender = try privateKey(from)
            do {
                let message = try SealedEnvelope.seal(try readInput(input), to: recipient, from: sender, purpose: purpose, sequence: sequence,
                                                      answering: request, minimumBucket: bucket)
                try write(message, to: output)
            } catch let error as ChannelError {
                throw fail("\(error)", code: ExitStatus.refused)
            }
        }
    }

    struct Open: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open a message sent to the recipient's private key by the sender's public key.")
        @Argument(help: "The message: a file, or - for standard input.") var input: String = "-"
        @Option(name: .long, help: ArgumentHelp("The recipient's private key (PEM).", valueName: "file")) var with: String
        @Option(name: .long, help: ArgumentHelp("The sender's public key (PEM).", valueName: "file")) var from: String
        @Option(name: .long, help: "The purpose expected.") var purpose: String
        @Option(name: .long, help: "The nonce of the request it must answer (default: none).") var request = ""
        @Option(name: .long, help: "The last sequence number accepted; the message must be later.") var after: UInt64?
        @Option(name: .shortAndLong, help: ArgumentHelp("Write the payload here (default: standard output).", valueName: "file")) var output: String?

        func run() throws {
            let recipient = try privateKey(with), sender = try publicKey(from)
            do {
                let opened = try SealedEnvelope.open(try readInput(input), with: recipient, from: sender, purpose: purpose, answering: request, after: after)
                try write(opened.payload, to: output)
            } catch let error as ChannelError {
                throw fail("refused: \(error)", code: ExitStatus.refused)
            }
        }
    }

    static func pem(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path): no such file or not readable") }
        return String(decoding: data, as: UTF8.self)
    }
}

private func privateKey(_ path: String) throws -> P256.KeyAgreement.PrivateKey {
    do { return try P256.KeyAgreement.PrivateKey(pemRepresentation: try ChannelCommand.pem(path)) } catch let error as ValidationError { throw error } catch {
        throw ValidationError("\(path) is not a P-256 private key in PEM")
    }
}

private func publicKey(_ path: String) throws -> P256.KeyAgreement.PublicKey {
    do { return try P256.KeyAgreement.PublicKey(pemRepresentation: try ChannelCommand.pem(path)) } catch let error as ValidationError { throw error } catch {
        throw ValidationError("\(path) is not a P-256 public key in PEM")
    }
}

private func write(_ bytes: [UInt8], to path: String?) throws {
    if let path {
        try CommandFile.write(bytes, to: path)
    } else {
        FileHandle.standardOutput.write(Data(bytes))
    }
}
