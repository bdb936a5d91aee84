// swift-tools-version: 6.3
import PackageDescription

// The folder layout shows the trust boundary (see ARCHITECTURE.md):
//   Sources/Protocol      — the world-switch protocol both worlds speak (no dependencies)
//   Sources/Attestation   — CBOR, COSE and the attestation token: issued in the TCB, checked anywhere
//   Sources/SecureWorld   — the TCB: root of trust, sealed storage, runtime, built-in trustlets, daemon
//   Sources/NormalWorld   — the GP TEE Client API and its transports
//   Sources/Host          — manufacturer and developer tooling that never runs in the secure world
//   Sources/Tools         — thin executables
// The attack suite's negative controls turn single defences off (`Weakening`); only debug builds
// compile that switch, so no release build, which is what ships, has it.
let weakenings: [SwiftSetting] = [.define("TRUBIZONE_WEAKENINGS", .when(configuration: .debug))]

let package = Package(
    name: "TrubiZone",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "TrubiZoneProtocol", targets: ["TrubiZoneProtocol"]),
        .library(name: "TrubiZoneSecureWorld", targets: ["TrubiZoneSecureWorld"]),
        .library(name: "TrubiZoneEmulatedDevice", targets: ["TrubiZoneEmulatedDevice"]),
        .library(name: "TrubiZoneClient", targets: ["TrubiZoneClient"]),
        .library(name: "TrubiZoneCBOR", targets: ["TrubiZoneCBOR"]),
        .library(name: "TrubiZoneCOSE", targets: ["TrubiZoneCOSE"]),
        .library(name: "TrubiZoneEAT", targets: ["TrubiZoneEAT"]),
        .library(name: "TrubiZoneVerifier", targets: ["TrubiZoneVerifier"]),
        .library(name: "TrubiZoneChannel", targets: ["TrubiZoneChannel"]),
        .library(name: "TrubiZoneWire", targets: ["TrubiZoneWire"]),
        .library(name: "PHRFHIR", targets: ["PHRFHIR"]),
        .executable(name: "trubizone", targets: ["trubizone"]),
        .executable(name: "trubizoned", targets: ["trubizoned"]),
        .executable(name: "trubizone-bench", targets: ["trubizone-bench"]),
        .executable(name: "phr-server", targets: ["phr-server"]),
        .executable(name: "phr-server-bench", targets: ["phr-server-bench"]),
        .executable(name: "phr", targets: ["phr"]),
        .executable(name: "phr-bench", targets: ["phr-bench"]),
        .executable(name: "trubizone-attacks", targets: ["trubizone-attacks"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        // Pinned: the memory cap rests on `Store.resourceLimiter`, which WasmKit 0.4.2 offers as SPI;
        // WasmTrustletTests' memory bomb fails if a new version drops or changes it.
        .package(url: "https://github.com/swiftwasm/WasmKit.git", exact: "0.4.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // Shared by both worlds. Depends only on the shared wire numbers, so either side can embed it.
        .target(name: "TrubiZoneProtocol", dependencies: ["TrubiZoneWire"], path: "Sources/Protocol", swiftSettings: weakenings),

        // CBOR (RFC 8949): small and strict, only the shared UTF-8 check beneath; used inside and outside the TCB.
        .target(name: "TrubiZoneCBOR", dependencies: ["TrubiZoneWire"], path: "Sources/Attestation/CBOR"),
        // COSE_Sign1 with ES256 (RFC 9052), over our CBOR and swift-crypto.
        .target(
            name: "TrubiZoneCOSE",
            dependencies: ["TrubiZoneCBOR", .product(name: "Crypto", package: "swift-crypto")],
            path: "Sources/Attestation/COSE"
        ),
        // The attestation token: EAT with PSA claims, over COSE_Sign1. Issued in the TCB.
        .target(
            name: "TrubiZoneEAT",
            dependencies: ["TrubiZoneCBOR", "TrubiZoneCOSE", .product(name: "Crypto", package: "swift-crypto")],
            path: "Sources/Attestation/Token"
        ),
        // The wire formats both worlds build from one source: the channel message and the signed
        // request. Embedded-Swift-compatible, no dependencies; compiled into TrustletKit too.
        .target(name: "TrubiZoneWire", path: "Trustlets/SDK/Wire"),
        // The end-to-end channel's message on the host (HPKE Auth mode with swift-crypto).
        .target(
            name: "TrubiZoneChannel",
            dependencies: ["TrubiZoneWire", .product(name: "Crypto", package: "swift-crypto")],
            path: "Sources/Attestation/Channel"
        ),
        // Appraises tokens against a policy given as values. Never in the TCB.
        .target(
            name: "TrubiZoneVerifier",
            dependencies: [
                "TrubiZoneEAT", "TrubiZoneCOSE", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            path: "Sources/Attestation/Verifier"
        ),

        // The trusted computing base. Only the protocol and the crypto point inward.
        .target(
            name: "TrubiZoneSecureWorld",
            dependencies: [
                "TrubiZoneProtocol", "TrubiZoneEAT", "TrubiZoneWire",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "WasmKit", package: "WasmKit"),
            ],
            path: "Sources/SecureWorld/Runtime",
            swiftSettings: weakenings
        ),
        // The emulated device beneath the runtime's hardware interfaces: root of trust, counters,
        // clock, REE file system, trusted-UI devices. A QEMU or OP-TEE port replaces this target.
        .target(
            name: "TrubiZoneEmulatedDevice",
            dependencies: [
                "TrubiZoneSecureWorld", "TrubiZoneProtocol",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/SecureWorld/Emulated"
        ),
        // The emulated world switch: the secure world's end of the Unix socket.
        .target(
            name: "TrubiZoneDaemon",
            dependencies: [
                "TrubiZoneProtocol",
                "TrubiZoneSecureWorld",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/SecureWorld/Daemon"
        ),

        // Normal world: the GP TEE Client API.
        .target(
            name: "TrubiZoneClient",
            dependencies: ["TrubiZoneProtocol"],
            path: "Sources/NormalWorld/Client"
        ),

        // The device manufacturer's side: makes the emulated device's secrets and certificates.
        .target(
            name: "TrubiZoneManufacturer",
            dependencies: [
                "TrubiZoneEmulatedDevice", "TrubiZoneSecureWorld", "TrubiZoneProtocol",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            path: "Sources/Host/Manufacturer"
        ),

        // trubizoned's command: the TCB binary's only code beyond the runtime and the daemon.
        .target(
            name: "TrubiZoneDaemonCommand",
            dependencies: [
                "TrubiZoneEmulatedDevice", "TrubiZoneProtocol", "TrubiZoneSecureWorld", "TrubiZoneDaemon", "TrubiZoneCLISupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/SecureWorld/DaemonCommand"
        ),
        // What every command shares: exit statuses, `error:` lines, files a user names.
        .target(
            name: "TrubiZoneCLISupport",
            dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Host/CLISupport"
        ),
        // The developer tool's commands, as a library so tests drive them like users do.
        .target(
            name: "TrubiZoneCLI",
            dependencies: [
                "TrubiZoneEmulatedDevice", "TrubiZoneProtocol", "TrubiZoneCLISupport", "TrubiZoneDaemonCommand",
                "TrubiZoneClient",
                "TrubiZoneSecureWorld",
                "TrubiZoneDaemon",
                "TrubiZoneManufacturer",
                "TrubiZoneEAT", "TrubiZoneVerifier", "TrubiZoneChannel", "TrubiZoneWire", .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Host/CLI"
        ),
        .executableTarget(name: "trubizone", dependencies: ["TrubiZoneCLI"], path: "Sources/Tools/trubizone"),
        .executableTarget(name: "trubizoned", dependencies: ["TrubiZoneDaemonCommand"], path: "Sources/Tools/trubizoned"),
        // A child process the crash test kills at random points of a write loop.
        .executableTarget(
            name: "trubizone-storage-stress",
            dependencies: ["TrubiZoneEmulatedDevice", "TrubiZoneSecureWorld", "TrubiZoneTesting"],
            path: "Sources/Tools/trubizone-storage-stress"
        ),
        .executableTarget(
            name: "trubizone-bench",
            dependencies: [
                "TrubiZoneEmulatedDevice", "TrubiZoneProtocol", "TrubiZoneSecureWorld", "TrubiZoneDaemon", "TrubiZoneClient", "TrubiZoneCBOR", "TrubiZoneCOSE", "TrubiZoneEAT", "TrubiZoneVerifier",
                .product(name: "X509", package: "swift-certificates"),
                "TrubiZoneManufacturer", "TrubiZoneSampleTrustlets", .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Tools/trubizone-bench"
        ),

        // The sample and hostile trustlets, compiled to wasm by the plugin during `swift build`.
        // Reading FHIR R4 files (bundles or single resources) into resources ready to store. No
        // database, no network: what the importer and the fuzzer (Fuzz/) share.
        .target(
            name: "PHRFHIR",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            path: "Sources/Server/FHIR"
        ),
        // The PHR provider server (remote; never in the TCB): records, import, and its commands.
        .target(
            name: "PHRServer",
            dependencies: [
                "PHRFHIR", "PHRProtocol", "TrubiZoneProtocol", "TrubiZoneVerifier", "TrubiZoneChannel",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"), .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Server/PHR"
        ),
        // What the PHR trustlet, its app and its server all know (commands, reading kinds, purposes,
        // routes): compiled into the trustlet too, from Trustlets/Apps/phr/Contract.
        .target(name: "PHRContract", path: "Trustlets/Apps/phr/Contract"),
        // The wire protocol between the PHR app (and its trustlet) and the server: signed requests, bodies.
        .target(
            name: "PHRProtocol",
            dependencies: ["PHRContract", "TrubiZoneProtocol", "TrubiZoneWire", .product(name: "Crypto", package: "swift-crypto")],
            path: "Sources/Server/Protocol"
        ),
        // The server's HTTP face (Hummingbird 2): routes, limits, errors; the logic stays in PHRServer.
        .target(
            name: "PHRServerHTTP",
            dependencies: ["PHRServer", "PHRProtocol", "PHRContract", .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "HummingbirdTLS", package: "hummingbird"),
                           .product(name: "HTTPTypes", package: "swift-http-types"), .product(name: "Logging", package: "swift-log")],
            path: "Sources/Server/HTTP"
        ),
        .target(
            name: "PHRServerCommands",
            dependencies: [
                "PHRServer", "PHRServerHTTP", "TrubiZoneVerifier", "TrubiZoneCLISupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "Logging", package: "swift-log"),
                .product(name: "X509", package: "swift-certificates"), .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            path: "Sources/Server/Commands"
        ),
        .executableTarget(name: "phr-server", dependencies: ["PHRServerCommands"], path: "Sources/Tools/phr-server"),
        .executableTarget(
            name: "phr-server-bench",
            dependencies: [
                "TrubiZoneEmulatedDevice", "PHRServer", "PHRServerHTTP", "PHRProtocol", "TrubiZoneClient", "TrubiZoneProtocol", "TrubiZoneSecureWorld", "TrubiZoneManufacturer",
                "TrubiZoneSampleTrustlets", "TrubiZoneVerifier", "TrubiZoneChannel",
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"), .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Tools/phr-server-bench"
        ),

        // The PHR app's normal-world half: it talks to its trustlet (Trustlets/Apps/phr) through the
        // client API and to the provider server over HTTP, and relays only what the trustlet releases.
        .target(
            name: "PHRApp",
            dependencies: [
                "TrubiZoneClient", "TrubiZoneProtocol", "PHRProtocol", "PHRContract",
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Sources/Apps/PHR/App"
        ),
        // The `phr` commands, the demo among them, as a library.
        .target(
            name: "PHRAppCommands",
            dependencies: [
                "TrubiZoneEmulatedDevice", "PHRApp", "PHRProtocol", "PHRServer", "PHRServerHTTP", "TrubiZoneClient", "TrubiZoneProtocol", "TrubiZoneSecureWorld",
                "TrubiZoneDaemon", "TrubiZoneManufacturer", "TrubiZoneSampleTrustlets", "TrubiZoneVerifier", "TrubiZoneEAT", "TrubiZoneCLISupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"), .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Sources/Apps/PHR/Commands"
        ),
        .executableTarget(name: "phr", dependencies: ["PHRAppCommands"], path: "Sources/Tools/phr"),
        .executableTarget(
            name: "phr-bench",
            dependencies: ["PHRAppCommands", "PHRApp", "TrubiZoneClient", .product(name: "Logging", package: "swift-log")],
            path: "Sources/Tools/phr-bench"
        ),

        // The security evaluation: attacks from a compromised normal world against the whole system.
        .target(
            name: "TrubiZoneAttacks",
            dependencies: [
                "TrubiZoneEmulatedDevice", "PHRAppCommands", "PHRApp", "PHRProtocol", "PHRServer", "TrubiZoneChannel", "TrubiZoneWire", "TrubiZoneClient", "TrubiZoneProtocol",
                "TrubiZoneSecureWorld", "TrubiZoneManufacturer", "TrubiZoneSampleTrustlets",
                .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Security/Attacks"
        ),
        .executableTarget(name: "trubizone-attacks", dependencies: ["TrubiZoneAttacks"], path: "Sources/Tools/trubizone-attacks"),

        .plugin(name: "TrustletBuilder", capability: .buildTool(), path: "Plugins/TrustletBuilder"),
        .target(
            name: "TrubiZoneSampleTrustlets",
            dependencies: ["TrubiZoneWire"],
            path: "Sources/Host/SampleTrustlets",
            plugins: ["TrustletBuilder"]
        ),

        .target(
            name: "TrubiZoneTesting",
            dependencies: [
                "TrubiZoneEmulatedDevice", "TrubiZoneProtocol", "TrubiZoneSecureWorld", "TrubiZoneDaemon", "TrubiZoneClient",
                "TrubiZoneManufacturer",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Host/Testing"
        ),
        .testTarget(
            name: "TrubiZoneTests",
            dependencies: [
                "TrubiZoneEmulatedDevice", "TrubiZoneProtocol", "TrubiZoneSecureWorld", "TrubiZoneDaemon", "TrubiZoneClient", "TrubiZoneCBOR", "TrubiZoneCOSE", "TrubiZoneEAT",
                "TrubiZoneVerifier", "TrubiZoneChannel", "TrubiZoneWire", "TrubiZoneManufacturer", "TrubiZoneCLI", "TrubiZoneCLISupport", "TrubiZoneTesting",
                "TrubiZoneSampleTrustlets",
                "trubizone", "trubizoned", "trubizone-storage-stress", "PHRFHIR", "PHRServer", "PHRProtocol", "PHRServerHTTP", "phr-server",
                "PHRApp", "PHRAppCommands", "PHRContract", "phr", "TrubiZoneAttacks",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "WAT", package: "WasmKit"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Tests/TrubiZoneTests",
            swiftSettings: weakenings
        ),
    ]
)
