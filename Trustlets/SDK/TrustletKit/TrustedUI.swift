// The trusted path to the user (internal API group "ui"). The runtime shows every screen with this
// trustlet's verified name; the normal world can neither read it nor answer it.

@_extern(wasm, module: "tz", name: "ui_show") @_extern(c)
func tz_ui_show(_ text: UnsafeRawPointer?, _ length: Int32) -> UInt32

@_extern(wasm, module: "tz", name: "ui_confirm") @_extern(c)
func tz_ui_confirm(_ text: UnsafeRawPointer?, _ length: Int32, _ answer: UnsafeMutablePointer<UInt32>?) -> UInt32

@_extern(wasm, module: "tz", name: "ui_read_pin") @_extern(c)
func tz_ui_read_pin(_ prompt: UnsafeRawPointer?, _ length: Int32, _ buffer: UnsafeMutableRawPointer?, _ capacity: Int32,
                    _ pinLength: UnsafeMutablePointer<UInt32>?) -> UInt32

@_extern(wasm, module: "tz", name: "ui_read_text") @_extern(c)
func tz_ui_read_text(_ prompt: UnsafeRawPointer?, _ length: Int32, _ buffer: UnsafeMutableRawPointer?, _ capacity: Int32,
                     _ textLength: UnsafeMutablePointer<UInt32>?) -> UInt32

public enum TrustedUI {
    /// The longest PIN the trusted UI accepts.
    public static let maxPINLength = 16

    /// Shows text to the user.
    public static func show(_ text: String) throws(TrustletError) {
        try TrustletError.check(withUTF8(text) { tz_ui_show($0, $1) })
    }

    /// Asks a yes/no question. Throws `cancel` if the user or the client cancelled.
    public static func confirm(_ question: String) throws(TrustletError) -> Bool {
        var answer: UInt32 = 0
        try TrustletError.check(withUTF8(question) { tz_ui_confirm($0, $1, &answer) })
        return answer == 1
    }

    /// Asks for a PIN: 4 to 16 ASCII digits. Throws `cancel` if the user or the client cancelled,
    /// `badFormat` if what was entered is not a PIN.
    public static func readPIN(_ prompt: String) throws(TrustletError) -> [UInt8] {
        try withUTF8(prompt) { p, pl throws(TrustletError) in
            try variableOutput(initial: maxPINLength) { tz_ui_read_pin(p, pl, $0, $1, $2) }
        }
    }

    /// Asks the user to type a short answer: 1 to 64 printable ASCII characters (an enrollment
    /// code, a reading). Throws `cancel` if the user or the client cancelled, `badFormat` if what
    /// was entered is not such text.
    public static func readText(_ prompt: String) throws(TrustletError) -> String {
        let bytes = try withUTF8(prompt) { p, pl throws(TrustletError) in
            try variableOutput(initial: 64) { tz_ui_read_text(p, pl, $0, $1, $2) }
        }
        return Bytes.text(bytes)
    }
}
