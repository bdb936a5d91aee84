import Foundation
import TrubiZoneWire

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

    /// The manifest beside the trustlet's sources (`Trustlets/*/name/manifest.json`), as its bytes.
    public static func manifest(_ name: String) throws -> [UInt8] {
        guard let url = Bundle.module.url(forResource: name + ".manifest", withExtension: "json") else {
            throw MissingTrustlet(name: name + "'s manifest.json")
        }
        return Array(try Data(contentsOf: url))
    }

    /// The host functions in the order of the hostile trustlet's `callHost` (its command 30), with
    /// their arity from `HostABI`: what the tests and the attack suite sweep, one bad argument at a time.
    public static var hostileHostFunctions: [(name: String, arguments: Int)] {
        let order = ["log", "random", "sha256", "storage_write", "storage_read", "storage_delete", "counter_read", "counter_increment",
                     "time_monotonic", "time_wall", "hmac_sha256", "hkdf_sha256", "hpke_seal", "key_generate", "key_public", "key_sign",
                     "key_delete", "aead_seal", "aead_open", "hpke_open", "ui_show", "ui_confirm", "ui_read_pin", "attest", "ui_read_text",
                     "hpke_seal_auth", "hpke_open_auth"]
        return order.map { name in (name, HostABI.functions.first { $0.name == name }?.slots.count ?? 0) }
    }

    /// Whether argument `index` of host function `name` is a pointer or a length (not a number),
    /// as `HostABI` lays it out.
    public static func isAddressOrLength(_ name: String, _ index: Int) -> Bool {
        guard let slots = HostABI.functions.first(where: { $0.name == name })?.slots, index < slots.count else { return false }
        return slots[index].isAddressOrLength
    }

    public struct MissingTrustlet: Error, CustomStringConvertible {
        public let name: String
        public var description: String { "no trustlet \(name) was built; is Trustlets/*/\(name) there?" }
    }
}
