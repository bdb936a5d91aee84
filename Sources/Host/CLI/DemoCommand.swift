import ArgumentParser
import Foundation
import Logging
import TrubiZoneCLISupport
import TrubiZoneClient
import TrubiZoneDaemon
import TrubiZoneEmulatedDevice
import TrubiZoneManufacturer
import TrubiZoneProtocol
import TrubiZoneSecureWorld

/// `trubizone demo`: the TEE core's story end to end, in a temporary directory.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Provision a device, run its secure world, store and sign through it, and watch it catch tampering.")

    @Option(name: .long, help: ArgumentHelp("Work in this directory instead of a temporary one (kept afterwards).", valueName: "dir"))
    var dir: String?

    func run() async throws {
        let root = dir ?? NSTemporaryDirectory() + "trubizone-demo-\(getpid())"
        try CommandFile.makeDirectory(root)
        defer { if dir == nil { try? FileManager.default.removeItem(atPath: root) } }
        let state = root + "/device/state", ree = root + "/device/ree", socket = root + "/trubizone.sock"

        step(1, "Provision an emulated device (hardware unique key, attestation key, manufacturer certificate)")
        let device = try Manufacturer.provision(stateDirectory: state, caDirectory: root + "/manufacturer-ca")
        say("device \(device.deviceID.prefix(18))…, secure state in \(state) (mode 0700)")

        step(2, "Start the secure world behind the world-switch socket")
        let world = try SecureWorld.emulated(stateDirectory: state, reeDirectory: ree,
                                             logger: Logger(label: "demo") { _ in SwiftLogNoOpLogHandler() })
        let server = WorldSwitchServer(endpoint: world, configuration: .init(socketPath: socket),
                                       logger: Logger(label: "demo") { _ in SwiftLogNoOpLogHandler() })
        try server.start()
        defer { server.shutdown() }
        say("listening on \(socket) (mode 0600)")

        step(3, "The app stores a health note in sealed storage, through the storage trustlet")
        let context = try TEEContext.socket(path: socket)
        defer { context.close() }
        let storage = try await context.openSession(uuid: BuiltInTrustlets.Storage.uuid)
        let note = Array("Blood pressure 128/84, taking lisinopril 10 mg".utf8)
        try await storage.invoke(command: BuiltInTrustlets.Storage.Command.put.rawValue, parameters: [.input(Array("bp-note".utf8)), .input(note)])
        // The attacker watches the REE directory: it keeps a copy of the file written for 0 attempts.
        let before = objectFiles(ree)
        try await storage.invoke(command: BuiltInTrustlets.Storage.Command.put.rawValue, parameters: [.input(Array("pin-attempts".utf8)), .input([0])])
        let zeroFile = objectFiles(ree).subtracting(before).first
        let zeroCopy = zeroFile.flatMap { FileManager.default.contents(atPath: $0) }
        try await storage.invoke(command: BuiltInTrustlets.Storage.Command.put.rawValue, parameters: [.input(Array("pin-attempts".utf8)), .input([4])])
        let fourFile = objectFiles(ree).subtracting(before).first
        say("stored \"bp-note\" (\(note.count) bytes) and \"pin-attempts\" (4 wrong PINs so far)")

        step(4, "It signs a reading with a key that never leaves the secure world")
        let keystore = try await context.openSession(uuid: BuiltInTrustlets.Keystore.uuid)
        let generated = try await keystore.invoke(command: BuiltInTrustlets.Keystore.Command.generate.rawValue,
                                                  parameters: [.input(Array("readings".utf8)), .valueInput(1), .output(capacity: 65)])
        let signed = try await keystore.invoke(command: BuiltInTrustlets.Keystore.Command.sign.rawValue,
                                               parameters: [.input(Array("readings".utf8)), .input(Array("128/84".utf8)), .output(capacity: 64)])
        say("public key \(Hex.encode((generated.bytes(2) ?? []).prefix(12)))…, signature \(Hex.encode((signed.bytes(2) ?? []).prefix(12)))…")

        step(5, "What an attacker who owns the normal world finds in the REE directory")
        // Namespace directories hold the object files: list the files, not the directories.
        var leaked = false
        for path in objectFiles(ree).sorted() {
            let file = String(path.dropFirst(ree.count + 1))
            let bytes = FileManager.default.contents(atPath: path) ?? Data()
            leaked = leaked || bytes.range(of: Data("lisinopril".utf8)) != nil || file.contains("bp-note")
            say("\(file)  \(bytes.count) bytes of ciphertext")
        }
        say(leaked ? "LEAKED: a record or its name is readable" : "no record, value or object name is readable")

        step(6, "The attacker restores its old copy of \"pin-attempts\" (0 attempts) to get more PIN guesses")
        guard let fourFile, let zeroCopy else { throw fail("demo: could not find the object files to tamper with", code: ExitStatus.refused) }
        _ = FileManager.default.createFile(atPath: fourFile, contents: zeroCopy)
        say("overwrote \(fourFile.dropFirst(ree.count + 1)) with the copy taken when it held 0")
        var accepted = false
        do throws(TEEError) {
            _ = try await storage.invoke(command: BuiltInTrustlets.Storage.Command.get.rawValue,
                                         parameters: [.input(Array("pin-attempts".utf8)), .output(capacity: 16)])
            accepted = true
            say("ACCEPTED: the runtime did not notice")
        } catch {
            say("refused: \(error.code.name)")
            say("diagnostic: \(error.message)")
        }
        print("\nDone. Everything ran in \(root)\(dir == nil ? " (removed)" : "").")
        if leaked || accepted { throw ExitCode(1) }
    }

    /// Every object file under the REE directory (namespace directories hold them).
    private func objectFiles(_ ree: String) -> Set<String> {
        Set((FileManager.default.enumerator(atPath: ree)?.allObjects as? [String] ?? []).filter { $0.contains("/") }.map { ree + "/" + $0 })
    }

    private func step(_ n: Int, _ text: String) { print("\n[\(n)/6] \(text)") }
    private func say(_ text: String) { print("      \(text)") }
}
