import Crypto
import TrubiZoneProtocol
import WasmKit

/// The crypto group: digests, MACs and key derivation over the trustlet's own bytes, and HPKE
/// sealing to someone else's public key. Keys the runtime holds are the keys group.
extension HostAPI {
    /// The most an HKDF call derives (RFC 5869: 255 blocks).
    static let maxHKDFOutput = 255 * 32

    func defineCrypto(_ imports: inout Imports, _ store: Store) {
        define(&imports, store, "sha256") { memory, args in
            try memory.checkResult(args, "digest")
            let digest = try memory.withInput(args, "data") { Array(SHA256.hash(data: $0)) }
            try memory.writeResult(digest, args, "digest")
            return .success
        }
        define(&imports, store, "hmac_sha256") { memory, args in
            let key = SymmetricKey(data: try memory.input(args, "key"))
            try memory.checkResult(args, "mac")
            let mac = try memory.withInput(args, "data") { Array(HMAC<SHA256>.authenticationCode(for: $0, using: key)) }
            try memory.writeResult(mac, args, "mac")
            return .success
        }
        define(&imports, store, "hkdf_sha256") { memory, args in
            let ikm = SymmetricKey(data: try memory.input(args, "ikm"))
            let salt = try memory.input(args, "salt")
            let info = try memory.input(args, "info")
            let length = try memory.checkArea(args, "output")
            guard length >= 1, length <= Self.maxHKDFOutput else { return .badParameters }
            let key = HKDF<SHA256>.deriveKey(inputKeyMaterial: ikm, salt: salt, info: info, outputByteCount: Int(length))
            try memory.writeArea(key.withUnsafeBytes { Array($0) }, args, "output")
            return .success
        }
        define(&imports, store, "hpke_seal") { memory, args in
            let recipient = try memory.input(args, "recipient")
            let info = try memory.input(args, "info")
            let aad = try memory.input(args, "aad")
            let plaintext = try memory.input(args, "plaintext")
            if try memory.isShort(KeyRing.encapsulatedKeyLength + plaintext.count + 16, args, "output") { return .shortBuffer }
            return try memory.output(try KeyRing.hpkeSeal(to: recipient, plaintext, info: info, authenticating: aad), args, "output")
        }
    }
}
