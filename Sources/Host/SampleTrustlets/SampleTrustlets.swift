import Foundation

/// The trustlets in `Trustlets/Samples` and `Trustlets/Hostile`, as built by `swift build`
/// (the `TrustletBuilder` plugin).
public enum SampleTrustlets {
    /// The wasm bytes of the trustlet built from the folder `name` (e.g. `hello`).
    public static func wasm(_ name: String) throws -> [UInt8] {
        guard let url = Bundle.module.url(forResource: name, withExtension: "wasm") else {
            throw MissingTrustlet(name: name)
        }
        return Array(try Data(contentsOf: url))
    }

    public struct MissingTrustlet: Error, CustomStringConvertible {
        public let name: String
        public var description: String { "no trustlet \(name) was built; is Trustlets/*/\(name) there?" }
    }
}
