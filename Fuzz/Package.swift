// swift-tools-version: 6.3
import Foundation
import PackageDescription

// libFuzzer targets for the parsers that take bytes from the other side of a trust boundary.
// Build and run them with Fuzz/run.sh (it passes -sanitize=fuzzer,address); they are a separate
// package so the project's own build never needs the sanitizer runtimes.
//
// The project is this folder's parent; SwiftPM names a path dependency after its folder.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let project = root.lastPathComponent

func fuzzer(_ name: String, _ products: [String]) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzDriver"] + products.map { .product(name: $0, package: project) }, path: "Sources/\(name)")
}

let package = Package(
    name: "TrubiZoneFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: root.path)],
    targets: [
        .target(name: "FuzzDriver", path: "Sources/FuzzDriver"),
        fuzzer("fuzz-frame", ["TrubiZoneProtocol"]),
        fuzzer("fuzz-cbor", ["TrubiZoneCBOR"]),
        fuzzer("fuzz-token", ["TrubiZoneCBOR", "TrubiZoneCOSE", "TrubiZoneEAT", "TrubiZoneVerifier"]),
        fuzzer("fuzz-package", ["TrubiZoneSecureWorld", "TrubiZoneEmulatedDevice", "TrubiZoneProtocol"]),
        fuzzer("fuzz-fhir", ["PHRFHIR"]),
    ]
)
