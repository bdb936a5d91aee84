import Crypto
import TrubiZoneCBOR

/// COSE header labels and algorithms this module knows (RFC 9052, RFC 9360).
public enum COSE {
    public enum Label {
        public static let algorithm: Int64 = 1
        public static let critical: Int64 = 2
        public static let contentType: Int64 = 3
        public static let keyID: Int64 = 4
        public static let x5chain: Int64 = 33
    }

    /// ES256: ECDSA on P-256 with SHA-256, the only signature algorithm we accept.
    public static let es256: Int64 = -7
    /// CBOR tag of a COSE_Sign1 message.
    public static let sign1Tag: UInt64 = 18
    /// Labels whose meaning this implementation knows, so a `crit` listing them is honoured.
    static let understood: Set<CBOR> = [.int(Label.algorithm), .int(Label.critical), .int(Label.contentType), .int(Label.keyID), .int(Label.x5chain)]
}

/// Why a COSE_Sign1 message was refused.
public enum COSEError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not CBOR, or CBOR that is not a COSE_Sign1 structure; the detail says what is wrong.
    case malformed(String)
    /// Tagged with something other than 18.
    case wrongTag(UInt64)
    /// No algorithm in the protected header.
    case missingAlgorithm
    /// An algorithm other than ES256.
    case unsupportedAlgorithm(String)
    /// A critical header this implementation does not understand.
    case unknownCriticalHeader(String)
    /// The signature is not 64 bytes (raw r ‖ s for P-256).
    case badSignatureLength(Int)
    /// The signature does not verify with the key.
    case signatureInvalid
    /// The message has no payload (detached) and none was given.
    case detachedPayload

    public var description: String {
        switch self {
        case let .malformed(detail): "COSE_Sign1 malformed: \(detail)"
        case let .wrongTag(tag): "COSE_Sign1 has tag \(tag), not 18"
        case .missingAlgorithm: "COSE_Sign1 has no algorithm in its protected header"
        case let .unsupportedAlgorithm(alg): "COSE_Sign1 uses algorithm \(alg); only ES256 (-7) is accepted"
        case let .unknownCriticalHeader(label): "COSE_Sign1 marks header \(label) critical, which this verifier does not understand"
        case let .badSignatureLength(count): "COSE_Sign1 signature is \(count) bytes; ES256 signatures are 64"
        case .signatureInvalid: "COSE_Sign1 signature does not verify with the key"
        case .detachedPayload: "COSE_Sign1 payload is detached and was not supplied"
        }
    }
}

/// A COSE_Sign1 message (RFC 9052 §4.2) with ES256.
///
/// The protected header is kept as the bytes that were transmitted: the signature covers those
/// bytes, so a verifier must use them as they are. The algorithm must be protected (RFC 9052
/// §3.1: authenticated wherever that is possible), so a downgrade cannot be slipped into the
/// unprotected bucket. Both rules refuse the COSE WG example `sign-pass-01`: it carries the
/// algorithm unprotected, and its signature covers an empty protected bucket while the message
/// carries `h'A0'`; normalising the bucket would mean checking a signature over bytes other than
/// the ones received.
public struct COSESign1: Sendable, Equatable {
    /// The protected header map as transmitted (empty for no protected header).
    public let protectedBytes: [UInt8]
    /// The decoded protected header.
    public let protectedHeader: CBOR
    public let unprotectedHeader: CBOR
    /// `nil` when the payload is detached.
    public let payload: [UInt8]?
    public let signature: [UInt8]

    /// How much a message may ask of the decoder.
    public static let decoder = CBORDecoder(maxDepth: 16, maxItems: 4096, maxBytes: 1 << 20, allowIndefiniteLengths: false)

    // MARK: Signing

    /// Signs `payload` with ES256.
    /// - Parameters:
    ///   - protected: header parameters to protect besides the algorithm (e.g. `x5chain`).
    ///   - unprotected: header parameters left unprotected (e.g. `kid`).
    ///   - externalAAD: data bound into the signature but not carried.
    ///   - sign: signs the Sig_structure bytes, returning a P-256 signature (the key may live in
    ///     the root of trust, out of reach of this code).
    public static func sign(payload: [UInt8], protected: [CBORMapEntry] = [], unprotected: [CBORMapEntry] = [], externalAAD: [UInt8] = [],
                            with sign: ([UInt8]) throws -> P256.Signing.ECDSASignature) rethrows -> COSESign1 {
        let header = CBOR.map([CBORMapEntry(key: .int(COSE.Label.algorithm), value: .int(COSE.es256))] + protected)
        let protectedBytes = header.encoded()
        let toBeSigned = signatureStructure(protectedBytes, externalAAD, payload)
        let signature = Array(try sign(toBeSigned).rawRepresentation)
        return COSESign1(protectedBytes: protectedBytes, protectedHeader: header, unprotectedHeader: .map(unprotected),
                         payload: payload, signature: signature)
    }

    /// Signs with a key at hand.
    public static func sign(payload: [UInt8], key: P256.Signing.PrivateKey, protected: [CBORMapEntry] = [], unprotected: [CBORMapEntry] = [],
                            externalAAD: [UInt8] = []) throws -> COSESign1 {
        try sign(payload: payload, protected: protected, unprotected: unprotected, externalAAD: externalAAD) { try key.signature(for: $0) }
    }

    /// The message: `18([protected, unprotected, payload, signature])`, or untagged.
    public func encoded(tagged: Bool = true) -> [UInt8] {
        let body = CBOR.array([.bytes(protectedBytes), unprotectedHeader, payload.map(CBOR.bytes) ?? .null, .bytes(signature)])
        return (tagged ? CBOR.tagged(COSE.sign1Tag, body) : body).encoded()
    }

    // MARK: Reading

    /// Reads a message, tagged 18 or untagged, and checks its structure and headers (not yet
    /// its signature).
    public init(decoding bytes: [UInt8]) throws(COSEError) {
        let item: CBOR
        do throws(CBORError) {
            item = try Self.decoder.decode(bytes)
        } catch {
            throw .malformed(error.description)
        }
        var body = item
        if case let .tagged(tag, inner) = item {
            guard tag == COSE.sign1Tag else { throw .wrongTag(tag) }
            body = inner
        }
        guard case let .array(parts) = body else { throw .malformed("a COSE_Sign1 is an array of four, not a \(body.typeName)") }
        guard parts.count == 4 else { throw .malformed("a COSE_Sign1 is an array of four, not of \(parts.count)") }
        guard case let .bytes(protectedBytes) = parts[0] else { throw .malformed("the protected header is a \(parts[0].typeName), not a byte string") }
        let protectedHeader: CBOR
        if protectedBytes.isEmpty {
            protectedHeader = .map([CBORMapEntry]())
        } else {
            do throws(CBORError) {
                protectedHeader = try Self.decoder.decode(protectedBytes)
            } catch {
                throw .malformed("the protected header: \(error.description)")
            }
        }
        guard case let .map(protectedEntries) = protectedHeader else { throw .malformed("the protected header is not a map") }
        guard case let .map(unprotectedEntries) = parts[1] else { throw .malformed("the unprotected header is a \(parts[1].typeName), not a map") }
        let payload: [UInt8]?
        switch parts[2] {
        case let .bytes(value): payload = value
        case .null: payload = nil
        default: throw .malformed("the payload is a \(parts[2].typeName), not a byte string or nil")
        }
        guard case let .bytes(signature) = parts[3] else { throw .malformed("the signature is a \(parts[3].typeName), not a byte string") }

        // Header rules (RFC 9052 §3): labels are integers or text, none in both buckets, the
        // algorithm and the critical list protected, every critical label understood.
        var seen = Set<CBOR>()
        for entry in protectedEntries + unprotectedEntries {
            switch entry.key {
            case .unsigned, .negative, .text: break
            default: throw .malformed("a header label is a \(entry.key.typeName)")
            }
            guard seen.insert(entry.key).inserted else { throw .malformed("header \(entry.key) appears in both buckets") }
        }
        if unprotectedEntries.contains(where: { $0.key == .int(COSE.Label.algorithm) || $0.key == .int(COSE.Label.critical) }) {
            throw .malformed("the algorithm and the critical list must be protected")
        }
        for entry in protectedEntries + unprotectedEntries where entry.key == .int(COSE.Label.keyID) {
            guard case .bytes = entry.value else { throw .malformed("the key ID (kid) is a \(entry.value.typeName), not a byte string") }
        }
        guard let algorithm = protectedHeader[COSE.Label.algorithm] else { throw .missingAlgorithm }
        guard algorithm == .int(COSE.es256) else { throw .unsupportedAlgorithm("\(algorithm)") }
        if let critical = protectedHeader[COSE.Label.critical] {
            guard case let .array(labels) = critical, !labels.isEmpty else { throw .malformed("crit is not a non-empty array of labels") }
            for label in labels where !COSE.understood.contains(label) {
                throw .unknownCriticalHeader("\(label)")
            }
        }
        guard signature.count == 64 else { throw .badSignatureLength(signature.count) }
        self.init(protectedBytes: protectedBytes, protectedHeader: protectedHeader, unprotectedHeader: parts[1], payload: payload,
                  signature: signature)
    }

    private init(protectedBytes: [UInt8], protectedHeader: CBOR, unprotectedHeader: CBOR, payload: [UInt8]?, signature: [UInt8]) {
        self.protectedBytes = protectedBytes
        self.protectedHeader = protectedHeader
        self.unprotectedHeader = unprotectedHeader
        self.payload = payload
        self.signature = signature
    }

    /// Checks the signature.
    /// - Parameters:
    ///   - key: the signer's P-256 public key.
    ///   - externalAAD: the data the signer bound in.
    ///   - detachedPayload: the payload, when the message does not carry it.
    public func verify(with key: P256.Signing.PublicKey, externalAAD: [UInt8] = [], detachedPayload: [UInt8]? = nil) throws(COSEError) {
        guard let content = payload ?? detachedPayload else { throw .detachedPayload }
        guard let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signature),
              key.isValidSignature(parsed, for: Self.signatureStructure(protectedBytes, externalAAD, content))
        else { throw .signatureInvalid }
    }

    /// A header parameter, protected or not.
    public func header(_ label: Int64) -> CBOR? {
        protectedHeader[label] ?? unprotectedHeader[label]
    }

    /// The key ID (`kid`, label 4), if any.
    public var keyID: [UInt8]? { header(COSE.Label.keyID)?.bytes }

    /// The certificate chain in `x5chain` (label 33), leaf first: one certificate as a byte string,
    /// several as an array of them (RFC 9360).
    public var x5chain: [[UInt8]]? {
        switch header(COSE.Label.x5chain) {
        case let .bytes(certificate)?: [certificate]
        case let .array(items)?:
            items.allSatisfy { $0.bytes != nil } && !items.isEmpty ? items.compactMap(\.bytes) : nil
        default: nil
        }
    }

    /// `Sig_structure` for COSE_Sign1: `["Signature1", protected, external_aad, payload]`.
    static func signatureStructure(_ protectedBytes: [UInt8], _ externalAAD: [UInt8], _ payload: [UInt8]) -> [UInt8] {
        CBOR.array([.text("Signature1"), .bytes(protectedBytes), .bytes(externalAAD), .bytes(payload)]).encoded()
    }
}
