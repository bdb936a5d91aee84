import Crypto
import TrubiZoneProtocol
import TrubiZoneWire

/// A signed trustlet: its manifest and wasm bytes, signed with the developer's P-256 key.
///
///     "TZPK" | format u8 = 1 | 0 0 0
///     manifest length u32 | manifest (JSON)
///     wasm length u32 | wasm
///     signer public key (65 bytes, X9.63)
///     signature (64 bytes, ECDSA P-256 SHA-256, r ‖ s) over everything before it
///
/// Big-endian lengths. The signature covers the manifest bytes exactly as they are, so a manifest
/// is never re-encoded before it is checked.
public struct TrustletPackage: Sendable {
    public static let magic: [UInt8] = Array("TZPK".utf8)
    public static let format: UInt8 = 1
    /// Packages larger than this are refused before parsing.
    public static let maxSize = 8 << 20

    public let manifest: TrustletManifest
    public let manifestBytes: [UInt8]
    public let wasm: [UInt8]
    public let signer: P256.Signing.PublicKey
    /// SHA-256 of the signer's public key (X9.63): who vouches for this trustlet.
    public var signerID: [UInt8] { Array(SHA256.hash(data: signer.x963Representation)) }
    /// SHA-256 of the wasm bytes.
    public var measurement: [UInt8] { Array(SHA256.hash(data: wasm)) }
    /// The whole package as signed.
    public let bytes: [UInt8]

    /// Signs a trustlet.
    public static func sign(manifest: TrustletManifest, wasm: [UInt8], key: P256.Signing.PrivateKey) throws -> TrustletPackage {
        let manifestBytes = try manifest.encoded()
        var writer = ByteWriter(capacity: wasm.count + manifestBytes.count + 200)
        writer.raw(magic + [format, 0, 0, 0])
        writer.blob(manifestBytes)
        writer.blob(wasm)
        writer.raw(key.publicKey.x963Representation)
        let signature = try key.signature(for: writer.bytes)
        writer.raw(signature.rawRepresentation)
        return try TrustletPackage(bytes: writer.bytes)
    }

    /// Whether `signature` (ES256, raw r ‖ s as IEEE P1363 has it: 64 bytes) is `key`'s over
    /// `message`. Anything but 64 bytes, or an r or s out of range, is no signature.
    static func signatureVerifies(_ signature: [UInt8], by key: P256.Signing.PublicKey, over message: ArraySlice<UInt8>) -> Bool {
        guard signature.count == 64, let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
        return key.isValidSignature(parsed, for: message)
    }

    /// Parses a package and checks its own signature (not yet whether its signer is trusted).
    public init(bytes: [UInt8]) throws(PackageError) { try self.init(bytes: bytes, checkingSignature: true) }

    init(bytes: [UInt8], checkingSignature: Bool) throws(PackageError) {
        guard bytes.count <= Self.maxSize else { throw .malformed("the package is \(bytes.count) bytes; the limit is \(Self.maxSize)") }
        var reader = ByteReader(bytes)
        do {
            guard try reader.raw(4, "magic") == Self.magic else { throw PackageError.malformed("not a trustlet package (bad magic)") }
            let header = try reader.raw(4, "format")
            guard header == [Self.format, 0, 0, 0] else { throw PackageError.malformed("unsupported package format \(header[0])") }
            manifestBytes = try reader.blob("manifest")
            wasm = try reader.blob("wasm")
            let keyBytes = try reader.raw(65, "signer key")
            let signedLength = reader.offset
            let signatureBytes = try reader.raw(64, "signature")
            guard reader.isAtEnd else { throw PackageError.malformed("\(reader.remaining) unexpected bytes after the signature") }
            guard let key = try? P256.Signing.PublicKey(x963Representation: keyBytes) else {
                throw PackageError.malformed("the signer key is not a P-256 public key")
            }
            guard Self.signatureVerifies(signatureBytes, by: key, over: bytes[0..<signedLength]) || !checkingSignature else {
                throw PackageError.badSignature
            }
            signer = key
            manifest = try TrustletManifest(decoding: manifestBytes)
        } catch let error as PackageError {
            throw error
        } catch let error as ByteReader.Truncated {
            throw .malformed("the package ends inside its \(error.field)")
        } catch {
            throw .malformed("\(error)")
        }
        self.bytes = bytes
    }
}

/// What a trustlet declares about itself; signed with it.
public struct TrustletManifest: Codable, Equatable, Sendable {
    public var uuid: String
    public var name: String
    /// `MAJOR.MINOR.PATCH`; the runtime refuses to go back to a lower one.
    public var version: String
    /// Internal-API groups: `storage`, `crypto`, `random`, `log`.
    public var capabilities: [String]
    public var limits: Limits?

    /// What the trustlet asks for; see `TrustletLimits`. Each is optional: a missing one takes the
    /// runtime's default (or the trust policy's cap, if that is lower).
    public struct Limits: Codable, Equatable, Sendable {
        public var memoryPages: Int?
        public var fuelPerCall: UInt64?
        public var maxSessions: Int?
        public var sealedBytes: Int?
        public var objects: Int?
        public var counters: Int?
        public var logLines: Int?
        public init(memoryPages: Int? = nil, fuelPerCall: UInt64? = nil, maxSessions: Int? = nil, sealedBytes: Int? = nil,
                    objects: Int? = nil, counters: Int? = nil, logLines: Int? = nil) {
            self.memoryPages = memoryPages
            self.fuelPerCall = fuelPerCall
            self.maxSessions = maxSessions
            self.sealedBytes = sealedBytes
            self.objects = objects
            self.counters = counters
            self.logLines = logLines
        }
    }

    public init(uuid: String, name: String, version: String, capabilities: [String], limits: Limits? = nil) {
        self.uuid = uuid
        self.name = name
        self.version = version
        self.capabilities = capabilities
        self.limits = limits
    }

    /// The manifest's fields; any other is refused, so a misspelt one never goes unnoticed.
    static let fields: Set<String> = ["uuid", "name", "version", "capabilities", "limits"]
    /// The largest manifest read.
    static let maxBytes = 16 << 10

    /// Decodes and checks a manifest, with the strict JSON reader both worlds share (no duplicate
    /// or unknown member, nothing but RFC 8259): every field present and in range.
    public init(decoding bytes: [UInt8]) throws(PackageError) {
        let document: JSON
        do throws(JSONError) {
            document = try JSON.parse(bytes, limits: .init(maxBytes: Self.maxBytes, maxDepth: 4))
        } catch {
            throw .malformed("the manifest is not strict JSON (\(error.reason) at byte \(error.offset))")
        }
        guard let members = document.members else { throw .malformed("the manifest is not a JSON object") }
        // Names compare as bytes, as the reader's lookups do (String's == would take U+212A for K).
        for member in members where !Self.fields.contains(where: { $0.sameUTF8(member.key) }) {
            throw .malformed("the manifest has no field \"\(member.key)\"")
        }
        guard let uuid = document["uuid"]?.string, let name = document["name"]?.string, let version = document["version"]?.string,
              let listed = document["capabilities"]?.array else {
            throw .malformed("the manifest needs uuid, name and version as strings and capabilities as an array")
        }
        var capabilities: [String] = []
        for capability in listed {
            guard let text = capability.string else { throw .malformed("each capability is a string") }
            capabilities.append(text)
        }
        var limits: Limits?
        if let asked = document["limits"], !asked.isNull {
            guard let named = asked.members else { throw .malformed("limits is not an object") }
            for member in named where !Self.limitNames.contains(where: { $0.sameUTF8(member.key) }) {
                throw .malformed("limits has no field \"\(member.key)\"")
            }
            func count(_ key: String) throws(PackageError) -> Int64? {
                guard let value = asked[key] else { return nil }
                guard let number = value.integer else { throw .malformed("limits.\(key) is not a whole number") }
                return number
            }
            // A negative count is out of range like any other, when the limits are resolved.
            func int(_ key: String) throws(PackageError) -> Int? { try count(key).map { Int(clamping: $0) } }
            let fuel = try count("fuelPerCall")
            limits = Limits(memoryPages: try int("memoryPages"), fuelPerCall: fuel.map { $0 < 0 ? UInt64.max : UInt64($0) },
                            maxSessions: try int("maxSessions"), sealedBytes: try int("sealedBytes"), objects: try int("objects"),
                            counters: try int("counters"), logLines: try int("logLines"))
        }
        self.init(uuid: uuid, name: name, version: version, capabilities: capabilities, limits: limits)
        _ = try validated(caps: nil)
    }

    /// The manifest as JSON, members in name order, as `trubizone trustlet sign` writes it.
    public func encoded() throws -> [UInt8] {
        var members = [JSONMember("capabilities", .array(capabilities.map(JSON.string)))]
        if let limits {
            let values: [(String, Int64?)] = [
                ("counters", limits.counters.map(Int64.init)), ("fuelPerCall", limits.fuelPerCall.map { Int64(clamping: $0) }),
                ("logLines", limits.logLines.map(Int64.init)), ("maxSessions", limits.maxSessions.map(Int64.init)),
                ("memoryPages", limits.memoryPages.map(Int64.init)), ("objects", limits.objects.map(Int64.init)),
                ("sealedBytes", limits.sealedBytes.map(Int64.init)),
            ]
            members.append(JSONMember("limits", .object(values.compactMap { name, value in value.map { JSONMember(name, .number(String($0))) } })))
        }
        members += [JSONMember("name", .string(name)), JSONMember("uuid", .string(uuid)), JSONMember("version", .string(version))]
        return JSON.object(members).serialized()
    }

    /// The manifest's values, checked: each limit within the runtime's range and, at install,
    /// within what the trust policy lets its signer ask for (`caps`).
    public func validated(caps: TrustletLimits? = nil) throws(PackageError) -> (uuid: TrustletUUID, version: UInt64, capabilities: Capabilities, limits: TrustletLimits) {
        guard let id = TrustletUUID(uuid) else { throw .malformed("manifest uuid \"\(uuid)\" is not a UUID") }
        // ASCII only: a Unicode letter such as U+A78F (ꞏ) would draw the label's own separator.
        guard !name.isEmpty, name.utf8.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_. ".contains($0)) }) else {
            throw .malformed("manifest name must be 1 to 64 ASCII letters, digits, spaces, dots, dashes or underscores")
        }
        guard let number = Self.versionNumber(version) else { throw .malformed("manifest version \"\(version)\" is not MAJOR.MINOR.PATCH") }
        var granted: Capabilities = []
        for capability in capabilities {
            guard let group = Capabilities.names.first(where: { $0.0.sameUTF8(capability) })?.1 else {
                throw .malformed("unknown capability \"\(capability)\"; known: \(Capabilities.names.map(\.0).joined(separator: ", "))")
            }
            granted.insert(group)
        }
        let resolved = try resolvedLimits(caps: caps)
        return (id, number, granted, resolved)
    }

    /// The manifest's names of the limits, in `ranges`' order.
    public static var limitNames: [String] { ranges.map(\.0) }

    /// A trust policy's caps: what it names, within the runtime's ranges, over the default caps.
    public static func capped(_ limits: Limits) throws(PackageError) -> TrustletLimits {
        let defaults = TrustletLimits.defaultCaps
        let filled = Limits(memoryPages: limits.memoryPages ?? defaults.memoryPages, fuelPerCall: limits.fuelPerCall ?? defaults.fuelPerCall,
                            maxSessions: limits.maxSessions ?? defaults.maxSessions, sealedBytes: limits.sealedBytes ?? defaults.sealedBytes,
                            objects: limits.objects ?? defaults.objects, counters: limits.counters ?? defaults.counters,
                            logLines: limits.logLines ?? defaults.logLines)
        return try TrustletManifest(uuid: "", name: "", version: "", capabilities: [], limits: filled).resolvedLimits(caps: nil)
    }

    /// The most any policy may let a trustlet ask for.
    static let ranges: [(String, ClosedRange<UInt64>)] = [
        ("memoryPages", 1...1024), ("fuelPerCall", 1000...50_000_000_000), ("maxSessions", 1...256),
        ("sealedBytes", 0...(4 << 30)), ("objects", 0...1_000_000), ("counters", 0...65_536), ("logLines", 1...65_536),
    ]

    /// The limits asked for, over the defaults; a default above a cap is lowered to it, an ask
    /// above a cap is refused.
    private func resolvedLimits(caps: TrustletLimits?) throws(PackageError) -> TrustletLimits {
        let asked = limits ?? Limits()
        let counts: [Int?] = [asked.memoryPages, nil, asked.maxSessions, asked.sealedBytes, asked.objects, asked.counters, asked.logLines]
        // A negative count is out of range like any other: UInt64.max stands for it.
        let values: [UInt64?] = counts.enumerated().map { index, count in
            index == 1 ? asked.fuelPerCall : count.map { $0 < 0 ? UInt64.max : UInt64($0) }
        }
        let defaults = TrustletLimits()
        let table = defaults.named(capped: caps ?? defaults)
        var chosen: [UInt64] = []
        for (index, (name, range)) in Self.ranges.enumerated() {
            guard let value = values[index] else {
                chosen.append(caps == nil ? table[index].1 : min(table[index].1, table[index].2))
                continue
            }
            guard range.contains(value) else { throw .malformed("limits.\(name) must be \(range.lowerBound) to \(range.upperBound)") }
            if caps != nil, value > table[index].2 { throw .limitAboveCap(name: name, asked: value, cap: table[index].2) }
            chosen.append(value)
        }
        return TrustletLimits(memoryPages: Int(chosen[0]), fuelPerCall: chosen[1], stackSize: defaults.stackSize, maxSessions: Int(chosen[2]),
                              sealedBytes: Int(chosen[3]), objects: Int(chosen[4]), counters: Int(chosen[5]), logLines: Int(chosen[6]))
    }

    /// `MAJOR.MINOR.PATCH` as one comparable number (each part up to 65535).
    static func versionNumber(_ version: String) -> UInt64? {
        let parts = version.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var number: UInt64 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 5, part.allSatisfy(\.isASCII), let value = UInt64(part), value <= 65535,
                  !(part.count > 1 && part.hasPrefix("0")) else { return nil }
            number = number << 16 | value
        }
        return number
    }
}

/// Why a package was refused.
public enum PackageError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    case badSignature
    case untrustedSigner(signerID: String)
    case downgrade(installed: String, offered: String)
    case rejectedModule(String)
    /// The UUID is one of the runtime's own.
    case reservedUUID(String)
    /// The UUID belongs to the signer that first installed it.
    case uuidTaken(uuid: String, owner: String)
    /// This version is installed with other bytes: a new build needs a new version.
    case sameVersionChanged(version: String)
    /// The manifest asks for more than the trust policy lets its signer's trustlets have.
    case limitAboveCap(name: String, asked: UInt64, cap: UInt64)
    /// The trust policy gives this UUID to another signer.
    case uuidAssigned(uuid: String)
    /// The signer already keeps as many trustlets as the trust policy allows it.
    case tooManyTrustlets(allowed: Int)

    public var description: String {
        switch self {
        case let .malformed(why): "malformed trustlet package: \(why)"
        case .badSignature: "the package's signature does not verify: its wasm or manifest was changed after signing"
        case let .untrustedSigner(id): "the package is signed by \(id), which this device does not trust"
        case let .downgrade(installed, offered):
            "version \(offered) is lower than version \(installed) already installed; downgrades are refused"
        case let .rejectedModule(why): "the package's module was refused: \(why)"
        case let .reservedUUID(uuid): "UUID \(uuid) is reserved for the runtime's own trustlets"
        case let .uuidTaken(uuid, owner): "UUID \(uuid) belongs to another signer (\(owner)…), which installed it first"
        case let .sameVersionChanged(version): "version \(version) is already installed with other code; a new build needs a higher version"
        case let .limitAboveCap(name, asked, cap):
            "the manifest asks for limits.\(name) = \(asked), above the \(cap) this device's trust policy allows its signer; ask for \(cap) or less"
        case let .uuidAssigned(uuid): "UUID \(uuid) is given to another signer by this device's trust policy"
        case let .tooManyTrustlets(allowed): "this signer already keeps \(allowed) trustlets on this device, as many as its trust policy allows"
        }
    }

    /// The GP code the installer answers with.
    public var code: ReturnCode {
        switch self {
        case .malformed, .rejectedModule: .badFormat
        case .badSignature, .untrustedSigner: .security
        case .downgrade, .sameVersionChanged, .limitAboveCap, .tooManyTrustlets: .accessDenied
        case .reservedUUID, .uuidTaken, .uuidAssigned: .accessConflict
        }
    }
}
