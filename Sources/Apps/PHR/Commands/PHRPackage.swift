import Crypto
import Foundation
import PHRApp
import TrubiZoneProtocol
import TrubiZoneSampleTrustlets
import TrubiZoneSecureWorld

/// The PHR trustlet as a signed package: the wasm `swift build` made from `Trustlets/Apps/phr`
/// and its manifest.
public enum PHRPackage {
    /// The internal-API groups the trustlet asks for, and the limits it needs: a sync page of
    /// 256 KiB of records is opened, parsed and indexed in one call.
    public static func manifest(version: String = "1.0.0") -> TrustletManifest {
        TrustletManifest(uuid: PHRTrustlet.uuid.description, name: PHRTrustlet.name, version: version,
                         capabilities: ["storage", "crypto", "random", "counters", "time", "keys", "ui", "attestation"],
                         limits: .init(memoryPages: 512, fuelPerCall: 20_000_000_000, maxSessions: 8, sealedBytes: 256 << 20, objects: 16_384))
    }

    /// The built trustlet's wasm.
    /// - Parameter build: `PHRTrustlet.name`, or its test build for negative controls (`phr-weakened`).
    public static func wasm(_ build: String = PHRTrustlet.name) throws -> [UInt8] { try SampleTrustlets.wasm(build) }

    /// Signs the built trustlet with a developer key.
    public static func signed(with key: P256.Signing.PrivateKey, version: String = "1.0.0", build: String = PHRTrustlet.name) throws -> TrustletPackage {
        try TrustletPackage.sign(manifest: manifest(version: version), wasm: wasm(build), key: key)
    }
}
