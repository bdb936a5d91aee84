import TrubiZoneWire

/// A GlobalPlatform return code (`TEEC_Result` / `TEE_Result`).
///
/// The numbers are `GPReturnCode`'s (Trustlets/SDK/Wire), which TrustletKit is built from too.
public struct ReturnCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let success = ReturnCode(rawValue: GPReturnCode.success)
    public static let generic = ReturnCode(rawValue: GPReturnCode.generic)
    public static let accessDenied = ReturnCode(rawValue: GPReturnCode.accessDenied)
    public static let cancel = ReturnCode(rawValue: GPReturnCode.cancel)
    public static let accessConflict = ReturnCode(rawValue: GPReturnCode.accessConflict)
    public static let excessData = ReturnCode(rawValue: GPReturnCode.excessData)
    public static let badFormat = ReturnCode(rawValue: GPReturnCode.badFormat)
    public static let badParameters = ReturnCode(rawValue: GPReturnCode.badParameters)
    public static let badState = ReturnCode(rawValue: GPReturnCode.badState)
    public static let itemNotFound = ReturnCode(rawValue: GPReturnCode.itemNotFound)
    public static let notImplemented = ReturnCode(rawValue: GPReturnCode.notImplemented)
    public static let notSupported = ReturnCode(rawValue: GPReturnCode.notSupported)
    public static let noData = ReturnCode(rawValue: GPReturnCode.noData)
    public static let outOfMemory = ReturnCode(rawValue: GPReturnCode.outOfMemory)
    public static let busy = ReturnCode(rawValue: GPReturnCode.busy)
    public static let communication = ReturnCode(rawValue: GPReturnCode.communication)
    public static let security = ReturnCode(rawValue: GPReturnCode.security)
    public static let shortBuffer = ReturnCode(rawValue: GPReturnCode.shortBuffer)
    public static let externalCancel = ReturnCode(rawValue: GPReturnCode.externalCancel)
    public static let overflow = ReturnCode(rawValue: GPReturnCode.overflow)
    public static let targetDead = ReturnCode(rawValue: GPReturnCode.targetDead)
    public static let storageNoSpace = ReturnCode(rawValue: GPReturnCode.storageNoSpace)
    public static let macInvalid = ReturnCode(rawValue: GPReturnCode.macInvalid)
    public static let signatureInvalid = ReturnCode(rawValue: GPReturnCode.signatureInvalid)
    public static let corruptObject = ReturnCode(rawValue: GPReturnCode.corruptObject)
    public static let storageNotAvailable = ReturnCode(rawValue: GPReturnCode.storageNotAvailable)

    /// The GlobalPlatform name, e.g. `TEEC_ERROR_BAD_PARAMETERS`.
    public var name: String {
        guard let known = GPReturnCode.all.first(where: { $0.code == rawValue }) else { return "0x" + String(rawValue, radix: 16, uppercase: true) }
        return "\(known.name)"
    }

    public var description: String { name }
}

/// Where in the stack an error arose (`TEEC_ORIGIN_*`).
public enum ReturnOrigin: UInt32, Sendable, CustomStringConvertible {
    /// The client API itself, before anything reached the secure world.
    case api = 1
    /// The transport between the worlds.
    case comms = 2
    /// The secure-world runtime.
    case tee = 3
    /// The trustlet.
    case trustedApp = 4

    public var description: String {
        switch self {
        case .api: "TEEC_ORIGIN_API"
        case .comms: "TEEC_ORIGIN_COMMS"
        case .tee: "TEEC_ORIGIN_TEE"
        case .trustedApp: "TEEC_ORIGIN_TRUSTED_APP"
        }
    }
}

/// How a client identifies itself when it opens a session (`TEEC_LOGIN_*`).
///
/// Over the socket the secure world does not take the client's word for its identity: it derives
/// the identity from the peer credentials of the connection.
public enum LoginMethod: UInt32, Sendable, CaseIterable {
    case `public` = 0x0
    case user = 0x1
    case group = 0x2
    case application = 0x4
    case userApplication = 0x5
    case groupApplication = 0x6
}
