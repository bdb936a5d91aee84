import Synchronization
import TrubiZoneProtocol

/// One namespace of sealed objects in the REE file system, and the logic that makes every change
/// to it either detected or harmless.
///
/// **State root.** The namespace's replay-protected counter holds the sequence number of its last
/// change and, atomically with it, the multiset digest and count of the live object versions, plus
/// the one file that change made obsolete. Every change takes the next sequence number.
///
/// **Commit protocol** (a write of object X):
/// 1. write X's new version to the file named for sequence `n + 1`, fsync it and the directory;
/// 2. advance the counter to `n + 1` with the new digest and "obsolete: X's old file" — the commit
///    point, one `fdatasync` of a two-slot record;
/// 3. unlink X's old file.
///
/// A crash before 2 leaves a file named for `n + 1`: recovery knows that name and removes it
/// (the old value stays). A crash after 2 leaves the obsolete file: recovery knows its name from
/// the counter record and removes it (the new value stays). Any other file that does not belong
/// to the committed state is an attack and is reported as such.
final class SealedNamespace: Sendable {
    struct Configuration: Sendable {
        var maxObjectSize: Int
        var durable: Bool
        var fileSystem: any REEFileSystem
    }

    private struct Entry {
        var seq: UInt64
        var size: Int
        /// The REE file name, derived from `seq` and cached: reads are the hot path.
        var fileName: String
        /// The file's header and id box as authenticated when written or loaded (113 bytes).
        var prefix: [UInt8]
    }

    private struct Index {
        var entries: [[UInt8]: Entry] = [:]
        var lastSeq: UInt64 = 0
        var digest = StateDigest.zero
        var count: UInt64 = 0
    }

    private enum Health {
        case unloaded
        case healthy(Index)
        /// Tampering was detected; the namespace refuses service until it is reset.
        case compromised(String)
    }

    let directory: String
    /// The `objectSealing` negative control: this namespace's data written and read in clear.
    private var inClear: Bool { Weakening.isOff(.objectSealing, at: directory) }
    private let keys: NamespaceKeys
    private let counterName: String
    private let counters: any MonotonicCounterStore
    private let configuration: Configuration
    private var files: any REEFileSystem { configuration.fileSystem }
    private let state = Mutex<Health>(.unloaded)

    init(directory: String, keys: NamespaceKeys, counters: any MonotonicCounterStore, configuration: Configuration) {
        self.directory = directory
        self.keys = keys
        self.counterName = "storage/" + hex(keys.namespaceID.prefix(16))
        self.counters = counters
        self.configuration = configuration
    }

    // MARK: Operations

    /// Creates or replaces an object.
    /// - Parameter room: the objects and bytes of data the namespace may hold after the write (a
    ///   quota); beyond it the write is refused with `TEE_ERROR_STORAGE_NO_SPACE` and changes nothing.
    func put(_ id: [UInt8], _ data: [UInt8], room: Usage? = nil) throws(StorageError) {
        try check(id: id)
        guard data.count <= configuration.maxObjectSize else {
            throw .badParameters("object of \(data.count) bytes exceeds the limit of \(configuration.maxObjectSize) bytes")
        }
        try withIndex { (index: inout Index) throws(StorageError) in
            let seq = index.lastSeq + 1
            let old = index.entries[id]
            if let room {
                // Only what grows is refused: a write that adds nothing stays allowed even over a
                // quota an update lowered.
                let held = index.entries.values.reduce(0) { $0 + $1.size }
                let bytes = held - (old?.size ?? 0) + data.count
                if old == nil, index.entries.count + 1 > room.objects {
                    throw StorageError.quota("its quota of objects (its keys count too) is used up; delete some first")
                }
                if bytes > held, bytes > room.bytes {
                    throw StorageError.quota("its quota of sealed bytes (its keys count too) is used up; delete or shrink objects first")
                }
            }
            let name = keys.fileName(seq: seq)
            let path = directory + "/" + name
            let sealed = ObjectFile.seal(seq: seq, id: id, data: data, keys: keys, clear: inClear)
            do throws(REEFileError) {
                if !files.exists(directory) {
                    // A new namespace: its directory's own entry must be durable before anything
                    // in it is committed.
                    try files.makeDirectory(directory)
                    if configuration.durable { try files.syncDirectory(REEPath.parent(of: directory)) }
                }
                try files.write(path, sealed, durable: configuration.durable)
                // Makes the new name durable, and with it the unlink of the previous change's obsolete file.
                if configuration.durable { try files.syncDirectory(directory) }
            } catch {
                try? files.remove(path)
                throw .io(error)
            }
            var digest = index.digest + keys.element(seq: seq, id: id)
            var count = index.count + 1
            if let old {
                digest = digest - keys.element(seq: old.seq, id: id)
                count -= 1
            }
            try commit(&index, seq: seq, digest: digest, count: count, obsolete: old?.seq)
            index.entries[id] = Entry(seq: seq, size: data.count, fileName: name, prefix: Array(sealed[0..<ObjectFile.prefixSize]))
        }
    }

    /// How much a namespace holds.
    struct Usage: Equatable, Sendable {
        var objects: Int
        var bytes: Int
    }

    /// The objects and bytes of data the namespace holds.
    func usage() throws(StorageError) -> Usage {
        try withIndex { (index: inout Index) throws(StorageError) -> Usage in
            Usage(objects: index.entries.count, bytes: index.entries.values.reduce(0) { $0 + $1.size })
        }
    }

    /// Reads an object, checking that it is exactly the version the state root commits to.
    func get(_ id: [UInt8]) throws(StorageError) -> [UInt8] {
        try check(id: id)
        return try withIndex { (index: inout Index) throws(StorageError) -> [UInt8] in
            guard let entry = index.entries[id] else { throw .notFound }
            return try read(entry, id: id)
        }
    }

    /// The size of an object's data, without reading it.
    func size(_ id: [UInt8]) throws(StorageError) -> Int {
        try check(id: id)
        return try withIndex { (index: inout Index) throws(StorageError) -> Int in
            guard let entry = index.entries[id] else { throw .notFound }
            return entry.size
        }
    }

    func delete(_ id: [UInt8]) throws(StorageError) {
        try check(id: id)
        try withIndex { (index: inout Index) throws(StorageError) in
            guard let old = index.entries[id] else { throw .notFound }
            if configuration.durable {
                do throws(REEFileError) { try files.syncDirectory(directory) } catch { throw .io(error) }
            }
            try commit(&index, seq: index.lastSeq + 1, digest: index.digest - keys.element(seq: old.seq, id: id),
                       count: index.count - 1, obsolete: old.seq)
            index.entries[id] = nil
        }
    }

    /// The IDs of all objects, sorted. It also checks that the directory holds exactly the files of
    /// the committed state, so an added or deleted file is reported here even while running.
    func list() throws(StorageError) -> [[UInt8]] {
        try withIndex { (index: inout Index) throws(StorageError) -> [[UInt8]] in
            let expected = Set(index.entries.values.map(\.fileName))
            let present: Set<String>
            do throws(REEFileError) {
                // A negative control: files that are not this namespace's objects go unremarked.
                let unknownSkipped = Weakening.isOff(.unknownFiles, at: directory)
                present = Set(try files.list(directory)).filter { !unknownSkipped || expected.contains($0) }
            } catch let failure where failure.isNotFound {
                present = []
            } catch {
                throw .io(error)
            }
            if present != expected {
                var findings: [String] = []
                let added = present.subtracting(expected).sorted()
                let missing = expected.subtracting(present).count
                if !added.isEmpty { findings.append("file \(added[0]) was added to the namespace behind the runtime's back" + more(added.count)) }
                if missing > 0 { findings.append("\(missing) object file(s) were deleted behind the runtime's back") }
                throw .tampered(findings.joined(separator: "; "))
            }
            return index.entries.keys.sorted { $0.lexicographicallyPrecedes($1) }
        }
    }

    /// Deletes every object and every file in the namespace and commits the empty state. This is
    /// how an owner recovers a namespace reported as tampered: explicitly, losing its contents,
    /// never by silently accepting what the attacker left.
    func reset() throws(StorageError) {
        try state.withLock { (health: inout Health) throws(StorageError) in
            let lastSeq: UInt64
            do throws(CounterError) { lastSeq = try counters.read(counterName)?.value ?? 0 } catch {
                throw StorageError(.storageNotAvailable, error.description)
            }
            do throws(REEFileError) {
                for name in (try? files.list(directory)) ?? [] { try files.remove(directory + "/" + name) }
                if configuration.durable, files.exists(directory) { try files.syncDirectory(directory) }
            } catch {
                health = .unloaded
                throw .io(error)
            }
            var index = Index()
            index.lastSeq = lastSeq
            health = .unloaded
            try commit(&index, seq: lastSeq + 1, digest: .zero, count: 0, obsolete: nil)
            health = .healthy(index)
        }
    }

    // MARK: Index

    /// Runs `body` on the loaded index. A tampering finding marks the namespace compromised so it
    /// fails closed; an I/O failure during commit drops the index so the next call recovers from disk.
    private func withIndex<R>(_ body: (inout Index) throws(StorageError) -> R) throws(StorageError) -> R {
        try state.withLock { (health: inout Health) throws(StorageError) -> R in
            var index: Index
            switch health {
            case let .compromised(why):
                throw .tampered(why)
            case let .healthy(loaded):
                index = loaded
                // Drop the enum's reference so `index` is unique and a write does not copy the
                // whole dictionary (copy-on-write would make every put O(objects)).
                health = .unloaded
            case .unloaded:
                do throws(StorageError) {
                    index = try load()
                } catch let error where error.code == .security {
                    health = .compromised(error.diagnostic)
                    throw error
                }
            }
            do throws(StorageError) {
                let result = try body(&index)
                health = .healthy(index)
                return result
            } catch let error where error.code == .security {
                health = .compromised(error.diagnostic)
                throw error
            } catch let error where (error.code == .storageNotAvailable || error.code == .storageNoSpace) && !error.isQuota {
                health = .unloaded
                throw error
            } catch {
                health = .healthy(index)
                throw error
            }
        }
    }

    private func commit(_ index: inout Index, seq: UInt64, digest: StateDigest, count: UInt64, obsolete: UInt64?) throws(StorageError) {
        let payload = digest.bytes + be64(count) + be64(obsolete ?? 0)
        do {
            try counters.advance(counterName, to: seq, payload: payload)
        } catch {
            // Whether the record reached the counter is unknown: the caller reloads from disk.
            throw StorageError(.storageNotAvailable, error.description)
        }
        index.lastSeq = seq
        index.digest = digest
        index.count = count
        if let obsolete { try? files.remove(directory + "/" + keys.fileName(seq: obsolete)) }
    }

    private func read(_ entry: Entry, id: [UInt8]) throws(StorageError) -> [UInt8] {
        let name = entry.fileName
        let expectedSize = ObjectFile.overhead + ObjectFile.storedSize(entry.size, format: entry.prefix[4])
        let bytes: [UInt8]
        do throws(REEFileError) {
            // One byte more than expected, so an extended file shows up as one.
            bytes = try files.read(directory + "/" + name, upTo: expectedSize + 1)
        } catch let failure where failure.isNotFound {
            throw .corrupt("object file \(name) is missing: it was deleted behind the runtime's back")
        } catch {
            throw .io(error)
        }
        if let data = ObjectFile.openExpected(bytes, prefix: entry.prefix, id: id, dataLength: entry.size, keys: keys, clear: inClear) {
            return data
        }
        throw .corrupt(diagnose(bytes, entry: entry, id: id))
    }

    /// Says what is wrong with an object file that failed the fast read.
    private func diagnose(_ bytes: [UInt8], entry: Entry, id: [UInt8]) -> String {
        let name = entry.fileName
        let prefix: ObjectFile.Prefix
        do throws(ObjectFile.Failure) {
            prefix = try ObjectFile.openPrefix(bytes, fileSize: bytes.count, keys: keys, clear: inClear)
        } catch {
            return describe(error, file: name)
        }
        guard prefix.id == id else {
            return "object file \(name) holds a different object: files were swapped"
        }
        guard prefix.seq == entry.seq else {
            return "object file \(name) holds version #\(prefix.seq) of the object, not #\(entry.seq): "
                + (prefix.seq < entry.seq ? "an old copy was restored over it" : "it was replaced")
        }
        return describe(.contentForged, file: name)
    }

    /// Rebuilds the index from the REE directory and checks it against the state root.
    private func load() throws(StorageError) -> Index {
        let record: CounterRecord?
        do { record = try counters.read(counterName) } catch { throw StorageError(.storageNotAvailable, error.description) }
        var committed = Index()
        var obsolete: UInt64 = 0
        if let record, record.payload.count == 48 {
            committed.lastSeq = record.value
            committed.digest = StateDigest(Array(record.payload[0..<32]))
            committed.count = readBE64(record.payload[32..<40])
            obsolete = readBE64(record.payload[40..<48])
        } else if record != nil {
            throw .tampered("the namespace's counter record is malformed")
        }

        var names: [String]
        do throws(REEFileError) {
            names = try files.list(directory)
        } catch let failure where failure.isNotFound {
            names = []
        } catch {
            throw .io(error)
        }

        // Files a crash may leave: an uncommitted write, and the file the last commit made obsolete.
        // Both are removed — but the obsolete one only after the rest matches the state root, since
        // an attacker restoring an object's previous version puts back exactly that file.
        let uncommitted = keys.fileName(seq: committed.lastSeq + 1)
        let obsoleteName = obsolete != 0 ? keys.fileName(seq: obsolete) : nil
        var obsoletePresent = false
        // A negative control: the files as they are, whatever the counter committed.
        let uncounted = Weakening.isOff(.rollbackCounter, at: directory)
        let unnamed = Weakening.isOff(.nameBinding, at: directory), unknownSkipped = Weakening.isOff(.unknownFiles, at: directory)
        var found = Index()
        var findings: [String] = []
        var cleaned = false
        for name in names.sorted() {
            let path = directory + "/" + name
            if name == uncommitted {
                try? files.remove(path)
                cleaned = true
                continue
            }
            if name == obsoleteName, !uncounted {
                obsoletePresent = true
                continue
            }
            guard name.utf8.count == 32, name.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
                if !unknownSkipped { findings.append("file \(name) was added: the runtime never writes such a name") }
                continue
            }
            let prefix: ObjectFile.Prefix
            let prefixBytes: [UInt8]
            do {
                let (bytes, size) = try files.readPrefix(path, count: ObjectFile.prefixSize)
                prefix = try ObjectFile.openPrefix(bytes, fileSize: size, keys: keys, clear: inClear)
                prefixBytes = bytes
            } catch let failure as REEFileError {
                throw .io(failure)
            } catch let failure as ObjectFile.Failure {
                if !unknownSkipped { findings.append(describe(failure, file: name)) }
                continue
            } catch {
                continue
            }
            guard keys.fileName(seq: prefix.seq) == name || unnamed else {
                findings.append("file \(name) holds the object version written as #\(prefix.seq) under another name: "
                    + "files were swapped, renamed, or an old copy was restored over it")
                continue
            }
            guard prefix.seq <= committed.lastSeq || uncounted else {
                findings.append("file \(name) is newer than the committed state: the secure counter was not advanced for it")
                continue
            }
            if let other = found.entries[prefix.id] {
                findings.append("two versions of one object are present (#\(min(other.seq, prefix.seq)) and #\(max(other.seq, prefix.seq))): an old copy was restored")
                continue
            }
            found.entries[prefix.id] = Entry(seq: prefix.seq, size: prefix.dataLength, fileName: name, prefix: prefixBytes)
            found.digest = found.digest + keys.element(seq: prefix.seq, id: prefix.id)
            found.count += 1
        }
        let matches = found.count == committed.count && found.digest == committed.digest
        if let obsoleteName, obsoletePresent, matches {
            try? files.remove(directory + "/" + obsoleteName)
            cleaned = true
        }
        if cleaned, configuration.durable { try? files.syncDirectory(directory) }

        if findings.isEmpty, !matches, !uncounted {
            if obsoletePresent {
                findings.append("the version #\(obsolete) an object had before its last change is back, and the state does "
                    + "not match the committed one: an old copy of the object, or of the whole directory, was restored")
            } else if found.count < committed.count {
                findings.append("\(committed.count - found.count) object(s) of the committed state are missing: deleted "
                    + "behind the runtime's back, or the directory was restored from an older copy")
            } else if found.count > committed.count {
                findings.append("\(found.count - committed.count) object(s) more than the committed state: an old copy "
                    + "of an object or of the whole directory was restored")
            } else {
                findings.append("the objects present are not the versions committed under counter #\(committed.lastSeq): "
                    + "an old copy of an object or of the whole directory was restored")
            }
        }
        guard findings.isEmpty else {
            throw .tampered("sealed storage tampering detected: " + findings.prefix(3).joined(separator: "; ") + more(findings.count, shown: 3))
        }
        found.lastSeq = committed.lastSeq
        return found
    }

    private func check(id: [UInt8]) throws(StorageError) {
        guard !id.isEmpty, id.count <= ObjectFile.maxIDLength else {
            throw .badParameters("object IDs are 1 to \(ObjectFile.maxIDLength) bytes; got \(id.count)")
        }
    }

    private func describe(_ failure: ObjectFile.Failure, file: String) -> String {
        switch failure {
        case let .truncated(size): "object file \(file) is truncated (\(size) bytes)"
        case .notAnObjectFile: "file \(file) is not a sealed object: it was added or overwritten"
        case let .unsupportedFormat(format): "object file \(file) has unknown format \(format): it was modified"
        case .headerForged:
            "object file \(file) fails authentication: it was modified, or it comes from another namespace"
        case let .lengthMismatch(size, expected):
            "object file \(file) is \(size) bytes, not \(expected): it was " + (size < expected ? "truncated" : "extended")
        case .contentForged:
            "object file \(file) fails authentication: its content was modified (for example a flipped bit)"
        }
    }

    private func more(_ count: Int, shown: Int = 1) -> String {
        count > shown ? " (and \(count - shown) more)" : ""
    }
}
