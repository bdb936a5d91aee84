import Crypto

/// Every key the secure world uses comes from the hardware unique key through one of these
/// labelled HKDF-SHA256 derivations, so no two purposes can ever share a key.
public enum KeyPurpose: Sendable, Equatable {
    /// The root of sealed storage; namespace keys are derived from it.
    case storage
    /// A trustlet's own key, bound to who signed it and which trustlet it is.
    case trustlet(signerID: [UInt8], uuid: [UInt8])
    /// The MAC key of the replay-protected counter records.
    case counters

    /// The HKDF `info` string. These labels are part of the on-disk format: changing one makes
    /// every sealed object unreadable.
    var info: [UInt8] {
        switch self {
        case .storage:
            Array("TrubiZone v1 storage root".utf8)
        case let .trustlet(signerID, uuid):
            Array("TrubiZone v1 trustlet".utf8) + [UInt8(signerID.count)] + signerID + [UInt8(uuid.count)] + uuid
        case .counters:
            Array("TrubiZone v1 replay-protected counters".utf8)
        }
    }
}

/// The key hierarchy beneath the hardware unique key. A root of trust derives with it (the
/// emulated one in software; a hardware one the same way, in its crypto engine).
package enum KeyDerivation {
    static let salt = Array("TrubiZone HUK".utf8)

    package static func derive(from huk: SymmetricKey, _ purpose: KeyPurpose) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: huk, salt: salt, info: purpose.info, outputByteCount: 32)
    }

    /// A subkey of an already derived key, for one named use (`label`) and context.
    static func subkey(_ key: SymmetricKey, label: String, context: [UInt8] = []) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Array(label.utf8) + [0] + context, outputByteCount: 32)
    }
}
