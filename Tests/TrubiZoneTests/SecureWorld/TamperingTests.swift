import Foundation
import Testing
import TrubiZoneProtocol
import TrubiZoneSecureWorld
import TrubiZoneTesting

/// The attacker owns the REE directory. Each attack from the issue is played against a real REE
/// directory, both while the runtime runs and after it restarts, and must be reported with a
/// diagnostic that names what was done.
@Suite struct TamperingTests {
    let alice = StorageFixture.alice

    @Test func flippedBitInContentIsDetected() throws {
        let f = try StorageFixture()
        let path = try f.put("a", "some content")
        var bytes = read(path)
        bytes[bytes.count - 20] ^= 0x01
        write(path, bytes)
        expectStorageError(.corruptObject, mentioning: "fails authentication", "flipped bit") { _ = try f.get("a") }
        try f.restart()
        expectStorageError(.corruptObject, mentioning: "fails authentication") { _ = try f.get("a") }
    }

    @Test func flippedBitInHeaderIsDetected() throws {
        let f = try StorageFixture()
        let path = try f.put("a", "some content")
        try f.put("b", "other")
        var bytes = read(path)
        bytes[40] ^= 0x80
        write(path, bytes)
        expectStorageError(.corruptObject, mentioning: "fails authentication") { _ = try f.get("a") }
        try f.restart()
        expectStorageError(.security, mentioning: "fails authentication") { _ = try f.get("b") }
    }

    @Test func truncatedFileIsDetected() throws {
        let f = try StorageFixture()
        let path = try f.put("a", String(repeating: "x", count: 500))
        write(path, Array(read(path).prefix(300)))
        expectStorageError(.corruptObject, mentioning: "truncated") { _ = try f.get("a") }
        try f.restart()
        expectStorageError(.security, mentioning: "truncated") { _ = try f.storage.list(alice) }
    }

    @Test func objectsSwappedWithEachOtherAreDetected() throws {
        let f = try StorageFixture()
        let pathA = try f.put("a", "value of a")
        let pathB = try f.put("b", "value of b")
        let (bytesA, bytesB) = (read(pathA), read(pathB))
        write(pathA, bytesB)
        write(pathB, bytesA)
        expectStorageError(.corruptObject, mentioning: "swapped") { _ = try f.get("a") }
        expectStorageError(.corruptObject, mentioning: "swapped") { _ = try f.get("b") }
        try f.restart()
        expectStorageError(.security, mentioning: "swapped") { _ = try f.get("a") }
    }

    @Test func objectMovedToAnotherTrustletsNamespaceIsDetected() throws {
        let f = try StorageFixture()
        let path = try f.put("a", "alice's secret")
        try f.put("mine", "bob's", in: StorageFixture.bob)
        let moved = f.directory(StorageFixture.bob) + "/" + URL(fileURLWithPath: path).lastPathComponent
        try FileManager.default.moveItem(atPath: path, toPath: moved)
        // Bob's runtime sees a file it never wrote; Alice's sees her object gone.
        expectStorageError(.security, mentioning: "added") { _ = try f.storage.list(StorageFixture.bob) }
        expectStorageError(.corruptObject, mentioning: "deleted behind") { _ = try f.get("a") }
        try f.restart()
        expectStorageError(.security, mentioning: "another namespace") { _ = try f.get("mine", in: StorageFixture.bob) }
        expectStorageError(.security, mentioning: "missing") { _ = try f.get("a") }
    }

    @Test func oldCopyOfOneObjectRestoredIsDetected() throws {
        let f = try StorageFixture()
        let oldPath = try f.put("balance", "100")
        let oldBytes = read(oldPath)
        let newPath = try f.put("balance", "5")
        // The attacker puts the old version back in place of the new one.
        try FileManager.default.removeItem(atPath: newPath)
        write(oldPath, oldBytes)
        expectStorageError(.corruptObject, mentioning: "deleted behind") { _ = try f.get("balance") }
        try f.restart()
        expectStorageError(.security, mentioning: "old copy") { _ = try f.get("balance") }
    }

    @Test func oldCopyRestoredOverTheCurrentFileIsDetected() throws {
        let f = try StorageFixture()
        let oldBytes = read(try f.put("pin-attempts", "0"))
        let newPath = try f.put("pin-attempts", "4")
        write(newPath, oldBytes)
        expectStorageError(.corruptObject, mentioning: "old copy") { _ = try f.get("pin-attempts") }
        try f.restart()
        expectStorageError(.security, mentioning: "old copy") { _ = try f.get("pin-attempts") }
    }

    @Test func oldCopyOfTheWholeDirectoryRestoredIsDetected() throws {
        let f = try StorageFixture()
        try f.put("a", "1")
        try f.put("b", "2")
        let snapshot = f.files().map { ($0, read(f.directory() + "/" + $0)) }
        try f.put("a", "changed")
        try f.put("c", "3")
        try f.storage.delete(alice, id: Array("b".utf8))
        try FileManager.default.removeItem(atPath: f.directory())
        try FileManager.default.createDirectory(atPath: f.directory(), withIntermediateDirectories: true)
        for (name, bytes) in snapshot { write(f.directory() + "/" + name, bytes) }
        try f.restart()
        expectStorageError(.security, mentioning: "restored") { _ = try f.get("a") }
    }

    @Test func wholeDirectoryRestoredWithTheSameObjectCountIsDetected() throws {
        let f = try StorageFixture()
        try f.put("a", "1")
        let snapshot = f.files().map { ($0, read(f.directory() + "/" + $0)) }
        try f.put("a", "2")
        for name in f.files() { try FileManager.default.removeItem(atPath: f.directory() + "/" + name) }
        for (name, bytes) in snapshot { write(f.directory() + "/" + name, bytes) }
        try f.restart()
        expectStorageError(.security, mentioning: "old copy") { _ = try f.get("a") }
    }

    @Test func objectDeletedBehindTheRuntimesBackIsDetected() throws {
        let f = try StorageFixture()
        let path = try f.put("a", "1")
        try f.put("b", "2")
        try FileManager.default.removeItem(atPath: path)
        expectStorageError(.corruptObject, mentioning: "deleted behind") { _ = try f.get("a") }
        expectStorageError(.security, mentioning: "deleted behind") { _ = try f.storage.list(alice) }
        try f.restart()
        expectStorageError(.security, mentioning: "missing") { _ = try f.get("b") }
    }

    @Test func fileAddedToTheNamespaceIsDetected() throws {
        let f = try StorageFixture()
        try f.put("a", "1")
        write(f.directory() + "/notes.txt", Array("planted".utf8))
        expectStorageError(.security, mentioning: "added") { _ = try f.storage.list(alice) }
        try f.restart()
        expectStorageError(.security, mentioning: "added") { _ = try f.get("a") }
    }

    @Test func forgedObjectFileWithAPlausibleNameIsDetected() throws {
        let f = try StorageFixture()
        let path = try f.put("a", "1")
        var forged = read(path)
        for i in 16..<forged.count { forged[i] = UInt8.random(in: 0...255) }
        write(f.directory() + "/" + String(repeating: "ab", count: 16), forged)
        try f.restart()
        expectStorageError(.security, mentioning: "fails authentication") { _ = try f.get("a") }
    }

    @Test func tamperingWithOneNamespaceLeavesOthersWorking() throws {
        let f = try StorageFixture()
        try f.put("a", "1")
        try f.put("b", "bob", in: StorageFixture.bob)
        write(f.directory() + "/planted", [1, 2, 3])
        try f.restart()
        expectStorageError(.security) { _ = try f.get("a") }
        #expect(try f.get("b", in: StorageFixture.bob) == "bob")
        try f.put("c", "still writable", in: StorageFixture.bob)
    }

    @Test func compromisedNamespaceRefusesWritesUntilReset() throws {
        let f = try StorageFixture()
        try f.put("a", "1")
        write(f.directory() + "/planted", [1, 2, 3])
        try f.restart()
        expectStorageError(.security) { try f.storage.put(alice, id: Array("x".utf8), data: [1]) }
        // Fail closed: the same answer again, not a silently repaired store.
        expectStorageError(.security) { _ = try f.storage.list(alice) }
        try f.storage.reset(alice)
        #expect(try f.storage.list(alice).isEmpty)
        #expect(f.files().isEmpty)
        try f.put("x", "fresh start")
        try f.restart()
        #expect(try f.get("x") == "fresh start")
    }
}
