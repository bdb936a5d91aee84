import ArgumentParser
import Foundation
import TrubiZoneCLISupport
import TrubiZoneEmulatedDevice
import TrubiZoneManufacturer
import TrubiZoneSecureWorld

struct DeviceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device",
        abstract: "Create and inspect emulated devices.",
        subcommands: [Provision.self, Info.self])

    struct Provision: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an emulated device: hardware unique key, attestation key, certificate, counters.")

        @Option(name: .long, help: ArgumentHelp("The new device's secure state directory (created 0700).", valueName: "dir"))
        var state: String

        @Option(name: .long, help: ArgumentHelp(
            "The manufacturer CA's directory; created if empty (default: manufacturer-ca beside the state directory).",
            valueName: "dir"))
        var manufacturer: String?

        @Flag(name: .long, help: "Print machine-readable JSON.")
        var json = false

        func run() throws {
            let stateDirectory = URL(fileURLWithPath: state).standardizedFileURL.path
            let caDirectory = manufacturer ?? URL(fileURLWithPath: stateDirectory).deletingLastPathComponent()
                .appendingPathComponent("manufacturer-ca").path
            // Both folders are checked first, so a path that cannot be written is named as usage.
            try CommandFile.makeDirectory(caDirectory, mode: 0o700)
            try CommandFile.makeDirectory(stateDirectory, mode: 0o700)
            let device: Manufacturer.ProvisionedDevice
            do {
                device = try Manufacturer.provision(stateDirectory: stateDirectory, caDirectory: caDirectory)
            } catch {
                throw fail("\(error)", code: ExitStatus.refused)
            }
            if json {
                printJSON(["deviceID": device.deviceID, "stateDirectory": stateDirectory,
                           "caCertificate": device.caCertificatePath, "createdCA": device.createdCA])
            } else {
                print("Provisioned device \(device.deviceID)")
                print("  secure state:   \(stateDirectory) (keep it private: it stands for the device's fuses and RPMB)")
                print("  manufacturer:   \(device.caCertificatePath)\(device.createdCA ? " (new CA)" : "")")
                print("Next: trubizoned --state \(state) --ree REE-DIR --socket trubizone.sock")
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a device's ID, certificate chain and counters (never a secret).")

        @Option(name: .long, help: ArgumentHelp("The device's secure state directory.", valueName: "dir"))
        var state: String

        @Flag(name: .long, help: "Print machine-readable JSON.")
        var json = false

        func run() throws {
            let root: EmulatedRootOfTrust
            do {
                root = try EmulatedRootOfTrust(directory: state, durable: false)
            } catch {
                throw fail("\(error)", code: ExitStatus.refused)
            }
            let chain = (try? EmulatedRootOfTrust.certificateChainPEM(in: state)) ?? ""
            let counters = (try? root.counters.values()) ?? []
            if json {
                printJSON(["deviceID": root.deviceID.hex, "certificateChain": chain,
                           "counters": Dictionary(uniqueKeysWithValues: counters.map { ($0.name, $0.value) })])
            } else {
                print("Device ID: \(root.deviceID.hex)")
                print("Certificate chain (device first):")
                print(chain, terminator: "")
                print("Counters:\(counters.isEmpty ? " none yet" : "")")
                for counter in counters { print("  \(counter.name) = \(counter.value)") }
            }
        }
    }
}
