import Foundation
import Testing
import TrubiZoneProtocol
import TrubiZoneSecureWorld
import TrubiZoneTesting

/// Kills a process that is writing sealed objects with SIGKILL at random points, 200 times, and
/// checks after each kill that every object is its last acknowledged value or the value of the
/// operation in flight, and that the store is never flagged as tampered.
@Suite struct CrashConsistencyTests {
    let namespace = StorageNamespace(signerID: Array(repeating: 0x5A, count: 32), uuid: Array(repeating: 0x11, count: 16))

    struct Operation: Equatable {
        let delete: Bool
        let key: Int
        let generation: Int
    }

    func lookup(_ storage: SealedStorage, _ key: Int) throws(StorageError) -> [UInt8]? {
        do throws(StorageError) {
            return try storage.get(namespace, id: StressWorkload.id(key))
        } catch where error.code == .itemNotFound {
            return nil
        }
    }

    @Test func sigkillAtAnyPointLosesNoAcknowledgedWrite() throws {
        let device = try EmulatedDevice()
        let child = BuiltProducts.path("trubizone-storage-stress")
        #expect(FileManager.default.isExecutableFile(atPath: child), "build the package first: \(child)")
        var model: [Int: [UInt8]] = [:]
        var generation = 1
        var interrupted = 0
        var acknowledged = 0
        var generator = SystemRandomNumberGenerator()

        for round in 0..<200 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: child)
            process.arguments = [device.stateDirectory, device.reeDirectory, String(generation)]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            // Wait until the child has loaded the store and, in three rounds of four, acknowledged
            // two operations (so the count checked does not depend on how fast this machine's disk
            // syncs), then let it write for a random while.
            let reader = output.fileHandleForReading
            let acknowledgementsFirst = round.isMultiple(of: 4) ? 0 : 2
            var text = ""
            func acknowledgementsSeen() -> Int { text.split(separator: "\n").filter { $0.hasPrefix("A ") }.count }
            while !text.contains("READY\n") || acknowledgementsSeen() < acknowledgementsFirst {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            usleep(UInt32.random(in: 0...25_000, using: &generator))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            text += String(decoding: reader.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationReason == .uncaughtSignal, "round \(round): the child exited on its own: \(text.suffix(300))")

            // What the child said: acknowledged operations, and at most one in flight.
            var inFlight: Operation?
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ")
                guard parts.count >= 4, let key = Int(parts[2]), let gen = Int(parts[3]) else { continue }
                let operation = Operation(delete: parts[1] == "D", key: key, generation: gen)
                if parts[0] == "B" {
                    inFlight = operation
                } else if parts[0] == "A" {
                    #expect(inFlight == operation)
                    inFlight = nil
                    model[key] = operation.delete ? nil : StressWorkload.value(key: key, generation: gen)
                    acknowledged += 1
                    generation = gen + 1
                }
            }
            if let inFlight {
                interrupted += 1
                generation = inFlight.generation + 1
            }

            // Recover as the next boot would, and compare every object.
            let storage = try device.secureWorld(durable: true).storage
            for key in 0..<StressWorkload.keys {
                let actual = try lookup(storage, key)
                var allowed: [[UInt8]?] = [model[key]]
                if let inFlight, inFlight.key == key {
                    allowed.append(inFlight.delete ? nil : StressWorkload.value(key: key, generation: inFlight.generation))
                }
                #expect(allowed.contains(actual), "round \(round), key \(key): value is neither acknowledged nor in flight")
                model[key] = actual
            }
            #expect(try storage.list(namespace).count == model.count)
        }
        // The kills must have landed inside operations, or the test proved nothing.
        #expect(interrupted >= 100, "only \(interrupted) of 200 kills interrupted an operation")
        #expect(acknowledged >= 300, "only \(acknowledged) acknowledged operations were checked")
        print("crash test: 200 kills, \(interrupted) inside an operation, \(acknowledged) acknowledged operations checked")
    }
}
