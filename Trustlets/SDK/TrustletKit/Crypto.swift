// The crypto and keys groups of the internal API: MACs and key derivation over the trustlet's own
// bytes, and keys the runtime generates and holds, which never enter the trustlet's memory.

/// MACs and key derivation, computed by the runtime.
public enum Crypto {
    /// HMAC-SHA256 of `data` under `key`.
    public static func hmacSHA256(key: [UInt8], data: [UInt8]) throws(TrustletError) -> [UInt8] {
        var mac = [UInt8](repeating: 0, count: 32)
        let code = withBytes(key) { k, kl in
            withBytes(data) { d, dl in mac.withUnsafeMutableBytes { tz_hmac_sha256(key: k, keyLength: kl, data: d, dataLength: dl, mac: $0.baseAddress) } }
        }
        try TrustletError.check(code)
        return mac
    }

    /// HKDF-SHA256 (RFC 5869): `count` bytes (1 to 8160) from `ikm`, `salt` and `info`.
    public static func hkdfSHA256(ikm: [UInt8], salt: [UInt8], info: [UInt8], count: Int) throws(TrustletError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: count)
        let code = withBytes(ikm) { i, il in
            withBytes(salt) { s, sl in
                withBytes(info) { f, fl in output.withUnsafeMutableBytes { tz_hkdf_sha256(ikm: i, ikmLength: il, salt: s, saltLength: sl, info: f, infoLength: fl, output: $0.baseAddress, outputLength: Int32(count)) } }
            }
        }
        try TrustletError.check(code)
        return output
    }

    /// Compares two byte strings in time that depends only on their lengths.
    public static func equalInConstantTime(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        var index = 0
        while index < a.count {
            difference |= a[index] ^ b[index]
            index += 1
        }
        return difference == 0
    }
}

/// HPKE (RFC 9180, base mode, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM).
public enum HPKE {
    /// Seals `plaintext` to a recipient's public key (65 bytes, SEC1 uncompressed).
    /// - Returns: the encapsulated key (65 bytes) followed by the ciphertext.
    public static func seal(to recipient: [UInt8], _ plaintext: [UInt8], info: [UInt8] = [], aad: [UInt8] = []) throws(TrustletError) -> [UInt8] {
        try withBytes(recipient) { r, rl throws(TrustletError) in
            try withBytes(info) { f, fl throws(TrustletError) in
                try withBytes(aad) { a, al throws(TrustletError) in
                    try withBytes(plaintext) { p, pl throws(TrustletError) in
                        try variableOutput(initial: plaintext.count + 81) { tz_hpke_seal(recipient: r, recipientLength: rl, info: f, infoLength: fl, aad: a, aadLength: al, plaintext: p, plaintextLength: pl,
                                     output: $0, outputCapacity: $1, outputLength: $2) }
                    }
                }
            }
        }
    }
}

/// A key the runtime holds for this trustlet, by the ID the trustlet gave it. Keys live in a
/// namespace of their own, bound to this trustlet and its signer; the private part never leaves
/// the runtime.
public struct RuntimeKey {
    public enum Kind: UInt32 {
        /// P-256 ECDSA with SHA-256 (ES256).
        case signing = 1
        /// P-256 for HPKE: others seal to its public key, the trustlet opens.
        case hpke = 2
        /// AES-256-GCM, for data the trustlet keeps or hands out sealed.
        case aead = 3
    }

    public let id: [UInt8]

    public init(id: [UInt8]) { self.id = id }

    /// Creates a key under a new ID (1 to 64 bytes).
    /// - Returns: the key and its public key (65 bytes; empty for an AEAD key).
    /// - Throws: `accessConflict` if the ID is taken.
    public static func generate(_ kind: Kind, id: [UInt8]) throws(TrustletError) -> (key: RuntimeKey, publicKey: [UInt8]) {
        let publicKey = try withBytes(id) { i, il throws(TrustletError) in
            try variableOutput(initial: 65) { tz_key_generate(kind: kind.rawValue, id: i, idLength: il, publicKey: $0, publicKeyCapacity: $1, publicKeyLength: $2) }
        }
        return (RuntimeKey(id: id), publicKey)
    }

    /// The public key, SEC1 uncompressed (65 bytes); empty for an AEAD key.
    public func publicKey() throws(TrustletError) -> [UInt8] {
        try withBytes(id) { i, il throws(TrustletError) in try variableOutput(initial: 65) { tz_key_public(id: i, idLength: il, publicKey: $0, publicKeyCapacity: $1, publicKeyLength: $2) } }
    }

    /// An ES256 signature, raw r ‖ s (64 bytes).
    public func sign(_ data: [UInt8]) throws(TrustletError) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: 64)
        let code = withBytes(id) { i, il in
            withBytes(data) { d, dl in signature.withUnsafeMutableBytes { tz_key_sign(id: i, idLength: il, data: d, dataLength: dl, signature: $0.baseAddress) } }
        }
        try TrustletError.check(code)
        return signature
    }

    /// AES-256-GCM with a fresh nonce: nonce ‖ ciphertext ‖ tag.
    public func seal(_ plaintext: [UInt8], aad: [UInt8] = []) throws(TrustletError) -> [UInt8] {
        try aead(plaintext, aad: aad, extra: 28, tz_aead_seal)
    }

    /// Opens what `seal` made. Throws `macInvalid` (0xFFFF3071) if it was altered.
    public func open(_ box: [UInt8], aad: [UInt8] = []) throws(TrustletError) -> [UInt8] {
        try aead(box, aad: aad, extra: 0, tz_aead_open)
    }

    /// Opens an HPKE message (encapsulated key ‖ ciphertext) sent to this key.
    public func hpkeOpen(_ message: [UInt8], info: [UInt8] = [], aad: [UInt8] = []) throws(TrustletError) -> [UInt8] {
        try withBytes(id) { i, il throws(TrustletError) in
            try withBytes(info) { f, fl throws(TrustletError) in
                try withBytes(aad) { a, al throws(TrustletError) in
                    try withBytes(message) { m, ml throws(TrustletError) in
                        try variableOutput(initial: message.count) { tz_hpke_open(id: i, idLength: il, info: f, infoLength: fl, aad: a, aadLength: al, message: m, messageLength: ml,
                                     output: $0, outputCapacity: $1, outputLength: $2) }
                    }
                }
            }
        }
    }

    public func delete() throws(TrustletError) {
        try TrustletError.check(withBytes(id) { tz_key_delete(id: $0, idLength: $1) })
    }

    private typealias AEADCall = (UnsafeRawPointer?, Int32, UnsafeRawPointer?, Int32, UnsafeRawPointer?, Int32,
                                  UnsafeMutableRawPointer?, Int32, UnsafeMutablePointer<UInt32>?) -> UInt32

    private func aead(_ input: [UInt8], aad: [UInt8], extra: Int, _ call: AEADCall) throws(TrustletError) -> [UInt8] {
        try withBytes(id) { i, il throws(TrustletError) in
            try withBytes(aad) { a, al throws(TrustletError) in
                try withBytes(input) { p, pl throws(TrustletError) in
                    try variableOutput(initial: input.count + extra) { call(i, il, a, al, p, pl, $0, $1, $2) }
                }
            }
        }
    }
}
