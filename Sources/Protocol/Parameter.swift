import TrubiZoneWire

/// One of the four GlobalPlatform operation parameters as it crosses the world switch.
///
/// The type numbers are GP's `TEEC_VALUE_*` and `TEEC_MEMREF_TEMP_*`. A memory reference travels by
/// value: its input bytes go with the request, its output bytes come back with the reply, and
/// `capacity` is what the client's buffer can take.
public enum Parameter: Equatable, Sendable {
    case none
    case valueInput(a: UInt32, b: UInt32)
    case valueOutput
    case valueInout(a: UInt32, b: UInt32)
    case memrefInput([UInt8])
    case memrefOutput(capacity: UInt32)
    case memrefInout([UInt8], capacity: UInt32)

    /// The GP parameter type number (`GPParameterType`: `TEEC_NONE` = 0 … `TEEC_MEMREF_TEMP_INOUT` = 7).
    public var typeCode: UInt8 { UInt8(type.rawValue) }

    /// The slot's GP parameter type.
    public var type: GPParameterType {
        switch self {
        case .none: .none
        case .valueInput: .valueInput
        case .valueOutput: .valueOutput
        case .valueInout: .valueInout
        case .memrefInput: .memrefInput
        case .memrefOutput: .memrefOutput
        case .memrefInout: .memrefInout
        }
    }

    /// Whether the reply carries something back for this slot.
    public var isOutput: Bool { type.isOutput }
}

/// What the secure world hands back for one parameter slot.
public enum ReplyParameter: Equatable, Sendable {
    case none
    case value(a: UInt32, b: UInt32)
    /// `size` is the number of bytes the trustlet produced. When it exceeds the caller's capacity the
    /// bytes are not sent and `size` is the size the caller must provide (the GP short-buffer rule).
    case memref(size: UInt32, bytes: [UInt8])
}

/// The four parameter slots of an operation.
public struct Parameters: Equatable, Sendable {
    public static let count = 4
    public var slots: [Parameter]

    public init(_ slots: [Parameter] = []) {
        precondition(slots.count <= Parameters.count, "GlobalPlatform operations take at most four parameters")
        self.slots = slots + Array(repeating: .none, count: Parameters.count - slots.count)
    }

    public subscript(index: Int) -> Parameter {
        get { slots[index] }
        set { slots[index] = newValue }
    }
}
