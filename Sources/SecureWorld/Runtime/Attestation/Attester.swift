import Crypto
import TrubiZoneEAT
import TrubiZoneProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Issues attestation tokens: what the secure world vouches for, signed with the device
/// attestation key, which never leaves the root of trust.
///
/// A token names two software components: the runtime (its executable's SHA-256, so a verifier
/// can pin the exact build) and the caller — a wasm trustlet (its measurement, signer ID, version
/// and name) or a built-in trustlet. Keys the runtime holds for the caller can be bound in `cnf`.
public struct Attester: Sendable {
    /// The runtime's version, in tokens and diagnostics.
    public static let runtimeVersion = "0.4.0"
    /// Nonce sizes a verifier may send (PSA: 32, 48 or 64 bytes).
    public static let nonceSizes: Set<Int> = [32, 48, 64]

    /// The runtime as a measured component: the root of trust's measurement of the runtime build
    /// (the implementation ID, PSA 2396), with its version.
    public var runtimeComponent: SoftwareComponent {
        SoftwareComponent(measurementType: "runtime", measurementValue: implementationID, version: Self.runtimeVersion, signerID: BuiltInSigner.id)
    }

    /// The signer ID of trustlets built into the runtime, such as the keystore.
    public static var builtInSignerID: [UInt8] { BuiltInSigner.id }

    let rootOfTrust: any RootOfTrust
    /// Random bytes made once per boot of the secure world (RFC 9783 §4.2.3), in each token.
    let bootSeed: [UInt8]
    /// The runtime's measurement, read from the root of trust once per boot: the implementation
    /// ID and the runtime component of every token of this boot are the same bytes.
    let implementationID: [UInt8]

    init(rootOfTrust: any RootOfTrust, bootSeed: [UInt8]) {
        self.rootOfTrust = rootOfTrust
        self.bootSeed = bootSeed
        implementationID = rootOfTrust.runtimeMeasurement
    }

    /// Makes a token.
    /// - Parameters:
    ///   - nonce: the verifier's challenge (32, 48 or 64 bytes).
    ///   - caller: the component asking (a trustlet).
    ///   - clientID: PSA client ID: 1…2³¹−1 for a secure-world caller, −2³¹…−1 for a normal-world one.
    ///   - boundKeys: runtime-held public keys to bind to the caller.
    func issue(nonce: [UInt8], caller: SoftwareComponent, clientID: Int64, boundKeys: [BoundKey]) throws(TrustletError) -> [UInt8] {
        guard Self.nonceSizes.contains(nonce.count) else {
            throw TrustletError(.badParameters, "a nonce is 32, 48 or 64 bytes, not \(nonce.count)")
        }
        guard implementationID.count == 32 else { throw TrustletError(.generic, "the runtime's build could not be measured, so it cannot attest") }
        guard bootSeed.count == AttestationClaims.bootSeedSize else { throw TrustletError(.generic, "the boot seed could not be made, so the runtime cannot attest") }
        guard clientID != 0, clientID >= Int64(Int32.min), clientID <= Int64(Int32.max) else {
            throw TrustletError(.badParameters, "a PSA client ID is a non-zero 32-bit integer")
        }
        let claims = AttestationClaims(
            nonce: nonce, instanceID: rootOfTrust.deviceID.bytes, clientID: clientID, implementationID: implementationID,
            softwareComponents: [runtimeComponent, caller], issuedAt: rootOfTrust.clock.wallClockSeconds(), bootSeed: bootSeed, boundKeys: boundKeys)
        do {
            return try AttestationToken.issue(claims, keyID: AttestationToken.keyID(instanceID: rootOfTrust.deviceID.bytes),
                                              certificateChain: Array(rootOfTrust.certificateChain.prefix(1))) {
                try rootOfTrust.signWithAttestationKey($0)
            }
        } catch {
            throw TrustletError(.generic, "the attestation key could not sign")
        }
    }

    /// A stable positive PSA client ID for a trustlet, from its UUID.
    static func clientID(for uuid: TrustletUUID) -> Int64 {
        let prefix: UInt32 = uuid.bytes.prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
        return 1 + Int64(prefix % 0x7FFF_FFFE)
    }

    /// A negative PSA client ID for a normal-world client (RFC 9783 §4.2.1: −2³¹…−1): −2 − uid
    /// for a user login, so no user shares −1 with the logins that name nobody; nil for a uid
    /// beyond the range, which must not fold into another caller's ID.
    static func clientID(for client: ClientIdentity) -> Int64? {
        guard client.login == .user else { return -1 }
        guard client.uid <= 0x7FFF_FFFE else { return nil }
        return -2 - Int64(client.uid)
    }
}
