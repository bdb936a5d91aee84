/// The trustlets built into the runtime (like OP-TEE's pseudo-TAs), and their commands.
///
/// This is the contract between the normal world and those trustlets, so both sides share it.
public enum BuiltInTrustlets {
    /// The UUIDs the runtime's own trustlets hold: no package may claim them.
    public static var reserved: Set<TrustletUUID> { [Storage.uuid, Keystore.uuid, Installer.uuid] }

    /// Sealed storage for the calling client: what an app with no trustlet of its own uses.
    public enum Storage {
        public static let uuid = TrustletUUID("6d2b1c4e-0a7f-4b6e-9d2c-3f1e5a7b9c01")!

        public enum Command: UInt32, Sendable {
            /// [0] memref input: object ID; [1] memref input: data.
            case put = 0
            /// [0] memref input: object ID; [1] memref output: data (short-buffer rule applies).
            case get = 1
            /// [0] memref input: object ID.
            case delete = 2
            /// [0] memref output: the IDs, each as u16 length + bytes (short-buffer rule applies).
            case list = 3
            /// [0] memref input: object ID; [1] value output: a = size in bytes.
            case size = 4
            /// No parameters. Deletes every object of this client, including a store reported as
            /// tampered (`TEEC_ERROR_SECURITY`), which otherwise refuses service.
            case reset = 5
        }
    }

    /// Keys that never leave the secure world, under client-chosen aliases (like Android Keystore).
    public enum Keystore {
        public static let uuid = TrustletUUID("6d2b1c4e-0a7f-4b6e-9d2c-3f1e5a7b9c02")!

        public enum Command: UInt32, Sendable {
            /// [0] memref input: alias; [1] value input: a = `KeyKind`; [2] memref output: public key (X9.63).
            case generate = 0
            /// [0] memref input: alias; [1] memref output: public key (X9.63); [2] value output: a = `KeyKind`.
            case publicKey = 1
            /// [0] memref input: alias; [1] memref input: message; [2] memref output: ECDSA P-256
            /// SHA-256 signature, raw r ‖ s (64 bytes).
            case sign = 2
            /// [0] memref input: alias.
            case delete = 3
            /// [0] memref output: the aliases, each as u16 length + bytes.
            case list = 4
            /// [0] memref input: the verifier's nonce (32, 48 or 64 bytes); [1] memref input: the
            /// alias of a key to bind (empty for none); [2] memref output: the attestation token.
            case attest = 5
        }

        public enum KeyKind: UInt32, Sendable, CaseIterable {
            /// A P-256 ECDSA signing key.
            case signing = 1
            /// A P-256 key for HPKE (DHKEM(P-256, HKDF-SHA256)).
            case hpke = 2
        }
    }

    /// Installs signed trustlet packages (like OP-TEE's TA-management pseudo-TA). Only packages
    /// signed by a key the device trusts are accepted, and never a lower version than one installed.
    public enum Installer {
        public static let uuid = TrustletUUID("6d2b1c4e-0a7f-4b6e-9d2c-3f1e5a7b9c03")!

        public enum Command: UInt32, Sendable {
            /// [0] memref input: the package; [1] memref output: measurement (32 bytes) ‖ signer ID
            /// (32 bytes).
            case install = 0
        }
    }

    /// The encoding `list` commands use: each entry as a big-endian u16 length and its bytes.
    public static func encodeList(_ entries: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        for entry in entries {
            out += [UInt8(entry.count >> 8), UInt8(entry.count & 0xFF)] + entry
        }
        return out
    }

    /// Decodes a `list` reply; `nil` if it is malformed.
    public static func decodeList(_ bytes: [UInt8]) -> [[UInt8]]? {
        var entries: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            guard offset + 2 <= bytes.count else { return nil }
            let length = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
            offset += 2
            guard offset + length <= bytes.count else { return nil }
            entries.append(Array(bytes[offset..<offset + length]))
            offset += length
        }
        return entries
    }
}
