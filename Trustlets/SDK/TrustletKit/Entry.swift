// The exports the runtime calls. They are the only raw-pointer code a trustlet links; a trustlet
// itself sees `Parameters` and Swift values.

enum Registration {
    nonisolated(unsafe) static var create: (() -> UInt32)?
    nonisolated(unsafe) static var open: ((UnsafeMutablePointer<UInt32>) -> UInt32)?
    nonisolated(unsafe) static var invoke: ((UInt32, UnsafeMutablePointer<UInt32>) -> UInt32)?
    nonisolated(unsafe) static var close: (() -> Void)?

    static func install<T: Trustlet>(_ type: T.Type) {
        nonisolated(unsafe) var instance: T? = nil
        create = {
            do throws(TrustletError) {
                instance = try T()
                return 0
            } catch {
                return error.code
            }
        }
        open = { block in
            guard instance != nil else { return TrustletError.badState.code }
            var parameters = Parameters(block: block)
            do throws(TrustletError) {
                try instance!.openSession(parameters: &parameters)
                return 0
            } catch {
                return error.code
            }
        }
        invoke = { command, block in
            guard instance != nil else { return TrustletError.badState.code }
            var parameters = Parameters(block: block)
            do throws(TrustletError) {
                try instance!.invoke(command: command, parameters: &parameters)
                return 0
            } catch {
                return error.code
            }
        }
        close = { instance?.closeSession() }
    }
}

@_expose(wasm, "tz_create")
@_cdecl("tz_create")
public func tzCreate() -> UInt32 {
    Registration.create?() ?? TrustletError.badState.code
}

@_expose(wasm, "tz_open_session")
@_cdecl("tz_open_session")
public func tzOpenSession(_ block: UnsafeMutablePointer<UInt32>) -> UInt32 {
    Registration.open?(block) ?? TrustletError.badState.code
}

@_expose(wasm, "tz_invoke")
@_cdecl("tz_invoke")
public func tzInvoke(_ command: UInt32, _ block: UnsafeMutablePointer<UInt32>) -> UInt32 {
    Registration.invoke?(command, block) ?? TrustletError.badState.code
}

@_expose(wasm, "tz_close_session")
@_cdecl("tz_close_session")
public func tzCloseSession() {
    Registration.close?()
}

/// Lets the runtime place parameters in this trustlet's memory.
@_expose(wasm, "tz_alloc")
@_cdecl("tz_alloc")
public func tzAlloc(_ size: Int32) -> UInt32 {
    guard size >= 0, let block = trustletAllocate(Int(size)) else { return 0 }
    return UInt32(UInt(bitPattern: block))
}

@_expose(wasm, "tz_free")
@_cdecl("tz_free")
public func tzFree(_ address: UInt32) {
    trustletFree(UnsafeMutableRawPointer(bitPattern: UInt(address)))
}
