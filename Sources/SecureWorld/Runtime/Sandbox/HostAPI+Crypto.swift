import Crypto
import TrubiZoneProtocol
import WasmKit

/// The crypto group: digests, MACs and key derivation over the trustlet's own bytes, and HPKE
/// sealing to someone else's public key. Keys the runtime holds are the keys group.
extension HostAPI {
    /// The most an HKDF call derives (RFC 5869: 255 blocks).
    static let maxHKDFOutput = 255 * 32

    func defineCrypto(_ imports: inout Imports, _ store: Store) {
        // sha256(data, length, digest[32])
        define(&imports, store, "sha256", parameters: 3, group: .crypto) { memory, args in
            try memory.check(args[2], 32, "the digest buffer")
            let digest = try memory.withBytes(args[0], args[1], "the data") { Array(SHA256.hash(data: $0)) }
            try memory.write(args[2], digest, "the digest buffer")
            return .success
        }
        // hmac_sha256(key, keyLength, data, dataLength, mac[32])
        define(&imports, store, "hmac_sha256", parameters: 5, group: .crypto) { memory, args in
            let key = SymmetricKey(data: try memory.bytes(args, 0, "the key"))
            try memory.check(args[4], 32, "the MAC buffer")
            let mac = try memory.withBytes(args[2], args[3], "the data") { Array(HMAC<SHA256>.authenticationCode(for: $0, using: key)) }
            try memory.write(args[4], mac, "the MAC buffer")
            return .success
        }
        // hkdf_sha256(ikm, ikmLength, salt, saltLength, info, infoLength, output, outputLength)
        define(&imports, store, "hkdf_sha256", parameters: 8, group: .crypto) { memory, args in
            let ikm = SymmetricKey(data: try memory.bytes(args, 0, "the input key material"))
            let salt = try memory.bytes(args, 2, "the salt")
            let info = try memory.bytes(args, 4, "the info")
            try memory.check(args[6], args[7], "the output buffer")
            guard args[7] >= 1, args[7] <= Self.maxHKDFOutput else { return .badParameters }
            let key = HKDF<SHA256>.deriveKey(inputKeyMaterial: ikm, salt: salt, info: info, outputByteCount: Int(args[7]))
            try memory.write(args[6], key.withUnsafeBytes { Array($0) }, "the output buffer")
            return .success
        }
        // hpke_seal(recipient, recipientLength, info, infoLength, aad, aadLength, plaintext,
        //           plaintextLength, output, capacity, length*) → encapsulated key ‖ ciphertext
        define(&imports, store, "hpke_seal", parameters: 11, group: .crypto) { memory, args in
            let recipient = try memory.bytes(args, 0, "the recipient key")
            let info = try memory.bytes(args, 2, "the info")
            let aad = try memory.bytes(args, 4, "the associated data")
            let plaintext = try memory.bytes(args, 6, "the plaintext")
            try memory.checkOutput(args, 8, "the output buffer")
            let needed = KeyRing.encapsulatedKeyLength + plaintext.count + 16
            if needed > Int(args[9]) {
                return try memory.output([UInt8](repeating: 0, count: needed), args, 8, "the output buffer")
            }
            return try memory.output(try KeyRing.hpkeSeal(to: recipient, plaintext, info: info, authenticating: aad), args, 8, "the output buffer")
        }
    }
}
