import TrubiZoneProtocol
import WasmKit

/// The ui group: the trusted path to the user. Every screen carries the trustlet's verified name;
/// an interaction the user or the client cancels answers `TEE_ERROR_CANCEL`.
extension HostAPI {
    func defineTrustedUI(_ imports: inout Imports, _ store: Store) {
        let (trustlet, call) = (self.trustlet, self.call)
        // ui_show(text, length)
        define(&imports, store, "ui_show", parameters: 2, group: .ui) { memory, args in
            let text = try memory.bytes(args, 0, "the text")
            return Self.outcome { () throws(TrustedUIError) in
                try trustlet.trustedUI.show(String(decoding: text, as: UTF8.self), from: trustlet.displayName, cancellation: call.cancellation)
            }
        }
        // ui_confirm(question, length, answer*): answer 1 yes, 0 no.
        define(&imports, store, "ui_confirm", parameters: 3, group: .ui) { memory, args in
            let question = try memory.bytes(args, 0, "the question")
            try memory.check(args[2], 4, "the answer")
            var yes = false
            let code = Self.outcome { () throws(TrustedUIError) in
                yes = try trustlet.trustedUI.confirm(String(decoding: question, as: UTF8.self), from: trustlet.displayName, cancellation: call.cancellation)
            }
            if code == .success { try memory.writeU32(args[2], yes ? 1 : 0, "the answer") }
            return code
        }
        // ui_read_pin(prompt, length, buffer, capacity, length*): the digits, as ASCII.
        define(&imports, store, "ui_read_pin", parameters: 5, group: .ui) { memory, args in
            let prompt = try memory.bytes(args, 0, "the prompt")
            try memory.checkOutput(args, 2, "the PIN buffer")
            // Ask only when any PIN fits, so the user never types one that is then thrown away.
            guard args[3] >= UInt32(TrustedUI.pinLengths.upperBound) else {
                try memory.writeU32(args[4], UInt32(TrustedUI.pinLengths.upperBound), "the length")
                return .shortBuffer
            }
            var pin: [UInt8] = []
            let code = Self.outcome { () throws(TrustedUIError) in
                pin = try trustlet.trustedUI.readPIN(String(decoding: prompt, as: UTF8.self), from: trustlet.displayName, cancellation: call.cancellation)
            }
            guard code == .success else { return code }
            return try memory.output(pin, args, 2, "the PIN buffer")
        }
        // ui_read_text(prompt, length, buffer, capacity, length*): printable ASCII, 1 to 64 bytes.
        define(&imports, store, "ui_read_text", parameters: 5, group: .ui) { memory, args in
            let prompt = try memory.bytes(args, 0, "the prompt")
            try memory.checkOutput(args, 2, "the text buffer")
            guard args[3] >= UInt32(TrustedUI.textLengths.upperBound) else {
                try memory.writeU32(args[4], UInt32(TrustedUI.textLengths.upperBound), "the length")
                return .shortBuffer
            }
            var text: [UInt8] = []
            let code = Self.outcome { () throws(TrustedUIError) in
                text = try trustlet.trustedUI.readText(String(decoding: prompt, as: UTF8.self), from: trustlet.displayName, cancellation: call.cancellation)
            }
            guard code == .success else { return code }
            return try memory.output(text, args, 2, "the text buffer")
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
