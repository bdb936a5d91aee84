import ArgumentParser
import Foundation
import PHRServer
import TrubiZoneCLISupport

/// What a clinic's staff does at the command line: enrollment codes, practitioners' API tokens,
/// revoking a lost phone.
extension PHRServerCommand {
    struct Patient: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Patients: list them, give one an enrollment code.",
                                                        subcommands: [List.self, EnrollCode.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "The stored patients' IDs.")
            @OptionGroup var options: DatabaseOptions

            func run() async throws {
                let ids = try await options.open().patientIDs()
                if options.json { print(String(decoding: try JSONSerialization.data(withJSONObject: ids), as: UTF8.self)) } else { ids.forEach { print($0) } }
            }
        }

        struct EnrollCode: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "enroll-code",
                abstract: "Issue a one-time enrollment code for a patient's phone (replaces an unused one).",
                discussion: "Hand the code to the patient in person; they type it on their phone's trusted screen. It expires after 7 days "
                    + "and locks after 5 wrong attempts.")
            @Argument(help: "The patient's ID (or Patient/ID).") var patient: String
            @OptionGroup var options: DatabaseOptions

            func run() async throws {
                let id = patient.hasPrefix("Patient/") ? String(patient.dropFirst(8)) : patient
                let service = PHRService(store: try await options.open(), policy: PHRServerPolicy(trustedRoots: [], reference: .init()))
                do {
                    let (code, expiresAt) = try await service.issueEnrollmentCode(patient: id)
                    let expiry = ISO8601DateFormatter().string(from: expiresAt)
                    if options.json {
                        print(#"{"patient":"Patient/\#(id)","code":"\#(code.formatted)","expiresAt":"\#(expiry)"}"#)
                    } else {
                        print("enrollment code for Patient/\(id): \(code.formatted) (valid until \(expiry))")
                    }
                } catch let error as PHRError {
                    throw fail("\(error.description) (see `phr-server patient list`)", code: ExitStatus.refused)
                }
            }
        }
    }

    struct Practitioner: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Practitioners' API tokens, to read what patients share with them.",
                                                        subcommands: [Token.self])

        struct Token: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Issue a new API token for a practitioner (the old one stops working). Printed once; the server keeps only its hash.")
            @Argument(help: "The practitioner's ID (or Practitioner/ID).") var practitioner: String
            @OptionGroup var options: DatabaseOptions

            func run() async throws {
                let id = practitioner.hasPrefix("Practitioner/") ? String(practitioner.dropFirst(13)) : practitioner
                let store = try await options.open()
                guard try await store.resource(type: "Practitioner", id: id) != nil else { throw fail("Practitioner/\(id) is not stored; import it first", code: ExitStatus.refused) }
                let token = try await store.issuePractitionerToken("Practitioner/\(id)")
                if options.json { print(#"{"practitioner":"Practitioner/\#(id)","token":"\#(token)"}"#) } else { print(token) }
            }
        }
    }

    struct DeviceCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "device", abstract: "Enrolled devices.", subcommands: [Revoke.self])

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke a device's enrollment (a lost or replaced phone); its requests are refused from now on.")
            @Argument(help: "The device ID.") var device: String
            @OptionGroup var options: DatabaseOptions

            func run() async throws {
                guard try await options.open().revokeDevice(device, now: Date().timeIntervalSince1970) else {
                    throw fail("no active device \(device.prefix(40))", code: ExitStatus.refused)
                }
                print(options.json ? #"{"revoked":"\#(device)"}"# : "revoked device \(device)")
            }
        }
    }
}
