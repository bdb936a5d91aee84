// A child process for the crash-consistency test: performs sealed-storage writes and deletes in a
// loop, with durability on, until it is killed. Not a user tool.
//
//     trubizone-storage-stress STATE-DIR REE-DIR FIRST-GENERATION
import Foundation
import TrubiZoneEmulatedDevice
import TrubiZoneSecureWorld
import TrubiZoneTesting

let arguments = CommandLine.arguments
guard arguments.count == 4, let first = Int(arguments[3]) else {
    FileHandle.standardError.write(Data("usage: trubizone-storage-stress STATE-DIR REE-DIR FIRST-GENERATION\n".utf8))
    exit(64)
}

func say(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

/// One operation; `false` when the object to delete was not there.
func perform(_ storage: SealedStorage, _ namespace: StorageNamespace, delete: Bool, key: Int, generation: Int) throws(StorageError) -> Bool {
    do throws(StorageError) {
        if delete {
            try storage.delete(namespace, id: StressWorkload.id(key))
        } else {
            try storage.put(namespace, id: StressWorkload.id(key), data: StressWorkload.value(key: key, generation: generation))
        }
        return true
    } catch where error.code == .itemNotFound {
        return false
    }
}

func runLoop(state: String, ree: String, first: Int) throws {
    let namespace = StorageNamespace(signerID: Array(repeating: 0x5A, count: 32), uuid: Array(repeating: 0x11, count: 16))
    let world = try SecureWorld.emulated(stateDirectory: state, reeDirectory: ree, durable: true)
    say("READY")
    var generation = first
    while true {
        let key = StressWorkload.key(generation: generation)
        let delete = StressWorkload.isDelete(generation: generation)
        let op = delete ? "D" : "P"
        say("B \(op) \(key) \(generation)")
        let present = try perform(world.storage, namespace, delete: delete, key: key, generation: generation)
        say("A \(op) \(key) \(generation)" + (present ? "" : " absent"))
        generation += 1
    }
}

do {
    try runLoop(state: arguments[1], ree: arguments[2], first: first)
} catch {
    FileHandle.standardError.write(Data("stress child failed: \(error)\n".utf8))
    exit(1)
}
