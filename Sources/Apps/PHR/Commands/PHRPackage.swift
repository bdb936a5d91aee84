import Crypto
import Foundation
import PHRApp
import TrubiZoneProtocol
import TrubiZoneSampleTrustlets
import TrubiZoneSecureWorld

/// The PHR trustlet as a signed package: the wasm `swift build` made from `Trustlets/Apps/phr`
/// and the manifest beside its sources (`Trustlets/Apps/phr/manifest.json`: the internal-API
/// groups it asks for, and the limits it needs, since a sync page of 256 KiB of records is opened,
/// parsed and indexed in one call).
public enum PHRPackage {
    /// The manifest, at `version` (an update is the same manifest at a later version).
    public static func manifest(version: String = "1.0.0") throws -> TrustletManifest {
        var manifest = try TrustletManifest(decoding: SampleTrustlets.manifest(PHRTrustlet.name))
        manifest.version = version
        return manifest
    }

    /// The built trustlet's wasm.
    /// - Parameter build: `PHRTrustlet.name`, or its test build for negative controls (`phr-weakened`).
    public static func wasm(_ build: String = PHRTrustlet.name) throws -> [UInt8] { try SampleTrustlets.wasm(build) }

    /// Signs the built trustlet with a developer key.
    public static func signed(with key: P256.Signing.PrivateKey, version: String = "1.0.0", build: String = PHRTrustlet.name) throws -> TrustletPackage {
        try TrustletPackage.sign(manifest: try manifest(version: version), wasm: wasm(build), key: key)
    }
}
