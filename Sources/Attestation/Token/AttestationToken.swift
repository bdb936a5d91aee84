import Crypto
import TrubiZoneCBOR
import TrubiZoneCOSE

/// A signed attestation token: a COSE_Sign1 (ES256) over the claims, the device certificate chain
/// in `x5chain`.
public struct AttestationToken: Sendable {
    public let message: COSESign1
    public let claims: AttestationClaims

    /// Signs claims with the device attestation key.
    /// - Parameters:
    ///   - keyID: the protected `kid`: SHA-256 of the attestation public key (SEC1 uncompressed),
    ///     which is the instance ID without its type byte (`keyID(instanceID:)`).
    ///   - certificateChain: DER certificates, the device's first (the root is left out).
    ///   - sign: signs with the attestation key, which stays in the root of trust.
    public static func issue(_ claims: AttestationClaims, keyID: [UInt8]?, certificateChain: [[UInt8]],
                             sign: ([UInt8]) throws -> P256.Signing.ECDSASignature) rethrows -> [UInt8] {
        let chain: CBOR = certificateChain.count == 1 ? .bytes(certificateChain[0]) : .array(certificateChain.map(CBOR.bytes))
        var protected: [CBORMapEntry] = []
        if let keyID { protected.append(CBORMapEntry(key: .int(COSE.Label.keyID), value: .bytes(keyID))) }
        if !certificateChain.isEmpty { protected.append(CBORMapEntry(key: .int(COSE.Label.x5chain), value: chain)) }
        return try COSESign1.sign(payload: claims.cbor.encoded(), protected: protected, with: sign).encoded()
    }

    /// The `kid` of a device's tokens: its instance ID (`0x01 ‖ SHA-256(attestation key)`) without the type byte.
    public static func keyID(instanceID: [UInt8]) -> [UInt8] { Array(instanceID.dropFirst()) }

    /// Reads a token and its claims; the signature is not checked here (the verifier does, with
    /// the key from a chain it trusts).
    public init(_ bytes: [UInt8]) throws(TokenError) {
        do throws(COSEError) {
            message = try COSESign1(decoding: bytes)
        } catch {
            throw .cose(error.description)
        }
        guard let payload = message.payload else { throw .cose(COSEError.detachedPayload.description) }
        let item: CBOR
        do throws(CBORError) {
            item = try COSESign1.decoder.decode(payload)
        } catch {
            throw .claims(error.description)
        }
        claims = try AttestationClaims(item)
        guard AttestationClaims.knownProfiles.contains(claims.profile) else { throw .unknownProfile(claims.profile) }
    }
}
