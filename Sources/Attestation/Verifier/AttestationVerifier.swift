import Crypto
import Foundation
import TrubiZoneCOSE
import TrubiZoneEAT
import X509

/// The values a verifier accepts, as data (hex strings in JSON): which trustlet builds, each with
/// the signer it must carry, and which runtime implementations and builds.
public struct ReferenceValues: Codable, Sendable, Equatable {
    /// One accepted trustlet: a build and the developer key that must have signed it. A component
    /// matches only both together, so a list of several trustlets never accepts one's build under
    /// another's signer.
    public struct Trustlet: Codable, Sendable, Equatable, Hashable {
        /// SHA-256 of the wasm module.
        public var measurement: String
        /// SHA-256 of the developer key that signed it.
        public var signer: String

        public init(measurement: String, signer: String) {
            (self.measurement, self.signer) = (measurement.lowercased(), signer.lowercased())
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(measurement: try container.decode(String.self, forKey: .measurement), signer: try container.decode(String.self, forKey: .signer))
        }
    }

    /// The accepted trustlets, each a (measurement, signer) pair.
    public var trustlets: [Trustlet]
    /// Accepted PSA implementation IDs: the runtime builds (SHA-256 of the executable).
    public var runtimeImplementationIDs: [String]
    /// Accepted measurements of the runtime component, when they differ from the implementation
    /// IDs (a runtime from elsewhere); empty means the runtime component must be the build the
    /// implementation ID names.
    public var runtimeMeasurements: [String]

    public init(trustlets: [Trustlet] = [], runtimeImplementationIDs: [String] = [], runtimeMeasurements: [String] = []) {
        self.trustlets = trustlets
        self.runtimeImplementationIDs = runtimeImplementationIDs
        self.runtimeMeasurements = runtimeMeasurements
    }

    enum CodingKeys: String, CodingKey {
        case trustlets, runtimeImplementationIDs, runtimeMeasurements
        /// The first format's separate lists, which let one trustlet's build pass with another's signer.
        case trustletMeasurements, trustletSigners
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if container.contains(.trustletMeasurements) || container.contains(.trustletSigners) {
            throw DecodingError.dataCorruptedError(forKey: .trustletMeasurements, in: container, debugDescription:
                "separate trustletMeasurements and trustletSigners lists are no longer accepted (they let one trustlet's build pass under another's signer); "
                + "list each trustlet as {\"measurement\", \"signer\"} under \"trustlets\", as `trubizone attest reference` prints them")
        }
        func list(_ key: CodingKeys) throws -> [String] { try container.decodeIfPresent([String].self, forKey: key)?.map { $0.lowercased() } ?? [] }
        self.init(trustlets: try container.decodeIfPresent([Trustlet].self, forKey: .trustlets) ?? [],
                  runtimeImplementationIDs: try list(.runtimeImplementationIDs), runtimeMeasurements: try list(.runtimeMeasurements))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(trustlets, forKey: .trustlets)
        try container.encode(runtimeImplementationIDs, forKey: .runtimeImplementationIDs)
        try container.encode(runtimeMeasurements, forKey: .runtimeMeasurements)
    }
}

/// Everything an appraisal depends on, as values: no global state, no defaults that trust.
public struct AttestationPolicy: Sendable {
    /// Manufacturer root certificates; a device chain must end at one of them.
    public var trustedRoots: [Certificate]
    public var reference: ReferenceValues
    /// The nonce this verifier sent.
    public var expectedNonce: [UInt8]
    /// Accepted PSA security lifecycle states (default: secured, 0x3000–0x30FF).
    public var acceptedLifecycles: [ClosedRange<UInt64>]
    /// The verifier's clock.
    public var now: Date
    /// How old a token may be, by its issued-at claim.
    public var maxAge: TimeInterval

    public init(trustedRoots: [Certificate], reference: ReferenceValues, expectedNonce: [UInt8],
                acceptedLifecycles: [ClosedRange<UInt64>] = [0x3000...0x30FF], now: Date = Date(), maxAge: TimeInterval = 300) {
        self.trustedRoots = trustedRoots
        self.reference = reference
        self.expectedNonce = expectedNonce
        self.acceptedLifecycles = acceptedLifecycles
        self.now = now
        self.maxAge = maxAge
    }
}

/// The outcome of an appraisal, in the spirit of EAR (draft-ietf-rats-ear): an overall status
/// and a reason for every check.
public struct Appraisal: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable, Comparable {
        case affirming, warning, contraindicated

        public static func < (a: Status, b: Status) -> Bool { a.rank < b.rank }
        private var rank: Int { self == .affirming ? 0 : self == .warning ? 1 : 2 }
    }

    public struct Check: Sendable, Codable, Equatable {
        public let name: String
        public let status: Status
        public let reason: String
    }

    /// The worst status of any check.
    public var status: Status { checks.map(\.status).max() ?? .contraindicated }
    public var checks: [Check]
    /// The keys the token binds to the attested trustlet (meaningful only when affirming).
    public var boundKeys: [BoundKeyDescription]

    /// The failing checks' reasons, for a one-line message.
    public var problems: [String] { checks.filter { $0.status != .affirming }.map { "\($0.name): \($0.reason)" } }

    public struct BoundKeyDescription: Sendable, Codable, Equatable {
        public let use: String
        /// SEC1 uncompressed, hex.
        public let publicKey: String
    }
}

/// Appraises TrubiZone attestation tokens against a policy.
public struct AttestationVerifier: Sendable {
    public let policy: AttestationPolicy

    public init(policy: AttestationPolicy) {
        self.policy = policy
    }

    /// Checks a token: chain, signature, device binding, nonce, freshness, lifecycle, every
    /// software component against the reference values, and the bound keys.
    public func appraise(_ bytes: [UInt8]) async -> Appraisal {
        var checks: [Appraisal.Check] = []
        func record(_ name: String, _ status: Appraisal.Status, _ reason: String) {
            checks.append(Appraisal.Check(name: name, status: status, reason: reason))
        }
        let token: AttestationToken
        do throws(TokenError) {
            token = try AttestationToken(bytes)
            record("format", .affirming, "a COSE_Sign1 (ES256) EAT with the \(token.claims.profile) profile")
        } catch {
            record("format", .contraindicated, error.description)
            return Appraisal(checks: checks, boundKeys: [])
        }
        let claims = token.claims

        // Chain: the device certificate, through any intermediates, to a trusted root.
        var deviceKey: P256.Signing.PublicKey? = nil
        if let chain = token.message.x5chain, let leafBytes = chain.first {
            do {
                let leaf = try Certificate(derEncoded: leafBytes)
                let intermediates = try chain.dropFirst().map { try Certificate(derEncoded: $0) }
                var verifier = Verifier(rootCertificates: CertificateStore(policy.trustedRoots)) {
                    RFC5280Policy(validationTime: policy.now)
                }
                switch await verifier.validate(leaf: leaf, intermediates: CertificateStore(intermediates)) {
                case .validCertificate:
                    record("chain", .affirming, "the device certificate chains to a trusted manufacturer root")
                case let .couldNotValidate(failures):
                    record("chain", .contraindicated, "the device certificate does not chain to a trusted root"
                        + (failures.isEmpty ? "" : " (\(failures.count) candidate path\(failures.count == 1 ? "" : "s") failed)"))
                }
                deviceKey = P256.Signing.PublicKey(leaf.publicKey)
                if deviceKey == nil { record("chain", .contraindicated, "the device key is not a P-256 key") }
            } catch {
                record("chain", .contraindicated, "x5chain holds a certificate that does not parse")
            }
        } else {
            record("chain", .contraindicated, "the token carries no device certificate (x5chain)")
        }

        if let deviceKey {
            do throws(COSEError) {
                try token.message.verify(with: deviceKey)
                record("signature", .affirming, "signed by the device attestation key")
            } catch {
                record("signature", .contraindicated, error.description)
            }
            let instance = [0x01] + Array(SHA256.hash(data: deviceKey.x963Representation))
            record("instance", instance == claims.instanceID ? .affirming : .contraindicated,
                   instance == claims.instanceID ? "the instance ID is the certified device's" : "the instance ID is not the certified device's key")
            // A kid is optional (RFC 9783's examples carry none); one that names another key is refused.
            if let keyID = token.message.keyID {
                let matches = keyID == AttestationToken.keyID(instanceID: instance)
                record("kid", matches ? .affirming : .contraindicated,
                       matches ? "the key ID names the certified device's key" : "the key ID (kid) names another key than the certified device's")
            }
        } else {
            record("signature", .contraindicated, "no device key to check the signature with")
        }

        let nonceMatches = claims.nonce.count == policy.expectedNonce.count
            && zip(claims.nonce, policy.expectedNonce).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
        record("nonce", nonceMatches ? .affirming : .contraindicated, nonceMatches ? "the nonce is the one sent" : "the nonce is not the one sent (a replay?)")

        if let issuedAt = claims.issuedAt {
            let age = policy.now.timeIntervalSince1970 - Double(issuedAt)
            if age > policy.maxAge {
                record("freshness", .contraindicated, "issued \(Int(age)) s ago, more than \(Int(policy.maxAge)) s")
            } else if age < -60 {
                record("freshness", .contraindicated, "issued \(Int(-age)) s in the future")
            } else {
                record("freshness", .affirming, "issued \(max(0, Int(age))) s ago")
            }
        } else {
            record("freshness", .warning, "the token has no issued-at time; only the nonce shows it is fresh")
        }

        let lifecycle = claims.securityLifecycle
        let lifecycleAccepted = policy.acceptedLifecycles.contains { $0.contains(lifecycle) }
        record("lifecycle", lifecycleAccepted ? .affirming : .contraindicated,
               "security lifecycle 0x\(String(lifecycle, radix: 16))" + (lifecycleAccepted ? " is accepted" : " is not accepted"))

        let implementation = hex(claims.implementationID)
        let implementationKnown = policy.reference.runtimeImplementationIDs.contains(implementation)
        record("implementation", implementationKnown ? .affirming : .contraindicated,
               implementationKnown ? "a known root-of-trust implementation" : "implementation ID \(implementation.prefix(16))… is not a reference value")

        for (index, component) in claims.softwareComponents.enumerated() {
            let name = "component \(index) (\(component.measurementType ?? "unnamed"))"
            let measurement = hex(component.measurementValue), signer = hex(component.signerID)
            if component.measurementType == "runtime" {
                if policy.reference.runtimeMeasurements.isEmpty {
                    let same = component.measurementValue == claims.implementationID
                    record(name, same && implementationKnown ? .affirming : .contraindicated,
                           same ? (implementationKnown ? "the build the implementation ID names" : "an unknown build")
                                : "the runtime component is not the build the implementation ID names")
                } else {
                    let known = policy.reference.runtimeMeasurements.contains(measurement)
                    record(name, known ? .affirming : .contraindicated, known ? "a known runtime build" : "runtime build \(measurement.prefix(16))… is not a reference value")
                }
                continue
            }
            if policy.reference.trustlets.contains(ReferenceValues.Trustlet(measurement: measurement, signer: signer)) {
                record(name, .affirming, "known measurement and signer, version \(component.version ?? "?")")
            } else if policy.reference.trustlets.contains(where: { $0.measurement == measurement }) {
                record(name, .contraindicated, "signer \(signer.prefix(16))… is not the reference signer of measurement \(measurement.prefix(16))…")
            } else {
                record(name, .contraindicated, "measurement \(measurement.prefix(16))… is not a reference value")
            }
        }
        if claims.softwareComponents.count < 2 {
            record("components", .contraindicated, "the token names no attested trustlet")
        }

        var keys: [Appraisal.BoundKeyDescription] = []
        if claims.boundKeys.isEmpty {
            record("keys", .warning, "the token binds no key to the trustlet")
        } else if claims.boundKeys.allSatisfy({ (try? P256.KeyAgreement.PublicKey(x963Representation: $0.publicKey)) != nil }) {
            keys = claims.boundKeys.map { Appraisal.BoundKeyDescription(use: $0.use.rawValue, publicKey: hex($0.publicKey)) }
            record("keys", .affirming, "binds " + claims.boundKeys.map(\.use.rawValue).joined(separator: " and ") + " keys to the trustlet")
        } else {
            record("keys", .contraindicated, "a bound key is not a point on P-256")
        }
        return Appraisal(checks: checks, boundKeys: keys)
    }
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
