import Crypto

/// What the hardware gives the secure world: a unique key that never leaves it, the device
/// attestation key and its certificate chain, replay-protected counters, randomness and a clock.
///
/// The emulated implementation keeps these in a secure state directory; a QEMU or OP-TEE backend
/// would keep them in fuses and RPMB. Nothing here ever returns the unique key itself: callers get
/// keys derived from it for a labelled purpose.
public protocol RootOfTrust: Sendable {
    /// The device's identity: the UEID, `0x01 ‖ SHA-256(attestation public key)`.
    var deviceID: DeviceID { get }
    /// The public half of the device attestation key.
    var attestationPublicKey: P256.Signing.PublicKey { get }
    /// The device certificate chain in DER, device certificate first, manufacturer CA last.
    var certificateChain: [[UInt8]] { get }
    /// The replay-protected monotonic counters.
    var counters: any MonotonicCounterStore { get }

    /// Derives a key from the hardware unique key for one labelled purpose (HKDF-SHA256).
    func deriveKey(_ purpose: KeyPurpose) -> SymmetricKey
    /// Signs with the device attestation key. Only attestation evidence is ever signed with it.
    func signWithAttestationKey(_ message: [UInt8]) throws -> P256.Signing.ECDSASignature
    /// Fresh random bytes from the secure world's source.
    func randomBytes(_ count: Int) -> [UInt8]
    /// The secure world's clock.
    var clock: any SecureClock { get }
    /// The measurement of the secure-world software the device booted (SHA-256): the attested
    /// implementation ID, the same for the whole boot (the runtime reads it once). Empty when it
    /// could not be measured; then no token is issued.
    var runtimeMeasurement: [UInt8] { get }
}

/// The device's universal entity ID.
public struct DeviceID: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// Derives the UEID (type RAND, 0x01) from the attestation public key.
    public init(attestationKey: P256.Signing.PublicKey) {
        bytes = [0x01] + Array(SHA256.hash(data: attestationKey.x963Representation))
    }

    public var description: String { hex }
    public var hex: String {
        bytes.map { byte in
            let s = String(byte, radix: 16)
            return byte < 16 ? "0" + s : s
        }.joined()
    }
}
