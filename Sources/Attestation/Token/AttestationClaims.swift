import TrubiZoneCBOR

/// The claims of a TrubiZone attestation token: an EAT (RFC 9711) CWT with the PSA profile claims
/// (RFC 9783) where they apply, and the attested trustlet's keys in `cnf` (RFC 8747).
public struct AttestationClaims: Equatable, Sendable {
    /// CWT/EAT/PSA claim keys.
    public enum Key {
        public static let issuedAt: Int64 = 6
        public static let confirmation: Int64 = 8
        public static let nonce: Int64 = 10
        public static let instanceID: Int64 = 256
        public static let profile: Int64 = 265
        public static let bootSeed: Int64 = 268
        public static let clientID: Int64 = 2394
        public static let securityLifecycle: Int64 = 2395
        public static let implementationID: Int64 = 2396
        public static let legacyBootSeed: Int64 = 2397
        public static let softwareComponents: Int64 = 2399
    }

    /// The profile TrubiZone tokens carry: RFC 9783's baseline PSA profile, which independent PSA
    /// verifiers know. What TrubiZone adds (`iat`, `cnf`, a trustlet as the second software
    /// component) are claims the profile lets a receiver ignore (RFC 9783 §5.1.3, RFC 9711).
    public static let psaProfile = "tag:psacertified.org,2023:psa#tfm"
    /// The profile of TrubiZone's first tokens, which named their own.
    public static let firstTrubizoneProfile = "tag:trubizone.dev,2026:psa-trustlet#1"
    /// Profiles whose claims this type reads (RFC 9783's, its drafts' and TrubiZone's first).
    public static let knownProfiles = [psaProfile, firstTrubizoneProfile, "http://arm.com/psa/2.0.0", "PSA_IOT_PROFILE_1"]
    /// The boot seed TrubiZone makes (RFC 9783 allows 8 to 32 bytes; PSA 2.0.0 tools want 32).
    public static let bootSeedSize = 32
    /// PSA security lifecycle "secured" (0x3000–0x30FF).
    public static let secured: UInt64 = 0x3000

    public var nonce: [UInt8]
    /// UEID: 0x01 ‖ SHA-256 of the attestation public key.
    public var instanceID: [UInt8]
    public var profile: String
    /// PSA client ID: positive for a secure-world caller (a trustlet), negative for a normal-world one.
    public var clientID: Int64
    public var securityLifecycle: UInt64
    /// Identifies the root-of-trust implementation (here: the runtime build).
    public var implementationID: [UInt8]
    public var softwareComponents: [SoftwareComponent]
    /// Seconds since 1970 by the secure world's clock, when the token was made.
    public var issuedAt: Int64?
    public var bootSeed: [UInt8]?
    /// Keys the token binds to the attested software (`cnf`).
    public var boundKeys: [BoundKey]

    public init(nonce: [UInt8], instanceID: [UInt8], profile: String = psaProfile, clientID: Int64, securityLifecycle: UInt64 = secured,
                implementationID: [UInt8], softwareComponents: [SoftwareComponent], issuedAt: Int64? = nil, bootSeed: [UInt8]? = nil,
                boundKeys: [BoundKey] = []) {
        self.nonce = nonce
        self.instanceID = instanceID
        self.profile = profile
        self.clientID = clientID
        self.securityLifecycle = securityLifecycle
        self.implementationID = implementationID
        self.softwareComponents = softwareComponents
        self.issuedAt = issuedAt
        self.bootSeed = bootSeed
        self.boundKeys = boundKeys
    }

    /// The claims set as CBOR.
    public var cbor: CBOR {
        var entries: [CBORMapEntry] = [
            CBORMapEntry(key: .int(Key.nonce), value: .bytes(nonce)),
            CBORMapEntry(key: .int(Key.instanceID), value: .bytes(instanceID)),
            CBORMapEntry(key: .int(Key.profile), value: .text(profile)),
            CBORMapEntry(key: .int(Key.clientID), value: .int(clientID)),
            CBORMapEntry(key: .int(Key.securityLifecycle), value: .unsigned(securityLifecycle)),
            CBORMapEntry(key: .int(Key.implementationID), value: .bytes(implementationID)),
            CBORMapEntry(key: .int(Key.softwareComponents), value: .array(softwareComponents.map(\.cbor))),
        ]
        if let issuedAt { entries.append(CBORMapEntry(key: .int(Key.issuedAt), value: .int(issuedAt))) }
        if let bootSeed {
            entries.append(CBORMapEntry(key: .int(Key.bootSeed), value: .bytes(bootSeed)))
            // PSA 2.0.0's key too, which TF-M's tools still require (at 32 bytes); the same bytes.
            if bootSeed.count == Self.bootSeedSize { entries.append(CBORMapEntry(key: .int(Key.legacyBootSeed), value: .bytes(bootSeed))) }
        }
        if !boundKeys.isEmpty { entries.append(CBORMapEntry(key: .int(Key.confirmation), value: BoundKey.confirmation(boundKeys))) }
        return .map(entries)
    }

    /// Reads a claims set, checking each claim's type and size as RFC 9783 defines them.
    /// - Throws: `TokenError.claims` naming the claim and what is wrong with it.
    public init(_ claims: CBOR) throws(TokenError) {
        guard case .map = claims else { throw .claims("the claims set is a \(claims.typeName), not a map") }
        let claims = try Self.modernKeys(claims)
        func bytes(_ key: Int64, _ name: String, sizes: Set<Int>? = nil) throws(TokenError) -> [UInt8] {
            guard let value = claims[key] else { throw .claims("\(name) (\(key)) is missing") }
            guard case let .bytes(bytes) = value else { throw .claims("\(name) (\(key)) is a \(value.typeName), not a byte string") }
            if let sizes, !sizes.contains(bytes.count) {
                let sorted = sizes.sorted()
                let allowed = sorted.count > 3 && sorted.last! - sorted.first! == sorted.count - 1
                    ? "\(sorted.first!) to \(sorted.last!)" : sorted.map(String.init).joined(separator: " or ")
                throw .claims("\(name) (\(key)) is \(bytes.count) bytes, not \(allowed)")
            }
            return bytes
        }
        nonce = try bytes(Key.nonce, "the nonce", sizes: [32, 48, 64])
        instanceID = try bytes(Key.instanceID, "the instance ID", sizes: [33])
        guard instanceID.first == 0x01 else { throw .claims("the instance ID (256) is not a RAND UEID (first byte 0x01)") }
        implementationID = try bytes(Key.implementationID, "the implementation ID", sizes: [32])
        guard case let .text(profile)? = claims[Key.profile] else { throw .claims("the profile (265) is missing or not text") }
        self.profile = profile
        guard let client = claims[Key.clientID]?.int, client != 0, client >= Int64(Int32.min), client <= Int64(Int32.max) else {
            throw .claims("the client ID (2394) is missing or not a non-zero 32-bit integer")
        }
        clientID = client
        guard case let .unsigned(lifecycle)? = claims[Key.securityLifecycle], lifecycle <= 0xFFFF else {
            throw .claims("the security lifecycle (2395) is missing or not a 16-bit unsigned integer")
        }
        securityLifecycle = lifecycle
        guard case let .array(components)? = claims[Key.softwareComponents], !components.isEmpty else {
            throw .claims("the software components (2399) are missing or empty")
        }
        var read: [SoftwareComponent] = []
        for (index, component) in components.enumerated() { read.append(try SoftwareComponent(component, index: index)) }
        softwareComponents = read
        if let issued = claims[Key.issuedAt] {
            guard let seconds = issued.int else { throw .claims("issued-at (6) is not an integer") }
            issuedAt = seconds
        } else {
            issuedAt = nil
        }
        bootSeed = claims[Key.bootSeed] == nil ? nil : try bytes(Key.bootSeed, "the boot seed", sizes: Set(8...32))
        boundKeys = try claims[Key.confirmation].map { (value) throws(TokenError) in try BoundKey.keys(inConfirmation: value) } ?? []
    }

    /// Claims of the legacy `PSA_IOT_PROFILE_1` and of PSA 2.0.0's boot seed, under their
    /// current keys.
    private static func modernKeys(_ claims: CBOR) throws(TokenError) -> CBOR {
        guard case let .map(entries) = claims else { return claims }
        // A token may carry the boot seed under both keys, as TrubiZone's do: then they must agree,
        // and the modern one is read.
        if let modern = claims[Key.bootSeed], let legacy = claims[Key.legacyBootSeed] {
            guard modern == legacy else { throw .claims("the boot seed (268) and PSA 2.0.0's boot seed (2397) differ") }
            return try modernKeys(.map(entries.filter { $0.key != .int(Key.legacyBootSeed) }))
        }
        let legacy: [Int64: Int64] = [-75000: Key.profile, -75001: Key.clientID, -75002: Key.securityLifecycle, -75003: Key.implementationID,
                                      -75004: Key.bootSeed, -75006: Key.softwareComponents, -75008: Key.nonce, -75009: Key.instanceID,
                                      Key.legacyBootSeed: Key.bootSeed]
        return .map(entries.map { entry in
            guard let key = entry.key.int, let modern = legacy[key] else { return entry }
            return CBORMapEntry(key: .int(modern), value: entry.value)
        })
    }
}

/// One measured software component (RFC 9783 §4.4.1).
public struct SoftwareComponent: Equatable, Sendable {
    /// Its role, e.g. "runtime" or "trustlet:vault".
    public var measurementType: String?
    public var measurementValue: [UInt8]
    public var version: String?
    public var signerID: [UInt8]
    /// The hash algorithm of the measurement, e.g. "sha-256".
    public var measurementDescription: String?

    public init(measurementType: String?, measurementValue: [UInt8], version: String?, signerID: [UInt8], measurementDescription: String? = "sha-256") {
        self.measurementType = measurementType
        self.measurementValue = measurementValue
        self.version = version
        self.signerID = signerID
        self.measurementDescription = measurementDescription
    }

    var cbor: CBOR {
        var entries = [CBORMapEntry(key: .int(2), value: .bytes(measurementValue)), CBORMapEntry(key: .int(5), value: .bytes(signerID))]
        if let measurementType { entries.append(CBORMapEntry(key: .int(1), value: .text(measurementType))) }
        if let version { entries.append(CBORMapEntry(key: .int(4), value: .text(version))) }
        if let measurementDescription { entries.append(CBORMapEntry(key: .int(6), value: .text(measurementDescription))) }
        return .map(entries)
    }

    init(_ item: CBOR, index: Int) throws(TokenError) {
        let name = "software component \(index)"
        guard case .map = item else { throw .claims("\(name) is a \(item.typeName), not a map") }
        guard case let .bytes(value)? = item[2], [32, 48, 64].contains(value.count) else {
            throw .claims("\(name) has no 32, 48 or 64-byte measurement value (2)")
        }
        guard case let .bytes(signer)? = item[5], [32, 48, 64].contains(signer.count) else {
            throw .claims("\(name) has no 32, 48 or 64-byte signer ID (5)")
        }
        func text(_ key: Int64) throws(TokenError) -> String? {
            guard let value = item[key] else { return nil }
            guard case let .text(text) = value else { throw .claims("\(name) has a \(value.typeName) at \(key), not text") }
            return text
        }
        self.init(measurementType: try text(1), measurementValue: value, version: try text(4), signerID: signer,
                  measurementDescription: try text(6))
    }
}

/// A public key the token binds to the attested software, by what it is for.
public struct BoundKey: Equatable, Sendable {
    public enum Use: String, Sendable {
        /// Verifies the trustlet's ES256 signatures.
        case signing
        /// Receives HPKE messages for the trustlet.
        case hpke
    }

    public var use: Use
    /// SEC1 uncompressed P-256 point (65 bytes).
    public var publicKey: [UInt8]

    public init(use: Use, publicKey: [UInt8]) {
        self.use = use
        self.publicKey = publicKey
    }

    /// Private-use confirmation method (RFC 8747 §7.2: below -65536) holding further keys; method
    /// 1 (`COSE_Key`) holds the first.
    public static let moreKeysMethod: Int64 = -65537

    /// `cnf`: the first key as COSE_Key (method 1), any others as an array of COSE_Keys under
    /// `moreKeysMethod`, each with its use as `kid`.
    static func confirmation(_ keys: [BoundKey]) -> CBOR {
        var entries = [CBORMapEntry(key: .int(1), value: keys[0].coseKey)]
        if keys.count > 1 { entries.append(CBORMapEntry(key: .int(moreKeysMethod), value: .array(keys.dropFirst().map(\.coseKey)))) }
        return .map(entries)
    }

    /// COSE_Key (RFC 9053 §7.1.1): EC2, P-256, x, y; `kid` the use; ES256 for signing keys.
    var coseKey: CBOR {
        var entries: [CBORMapEntry] = [
            CBORMapEntry(key: .int(1), value: .int(2)), CBORMapEntry(key: .int(2), value: .bytes(Array(use.rawValue.utf8))),
            CBORMapEntry(key: .int(-1), value: .int(1)),
            CBORMapEntry(key: .int(-2), value: .bytes(Array(publicKey.dropFirst().prefix(32)))),
            CBORMapEntry(key: .int(-3), value: .bytes(Array(publicKey.suffix(32)))),
        ]
        if use == .signing { entries.append(CBORMapEntry(key: .int(3), value: .int(-7))) }
        return .map(entries)
    }

    static func keys(inConfirmation cnf: CBOR) throws(TokenError) -> [BoundKey] {
        guard case .map = cnf, let first = cnf[1] else { throw .claims("cnf (8) has no COSE_Key (method 1)") }
        var items = [first]
        if let more = cnf[moreKeysMethod] {
            guard case let .array(rest) = more else { throw .claims("cnf method \(moreKeysMethod) is not an array of COSE_Keys") }
            items += rest
        }
        var keys: [BoundKey] = []
        for item in items {
            guard item[1] == .int(2), item[-1] == .int(1), case let .bytes(x)? = item[-2], case let .bytes(y)? = item[-3], x.count == 32, y.count == 32 else {
                throw .claims("a key in cnf (8) is not an EC2 P-256 COSE_Key with 32-byte coordinates")
            }
            guard case let .bytes(kid)? = item[2], let use = Use(rawValue: String(decoding: kid, as: UTF8.self)) else {
                throw .claims("a key in cnf (8) has no kid naming its use (signing or hpke)")
            }
            keys.append(BoundKey(use: use, publicKey: [0x04] + x + y))
        }
        return keys
    }
}

/// Why a token was refused.
public enum TokenError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The COSE layer refused it.
    case cose(String)
    /// The claims are missing, of the wrong type or size.
    case claims(String)
    /// The token names a profile this reader does not know.
    case unknownProfile(String)

    public var description: String {
        switch self {
        case let .cose(detail): detail
        case let .claims(detail): "attestation claims: \(detail)"
        case let .unknownProfile(profile): "attestation claims: unknown profile \(profile)"
        }
    }
}
