/// A trustlet: the part of an app that runs in the secure world.
///
///     @main
///     struct Hello: Trustlet {
///         init() throws(TrustletError) {}
///         mutating func invoke(command: UInt32, parameters: inout Parameters) throws(TrustletError) {
///             try parameters.expect(.memrefInput, .memrefOutput)
///             try parameters.setBytes(1, try parameters.bytes(0))
///         }
///     }
///
/// The runtime gives each session its own instance of the trustlet, in its own sandbox; the entry
/// points follow the GlobalPlatform TA lifecycle: create (`init`), open session, invoke command,
/// close session, destroy (the instance is discarded).
public protocol Trustlet {
    /// `TA_CreateEntryPoint`.
    init() throws(TrustletError)
    /// `TA_OpenSessionEntryPoint`. By default a session takes no parameters.
    mutating func openSession(parameters: inout Parameters) throws(TrustletError)
    /// `TA_InvokeCommandEntryPoint`.
    mutating func invoke(command: UInt32, parameters: inout Parameters) throws(TrustletError)
    /// `TA_CloseSessionEntryPoint`.
    mutating func closeSession()
}

extension Trustlet {
    public mutating func openSession(parameters: inout Parameters) throws(TrustletError) {
        try parameters.expect()
    }

    public mutating func closeSession() {}

    /// Registers this trustlet with the runtime. `@main` makes the runtime call it when it creates
    /// the instance.
    public static func main() {
        Registration.install(Self.self)
    }
}

/// A GlobalPlatform return code from a trustlet: every one `GPReturnCode` (Wire/GlobalPlatform.swift) has.
public struct TrustletError: Error, Equatable {
    public let code: UInt32
    public init(code: UInt32) { self.code = code }

    public static let generic = TrustletError(code: GPReturnCode.generic)
    public static let accessDenied = TrustletError(code: GPReturnCode.accessDenied)
    public static let cancel = TrustletError(code: GPReturnCode.cancel)
    public static let accessConflict = TrustletError(code: GPReturnCode.accessConflict)
    public static let excessData = TrustletError(code: GPReturnCode.excessData)
    public static let badFormat = TrustletError(code: GPReturnCode.badFormat)
    public static let badParameters = TrustletError(code: GPReturnCode.badParameters)
    public static let badState = TrustletError(code: GPReturnCode.badState)
    public static let itemNotFound = TrustletError(code: GPReturnCode.itemNotFound)
    public static let notImplemented = TrustletError(code: GPReturnCode.notImplemented)
    public static let notSupported = TrustletError(code: GPReturnCode.notSupported)
    public static let noData = TrustletError(code: GPReturnCode.noData)
    public static let outOfMemory = TrustletError(code: GPReturnCode.outOfMemory)
    public static let busy = TrustletError(code: GPReturnCode.busy)
    public static let communication = TrustletError(code: GPReturnCode.communication)
    public static let security = TrustletError(code: GPReturnCode.security)
    public static let shortBuffer = TrustletError(code: GPReturnCode.shortBuffer)
    public static let externalCancel = TrustletError(code: GPReturnCode.externalCancel)
    public static let overflow = TrustletError(code: GPReturnCode.overflow)
    public static let targetDead = TrustletError(code: GPReturnCode.targetDead)
    public static let storageNoSpace = TrustletError(code: GPReturnCode.storageNoSpace)
    public static let macInvalid = TrustletError(code: GPReturnCode.macInvalid)
    public static let signatureInvalid = TrustletError(code: GPReturnCode.signatureInvalid)
    public static let corruptObject = TrustletError(code: GPReturnCode.corruptObject)
    public static let storageNotAvailable = TrustletError(code: GPReturnCode.storageNotAvailable)

    /// Throws unless `code` is success.
    static func check(_ code: UInt32) throws(TrustletError) {
        if code != GPReturnCode.success { throw TrustletError(code: code) }
    }
}

/// The GP parameter types.
public typealias ParameterType = GPParameterType

/// The four parameters of a call, with the GP short-buffer rule built in. The runtime places them
/// in this trustlet's memory; reads copy them out and writes copy in, bounded by the caller's buffer.
public struct Parameters {
    // The block the runtime writes: 4 × (type, a, b, capacity) as u32. For a memory reference
    // a = address, b = size, capacity = the buffer's size; for a value, a and b.
    let block: UnsafeMutablePointer<UInt32>

    init(block: UnsafeMutablePointer<UInt32>) { self.block = block }

    public func type(_ slot: Int) -> ParameterType {
        guard slot >= 0 && slot < 4 else { return .none }
        return ParameterType(rawValue: block[slot * 4]) ?? .none
    }

    /// Checks the four parameter types exactly, as every GP entry point should first.
    public func expect(_ types: ParameterType...) throws(TrustletError) {
        var slot = 0
        while slot < 4 {
            let wanted = slot < types.count ? types[slot] : .none
            if type(slot) != wanted { throw .badParameters }
            slot += 1
        }
    }

    /// The input bytes of a memref input or in-out parameter.
    public func bytes(_ slot: Int) throws(TrustletError) -> [UInt8] {
        let kind = type(slot)
        guard kind == .memrefInput || kind == .memrefInout else { throw .badParameters }
        let address = UInt(block[slot * 4 + 1]), size = Int(block[slot * 4 + 2])
        guard size > 0, let base = UnsafeRawPointer(bitPattern: address) else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: size))
    }

    /// The input of a value input or in-out parameter.
    public func value(_ slot: Int) throws(TrustletError) -> (a: UInt32, b: UInt32) {
        let kind = type(slot)
        guard kind == .valueInput || kind == .valueInout else { throw .badParameters }
        return (block[slot * 4 + 1], block[slot * 4 + 2])
    }

    public func setValue(_ slot: Int, a: UInt32, b: UInt32 = 0) throws(TrustletError) {
        let kind = type(slot)
        guard kind == .valueOutput || kind == .valueInout else { throw .badParameters }
        block[slot * 4 + 1] = a
        block[slot * 4 + 2] = b
    }

    /// Writes an output memref; when the caller's buffer is too small, records the size needed and
    /// throws `shortBuffer`, so the caller can retry with a buffer that fits.
    public func setBytes(_ slot: Int, _ bytes: [UInt8]) throws(TrustletError) {
        let kind = type(slot)
        guard kind == .memrefOutput || kind == .memrefInout else { throw .badParameters }
        block[slot * 4 + 2] = UInt32(truncatingIfNeeded: bytes.count)
        guard bytes.count <= Int(block[slot * 4 + 3]) else { throw .shortBuffer }
        if bytes.isEmpty { return }
        guard let base = UnsafeMutableRawPointer(bitPattern: UInt(block[slot * 4 + 1])) else { throw .badParameters }
        bytes.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    /// The capacity of an output memref.
    public func capacity(_ slot: Int) -> Int {
        let kind = type(slot)
        return kind == .memrefOutput || kind == .memrefInout ? Int(block[slot * 4 + 3]) : 0
    }
}
