/// A GlobalPlatform return code (`TEEC_Result` / `TEE_Result`).
///
/// The numeric values are the ones the GlobalPlatform TEE Client API and Internal Core API specify,
/// so that code written against OP-TEE reads the same here.
public struct ReturnCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let success = ReturnCode(rawValue: 0x0000_0000)
    public static let generic = ReturnCode(rawValue: 0xFFFF_0000)
    public static let accessDenied = ReturnCode(rawValue: 0xFFFF_0001)
    public static let cancel = ReturnCode(rawValue: 0xFFFF_0002)
    public static let accessConflict = ReturnCode(rawValue: 0xFFFF_0003)
    public static let excessData = ReturnCode(rawValue: 0xFFFF_0004)
    public static let badFormat = ReturnCode(rawValue: 0xFFFF_0005)
    public static let badParameters = ReturnCode(rawValue: 0xFFFF_0006)
    public static let badState = ReturnCode(rawValue: 0xFFFF_0007)
    public static let itemNotFound = ReturnCode(rawValue: 0xFFFF_0008)
    public static let notImplemented = ReturnCode(rawValue: 0xFFFF_0009)
    public static let notSupported = ReturnCode(rawValue: 0xFFFF_000A)
    public static let noData = ReturnCode(rawValue: 0xFFFF_000B)
    public static let outOfMemory = ReturnCode(rawValue: 0xFFFF_000C)
    public static let busy = ReturnCode(rawValue: 0xFFFF_000D)
    public static let communication = ReturnCode(rawValue: 0xFFFF_000E)
    public static let security = ReturnCode(rawValue: 0xFFFF_000F)
    public static let shortBuffer = ReturnCode(rawValue: 0xFFFF_0010)
    public static let externalCancel = ReturnCode(rawValue: 0xFFFF_0011)
    public static let overflow = ReturnCode(rawValue: 0xFFFF_300F)
    public static let targetDead = ReturnCode(rawValue: 0xFFFF_3024)
    public static let storageNoSpace = ReturnCode(rawValue: 0xFFFF_3041)
    public static let macInvalid = ReturnCode(rawValue: 0xFFFF_3071)
    public static let signatureInvalid = ReturnCode(rawValue: 0xFFFF_3072)
    public static let corruptObject = ReturnCode(rawValue: 0xF010_0001)
    public static let storageNotAvailable = ReturnCode(rawValue: 0xF010_0003)

    /// The GlobalPlatform name, e.g. `TEEC_ERROR_BAD_PARAMETERS`.
    public var name: String {
        switch self {
        case .success: "TEEC_SUCCESS"
        case .generic: "TEEC_ERROR_GENERIC"
        case .accessDenied: "TEEC_ERROR_ACCESS_DENIED"
        case .cancel: "TEEC_ERROR_CANCEL"
        case .accessConflict: "TEEC_ERROR_ACCESS_CONFLICT"
        case .excessData: "TEEC_ERROR_EXCESS_DATA"
        case .badFormat: "TEEC_ERROR_BAD_FORMAT"
        case .badParameters: "TEEC_ERROR_BAD_PARAMETERS"
        case .badState: "TEEC_ERROR_BAD_STATE"
        case .itemNotFound: "TEEC_ERROR_ITEM_NOT_FOUND"
        case .notImplemented: "TEEC_ERROR_NOT_IMPLEMENTED"
        case .notSupported: "TEEC_ERROR_NOT_SUPPORTED"
        case .noData: "TEEC_ERROR_NO_DATA"
        case .outOfMemory: "TEEC_ERROR_OUT_OF_MEMORY"
        case .busy: "TEEC_ERROR_BUSY"
        case .communication: "TEEC_ERROR_COMMUNICATION"
        case .security: "TEEC_ERROR_SECURITY"
        case .shortBuffer: "TEEC_ERROR_SHORT_BUFFER"
        case .externalCancel: "TEEC_ERROR_EXTERNAL_CANCEL"
        case .overflow: "TEE_ERROR_OVERFLOW"
        case .targetDead: "TEEC_ERROR_TARGET_DEAD"
        case .storageNoSpace: "TEE_ERROR_STORAGE_NO_SPACE"
        case .macInvalid: "TEE_ERROR_MAC_INVALID"
        case .signatureInvalid: "TEE_ERROR_SIGNATURE_INVALID"
        case .corruptObject: "TEE_ERROR_CORRUPT_OBJECT"
        case .storageNotAvailable: "TEE_ERROR_STORAGE_NOT_AVAILABLE"
        default: "0x" + String(rawValue, radix: 16, uppercase: true)
        }
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
