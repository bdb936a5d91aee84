import TrubiZoneProtocol

/// A failed TEE call: the GlobalPlatform return code, where it arose, and a diagnostic.
public struct TEEError: Error, Equatable, Sendable, CustomStringConvertible {
    public let code: ReturnCode
    public let origin: ReturnOrigin
    public let message: String
    /// What the secure world returned for each parameter. After `TEEC_ERROR_SHORT_BUFFER`, an output
    /// memref's entry holds the size it needs.
    public let parameters: [ReplyParameter]

    public init(code: ReturnCode, origin: ReturnOrigin, message: String, parameters: [ReplyParameter] = []) {
        self.code = code
        self.origin = origin
        self.message = message
        self.parameters = parameters
    }

    /// The size an output memref needs, after `TEEC_ERROR_SHORT_BUFFER`.
    public func requiredSize(_ slot: Int) -> Int? {
        guard code == .shortBuffer, slot < parameters.count, case let .memref(size, _) = parameters[slot] else { return nil }
        return Int(size)
    }

    public var description: String {
        message.isEmpty ? "\(code.name) (\(origin))" : "\(code.name) (\(origin)): \(message)"
    }

    static func comms(_ message: String) -> TEEError {
        TEEError(code: .communication, origin: .comms, message: message)
    }
}
