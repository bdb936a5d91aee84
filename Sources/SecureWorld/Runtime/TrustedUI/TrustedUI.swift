import Synchronization
import TrubiZoneProtocol

/// The trusted path to the user: a display and input that belong to the secure world.
///
/// On a phone the secure world takes over the screen and touch controller while it asks; the
/// normal world can neither see what is shown nor type the answer. Here a `TrustedUIDevice` plays
/// that hardware (the daemon's own terminal, or a scripted user for tests), and this type is the
/// runtime's driver for it: one interaction at a time, every line marked with the verified name
/// of the trustlet that asks, and text from trustlets cleaned so that none can draw over the
/// marking or pass itself off as another.
public final class TrustedUI: Sendable {
    /// The longest text a trustlet may show in one call.
    public static let maxText = 4096
    /// PINs are 4 to 16 digits.
    public static let pinLengths = 4...16
    /// Text entered on the trusted UI (a code, a reading) is 1 to 64 printable ASCII characters.
    public static let textLengths = 1...64

    private let device: (any TrustedUIDevice)?
    /// The display is one: interactions from different sessions take turns.
    private let turn = Mutex(())

    /// - Parameter device: the display and input; `nil` when the device has none, and then every
    ///   call answers `TEE_ERROR_NOT_SUPPORTED`.
    public init(device: (any TrustedUIDevice)?) {
        self.device = device
    }

    /// A runtime without a trusted display.
    public static let none = TrustedUI(device: nil)

    /// Shows `text` to the user.
    public func show(_ text: String, from trustlet: String, cancellation: Cancellation) throws(TrustedUIError) {
        try interact(text, from: trustlet, cancellation: cancellation) { device, screen throws(TrustedUIError) in
            try device.show(screen, cancellation: cancellation)
        }
    }

    /// Asks the user a yes/no question.
    /// - Returns: the user's answer.
    /// - Throws: `.cancelled` if the user or the client cancelled.
    public func confirm(_ question: String, from trustlet: String, cancellation: Cancellation) throws(TrustedUIError) -> Bool {
        try interact(question, from: trustlet, cancellation: cancellation) { device, screen throws(TrustedUIError) in
            try device.confirm(screen, cancellation: cancellation)
        }
    }

    /// Asks the user for a PIN.
    /// - Returns: the digits, as ASCII.
    /// - Throws: `.cancelled` if the user or the client cancelled, `.invalidPIN` if what the user
    ///   entered is not 4 to 16 digits.
    public func readPIN(_ prompt: String, from trustlet: String, cancellation: Cancellation) throws(TrustedUIError) -> [UInt8] {
        let pin = try interact(prompt, from: trustlet, cancellation: cancellation) { device, screen throws(TrustedUIError) in
            try device.readPIN(screen, cancellation: cancellation)
        }
        guard Self.pinLengths.contains(pin.count), pin.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw .invalidPIN
        }
        return pin
    }

    /// Asks the user to type a short answer (an enrollment code, a reading).
    /// - Returns: the text, 1 to 64 printable ASCII characters, without surrounding spaces.
    /// - Throws: `.cancelled` if the user or the client cancelled, `.invalidText` if what the user
    ///   entered is empty, too long or not printable ASCII.
    public func readText(_ prompt: String, from trustlet: String, cancellation: Cancellation) throws(TrustedUIError) -> [UInt8] {
        let text = try interact(prompt, from: trustlet, cancellation: cancellation) { device, screen throws(TrustedUIError) in
            try device.readText(screen, cancellation: cancellation)
        }
        let bytes = Array(text.utf8)
        guard Self.textLengths.contains(bytes.count), bytes.allSatisfy({ (0x20...0x7E).contains($0) }) else { throw .invalidText }
        return bytes
    }

    private func interact<R>(_ text: String, from trustlet: String, cancellation: Cancellation,
                             _ body: (any TrustedUIDevice, TrustedScreen) throws(TrustedUIError) -> R) throws(TrustedUIError) -> R {
        guard let device else { throw .unavailable }
        guard text.utf8.count <= Self.maxText else { throw .tooLong }
        guard !cancellation.isCancelled else { throw .cancelled }
        let screen = TrustedScreen(trustlet: Self.clean(trustlet), lines: Self.clean(text).split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
        return try turn.withLock { _ throws(TrustedUIError) in try body(device, screen) }
    }

    /// Drops control characters (escape sequences could move the cursor over the name or clear
    /// the screen) and keeps line breaks, which the device marks line by line.
    static func clean(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.filter { scalar in
            scalar == "\n" || !(scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format)
        }))
    }
}

/// One interaction as the device renders it.
public struct TrustedScreen: Sendable, Equatable {
    /// The verified name of the asking trustlet, from its signed manifest.
    public let trustlet: String
    /// The trustlet's text, cleaned, one entry per line.
    public let lines: [String]

    /// The screen as text: every line marked with the trustlet's name.
    public var rendered: [String] { lines.map { "[\(trustlet)] \($0)" } }
}

/// The hardware of the trusted path: a display and an input the normal world cannot reach.
public protocol TrustedUIDevice: Sendable {
    func show(_ screen: TrustedScreen, cancellation: Cancellation) throws(TrustedUIError)
    func confirm(_ screen: TrustedScreen, cancellation: Cancellation) throws(TrustedUIError) -> Bool
    func readPIN(_ screen: TrustedScreen, cancellation: Cancellation) throws(TrustedUIError) -> [UInt8]
    /// A short line of text the user types (shown as typed: it is not a secret like a PIN).
    func readText(_ screen: TrustedScreen, cancellation: Cancellation) throws(TrustedUIError) -> String
}

/// Why an interaction on the trusted path did not complete.
public enum TrustedUIError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The user declined to answer, the client cancelled the operation, or no one answered in time.
    case cancelled
    /// This device has no trusted display.
    case unavailable
    /// The text is longer than `TrustedUI.maxText`.
    case tooLong
    /// The user entered something that is not a PIN.
    case invalidPIN
    /// The user entered text that is empty, too long or not printable ASCII.
    case invalidText

    /// The GP code a trustlet gets for it.
    public var code: ReturnCode {
        switch self {
        case .cancelled: .cancel
        case .unavailable: .notSupported
        case .tooLong: .badParameters
        case .invalidPIN, .invalidText: .badFormat
        }
    }

    public var description: String {
        switch self {
        case .cancelled: "the interaction on the trusted UI was cancelled"
        case .unavailable: "this device has no trusted UI; start the daemon with --trusted-ui"
        case .tooLong: "the text for the trusted UI is longer than \(TrustedUI.maxText) bytes"
        case .invalidPIN: "the PIN entered is not 4 to 16 digits"
        case .invalidText: "the text entered is not 1 to 64 printable ASCII characters"
        }
    }
}
