// The attestation group of the internal API: a token, signed by the device's attestation key,
// naming the runtime and this trustlet (measurement, signer, version) and binding runtime-held
// keys of this trustlet, for a verifier that sent a nonce.

@_extern(wasm, module: "tz", name: "attest") @_extern(c)
func tz_attest(_ nonce: UnsafeRawPointer?, _ nonceLength: Int32, _ signingKey: UnsafeRawPointer?, _ signingKeyLength: Int32,
               _ hpkeKey: UnsafeRawPointer?, _ hpkeKeyLength: Int32,
               _ token: UnsafeMutableRawPointer?, _ capacity: Int32, _ length: UnsafeMutablePointer<UInt32>?) -> UInt32

public enum Attestation {
    /// An attestation token (EAT with PSA claims, COSE_Sign1 ES256, the device certificate in
    /// `x5chain`).
    /// - Parameters:
    ///   - nonce: the verifier's challenge: 32, 48 or 64 bytes.
    ///   - signingKey: a signing key of this trustlet to bind, if any.
    ///   - hpkeKey: an HPKE key of this trustlet to bind, if any.
    public static func token(nonce: [UInt8], signingKey: RuntimeKey? = nil, hpkeKey: RuntimeKey? = nil) throws(TrustletError) -> [UInt8] {
        try withBytes(nonce) { n, nl throws(TrustletError) in
            try withBytes(signingKey?.id ?? []) { s, sl throws(TrustletError) in
                try withBytes(hpkeKey?.id ?? []) { h, hl throws(TrustletError) in
                    try variableOutput(initial: 2048) { tz_attest(n, nl, s, sl, h, hl, $0, $1, $2) }
                }
            }
        }
    }
}
