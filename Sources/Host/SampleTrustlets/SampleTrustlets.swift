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

    /// The host functions in the order of the hostile trustlet's `callHost` (its command 30), with
    /// their arity: what the tests and the attack suite sweep, one bad argument at a time.
    public static let hostileHostFunctions: [(name: String, arguments: Int)] = [
        ("log", 2), ("random", 2), ("sha256", 3), ("storage_write", 4), ("storage_read", 5), ("storage_delete", 2),
        ("counter_read", 3), ("counter_increment", 3), ("time_monotonic", 1), ("time_wall", 1), ("hmac_sha256", 5),
        ("hkdf_sha256", 8), ("hpke_seal", 11), ("key_generate", 6), ("key_public", 5), ("key_sign", 5), ("key_delete", 2),
        ("aead_seal", 9), ("aead_open", 9), ("hpke_open", 11), ("ui_show", 2), ("ui_confirm", 3), ("ui_read_pin", 5), ("attest", 9), ("ui_read_text", 5),
        ("hpke_seal_auth", 13), ("hpke_open_auth", 13),
    ]

    /// Whether argument `index` of host function `name` is a pointer or a length (all are but
    /// `key_generate`'s first, the key kind).
    public static func isAddressOrLength(_ name: String, _ index: Int) -> Bool { !(name == "key_generate" && index == 0) }

    public struct MissingTrustlet: Error, CustomStringConvertible {
        public let name: String
        public var description: String { "no trustlet \(name) was built; is Trustlets/*/\(name) there?" }
    }
}
