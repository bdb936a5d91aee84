import Foundation
import Testing
import TrubiZoneProtocol
import TrubiZoneSecureWorld
import TrubiZoneTesting

/// A device with sealed storage, and the means to tamper with its REE directory as the attacker.
final class StorageFixture {
    static let alice = StorageNamespace(signerID: Array(repeating: 0xA1, count: 32), uuid: Array(repeating: 0x01, count: 16))
    static let bob = StorageNamespace(signerID: Array(repeating: 0xB0, count: 32), uuid: Array(repeating: 0x02, count: 16))

    let device: EmulatedDevice
    private(set) var storage: SealedStorage

    init(durable: Bool = false) throws {
        device = try EmulatedDevice()
        storage = try device.secureWorld(durable: durable).storage
    }

    /// A new runtime on the same device and REE directory, as after a reboot.
    func restart() throws {
        storage = try device.secureWorld().storage
    }

    func directory(_ namespace: StorageNamespace = alice) -> String { storage.directory(of: namespace) }

    func files(_ namespace: StorageNamespace = alice) -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: directory(namespace))) ?? [])
    }

    /// Stores an object and returns the path of the file that now holds it.
    @discardableResult
    func put(_ id: String, _ data: String, in namespace: StorageNamespace = alice) throws -> String {
        let before = files(namespace)
        try storage.put(namespace, id: Array(id.utf8), data: Array(data.utf8))
        let added = files(namespace).subtracting(before)
        guard let name = added.first, added.count == 1 else { throw FixtureError.noNewFile }
        return directory(namespace) + "/" + name
    }

    func get(_ id: String, in namespace: StorageNamespace = alice) throws -> String {
        String(decoding: try storage.get(namespace, id: Array(id.utf8)), as: UTF8.self)
    }

    enum FixtureError: Error { case noNewFile }
}

func read(_ path: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path) ?? Data()) }
func write(_ path: String, _ bytes: [UInt8]) { _ = FileManager.default.createFile(atPath: path, contents: Data(bytes)) }

/// Expects a sealed-storage failure with `code` whose diagnostic mentions `words`.
func expectStorageError(_ code: ReturnCode, mentioning words: String..., sourceLocation: SourceLocation = #_sourceLocation,
                        _ body: () throws -> Void) {
    let error = #expect(throws: StorageError.self, sourceLocation: sourceLocation) { try body() }
    #expect(error?.code == code, "got \(String(describing: error))", sourceLocation: sourceLocation)
    for word in words {
        #expect(error?.diagnostic.contains(word) == true, "diagnostic \"\(error?.diagnostic ?? "")\" lacks \"\(word)\"",
                sourceLocation: sourceLocation)
    }
}
