// The GlobalPlatform numbers both worlds speak, written once: this file is compiled into
// TrustletKit (Embedded Swift, wasm32) and into the host module `TrubiZoneWire`, which the
// protocol, the runtime and the client build their types from. A code or a parameter type exists
// here or nowhere.
//
// Numbers only, no Foundation, so Embedded Swift builds it.

/// A GlobalPlatform return code (`TEEC_Result` / `TEE_Result`): the values the TEE Client API and
/// the Internal Core API specify, so code written against OP-TEE reads the same here.
public enum GPReturnCode {
    public static let success: UInt32 = 0x0000_0000
    public static let generic: UInt32 = 0xFFFF_0000
    public static let accessDenied: UInt32 = 0xFFFF_0001
    public static let cancel: UInt32 = 0xFFFF_0002
    public static let accessConflict: UInt32 = 0xFFFF_0003
    public static let excessData: UInt32 = 0xFFFF_0004
    public static let badFormat: UInt32 = 0xFFFF_0005
    public static let badParameters: UInt32 = 0xFFFF_0006
    public static let badState: UInt32 = 0xFFFF_0007
    public static let itemNotFound: UInt32 = 0xFFFF_0008
    public static let notImplemented: UInt32 = 0xFFFF_0009
    public static let notSupported: UInt32 = 0xFFFF_000A
    public static let noData: UInt32 = 0xFFFF_000B
    public static let outOfMemory: UInt32 = 0xFFFF_000C
    public static let busy: UInt32 = 0xFFFF_000D
    public static let communication: UInt32 = 0xFFFF_000E
    public static let security: UInt32 = 0xFFFF_000F
    public static let shortBuffer: UInt32 = 0xFFFF_0010
    public static let externalCancel: UInt32 = 0xFFFF_0011
    public static let overflow: UInt32 = 0xFFFF_300F
    public static let targetDead: UInt32 = 0xFFFF_3024
    public static let storageNoSpace: UInt32 = 0xFFFF_3041
    public static let macInvalid: UInt32 = 0xFFFF_3071
    public static let signatureInvalid: UInt32 = 0xFFFF_3072
    public static let corruptObject: UInt32 = 0xF010_0001
    public static let storageNotAvailable: UInt32 = 0xF010_0003

    /// Every code above with its GlobalPlatform name, in the order above.
    public static let all: [(code: UInt32, name: StaticString)] = [
        (success, "TEEC_SUCCESS"), (generic, "TEEC_ERROR_GENERIC"), (accessDenied, "TEEC_ERROR_ACCESS_DENIED"),
        (cancel, "TEEC_ERROR_CANCEL"), (accessConflict, "TEEC_ERROR_ACCESS_CONFLICT"), (excessData, "TEEC_ERROR_EXCESS_DATA"),
        (badFormat, "TEEC_ERROR_BAD_FORMAT"), (badParameters, "TEEC_ERROR_BAD_PARAMETERS"), (badState, "TEEC_ERROR_BAD_STATE"),
        (itemNotFound, "TEEC_ERROR_ITEM_NOT_FOUND"), (notImplemented, "TEEC_ERROR_NOT_IMPLEMENTED"),
        (notSupported, "TEEC_ERROR_NOT_SUPPORTED"), (noData, "TEEC_ERROR_NO_DATA"), (outOfMemory, "TEEC_ERROR_OUT_OF_MEMORY"),
        (busy, "TEEC_ERROR_BUSY"), (communication, "TEEC_ERROR_COMMUNICATION"), (security, "TEEC_ERROR_SECURITY"),
        (shortBuffer, "TEEC_ERROR_SHORT_BUFFER"), (externalCancel, "TEEC_ERROR_EXTERNAL_CANCEL"), (overflow, "TEE_ERROR_OVERFLOW"),
        (targetDead, "TEEC_ERROR_TARGET_DEAD"), (storageNoSpace, "TEE_ERROR_STORAGE_NO_SPACE"), (macInvalid, "TEE_ERROR_MAC_INVALID"),
        (signatureInvalid, "TEE_ERROR_SIGNATURE_INVALID"), (corruptObject, "TEE_ERROR_CORRUPT_OBJECT"),
        (storageNotAvailable, "TEE_ERROR_STORAGE_NOT_AVAILABLE"),
    ]
}

/// A GlobalPlatform parameter type (`TEEC_NONE`, `TEEC_VALUE_*`, `TEEC_MEMREF_TEMP_*`): the number
/// each of an operation's four slots carries across the world switch and into a trustlet.
/// The runtime's `ParameterType` and TrustletKit's are this type.
public enum GPParameterType: UInt32, Sendable, CaseIterable {
    case none = 0, valueInput = 1, valueOutput = 2, valueInout = 3, memrefInput = 5, memrefOutput = 6, memrefInout = 7

    /// Whether a slot of this type is a memory reference.
    public var isMemoryReference: Bool { self == .memrefInput || self == .memrefOutput || self == .memrefInout }
    /// Whether the caller gets something back in a slot of this type.
    public var isOutput: Bool { self == .valueOutput || self == .valueInout || self == .memrefOutput || self == .memrefInout }

    /// Whether the number is a memory reference's type.
    public static func isMemoryReference(_ type: UInt32) -> Bool { GPParameterType(rawValue: type)?.isMemoryReference ?? false }
    /// Whether the caller gets something back in a slot of the type this number names.
    public static func isOutput(_ type: UInt32) -> Bool { GPParameterType(rawValue: type)?.isOutput ?? false }
    /// Whether the number is a type at all (4 is not one).
    public static func isKnown(_ type: UInt32) -> Bool { GPParameterType(rawValue: type) != nil }
}
