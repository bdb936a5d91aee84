import ArgumentParser
import Crypto
import Foundation
import TrubiZoneClient
import TrubiZoneProtocol

struct KeystoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keystore",
        abstract: "Keys that never leave the secure world, through the built-in keystore trustlet.",
        subcommands: [Generate.self, Public.self, Sign.self, Remove.self, List.self])
    typealias Command = BuiltInTrustlets.Keystore.Command
    typealias Kind = BuiltInTrustlets.Keystore.KeyKind
    static var uuid: TrustletUUID { BuiltInTrustlets.Keystore.uuid }

    static func describe(alias: String, kind: Kind, x963: [UInt8], json: Bool) {
        let pem = (try? P256.Signing.PublicKey(x963Representation: x963))?.pemRepresentation ?? ""
        if json {
            printJSON(["alias": alias, "kind": kind == .signing ? "signing" : "hpke", "publicKey": Data(x963).base64EncodedString(),
                       "publicKeyPEM": pem])
        } else {
            print(pem)
        }
    }

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Generate a P-256 key under ALIAS and print its public key.")
        @Argument(help: "The key's alias (1 to 64 bytes).") var alias: String
        @Flag(name: .long, help: "An HPKE key (DHKEM(P-256, HKDF-SHA256)) instead of a signing key.") var hpke = false
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let kind: Kind = hpke ? .hpke : .signing
            let result = try await withSession(KeystoreCommand.uuid, connection) { (session) async throws(TEEError) in
                try await session.invoke(command: Command.generate.rawValue,
                                         parameters: [.input(Array(alias.utf8)), .valueInput(kind.rawValue), .output(capacity: 65)])
            }
            KeystoreCommand.describe(alias: alias, kind: kind, x963: result.bytes(2) ?? [], json: connection.json)
        }
    }

    struct Public: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "public", abstract: "Print the public key of ALIAS (PEM).")
        @Argument(help: "The key's alias.") var alias: String
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let result = try await withSession(KeystoreCommand.uuid, connection) { (session) async throws(TEEError) in
                try await session.invoke(command: Command.publicKey.rawValue, parameters: [.input(Array(alias.utf8)), .output(capacity: 65), .valueOutput])
            }
            KeystoreCommand.describe(alias: alias, kind: Kind(rawValue: result.value(2)?.a ?? 1) ?? .signing,
                                     x963: result.bytes(1) ?? [], json: connection.json)
        }
    }

    struct Sign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign FILE (or standard input) with ALIAS: ECDSA P-256 SHA-256, printed as hex r‖s.")
        @Argument(help: "The key's alias.") var alias: String
        @Argument(help: "The file to sign; - or nothing for standard input.") var file: String?
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let message = try readInput(file)
            let result = try await withSession(KeystoreCommand.uuid, connection) { (session) async throws(TEEError) in
                try await session.invoke(command: Command.sign.rawValue, parameters: [.input(Array(alias.utf8)), .input(message), .output(capacity: 64)])
            }
            let signature = Hex.encode(result.bytes(2) ?? [])
            if connection.json { printJSON(["alias": alias, "algorithm": "ES256", "signature": signature]) } else { print(signature) }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete the key ALIAS.")
        @Argument(help: "The key's alias.") var alias: String
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await deleteAlias(alias, KeystoreCommand.uuid, command: Command.delete.rawValue, noun: "key ", connection)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List this client's key aliases.")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let names = try await listNames(KeystoreCommand.uuid, command: Command.list.rawValue, connection)
            if connection.json { printJSON(["keys": names]) } else { names.forEach { print($0) } }
        }
    }
}
