import Crypto
import Foundation
import PHRApp
import Testing
import TrubiZoneClient
import TrubiZoneEmulatedDevice
import TrubiZoneProtocol
import TrubiZoneSampleTrustlets
import TrubiZoneSecureWorld
import TrubiZoneTesting

@Suite struct PackageTests {
    let developer = P256.Signing.PrivateKey()
    let stranger = P256.Signing.PrivateKey()

    func manifest(version: String = "1.0.0", capabilities: [String] = ["storage", "log"]) -> TrustletManifest {
        TrustletManifest(uuid: Samples.hello.description, name: "hello", version: version, capabilities: capabilities,
                         limits: .init(memoryPages: 32, fuelPerCall: 5_000_000, maxSessions: 4))
    }

    func package(version: String = "1.0.0", capabilities: [String] = ["storage", "log"], key: P256.Signing.PrivateKey? = nil) throws -> [UInt8] {
        try TrustletPackage.sign(manifest: manifest(version: version, capabilities: capabilities),
                                 wasm: SampleTrustlets.wasm("hello"), key: key ?? developer).bytes
    }

    func world(_ device: EmulatedDevice, trusting keys: [P256.Signing.PublicKey]? = nil) throws -> SecureWorld {
        try SecureWorld.emulated(stateDirectory: device.stateDirectory, reeDirectory: device.reeDirectory, durable: false,
                                 trustPolicy: TrustPolicy(trustedSigners: keys ?? [developer.publicKey]))
    }

    /// Each trustlet's manifest lives once, beside its sources; what the code and the tests call
    /// the trustlet is what it says.
    @Test func theManifestsBesideTheSourcesNameTheirTrustlets() throws {
        for (folder, uuid) in [("hello", Samples.hello), ("vault", Samples.vault), (PHRTrustlet.name, PHRTrustlet.uuid)] {
            let manifest = try TrustletManifest(decoding: SampleTrustlets.manifest(folder))
            #expect(manifest.name == folder && manifest.uuid == uuid.description, "\(folder)/manifest.json")
            #expect(try manifest.validated().uuid == uuid)
        }
    }

    @Test func aSignedPackageInstallsMeasuredAndRuns() async throws {
        let device = try EmulatedDevice()
        defer { withExtendedLifetime(device) {} }
        let world = try world(device)
        let trustlet = try world.install(package: try package())
        let wasm = try SampleTrustlets.wasm("hello")
        #expect(trustlet.measurement == Array(SHA256.hash(data: wasm)))
        #expect(trustlet.signerID == Array(SHA256.hash(data: developer.publicKey.x963Representation)))
        #expect(trustlet.limits.memoryPages == 32 && trustlet.limits.maxSessions == 4)
        let session = try await TEEContext.inProcess(world).openSession(uuid: Samples.hello)
        #expect(try await session.hello(Array("hi".utf8)).echo == Array("hi".utf8))
    }

    @Test func signaturesAreChecked() throws {
        let device = try EmulatedDevice()
        defer { withExtendedLifetime(device) {} }
        let world = try world(device)
        #expect(throws: PackageError.untrustedSigner(signerID: Hex.encode(SHA256.hash(data: stranger.publicKey.x963Representation)))) {
            try world.install(package: try package(key: stranger))
        }
        let good = try package()
        var tamperedWasm = good
        tamperedWasm[good.count - 200] ^= 0x01  // inside the wasm
        #expect(throws: PackageError.badSignature) { try world.install(package: tamperedWasm) }
        var tamperedManifest = good
        let at = try #require(good.firstRange(of: Array("\"1.0.0\"".utf8))).lowerBound
        tamperedManifest[at + 1] = UInt8(ascii: "9")
        #expect(throws: PackageError.badSignature) { try world.install(package: tamperedManifest) }
        var tamperedSignature = good
        tamperedSignature[good.count - 1] ^= 0x01
        #expect(throws: PackageError.badSignature) { try world.install(package: tamperedSignature) }
        for broken in [Array(good.prefix(good.count - 10)), good + [0], Array("TZPX".utf8) + good.dropFirst(4), []] {
            let error = #expect(throws: PackageError.self) { try world.install(package: broken) }
            #expect(error?.code == .badFormat || error == .badSignature)
        }
    }

    @Test func downgradesAreRefusedAndUpgradesKeepTheData() async throws {
        let device = try EmulatedDevice()
        defer { withExtendedLifetime(device) {} }
        let world = try world(device)
        try world.install(package: try package(version: "1.2.0"))
        _ = try await TEEContext.inProcess(world).openSession(uuid: Samples.hello).hello([])
        #expect(throws: PackageError.downgrade(installed: "1.2.0", offered: "1.1.9")) { try world.install(package: try package(version: "1.1.9")) }
        try world.install(package: try package(version: "1.2.0"))  // the same version again is fine
        try world.install(package: try package(version: "2.0.0"))
        #expect(try await TEEContext.inProcess(world).openSession(uuid: Samples.hello).hello([]).count == 2)
    }

    @Test func aUUIDBelongsToItsFirstSignerAcrossRestartsAndTheRuntimesUUIDsAreReserved() async throws {
        let device = try EmulatedDevice()
        defer { withExtendedLifetime(device) {} }
        let world = try world(device, trusting: [developer.publicKey, stranger.publicKey])
        try world.install(package: try package(version: "1.0.0"))
        let owner = Hex.encode(SHA256.hash(data: developer.publicKey.x963Representation).prefix(8))
        let taken = PackageError.uuidTaken(uuid: Samples.hello.description, owner: owner)
        #expect(throws: taken) { try world.install(package: try package(version: "9.0.0", key: stranger)) }
        #expect(taken.code == .accessConflict)
        // A restart, or a stranger's package kept in the REE store, changes nothing.
        let restarted = try self.world(device, trusting: [developer.publicKey, stranger.publicKey])
        #expect(throws: taken) { try restarted.install(package: try package(version: "9.0.0", key: stranger)) }
        #expect((restarted.trustlet(Samples.hello) as? WasmTrustlet)?.signerID == Array(SHA256.hash(data: developer.publicKey.x963Representation)))
        for uuid in BuiltInTrustlets.reserved {
            var reserved = manifest()
            reserved.uuid = uuid.description
            let bytes = try TrustletPackage.sign(manifest: reserved, wasm: SampleTrustlets.wasm("hello"), key: developer).bytes
            #expect(throws: PackageError.reservedUUID(uuid.description)) { try restarted.install(package: bytes) }
        }
        #expect(restarted.trustlet(BuiltInTrustlets.Installer.uuid)?.name == "TrubiZone installer")
    }

    @Test func aVersionsCodeCannotChangeAndTheDisplayNamesTheSigner() throws {
        let device = try EmulatedDevice()
        defer { withExtendedLifetime(device) {} }
        let world = try SecureWorld.emulated(stateDirectory: device.stateDirectory, reeDirectory: device.reeDirectory, durable: false,
                                             trustPolicy: TrustPolicy(trustedSigners: [developer.publicKey], names: ["Clinic Apps Ltd"]))
        let installed = try world.install(package: try package(version: "1.0.0"))
        #expect(installed.displayName == "hello · Clinic Apps Ltd")
        let rebuilt = try TrustletPackage.sign(manifest: manifest(version: "1.0.0"), wasm: SampleTrustlets.wasm("vault"), key: developer).bytes
        #expect(throws: PackageError.sameVersionChanged(version: "1.0.0")) { try world.install(package: rebuilt) }
        #expect(try world.install(package: try package(version: "1.0.0")).measurement == installed.measurement, "the same bytes again are fine")
        let unnamed = try self.world(device)
        let signerID = Array(SHA256.hash(data: developer.publicKey.x963Representation))
        #expect((unnamed.trustlet(Samples.hello) as? WasmTrustlet)?.displayName == "hello · " + TrustPolicy().name(of: signerID))
        // 80 bits of the signer ID, so no other key of a developer's making shares the label; and
        // a manifest name may not draw the label's separator with a look-alike letter.
        #expect(TrustPolicy().name(of: Array(0..<32)) == "developer 0001-0203-0405-0607-0809")
        let lookalike = TrustletManifest(uuid: Samples.hello.description, name: "phr \u{A78F} developer", version: "1.0.0", capabilities: [])
        #expect(throws: PackageError.self) { try lookalike.validated() }
        let twins = [TrustPolicy.Signer(key: developer.publicKey, name: "Clinic Apps"),
                     TrustPolicy.Signer(key: P256.Signing.PrivateKey().publicKey, name: "clinic apps")]
        #expect(throws: TrustPolicyError.namedTwice("clinic apps")) { try TrustPolicy(signers: twins) }
    }

    @Test func installedPackagesSurviveARestartWhileTheirSignerIsTrusted() async throws {
        let device = try EmulatedDevice()
        defer { withExtendedLifetime(device) {} }
        try world(device).install(package: try package())
        let restarted = try world(device)
        #expect(restarted.trustlet(Samples.hello) != nil)
        _ = try await TEEContext.inProcess(restarted).openSession(uuid: Samples.hello).hello([])
        let distrusting = try world(device, trusting: [stranger.publicKey])
        #expect(distrusting.trustlet(Samples.hello) == nil)
    }

    @Test func rollingTheREEBackDoesNotBringAnOldVersionBack() throws {
        let device = try EmulatedDevice()
        defer { withExtendedLifetime(device) {} }
        let world = try world(device)
        try world.install(package: try package(version: "1.0.0"))
        let snapshot = device.reeFiles()
        try world.install(package: try package(version: "2.0.0"))
        try device.restoreREE(snapshot)
        let restarted = try self.world(device)
        #expect(restarted.trustlet(Samples.hello) == nil, "the rolled-back package store must not load")
        #expect(throws: PackageError.downgrade(installed: "2.0.0", offered: "1.0.0")) { try restarted.install(package: try package(version: "1.0.0")) }
    }

    @Test func manifestsAreValidated() throws {
        let device = try EmulatedDevice()
        defer { withExtendedLifetime(device) {} }
        let world = try world(device)
        let wasm = try SampleTrustlets.wasm("hello")
        let bad: [TrustletManifest] = [
            TrustletManifest(uuid: "nope", name: "hello", version: "1.0.0", capabilities: []),
            TrustletManifest(uuid: Samples.hello.description, name: "hello", version: "1.0", capabilities: []),
            TrustletManifest(uuid: Samples.hello.description, name: "hello", version: "01.0.0", capabilities: []),
            TrustletManifest(uuid: Samples.hello.description, name: "hello", version: "1.0.0", capabilities: ["network"]),
            TrustletManifest(uuid: Samples.hello.description, name: "", version: "1.0.0", capabilities: []),
            TrustletManifest(uuid: Samples.hello.description, name: "hello", version: "1.0.0", capabilities: [], limits: .init(memoryPages: 100_000)),
        ]
        for manifest in bad {
            let error = #expect(throws: PackageError.self) { try world.install(package: try TrustletPackage.sign(manifest: manifest, wasm: wasm, key: developer).bytes) }
            #expect(error?.code == .badFormat)
        }
    }

    /// The manifest is read inside the TCB by the strict JSON reader both worlds share, not by a
    /// Foundation decoder: what it would let through (a duplicate, a misspelt field, a fraction
    /// where a count goes, trailing bytes) is refused by name.
    @Test func aManifestIsStrictJSONWithOnlyItsOwnFields() throws {
        let uuid = Samples.hello.description
        let cases: [(String, String)] = [
            (#"{"uuid":"\#(uuid)","uuid":"\#(uuid)","name":"hello","version":"1.0.0","capabilities":[]}"#, "duplicateKey"),
            (#"{"uuid":"\#(uuid)","name":"hello","version":"1.0.0","capabilities":[],"capabilites":["storage"]}"#, #"no field "capabilites""#),
            (#"{"uuid":"\#(uuid)","name":"hello","version":"1.0.0","capabilities":[],"limits":{"memorypages":8}}"#, #"limits has no field "memorypages""#),
            (#"{"uuid":"\#(uuid)","name":"hello","version":"1.0.0","capabilities":[],"limits":{"memoryPages":8.5}}"#, "limits.memoryPages is not a whole number"),
            (#"{"uuid":"\#(uuid)","name":"hello","version":"1.0.0","capabilities":[],"limits":{"memoryPages":-1}}"#, "limits.memoryPages must be 1 to 1024"),
            (#"{"uuid":"\#(uuid)","name":"hello","version":"1.0.0","capabilities":[1]}"#, "each capability is a string"),
            (#"{"uuid":"\#(uuid)","name":"hello","version":"1.0.0"}"#, "needs uuid, name and version as strings and capabilities as an array"),
            (#"{"uuid":"\#(uuid)","name":"hello","version":"1.0.0","capabilities":[]} x"#, "trailingData"),
            (#"[1]"#, "is not a JSON object"),
        ]
        for (json, reason) in cases {
            let error = #expect(throws: PackageError.self) { try TrustletManifest(decoding: Array(json.utf8)) }
            #expect(error?.description.contains(reason) == true, "\(json): \(error?.description ?? "accepted")")
        }
        // What `encoded()` writes reads back as the same manifest.
        let full = TrustletManifest(uuid: uuid, name: "hello", version: "1.2.3", capabilities: ["log", "storage"],
                                    limits: .init(memoryPages: 64, fuelPerCall: 5_000_000_000, logLines: 10))
        #expect(try TrustletManifest(decoding: try full.encoded()) == full)
    }

    @Test func aCapabilityMissingFromTheManifestIsRefusedAtCallTime() async throws {
        let device = try EmulatedDevice()
        defer { withExtendedLifetime(device) {} }
        let world = try world(device)
        try world.install(package: try package(capabilities: ["log"]))
        let session = try await TEEContext.inProcess(world).openSession(uuid: Samples.hello)
        let error = await #expect(throws: TEEError.self) { _ = try await session.hello([1]) }
        #expect(error?.code == .accessDenied)
    }

    @Test(arguments: TransportKind.allCases)
    func theInstallerTrustletInstallsOverTheWorldSwitch(_ kind: TransportKind) async throws {
        let world = try World(kind)
        // The harness's runtime trusts nobody: its installer refuses everything.
        let context = try world.context()
        defer { context.close() }
        let installer = try await context.openSession(uuid: BuiltInTrustlets.Installer.uuid)
        let error = await #expect(throws: TEEError.self) {
            try await installer.invoke(command: 0, parameters: [.input(try package()), .output(capacity: 64)])
        }
        #expect(error?.code == .security)
        #expect(error?.message.contains("does not trust") == true)
        let garbage = await #expect(throws: TEEError.self) {
            try await installer.invoke(command: 0, parameters: [.input([1, 2, 3]), .output(capacity: 64)])
        }
        #expect(garbage?.code == .badFormat)
    }
}
