import TrubiZoneProtocol

/// One parameter of a TEE operation, as the normal world passes it.
public enum TEEParameter: Sendable {
    case none
    case valueInput(UInt32, UInt32 = 0)
    case valueOutput
    case valueInout(UInt32, UInt32 = 0)
    /// A temporary memory reference the trustlet reads.
    case input([UInt8])
    /// A temporary memory reference the trustlet writes, of at most `capacity` bytes.
    case output(capacity: Int)
    /// A temporary memory reference the trustlet reads and may rewrite.
    case inputOutput([UInt8], capacity: Int)
    /// A registered shared buffer (`TEEC_MEMREF_WHOLE`); written back in place after the call.
    case shared(TEESharedMemory)

    func wire() throws(TEEError) -> Parameter {
        func fit(_ n: Int) throws(TEEError) -> UInt32 {
            guard n >= 0, n <= Int(UInt32.max) else {
                throw TEEError(code: .badParameters, origin: .api, message: "memory reference of \(n) bytes is too large")
            }
            return UInt32(n)
        }
        switch self {
        case .none: return .none
        case let .valueInput(a, b): return .valueInput(a: a, b: b)
        case .valueOutput: return .valueOutput
        case let .valueInout(a, b): return .valueInout(a: a, b: b)
        case let .input(bytes): return .memrefInput(bytes)
        case let .output(capacity): return .memrefOutput(capacity: try fit(capacity))
        case let .inputOutput(bytes, capacity):
            guard bytes.count <= capacity else {
                throw TEEError(code: .badParameters, origin: .api, message: "in-out memory reference holds more than its capacity")
            }
            return .memrefInout(bytes, capacity: try fit(capacity))
        case let .shared(memory):
            switch memory.direction {
            case .input: return .memrefInput(memory.bytes)
            case .output: return .memrefOutput(capacity: try fit(memory.capacity))
            case .inputOutput: return .memrefInout(memory.bytes, capacity: try fit(memory.capacity))
            }
        }
    }
}

/// A buffer shared with the secure world for the duration of operations (`TEEC_SharedMemory`).
public final class TEESharedMemory: @unchecked Sendable {
    public enum Direction: Sendable { case input, output, inputOutput }

    public let direction: Direction
    public let capacity: Int
    /// The buffer's contents; after an output operation, the bytes the trustlet wrote.
    public private(set) var bytes: [UInt8]
    /// After an operation: the size the trustlet produced (or needs, after a short buffer).
    public private(set) var size: Int

    /// - Parameters:
    ///   - capacity: the buffer's size in bytes.
    ///   - direction: which way data flows.
    public init(capacity: Int, direction: Direction) {
        self.capacity = capacity
        self.direction = direction
        self.bytes = []
        self.size = 0
    }

    /// A buffer holding `bytes` for the trustlet to read (and, with `.inputOutput`, rewrite).
    public init(_ bytes: [UInt8], capacity: Int? = nil, direction: Direction = .input) {
        self.capacity = max(capacity ?? bytes.count, bytes.count)
        self.direction = direction
        self.bytes = bytes
        self.size = bytes.count
    }

    func update(_ reply: ReplyParameter) {
        guard case let .memref(size, bytes) = reply else { return }
        self.size = Int(size)
        if Int(size) <= capacity, direction != .input { self.bytes = bytes }
    }
}

/// What an operation returned, slot by slot.
public struct TEEResult: Sendable {
    public let parameters: [ReplyParameter]

    /// The output value of a slot.
    public func value(_ slot: Int) -> (a: UInt32, b: UInt32)? {
        guard slot < parameters.count, case let .value(a, b) = parameters[slot] else { return nil }
        return (a, b)
    }

    /// The output bytes of a memory reference slot.
    public func bytes(_ slot: Int) -> [UInt8]? {
        guard slot < parameters.count, case let .memref(_, bytes) = parameters[slot] else { return nil }
        return bytes
    }
}
