import ArgumentParser
import Foundation
import TrubiZoneCLISupport
import TrubiZoneClient
import TrubiZoneProtocol

/// Opens a session with a built-in trustlet over the daemon's socket, or exits with a clear message.
func openSession(_ uuid: TrustletUUID, _ options: ConnectionOptions) async throws -> (TEEContext, TEESession) {
    let login: LoginMethod = switch options.login {
    case .user: .user
    case .public: .public
    case .application: .application
    }
    do throws(TEEError) {
        let context = try TEEContext.socket(path: options.socketPath)
        return (context, try await context.openSession(uuid: uuid, login: login))
    } catch {
        throw report(error)
    }
}

/// Turns a TEE failure into the CLI's message and exit code.
func report(_ error: TEEError) -> ExitCode {
    fail(error.description, code: error.code == .communication && error.origin == .comms ? 69 : 1)
}

/// Runs a command against a session, mapping TEE failures to exit codes.
@discardableResult
func withSession<R>(_ uuid: TrustletUUID, _ options: ConnectionOptions, _ body: (TEESession) async throws(TEEError) -> R) async throws -> R {
    let (context, session) = try await openSession(uuid, options)
    defer { context.close() }
    do throws(TEEError) {
        return try await body(session)
    } catch {
        throw report(error)
    }
}

/// Invokes a command whose output memref is in `slot`, growing the buffer on
/// `TEEC_ERROR_SHORT_BUFFER` as GP clients do.
func invokeGrowing(_ session: TEESession, _ command: UInt32, _ inputs: [TEEParameter], slot: Int,
                   initialCapacity: Int = 64 * 1024) async throws(TEEError) -> [UInt8] {
    var capacity = initialCapacity
    while true {
        var parameters = inputs
        parameters.insert(.output(capacity: capacity), at: slot)
        do throws(TEEError) {
            return try await session.invoke(command: command, parameters: parameters).bytes(slot) ?? []
        } catch {
            guard let needed = error.requiredSize(slot), needed > capacity else { throw error }
            capacity = needed
        }
    }
}

/// Runs a built-in trustlet's `list` command (output in parameter 0) and decodes the names.
func listNames(_ uuid: TrustletUUID, command: UInt32, _ options: ConnectionOptions) async throws -> [String] {
    let bytes = try await withSession(uuid, options) { (session) async throws(TEEError) in
        try await invokeGrowing(session, command, [], slot: 0)
    }
    guard let entries = BuiltInTrustlets.decodeList(bytes) else { throw fail("the secure world sent a malformed list", code: ExitStatus.refused) }
    return entries.map { String(decoding: $0, as: UTF8.self) }
}

/// Runs a built-in trustlet's `delete` command on `alias` and reports it.
func deleteAlias(_ alias: String, _ uuid: TrustletUUID, command: UInt32, noun: String, _ options: ConnectionOptions) async throws {
    try await withSession(uuid, options) { (session) async throws(TEEError) in
        try await session.invoke(command: command, parameters: [.input(Array(alias.utf8))])
    }
    if options.json { printJSON(["alias": alias, "deleted": true]) } else { print("deleted \(noun)\(alias)") }
}

struct StorageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Sealed objects for this client, through the built-in storage trustlet.",
        subcommands: [Put.self, Get.self, Remove.self, List.self, Reset.self])
    typealias Command = BuiltInTrustlets.Storage.Command
    static var uuid: TrustletUUID { BuiltInTrustlets.Storage.uuid }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Store FILE (or standard input) under ALIAS.")
        @Argument(help: "The object's ID (1 to 64 bytes).") var alias: String
        @Argument(help: "The file to store; - or nothing for standard input.") var file: String?
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let data = try readInput(file)
            try await withSession(StorageCommand.uuid, connection) { (session) async throws(TEEError) in
                try await session.invoke(command: Command.put.rawValue, parameters: [.input(Array(alias.utf8)), .input(data)])
            }
            if connection.json { printJSON(["alias": alias, "size": data.count, "stored": true]) }
            else { print("stored \(alias) (\(data.count) bytes)") }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the object ALIAS to standard output or a file.")
        @Argument(help: "The object's ID.") var alias: String
        @Option(name: .shortAndLong, help: ArgumentHelp("Write to this file (mode 0600) instead.", valueName: "file"))
        var output: String?
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let bytes = try await withSession(StorageCommand.uuid, connection) { (session) async throws(TEEError) in
                try await invokeGrowing(session, Command.get.rawValue, [.input(Array(alias.utf8))], slot: 1)
            }
            if let output {
                try CommandFile.write(bytes, to: output, mode: 0o600)
            } else if connection.json {
                printJSON(["alias": alias, "size": bytes.count, "base64": Data(bytes).base64EncodedString()])
            } else {
                FileHandle.standardOutput.write(Data(bytes))
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete the object ALIAS.")
        @Argument(help: "The object's ID.") var alias: String
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await deleteAlias(alias, StorageCommand.uuid, command: Command.delete.rawValue, noun: "", connection)
        }
    }

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete every object of this client, including a store reported as tampered.",
            discussion: """
                A store the secure world found tampered with answers TEEC_ERROR_SECURITY to everything \
                until it is reset. Resetting loses its contents: restore them from their source afterwards.
                """)
        @Flag(name: .long, help: "Confirm that every object of this client is to be deleted.") var yes = false
        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            guard yes else { throw ValidationError("reset deletes every object of this client; add --yes to confirm") }
        }

        func run() async throws {
            try await withSession(StorageCommand.uuid, connection) { (session) async throws(TEEError) in
                try await session.invoke(command: Command.reset.rawValue)
            }
            if connection.json { printJSON(["reset": true]) } else { print("storage reset: every object of this client was deleted") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List this client's objects.")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let names = try await listNames(StorageCommand.uuid, command: Command.list.rawValue, connection)
            if connection.json { printJSON(["objects": names]) } else { names.forEach { print($0) } }
        }
    }
}
