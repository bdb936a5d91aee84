import Crypto
import Synchronization
import TrubiZoneProtocol

/// What one owner (a trustlet) may keep in sealed storage, counted across its namespaces.
public struct StorageQuota: Sendable {
    public var objects: Int
    /// Bytes of data (what was written, before sealing).
    public var bytes: Int
    /// The owner's namespaces, all counted.
    public var namespaces: [StorageNamespace]

    public init(objects: Int, bytes: Int, namespaces: [StorageNamespace]) {
        self.objects = objects
        self.bytes = bytes
        self.namespaces = namespaces
    }
}

/// Sealed storage over the REE file system: per-namespace objects, encrypted and authenticated
/// with keys from the hardware unique key, with every change anchored in a replay-protected counter.
///
/// The REE directory is the normal world's: the attacker may read, change, delete, add and restore
/// any file in it. See `SealedNamespace` for why each of those is detected.
public final class SealedStorage: Sendable {
    public struct Configuration: Sendable {
        /// The normal-world directory that holds the sealed objects.
        public var reeDirectory: String
        /// The largest object, in bytes (1 MiB by default).
        public var maxObjectSize: Int
        /// Whether every acknowledged write is on stable storage (fsync). Turn off only in tests
        /// that do not need to survive power loss.
        public var durable: Bool
        /// The REE file system beneath (`POSIXFileSystem`, the host's files, on an emulated device).
        public var fileSystem: any REEFileSystem

        public init(reeDirectory: String, maxObjectSize: Int = 1 << 20, durable: Bool = true, fileSystem: any REEFileSystem) {
            self.reeDirectory = reeDirectory
            self.maxObjectSize = maxObjectSize
            self.durable = durable
            self.fileSystem = fileSystem
        }
    }

    public static let maxObjectIDLength = ObjectFile.maxIDLength
    public let configuration: Configuration
    private let storageRoot: SymmetricKey
    /// The replay-protected counters its state roots are anchored in.
    let counters: any MonotonicCounterStore
    /// The hardware beneath: the runtime's randomness, clock and measurement come from it too.
    public let rootOfTrust: any RootOfTrust
    private let namespaces = Mutex<[StorageNamespace: SealedNamespace]>([:])

    public init(configuration: Configuration, rootOfTrust: any RootOfTrust) throws(StorageError) {
        self.configuration = configuration
        self.storageRoot = rootOfTrust.deriveKey(.storage)
        self.counters = rootOfTrust.counters
        self.rootOfTrust = rootOfTrust
        do { try configuration.fileSystem.makeDirectory(configuration.reeDirectory) } catch { throw .io(error) }
    }

    /// Creates or replaces an object.
    /// - Parameter quota: what the owner may hold across all its namespaces; a write beyond it is
    ///   refused with `TEE_ERROR_STORAGE_NO_SPACE` and changes nothing.
    public func put(_ namespace: StorageNamespace, id: [UInt8], data: [UInt8], quota: StorageQuota? = nil) throws(StorageError) {
        guard let quota, !Weakening.isOff(.quotas, at: configuration.reeDirectory) else { return try self.namespace(namespace).put(id, data) }
        var room = SealedNamespace.Usage(objects: quota.objects, bytes: quota.bytes)
        for other in quota.namespaces where other != namespace {
            // A namespace that cannot be read (tampered, say) cannot be counted: refuse, fail closed.
            let used = try self.namespace(other).usage()
            room.objects -= used.objects
            room.bytes -= used.bytes
        }
        try self.namespace(namespace).put(id, data, room: room)
    }

    public func get(_ namespace: StorageNamespace, id: [UInt8]) throws(StorageError) -> [UInt8] {
        try self.namespace(namespace).get(id)
    }

    public func size(_ namespace: StorageNamespace, id: [UInt8]) throws(StorageError) -> Int {
        try self.namespace(namespace).size(id)
    }

    public func delete(_ namespace: StorageNamespace, id: [UInt8]) throws(StorageError) {
        try self.namespace(namespace).delete(id)
    }

    public func list(_ namespace: StorageNamespace) throws(StorageError) -> [[UInt8]] {
        try self.namespace(namespace).list()
    }

    /// Empties a namespace, including one reported as tampered (see `SealedNamespace.reset`).
    public func reset(_ namespace: StorageNamespace) throws(StorageError) {
        try self.namespace(namespace).reset()
    }

    /// The REE directory of a namespace (for tests and the attack suite, which tamper with it).
    public func directory(of namespace: StorageNamespace) -> String {
        self.namespace(namespace).directory
    }

    private func namespace(_ namespace: StorageNamespace) -> SealedNamespace {
        namespaces.withLock { table in
            if let existing = table[namespace] { return existing }
            let created = SealedNamespace(
                directory: configuration.reeDirectory + "/" + NamespaceKeys.directoryName(storageRoot: storageRoot, namespace: namespace),
                keys: NamespaceKeys(storageRoot: storageRoot, namespace: namespace),
                counters: counters,
                configuration: .init(maxObjectSize: configuration.maxObjectSize, durable: configuration.durable, fileSystem: configuration.fileSystem))
            table[namespace] = created
            return created
        }
    }
}
