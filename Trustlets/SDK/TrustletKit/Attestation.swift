// The attestation group of the internal API: a token, signed by the device's attestation key,
// naming the runtime and this trustlet (measurement, signer, version) and binding runtime-held
// keys of this trustlet, for a verifier that sent a nonce.

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
                    try variableOutput(initial: 2048) { tz_attest(nonce: n, nonceLength: nl, signingKey: s, signingKeyLength: sl, hpkeKey: h, hpkeKeyLength: hl,
                                                                token: $0, tokenCapacity: $1, tokenLength: $2) }
                }
            }
        }
    }
}
