import Foundation
import Testing
import TrubiZoneClient
import TrubiZoneProtocol
import TrubiZoneTesting

/// Nothing stored, no object ID and no key may reach a log line, an error message, or the REE.
@Suite struct SecretLeakTests {
    @Test func traceLogsAndErrorsCarryNoContentIDsOrKeys() async throws {
        let daemon = try DaemonHarness()
        defer { daemon.stop() }
        let context = try daemon.client()
        defer { context.close() }
        let storage = try await context.openSession(uuid: BuiltInTrustlets.Storage.uuid)
        let keystore = try await context.openSession(uuid: BuiltInTrustlets.Keystore.uuid)
        let marker = "PATIENT-\(UUID().uuidString)"
        let id = "id-\(marker)".prefix(60)
        var errors: [String] = []

        try await storage.put(String(id), Array("content \(marker)".utf8))
        _ = try await storage.get(String(id))
        do { _ = try await storage.get(String(id), capacity: 3) } catch { errors.append("\(error)") }
        do { _ = try await storage.get("other-\(marker)".prefix(60).description) } catch { errors.append("\(error)") }
        let generated = try await keystore.invoke(command: KeystoreCommand.generate.rawValue,
                                                  parameters: [.input(Array("key-\(marker)".prefix(60).utf8)), .valueInput(1), .output(capacity: 65)])
        let publicKey = Hex.encode(generated.bytes(2) ?? [])
        do { try await keystore.invoke(command: KeystoreCommand.generate.rawValue, parameters: [.input(Array("key-\(marker)".prefix(60).utf8)), .valueInput(1), .output(capacity: 65)]) }
        catch { errors.append("\(error)") }
        // Tampering diagnostics name files, never IDs.
        for file in daemon.device.reeFiles() { var b = file.bytes; b[b.count - 1] ^= 1; _ = FileManager.default.createFile(atPath: file.path, contents: Data(b)) }
        do { _ = try await storage.get(String(id)) } catch { errors.append("\(error)") }

        #expect(errors.count == 4)
        let logs = daemon.logs.all
        #expect(!logs.isEmpty)
        let uuidPart = String(marker.dropFirst("PATIENT-".count).prefix(8))
        for line in logs + errors {
            #expect(!line.contains(uuidPart), "leaked: \(line)")
            #expect(!line.contains(publicKey))
        }
        for file in daemon.device.reeFiles() {
            #expect(file.bytes.firstRange(of: Array(uuidPart.utf8)) == nil)
        }
    }
}
