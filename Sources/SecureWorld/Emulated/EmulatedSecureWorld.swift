import Logging
import TrubiZoneSecureWorld

/// The emulated device's backends beneath the runtime's hardware interfaces: its root of trust
/// (`EmulatedRootOfTrust`: the secure state directory, `FileCounterStore` for RPMB, `HostClock`),
/// its REE file system (`POSIXFileSystem`) and its trusted-UI devices (`TerminalTrustedUI`,
/// `ScriptedTrustedUI`). A QEMU or OP-TEE port replaces this module, not the runtime.
extension SecureWorld {
    /// Opens the runtime of an emulated device.
    /// - Parameters:
    ///   - stateDirectory: the secure state directory (`trubizone device provision`).
    ///   - reeDirectory: the normal-world directory for sealed objects.
    public static func emulated(stateDirectory: String, reeDirectory: String, durable: Bool = true,
                                maxObjectSize: Int = 1 << 20, trustPolicy: TrustPolicy = TrustPolicy(), trustedUI: TrustedUI = .none,
                                limits: Limits = Limits(),
                                logger: Logger = Logger(label: "trubizone.secure-world")) throws -> SecureWorld {
        let root = try EmulatedRootOfTrust(directory: stateDirectory, durable: durable)
        let storage = try SealedStorage(
            configuration: .init(reeDirectory: reeDirectory, maxObjectSize: maxObjectSize, durable: durable), rootOfTrust: root)
        return SecureWorld(storage: storage, trustPolicy: trustPolicy, trustedUI: trustedUI, limits: limits, logger: logger)
    }
}

extension SealedStorage.Configuration {
    /// Sealed storage in a directory of the host's file system.
    public init(reeDirectory: String, maxObjectSize: Int = 1 << 20, durable: Bool = true) {
        self.init(reeDirectory: reeDirectory, maxObjectSize: maxObjectSize, durable: durable, fileSystem: POSIXFileSystem())
    }
}
