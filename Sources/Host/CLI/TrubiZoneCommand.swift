import ArgumentParser
import Foundation
import TrubiZoneCLISupport
import TrubiZoneDaemonCommand

/// `trubizone`: the developer tool.
@available(macOS 10.15, macCatalyst 13, iOS 13, tvOS 13, watchOS 6, *)
public struct TrubiZoneCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "trubizone",
        abstract: "Provision emulated devices, run the secure world, and use its storage and keystore.",
        discussion: """
            Exit codes: 0 success, 1 the secure world refused the operation (the GP code is printed), \
            64 bad usage, 69 the secure world could not be reached.
            """,
        subcommands: [DemoCommand.self, DeviceCommand.self, StorageCommand.self, KeystoreCommand.self, KeygenCommand.self,
                      TrustletCommand.self, AttestCommand.self, ChannelCommand.self, ServeCommand.self])

    public init() {}
}

/// Options every command that talks to the daemon takes.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The daemon's socket (default: $TRUBIZONE_SOCKET, else ./trubizone.sock).", valueName: "path"))
    var socket: String?

    @Option(name: .long, help: "How the secure world identifies this client: user, public or application.")
    var login: LoginChoice = .user

    @Flag(name: .long, help: "Print machine-readable JSON.")
    var json = false

    var socketPath: String {
        socket ?? ProcessInfo.processInfo.environment["TRUBIZONE_SOCKET"] ?? "trubizone.sock"
    }
}

enum LoginChoice: String, ExpressibleByArgument, CaseIterable {
    case user, `public`, application
}

/// Writes JSON to standard output, keys sorted so scripts and tests can compare output.
func printJSON(_ value: Any) {
    if let data = try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys]) {
        print(String(decoding: data, as: UTF8.self))
    }
}

/// Prints an error to standard error and exits with `code`.
struct Failure: Error, CustomStringConvertible {
    let message: String
    let code: Int32
    var description: String { message }
}


/// Reads FILE, or standard input for `-` or no file.
func readInput(_ path: String?) throws -> [UInt8] {
    if let path, path != "-" {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read \(path): no such file or not readable")
        }
        return Array(data)
    }
    return Array(FileHandle.standardInput.readDataToEndOfFile())
}
