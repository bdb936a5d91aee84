// The trusted path to the user (internal API group "ui"). The runtime shows every screen with this
// trustlet's verified name; the normal world can neither read it nor answer it.

public enum TrustedUI {
    /// The longest PIN the trusted UI accepts.
    public static let maxPINLength = 16

    /// Shows text to the user.
    public static func show(_ text: String) throws(TrustletError) {
        try TrustletError.check(withUTF8(text) { tz_ui_show(text: $0, textLength: $1) })
    }

    /// Asks a yes/no question. Throws `cancel` if the user or the client cancelled.
    public static func confirm(_ question: String) throws(TrustletError) -> Bool {
        var answer: UInt32 = 0
        try TrustletError.check(withUTF8(question) { tz_ui_confirm(question: $0, questionLength: $1, answer: &answer) })
        return answer == 1
    }

    /// Asks for a PIN: 4 to 16 ASCII digits. Throws `cancel` if the user or the client cancelled,
    /// `badFormat` if what was entered is not a PIN.
    public static func readPIN(_ prompt: String) throws(TrustletError) -> [UInt8] {
        try withUTF8(prompt) { p, pl throws(TrustletError) in
            try variableOutput(initial: maxPINLength) { tz_ui_read_pin(prompt: p, promptLength: pl, pin: $0, pinCapacity: $1, pinLength: $2) }
        }
    }

    /// Asks the user to type a short answer: 1 to 64 printable ASCII characters (an enrollment
    /// code, a reading). Throws `cancel` if the user or the client cancelled, `badFormat` if what
    /// was entered is not such text.
    public static func readText(_ prompt: String) throws(TrustletError) -> String {
        let bytes = try withUTF8(prompt) { p, pl throws(TrustletError) in
            try variableOutput(initial: 64) { tz_ui_read_text(prompt: p, promptLength: pl, text: $0, textCapacity: $1, textLength: $2) }
        }
        return Bytes.text(bytes)
    }
}
