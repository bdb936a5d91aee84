import Foundation
import Testing
import TrubiZoneEmulatedDevice
import TrubiZoneProtocol
import TrubiZoneSecureWorld
import TrubiZoneTesting

@Suite struct SealedStorageTests {
    @Test func objectsAreCreatedReadOverwrittenListedAndDeleted() throws {
        let f = try StorageFixture(durable: true)
        try f.put("a", "one")
        try f.put("b", "two")
        #expect(try f.get("a") == "one")
        try f.put("a", "uno")
        #expect(try f.get("a") == "uno")
        #expect(try f.storage.list(StorageFixture.alice) == [Array("a".utf8), Array("b".utf8)])
        #expect(try f.storage.size(StorageFixture.alice, id: Array("b".utf8)) == 3)
        try f.storage.delete(StorageFixture.alice, id: Array("a".utf8))
        expectStorageError(.itemNotFound) { _ = try f.get("a") }
        expectStorageError(.itemNotFound) { try f.storage.delete(StorageFixture.alice, id: Array("a".utf8)) }
        // One file per live object: overwritten and deleted versions are gone.
        #expect(f.files().count == 1)
    }

    /// The REE file system shows sealed objects' sizes; they must tell no more than a size bucket.
    @Test func objectFilesShowOnlyTheirSizeBucket() throws {
        let f = try StorageFixture(durable: false)
        var sizes: [Int: Int] = [:]
        for count in [1, 1000, 1024, 1025, 3000, 70_000, 600_000] {
            let name = try f.put("object-\(count)", String(repeating: "x", count: count))
            let attributes = try FileManager.default.attributesOfItem(atPath: name)
            sizes[count] = try #require(attributes[.size] as? Int)
            #expect(try f.get("object-\(count)").utf8.count == count)
            #expect(try f.storage.size(StorageFixture.alice, id: Array("object-\(count)".utf8)) == count, "the true size stays inside")
        }
        let overhead = sizes[1]! - 1024
        #expect(sizes[1] == sizes[1000] && sizes[1000] == sizes[1024], "everything up to 1 KiB looks the same")
        #expect(sizes[1025] == 2048 + overhead && sizes[3000] == 4096 + overhead && sizes[70_000] == 131_072 + overhead)
        #expect(sizes[600_000] == (1 << 20) + overhead)
        try f.restart()
        #expect(try f.get("object-3000").utf8.count == 3000, "padded objects read back after a restart")
    }

    @Test func objectsSurviveARestart() throws {
        let f = try StorageFixture(durable: true)
        for i in 0..<20 { try f.put("key-\(i)", "value-\(i)") }
        try f.storage.delete(StorageFixture.alice, id: Array("key-3".utf8))
        try f.put("key-4", "changed")
        try f.restart()
        #expect(try f.storage.list(StorageFixture.alice).count == 19)
        #expect(try f.get("key-4") == "changed")
        #expect(try f.get("key-19") == "value-19")
        expectStorageError(.itemNotFound) { _ = try f.get("key-3") }
    }

    @Test func emptyObjectsAndBinaryIDsWork() throws {
        let f = try StorageFixture()
        let id: [UInt8] = [0, 255, 10, 13]
        try f.storage.put(StorageFixture.alice, id: id, data: [])
        #expect(try f.storage.get(StorageFixture.alice, id: id) == [])
        try f.restart()
        #expect(try f.storage.get(StorageFixture.alice, id: id) == [])
    }

    @Test func idAndSizeLimitsAreEnforced() throws {
        let f = try StorageFixture()
        expectStorageError(.badParameters, mentioning: "1 to 64 bytes") { try f.storage.put(StorageFixture.alice, id: [], data: []) }
        expectStorageError(.badParameters, mentioning: "1 to 64 bytes") {
            try f.storage.put(StorageFixture.alice, id: [UInt8](repeating: 1, count: 65), data: [])
        }
        try f.storage.put(StorageFixture.alice, id: [UInt8](repeating: 1, count: 64), data: [UInt8](repeating: 7, count: 1 << 20))
        expectStorageError(.badParameters, mentioning: "exceeds the limit") {
            try f.storage.put(StorageFixture.alice, id: [1], data: [UInt8](repeating: 7, count: (1 << 20) + 1))
        }
        let small = try f.device.secureWorld(maxObjectSize: 10).storage
        expectStorageError(.badParameters) { try small.put(StorageFixture.alice, id: [1], data: [UInt8](repeating: 0, count: 11)) }
    }

    @Test func namespacesAreIsolated() throws {
        let f = try StorageFixture()
        try f.put("shared-name", "alice's", in: StorageFixture.alice)
        expectStorageError(.itemNotFound) { _ = try f.get("shared-name", in: StorageFixture.bob) }
        try f.put("shared-name", "bob's", in: StorageFixture.bob)
        #expect(try f.get("shared-name", in: StorageFixture.alice) == "alice's")
        #expect(try f.get("shared-name", in: StorageFixture.bob) == "bob's")
        #expect(f.directory(StorageFixture.alice) != f.directory(StorageFixture.bob))
    }

    @Test func anotherDeviceCannotOpenTheREEDirectory() throws {
        let f = try StorageFixture()
        try f.put("k", "v")
        let other = try EmulatedDevice()
        let thief = try SecureWorld.emulated(stateDirectory: other.stateDirectory, reeDirectory: f.device.reeDirectory,
                                             durable: false).storage
        // The other device derives other keys: it does not even find the namespace...
        expectStorageError(.itemNotFound) { _ = try thief.get(StorageFixture.alice, id: Array("k".utf8)) }
        // ...and copying the files to where it looks does not make them its objects.
        try thief.put(StorageFixture.alice, id: Array("own".utf8), data: [1])
        for name in f.files() {
            write(thief.directory(of: StorageFixture.alice) + "/" + name, read(f.directory() + "/" + name))
        }
        let restarted = try SecureWorld.emulated(stateDirectory: other.stateDirectory, reeDirectory: f.device.reeDirectory,
                                                 durable: false).storage
        expectStorageError(.security, mentioning: "fails authentication") { _ = try restarted.get(StorageFixture.alice, id: Array("k".utf8)) }
    }

    @Test func reeFilesRevealNeitherContentNorObjectIDs() throws {
        let f = try StorageFixture(durable: true)
        let markers = (0..<10).map { "MARKER-\($0)-\(UUID().uuidString)" }
        for (i, marker) in markers.enumerated() {
            try f.storage.put(StorageFixture.alice, id: Array("ID-\(marker)".prefix(60).utf8), data: Array("content \(marker) \(i)".utf8))
        }
        let files = f.device.reeFiles()
        #expect(files.count == 10)
        for file in files {
            let text = String(decoding: file.bytes, as: UTF8.self)
            #expect(!file.path.contains("MARKER"))
            for marker in markers {
                #expect(!text.contains(marker), "\(file.path) contains a stored marker")
                #expect(file.bytes.firstRange(of: Array(marker.prefix(12).utf8)) == nil)
            }
        }
    }
}
