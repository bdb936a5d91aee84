import TrubiZoneProtocol
import WasmKit

/// The ui group: the trusted path to the user. Every screen carries the trustlet's verified name;
/// an interaction the user or the client cancels answers `TEE_ERROR_CANCEL`.
extension HostAPI {
    func defineTrustedUI(_ imports: inout Imports, _ store: Store) {
        let (trustlet, call) = (self.trustlet, self.call)
        define(&imports, store, "ui_show") { memory, args in
            let text = try memory.input(args, "text")
            return Self.outcome { () throws(TrustedUIError) in
                try trustlet.trustedUI.show(String(decoding: text, as: UTF8.self), from: trustlet.displayName, cancellation: call.cancellation)
            }
        }
        define(&imports, store, "ui_confirm") { memory, args in
            let question = try memory.input(args, "question")
            try memory.checkResult(args, "answer")
            var yes = false
            let code = Self.outcome { () throws(TrustedUIError) in
                yes = try trustlet.trustedUI.confirm(String(decoding: question, as: UTF8.self), from: trustlet.displayName, cancellation: call.cancellation)
            }
            if code == .success { try memory.writeResult(UInt32(yes ? 1 : 0), args, "answer") }
            return code
        }
        define(&imports, store, "ui_read_pin") { memory, args in
            let prompt = try memory.input(args, "prompt")
            let capacity = try memory.checkOutput(args, "pin")
            // Ask only when any PIN fits, so the user never types one that is then thrown away.
            guard capacity >= UInt32(TrustedUI.pinLengths.upperBound) else {
                try memory.writeOutputLength(UInt32(TrustedUI.pinLengths.upperBound), args, "pin")
                return .shortBuffer
            }
            var pin: [UInt8] = []
            let code = Self.outcome { () throws(TrustedUIError) in
                pin = try trustlet.trustedUI.readPIN(String(decoding: prompt, as: UTF8.self), from: trustlet.displayName, cancellation: call.cancellation)
            }
            guard code == .success else { return code }
            return try memory.output(pin, args, "pin")
        }
        define(&imports, store, "ui_read_text") { memory, args in
            let prompt = try memory.input(args, "prompt")
            let capacity = try memory.checkOutput(args, "text")
            guard capacity >= UInt32(TrustedUI.textLengths.upperBound) else {
                try memory.writeOutputLength(UInt32(TrustedUI.textLengths.upperBound), args, "text")
                return .shortBuffer
            }
            var text: [UInt8] = []
            let code = Self.outcome { () throws(TrustedUIError) in
                text = try trustlet.trustedUI.readText(String(decoding: prompt, as: UTF8.self), from: trustlet.displayName, cancellation: call.cancellation)
            }
            guard code == .success else { return code }
            return try memory.output(text, args, "text")
        }
    }

    private static func outcome(_ body: () throws(TrustedUIError) -> Void) -> ReturnCode {
        do throws(TrustedUIError) {
            try body()
            return .success
        } catch {
            return error.code
        }
    }
}
