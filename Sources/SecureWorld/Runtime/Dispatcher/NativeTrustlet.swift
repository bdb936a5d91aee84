import Synchronization
import TrubiZoneProtocol
import TrubiZoneWire

/// A trustlet compiled into the runtime (the equivalent of an OP-TEE pseudo-TA).
public protocol NativeTrustlet: Sendable {
    var uuid: TrustletUUID { get }
    /// The verified name shown to the user with anything this trustlet asks.
    var name: String { get }
    /// Opens a session for `client` (GP `TA_OpenSessionEntryPoint`).
    func openSession(client: ClientIdentity, parameters: inout TrustletParameters) throws(TrustletError) -> any TrustletSession
    /// How many sessions it serves at once, if it has a limit; the runtime keeps a share of them
    /// for other users (`SecureWorld.Limits.share(of:)`).
    var maxSessions: Int? { get }
}

extension NativeTrustlet {
    public var maxSessions: Int? { nil }
}

/// One open session of a trustlet.
public protocol TrustletSession: Sendable {
    /// GP `TA_InvokeCommandEntryPoint`.
    func invoke(command: UInt32, parameters: inout TrustletParameters, cancellation: Cancellation) throws(TrustletError)
    /// GP `TA_CloseSessionEntryPoint`.
    func close()
}

/// A failure a trustlet returns: a GP code and a diagnostic for the caller (never a secret).
public struct TrustletError: Error, Equatable, Sendable {
    public var code: ReturnCode
    public var message: String
    public init(_ code: ReturnCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public init(_ storage: StorageError) {
        self.init(storage.code, storage.diagnostic)
    }
}

/// Who called: the login method and the identity the runtime established for it, such as
/// `user:1000` — never what the client claimed.
public struct ClientIdentity: Hashable, Sendable, CustomStringConvertible {
    public var login: LoginMethod
    public var subject: String
    /// The uid of the client's process, whatever the login: what its fair shares are counted by.
    public var uid: UInt32
    public init(login: LoginMethod, subject: String, uid: UInt32) {
        self.login = login
        self.subject = subject
        self.uid = uid
    }
    public var description: String { subject }
}

/// The flag a long operation checks to see whether its caller asked to cancel it
/// (GP `TEE_GetCancellationFlag`).
///
/// A client that asks to cancel (GP `TEEC_RequestCancellation`) sets the flag; the trusted UI
/// gives up its prompt and a trustlet may stop. A client that is *gone* (its connection closed)
/// abandons the operation: then the internal API refuses every further call and the invoke ends,
/// so no trustlet keeps the secure world working for nobody.
public final class Cancellation: Sendable {
    private let flag = Atomic<Bool>(false)
    private let abandoned = Atomic<Bool>(false)
    public init() {}
    public var isCancelled: Bool { flag.load(ordering: .acquiring) }
    /// Whether nobody waits for the result any more.
    public var isAbandoned: Bool { abandoned.load(ordering: .acquiring) }
    func cancel() { flag.store(true, ordering: .releasing) }
    func abandon() {
        abandoned.store(true, ordering: .releasing)
        cancel()
    }
}

/// The GP parameter types, as a trustlet declares what it expects: the one definition both
/// worlds share (`GPParameterType`, in Trustlets/SDK/Wire).
public typealias ParameterType = GPParameterType

/// The four parameters of an operation as a trustlet sees them: typed reads of the inputs and
/// writes of the outputs, with the GP short-buffer rule built in.
public struct TrustletParameters: Sendable {
    let request: Parameters
    var reply: [ReplyParameter]

    init(_ request: Parameters) {
        self.request = request
        self.reply = request.slots.map { slot in
            switch slot {
            case .valueOutput: .value(a: 0, b: 0)
            case let .valueInout(a, b): .value(a: a, b: b)
            case .memrefOutput: .memref(size: 0, bytes: [])
            case let .memrefInout(bytes, _): .memref(size: UInt32(bytes.count), bytes: bytes)
            default: .none
            }
        }
    }

    /// Checks the four parameter types exactly, as every GP entry point does first.
    public func expect(_ types: ParameterType...) throws(TrustletError) {
        let wanted = types + Array(repeating: ParameterType.none, count: max(0, Parameters.count - types.count))
        for (slot, (got, want)) in zip(request.slots, wanted).enumerated() where got.type != want {
            throw TrustletError(.badParameters, "parameter \(slot) must be \(want), not \(got.type)")
        }
    }

    /// The input bytes of a memref input or inout parameter.
    public func bytes(_ slot: Int) throws(TrustletError) -> [UInt8] {
        switch request[slot] {
        case let .memrefInput(bytes), let .memrefInout(bytes, _): return bytes
        default: throw TrustletError(.badParameters, "parameter \(slot) is not an input memory reference")
        }
    }

    /// The input of a value input or inout parameter.
    public func value(_ slot: Int) throws(TrustletError) -> (a: UInt32, b: UInt32) {
        switch request[slot] {
        case let .valueInput(a, b), let .valueInout(a, b): return (a, b)
        default: throw TrustletError(.badParameters, "parameter \(slot) is not an input value")
        }
    }

    public mutating func setValue(_ slot: Int, a: UInt32, b: UInt32 = 0) throws(TrustletError) {
        switch request[slot] {
        case .valueOutput, .valueInout: reply[slot] = .value(a: a, b: b)
        default: throw TrustletError(.badParameters, "parameter \(slot) is not an output value")
        }
    }

    /// Writes an output memref. When the caller's buffer is too small, records the size needed and
    /// throws `TEEC_ERROR_SHORT_BUFFER`, so the caller can retry with a buffer that fits.
    public mutating func setBytes(_ slot: Int, _ bytes: [UInt8]) throws(TrustletError) {
        let capacity: UInt32
        switch request[slot] {
        case let .memrefOutput(c), let .memrefInout(_, c): capacity = c
        default: throw TrustletError(.badParameters, "parameter \(slot) is not an output memory reference")
        }
        guard bytes.count <= Int(capacity) else {
            reply[slot] = .memref(size: UInt32(clamping: bytes.count), bytes: [])
            throw TrustletError(.shortBuffer, "parameter \(slot) needs \(bytes.count) bytes; the buffer holds \(capacity)")
        }
        reply[slot] = .memref(size: UInt32(bytes.count), bytes: bytes)
    }

    /// The capacity of an output memref.
    public func capacity(_ slot: Int) -> Int {
        switch request[slot] {
        case let .memrefOutput(c), let .memrefInout(_, c): Int(c)
        default: 0
        }
    }
}

/// Runs a sealed-storage call from trustlet code, passing its GP code and diagnostic through.
public func sealed<R>(_ body: () throws(StorageError) -> R) throws(TrustletError) -> R {
    do throws(StorageError) { return try body() } catch { throw TrustletError(error) }
}
