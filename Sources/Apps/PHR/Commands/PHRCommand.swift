import ArgumentParser
import Crypto
import Foundation
import Logging
import PHRApp
import PHRProtocol
import TrubiZoneCLISupport
import TrubiZoneClient
import TrubiZoneProtocol

/// `phr`: the patient's Personal Health Record app (its normal-world half).
public struct PHRCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "phr",
        abstract: "A Personal Health Record whose records, PIN and keys live in the secure world.",
        discussion: """
            `phr demo` runs the whole story on this machine. The other commands work against a running secure world \
            (trubizoned with the PHR trustlet installed and --trusted-ui tty) and a running phr-server. \
            Exit codes: 0 success, 1 refused (by the trustlet or the server), 64 bad usage, 69 unreachable.
            """,
        subcommands: [DemoCommand.self, StatusCommand.self, EnrollCommand.self, SyncCommand.self, ListCommand.self, ShowCommand.self,
                      SummaryCommand.self, ReleaseCommand.self, AddReadingCommand.self, ShareCommand.self, RevokeCommand.self,
                      AuditCommand.self, ResetCommand.self, PackageCommand.self])

    public init() {}
}

/// Where the secure world and the server are.
struct Connection: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The secure world's socket (default: $TRUBIZONE_SOCKET, else ./trubizone.sock).", valueName: "path"))
    var socket: String = ProcessInfo.processInfo.environment["TRUBIZONE_SOCKET"] ?? "trubizone.sock"

    @Option(name: .long, help: ArgumentHelp("The PHR server (default: $PHR_SERVER, else http://127.0.0.1:8080).", valueName: "url"))
    var server: String = ProcessInfo.processInfo.environment["PHR_SERVER"] ?? "http://127.0.0.1:8080"

    @Flag(name: .long, help: "Print machine-readable JSON.") var json = false

    func validate() throws {
        guard server.hasPrefix("http://") || server.hasPrefix("https://") else { throw ValidationError("--server must be an http:// or https:// URL") }
    }

    /// Runs `body` with the app connected to both; errors become a message and an exit status.
    func run<T>(_ body: (PatientApp) async throws(PHRAppError) -> T) async throws -> T {
        let context: TEEContext
        do { context = try TEEContext.socket(path: socket) } catch {
            throw report(.secureWorldUnreachable("no daemon answers on \(socket)"))
        }
        defer { context.close() }
        let device: PHRDevice
        do { device = try await PHRDevice.open(context) } catch {
            if error.code == .itemNotFound {
                throw report(.refused(error.code, "the PHR trustlet is not installed: `phr package`, then `trubizone trustlet install`"))
            }
            throw report(.secureWorldUnreachable(error.description))
        }
        let connection = PHRConnection(baseURL: server)
        var logger = Logger(label: "phr")
        logger.logLevel = .warning
        do {
            return try await body(PatientApp(device: device, server: connection, logger: logger))
        } catch {
            throw report(error)
        }
    }

    private func report(_ error: PHRAppError) -> ExitCode {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        return ExitCode(error.exitCode)
    }

    func printJSON(_ value: some Encodable) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self))
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "PIN, enrollment and sync state (never a record).")
    @OptionGroup var connection: Connection

    func run() async throws {
        let status = try await connection.run { app throws(PHRAppError) in try await app.device.status() }
        if connection.json { return connection.printJSON(status) }
        print("PIN:        \(status.pin ? (status.locked ? "LOCKED" : "set, \(status.attemptsLeft) attempts left") : "not set")")
        if status.waitSeconds > 0 { print("            wait \(status.waitSeconds) s before the next attempt") }
        print("enrolled:   \(status.enrolled ? "yes, device \(status.device)" : "no (`phr enroll`)")")
        print("records:    \(status.records) (cursor \(status.cursor.isEmpty ? "none" : status.cursor))")
        print("to upload:  \(status.pendingUploads) reading\(status.pendingUploads == 1 ? "" : "s")")
        print("audit log:  \(status.auditEntries) entries")
    }
}

struct EnrollCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll", abstract: "Set a PIN (if none) and enroll with the clinic; the code is typed on the trusted UI.")
    @OptionGroup var connection: Connection

    func run() async throws {
        let device = try await connection.run { app throws(PHRAppError) in try await app.enroll() }
        if connection.json { connection.printJSON(["device": device]) } else { print("enrolled: device \(device)") }
    }
}

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync", abstract: "Send queued readings, then fetch new records (resumes from the last page kept).")
    @OptionGroup var connection: Connection

    func run() async throws {
        let json = connection.json
        let (uploaded, outcome) = try await connection.run { app throws(PHRAppError) in
            let uploaded = try await app.uploadQueued()
            let outcome = try await app.sync { outcome in
                if !json { FileHandle.standardError.write(Data("page \(outcome.pages): \(outcome.stored) records\n".utf8)) }
            }
            return (uploaded, outcome)
        }
        if json { return connection.printJSON(outcome) }
        print("synced \(outcome.stored) records in \(outcome.pages) page\(outcome.pages == 1 ? "" : "s"); \(outcome.records) kept; \(uploaded) reading\(uploaded == 1 ? "" : "s") sent")
    }
}

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "The index: number, type, date and category of each record, newest first (no values).")
    @OptionGroup var connection: Connection
    @Option(name: .long, help: "Only this FHIR type, e.g. Observation.") var type: String?
    @Option(name: .long, help: "Only this category, e.g. laboratory, vital-signs, condition.") var category: String?
    @Option(name: .long, help: ArgumentHelp("From this day (YYYY-MM-DD).", valueName: "day")) var since: String?
    @Option(name: .long, help: ArgumentHelp("Before this day (YYYY-MM-DD).", valueName: "day")) var until: String?
    @Option(name: .long, parsing: .unconditional, help: "At most this many (1 to 1000).") var limit = 50

    func validate() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be 1 to 1000") }
        for (name, day) in [("--since", since), ("--until", until)] {
            if let day, !Self.isCalendarDay(day) { throw ValidationError("\(name) takes a calendar day as YYYY-MM-DD, e.g. 2026-03-01, not '\(day)'") }
        }
        if let since, let until, until <= since { throw ValidationError("--until must be after --since") }
    }

    /// YYYY-MM-DD naming a day that exists (2026-02-29 does not).
    static func isCalendarDay(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.utf8.count == 10, parts.count == 3, parts.allSatisfy({ $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }),
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]) else { return false }
        return PHRCalendar.isDay(year: year, month: month, day: day)
    }

    func run() async throws {
        let query = PHRDevice.Query(type: type, category: category, since: since, until: until, limit: limit)
        let result = try await connection.run { app throws(PHRAppError) in try await app.device.query(query) }
        if connection.json { return connection.printJSON(result) }
        for entry in result.entries {
            print("\(String(entry.n).padding(toLength: 6, withPad: " ", startingAt: 0)) \(entry.date.padding(toLength: 11, withPad: " ", startingAt: 0)) "
                  + "\(entry.type.padding(toLength: 22, withPad: " ", startingAt: 0)) \(entry.category)")
        }
        print("\(result.entries.count) of \(result.total) shown; `phr show N` shows one on the trusted UI")
    }
}

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show record N in full, on the trusted UI (after the PIN).")
    @OptionGroup var connection: Connection
    @Argument(help: "The record's number, from `phr list`.") var number: Int

    func validate() throws {
        guard number >= 1 else { throw ValidationError("record numbers start at 1 (see `phr list`)") }
    }

    func run() async throws {
        try await connection.run { app throws(PHRAppError) in try await app.device.show(number) }
        print("shown on the trusted UI")
    }
}

struct SummaryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary", abstract: "Allergies, conditions, medications, vitals and labs, on the trusted UI (after the PIN).")
    @OptionGroup var connection: Connection

    func run() async throws {
        let lines = try await connection.run { app throws(PHRAppError) in try await app.device.summary() }
        print("the summary (\(lines) lines) is on the trusted UI")
    }
}

struct ReleaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release", abstract: "Copy record N out of the secure world, if you confirm on the trusted UI (audited).")
    @OptionGroup var connection: Connection
    @Argument(help: "The record's number, from `phr list`.") var number: Int
    @Option(name: .shortAndLong, help: ArgumentHelp("Write the record here (default: standard output).", valueName: "file")) var output: String?

    func validate() throws {
        guard number >= 1 else { throw ValidationError("record numbers start at 1 (see `phr list`)") }
    }

    func run() async throws {
        // Before the trusted UI asks: a record released and then not written would be lost to the user.
        if let output { try CommandFile.checkWritable(output) }
        let record = try await connection.run { app throws(PHRAppError) in try await app.device.release(number) }
        if let output {
            try CommandFile.write(record, to: output, mode: 0o600)
        } else {
            FileHandle.standardOutput.write(Data(record + [0x0A]))
        }
    }
}

struct AddReadingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-reading", abstract: "Type a reading on the trusted UI; it is signed, queued and sent.")
    @OptionGroup var connection: Connection
    @Option(name: .long, help: "blood-pressure, weight or glucose.") var kind = "blood-pressure"

    func validate() throws {
        guard ["blood-pressure", "weight", "glucose"].contains(kind) else { throw ValidationError("--kind must be blood-pressure, weight or glucose") }
    }

    func run() async throws {
        let kind: PHRDevice.ReadingKind = self.kind == "weight" ? .weight : self.kind == "glucose" ? .glucose : .bloodPressure
        let (sequence, sent) = try await connection.run { app throws(PHRAppError) in
            let sequence = try await app.device.addReading(kind)
            do throws(PHRAppError) {
                return (sequence, try await app.uploadQueued())
            } catch .serverUnreachable {
                return (sequence, 0)
            }
        }
        print(sent > 0 ? "reading \(sequence) sent" : "reading \(sequence) queued; the server is unreachable, `phr sync` sends it later")
    }
}

struct ShareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "share", abstract: "Share records with a practitioner for a time, once you confirm on the trusted UI.")
    @OptionGroup var connection: Connection
    @Option(name: .long, help: ArgumentHelp("The practitioner, as Practitioner/ID.", valueName: "reference")) var practitioner: String
    @Option(name: .long, help: "A name to show beside the reference.") var display: String?
    @Option(name: .long, parsing: .upToNextOption, help: ArgumentHelp("Record numbers from `phr list`.", valueName: "n")) var record: [Int]
    @Option(name: .long, parsing: .unconditional, help: "For this many hours (1 to 8784).") var hours = 24

    func validate() throws {
        guard practitioner.hasPrefix("Practitioner/"), practitioner.count > 13 else { throw ValidationError("--practitioner must be Practitioner/ID") }
        guard !record.isEmpty, record.count <= 100 else { throw ValidationError("give 1 to 100 --record numbers") }
        guard record.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--record numbers start at 1, as `phr list` shows them") }
        guard (1...8784).contains(hours) else { throw ValidationError("--hours must be 1 to 8784") }
    }

    func run() async throws {
        let request = PHRDevice.ShareRequest(practitioner: practitioner, display: display, records: record, hours: hours)
        let receipt = try await connection.run { app throws(PHRAppError) in try await app.share(request) }
        if connection.json { return connection.printJSON(receipt) }
        print("grant \(receipt.grant): \(receipt.resources) record\(receipt.resources == 1 ? "" : "s") until \(Date(timeIntervalSince1970: TimeInterval(receipt.expiresAt)))")
    }
}

struct RevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "End a grant at once (confirmed on the trusted UI).")
    @OptionGroup var connection: Connection
    @Argument(help: "The grant ID `phr share` printed.") var grant: String

    func validate() throws {
        guard PHRIdentifier.isIdentifier(grant) else {
            throw ValidationError("a grant ID is the 32 lowercase hex digits `phr share` printed, not '\(grant)'")
        }
    }

    func run() async throws {
        let receipt = try await connection.run { app throws(PHRAppError) in try await app.revoke(grant: grant) }
        if connection.json { return connection.printJSON(receipt) }
        print("grant \(receipt.grant) revoked")
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "The phone's and the server's audit trails, each checked (details on the trusted UI).")
    @OptionGroup var connection: Connection

    struct Both: Encodable {
        let phone: PHRDevice.LocalAudit
        let phoneVerifiedHere: Bool
        let server: PHRDevice.ServerAudit
    }

    func run() async throws {
        let both = try await connection.run { app throws(PHRAppError) in
            let local = try await app.device.localAudit()
            return Both(phone: local, phoneVerifiedHere: local.verifiesIndependently(), server: try await app.serverAudit())
        }
        if connection.json { return connection.printJSON(both) }
        for entry in both.phone.actions.suffix(20) {
            print("phone  \(entry.sequence)  \(Date(timeIntervalSince1970: TimeInterval(entry.time)))  \(entry.action)")
        }
        print("phone: \(both.phone.entries) entries, chain \(both.phone.verified && both.phoneVerifiedHere ? "verified" : "BROKEN")")
        for action in both.server.actions.suffix(20) {
            print("server \(action.sequence)  \(Date(timeIntervalSince1970: TimeInterval(action.time)))  \(action.actor): \(action.action)\(action.refused ? " (refused)" : "")")
        }
        print("server: \(both.server.entries) entries, \(both.server.verified ? "every entry verified" : "SOME ENTRIES DO NOT VERIFY")")
        if !(both.phone.verified && both.phoneVerifiedHere && both.server.verified) { throw ExitCode(1) }
    }
}

struct ResetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset", abstract: "Erase the record, keys, enrollment and PIN from this phone (confirmed on the trusted UI).")
    @OptionGroup var connection: Connection

    func run() async throws {
        try await connection.run { app throws(PHRAppError) in try await app.device.reset() }
        print("erased")
    }
}

struct PackageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "package", abstract: "Sign the built PHR trustlet into a package for `trubizone trustlet install`.")
    @Option(name: .long, help: ArgumentHelp("The developer key (PEM, from `trubizone keygen`).", valueName: "file")) var key: String
    @Option(name: .shortAndLong, help: ArgumentHelp("The package to write.", valueName: "file")) var output = "phr.tzpkg"
    @Option(name: .long, help: "The version in the manifest (a later one replaces an installed one).") var version = "1.0.0"

    func run() throws {
        let pem = String(decoding: try CommandFile.read(key, what: "the developer key"), as: UTF8.self)
        guard let signing = try? P256.Signing.PrivateKey(pemRepresentation: pem) else {
            throw fail("\(key) holds no P-256 private key (PEM); make one with `trubizone keygen`", code: ExitStatus.usage)
        }
        let package = try PHRPackage.signed(with: signing, version: version)
        try CommandFile.write(package.bytes, to: output)
        print("signed phr \(version) into \(output): measurement \(Hex.encode(package.measurement)), signer \(Hex.encode(package.signerID))")
    }
}
