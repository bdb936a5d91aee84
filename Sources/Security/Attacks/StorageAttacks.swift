import Foundation
import PHRApp
import PHRAppCommands
import TrubiZoneClient
import TrubiZoneEmulatedDevice
import TrubiZoneSecureWorld

/// The attacker owns the REE directory: every file the secure world keeps in the normal world.
enum StorageAttacks {
    static var all: [Attack] {
        [
            Attack("storage-scan", "Scan every normal-world file after a full session for names, values and identifiers", .storage, .disclosure,
                   defense: "REE files hold only ciphertext under keyed names", play: scan),
            tamper("storage-flip", "Flip one byte of the PHR trustlet's newest sealed object") { files in
                var bytes = try read(files.newest)
                bytes[bytes.count / 2] ^= 0x01
                try write(files.newest, bytes)
                return "flipped byte \(bytes.count / 2) of \(bytes.count)"
            },
            tamper("storage-truncate", "Truncate the newest sealed object to half its length") { files in
                let bytes = try read(files.newest)
                try write(files.newest, Array(bytes.prefix(bytes.count / 2)))
                return "cut \(bytes.count) bytes to \(bytes.count / 2)"
            },
            tamper("storage-swap", "Swap the contents of the two newest sealed objects") { files in
                let (a, b) = (try read(files.byAge[0]), try read(files.byAge[1]))
                try write(files.byAge[0], b)
                try write(files.byAge[1], a)
                return "swapped two objects of \(a.count) and \(b.count) bytes"
            },
            tamper("storage-move", "Move a sealed object into another trustlet's namespace (the installer's)") { files in
                let target = files.otherNamespace + "/" + URL(fileURLWithPath: files.newest).lastPathComponent
                try FileManager.default.moveItem(atPath: files.newest, toPath: target)
                return "moved one object to the installer's directory"
            },
            tamper("storage-delete", "Delete the newest sealed object") { files in
                try FileManager.default.removeItem(atPath: files.newest)
                return "deleted one of \(files.byAge.count) objects"
            },
            tamper("storage-add", "Add a file with a plausible name to the trustlet's namespace") { files in
                let name = String(repeating: "ab", count: 16)
                try write(files.directory + "/" + name, (0..<512).map { UInt8(truncatingIfNeeded: $0 &* 37) })
                return "planted a 512-byte file"
            },
            Attack("storage-rollback-object", "Roll back one object to its version before a reading was added", .storage, .access,
                   defense: "the object's version is bound to a replay-protected counter; the old copy is refused") { lab in
                try await rollback(lab, scope: .object)
            },
            Attack("storage-rollback-namespace", "Roll back the trustlet's whole namespace to before a reading was added", .storage, .access,
                   defense: "the namespace's state is bound to a replay-protected counter; the old copy is refused") { lab in
                try await rollback(lab, scope: .namespace)
            },
            Attack("storage-rollback-ree", "Roll back the whole REE directory (every trustlet and the installer) to before a reading was added",
                   .storage, .access, defense: "every namespace's state is bound to a replay-protected counter; the old copies are refused") { lab in
                try await rollback(lab, scope: .everything)
            },
            Attack("storage-rollback-pin", "Roll back the REE directory to before two wrong PINs, to get the attempts back", .storage, .access,
                   defense: "wrong PINs are counted in replay-protected counters in the secure state, not in the REE", play: pinRollback),
        ]
    }

    /// The REE files of one phone, as an attacker who watched the trustlet write finds them.
    struct Files {
        /// The PHR trustlet's namespace: the directory whose files change when it syncs.
        let directory: String
        /// Another namespace (the installer's, which holds the package).
        let otherNamespace: String
        /// The namespace's files, newest first.
        let byAge: [String]
        var newest: String { byAge[0] }
    }

    /// A phone after a sync, and where its trustlet's files are.
    static func syncedPhone(_ lab: AttackLab, answers: [ScriptedTrustedUI.Answer] = []) async throws -> (EmulatedPhone, PatientApp, Files) {
        let patient = try lab.patients().last!
        let (phone, app) = try await lab.enrolledPhone("storage", patient: patient, answers: answers)
        let before = Set(directories(under: phone.ree))
        let stamps = modificationTimes(under: phone.ree)
        _ = try await app.sync()
        let after = modificationTimes(under: phone.ree)
        let changed = Set(after.filter { stamps[$0.key] != $0.value }.keys.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path })
        guard changed.count == 1, let directory = changed.first else { throw AttackFailure("cannot tell the trustlet's namespace: \(changed.count) directories changed") }
        // The installer's namespace: the other one holding the largest file (the package).
        func largest(in directory: String) -> Int {
            files(under: directory).map { ((try? FileManager.default.attributesOfItem(atPath: $0))?[.size] as? Int) ?? 0 }.max() ?? 0
        }
        guard let other = before.subtracting([directory]).max(by: { largest(in: $0) < largest(in: $1) }), largest(in: other) > 0 else {
            throw AttackFailure("no other namespace in the REE directory")
        }
        let byAge = after.filter { $0.key.hasPrefix(directory + "/") }.sorted { $0.value > $1.value }.map(\.key)
        guard byAge.count >= 2 else { throw AttackFailure("the trustlet keeps fewer than two objects") }
        return (phone, app, Files(directory: directory, otherNamespace: other, byAge: byAge))
    }

    static func tamper(_ id: String, _ name: String, _ change: @escaping @Sendable (Files) throws -> String) -> Attack {
        Attack(id, name, .storage, .access, defense: "the runtime refuses the tampered store; the trustlet never reads altered data") { lab in
            let (phone, app, files) = try await syncedPhone(lab)
            let before = try await app.device.status()
            phone.shutdown()
            try await untouchedRestart(lab, phone)
            let done = try change(files)
            return try await afterRestart(lab, phone, done: done, before: before)
        }
    }

    /// What a refused store answers: the runtime's corrupt-object code, the trustlet's security
    /// refusal when the runtime reports its state was rolled back or changed, or, when the change
    /// reached the installer's namespace, no PHR trustlet loaded from it.
    static let storeRefusals: [Refusal] = [.code(.corruptObject), .code(.security), .code(.itemNotFound, saying: "is installed")]

    /// The control: restarted on its untouched REE directory, the phone's trustlet answers every
    /// read the attack then makes, so a refusal after the change is the change's doing.
    static func untouchedRestart(_ lab: AttackLab, _ phone: EmulatedPhone) async throws {
        let context = try lab.restart(phone)
        defer { context.close() }
        do {
            let device = try await PHRDevice.open(context)
            _ = try await device.status()
            _ = try await device.query(PHRDevice.Query(limit: 1000))
            _ = try await device.localAudit()
        } catch {
            throw AttackFailure("the untouched store did not answer after a restart: \(brief(error))")
        }
    }

    /// What the trustlet answers after the secure world restarts on a tampered REE directory:
    /// defended when the runtime refuses a read of the tampered objects with a store refusal.
    static func afterRestart(_ lab: AttackLab, _ phone: EmulatedPhone, done: String, before: PHRDevice.Status) async throws -> Verdict {
        let context = try lab.restart(phone)
        defer { context.close() }
        var status: PHRDevice.Status?
        let verdict = try await refused(done, expecting: storeRefusals) {
            let device = try await PHRDevice.open(context)
            status = try await device.status()
            _ = try await device.query(PHRDevice.Query(limit: 1000))
            _ = try await device.localAudit()
        }
        if case .accepted = verdict, let status { return .accepted("\(done); the trustlet still answered (\(status.records) records, \(before.records) before)") }
        return verdict
    }

    enum Scope { case object, namespace, everything }

    /// Copies part of the REE directory, adds a reading (which rewrites the trustlet's state),
    /// puts the copy back and restarts.
    static func rollback(_ lab: AttackLab, scope: Scope) async throws -> Verdict {
        let (phone, app, files) = try await syncedPhone(lab, answers: [.text("120/80"), .confirm(true)])
        let root = scope == .everything ? phone.ree : files.directory
        let copy = snapshot(under: root)
        _ = try await app.device.addReading(.bloodPressure)
        let after = try await app.device.status()
        guard after.pendingUploads == 1 else { throw AttackFailure("the reading was not queued") }
        phone.shutdown()
        try await untouchedRestart(lab, phone)
        let attempts: [(done: String, change: () throws -> Void)]
        switch scope {
        case .object:
            // One file the reading replaced comes back and its replacement goes. An observer of the
            // directory sees which new file replaced which old one as it happens; here every
            // pairing is tried, each on the store as the reading left it.
            let now = snapshot(under: root)
            let present = Set(now.map(\.path))
            let earlier = copy.filter { !present.contains($0.path) }
            let replacements = present.subtracting(copy.map(\.path)).sorted()
            guard !earlier.isEmpty, !replacements.isEmpty else { throw AttackFailure("the reading replaced no file") }
            attempts = earlier.flatMap { old in
                replacements.map { replacement in
                    ("restored one object's earlier file", {
                        try restore(now, at: root)
                        try FileManager.default.removeItem(atPath: replacement)
                        try write(old.path, old.bytes)
                    })
                }
            }
        case .namespace, .everything:
            attempts = [("restored \(copy.count) files from before the reading", { try restore(copy, at: root) })]
        }
        let verdict = try await eachHolds(attempts.map { attempt in
            {
                try attempt.change()
                let context = try lab.restart(phone)
                defer { context.close() }
                var status: PHRDevice.Status?
                let verdict = try await refused(attempt.done, expecting: storeRefusals) { status = try await PHRDevice.open(context).status() }
                if case .accepted = verdict, let status {
                    return .accepted(status.pendingUploads == 0 ? "\(attempt.done); the trustlet forgot the queued reading"
                                                                : "\(attempt.done); the trustlet answered (the rollback did not take, but was not refused)")
                }
                return verdict
            }
        })
        guard attempts.count > 1, case let .defended(evidence) = verdict else { return verdict }
        let answers = Set(evidence.components(separatedBy: "; ").map { $0.replacingOccurrences(of: attempts[0].done + ": ", with: "") })
        return .defended("\(attempts[0].done) in place of its replacement, each of the \(attempts.count) pairings: \(answers.sorted().joined(separator: ", "))")
    }

    static func pinRollback(_ lab: AttackLab) async throws -> Verdict {
        let wrong = ScriptedTrustedUI.Answer.pin(Array("000000".utf8))
        let (phone, _) = try await lab.enrolledPhone("pin-rollback", answers: [wrong, wrong])
        let snapshot = snapshot(under: phone.ree)
        let device = try await PHRDevice.open(phone.context)
        for _ in 0..<2 { _ = try? await device.unlock() }
        let counted = try await device.status().wrongPINs
        guard counted == 2 else { throw AttackFailure("\(counted) wrong PINs counted, not 2") }
        phone.shutdown()
        try await untouchedRestart(lab, phone)
        try restore(snapshot, at: phone.ree)
        let context = try lab.restart(phone)
        defer { context.close() }
        var status: PHRDevice.Status?
        let verdict = try await refused("the rolled-back store", expecting: storeRefusals) { status = try await PHRDevice.open(context).status() }
        guard case .accepted = verdict, let status else { return verdict }
        return status.wrongPINs == 2
            ? .defended("after the rollback and a restart the trustlet still counts 2 wrong PINs (\(status.attemptsLeft) attempts left)")
            : .accepted("the rollback gave back attempts: \(status.wrongPINs) wrong PINs counted")
    }

    static func scan(_ lab: AttackLab) async throws -> Verdict {
        let session = try await LoggingAttacks.fullSession(lab)
        let found = session.findings.filter { $0.source.hasPrefix("REE/") }
        let files = session.sources.filter { $0.name.hasPrefix("REE/") }
        guard files.count > 5 else { throw AttackFailure("only \(files.count) REE files to scan") }
        if !found.isEmpty { return .leaked(found.prefix(5).map(\.description).joined(separator: "; ")) }
        return .defended("\(files.count) files, \(files.reduce(0) { $0 + $1.bytes.count } / 1024) KiB: none of \(session.needles) needles")
    }

    // MARK: Files

    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw AttackFailure("cannot read \(path)") }
        return Array(data)
    }

    static func write(_ path: String, _ bytes: [UInt8]) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { throw AttackFailure("cannot write \(path)") }
    }

    static func snapshot(under root: String) -> [(path: String, bytes: [UInt8])] {
        files(under: root).compactMap { path in (try? read(path)).map { (path, $0) } }
    }

    /// Puts `root` back exactly as `copy` saw it.
    static func restore(_ copy: [(path: String, bytes: [UInt8])], at root: String) throws {
        try FileManager.default.removeItem(atPath: root)
        for file in copy {
            try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: file.path).deletingLastPathComponent().path, withIntermediateDirectories: true)
            try write(file.path, file.bytes)
        }
    }

    static func files(under root: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var out: [String] = []
        for case let relative as String in walker {
            var isDirectory: ObjCBool = false
            let path = root + "/" + relative
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue { out.append(path) }
        }
        return out.sorted()
    }

    static func directories(under root: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).map { root + "/" + $0 }.filter { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
        }
    }

    /// Each file's modification time and size (a rewrite in the same instant still changes one).
    static func modificationTimes(under root: String) -> [String: String] {
        var out: [String: String] = [:]
        for path in files(under: root) {
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            let date = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            out[path] = String(format: "%.6f/%d", date, (attributes?[.size] as? Int) ?? 0)
        }
        return out
    }
}

struct AttackFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
