#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import TrubiZoneSecureWorld

/// A scripted user for tests and CI (`--trusted-ui script:FILE`): it answers the prompts in the
/// order they come, from a script, and records every screen it was shown.
///
/// The script is one answer per line; blank lines and `#` comments are skipped:
///
///     confirm yes
///     pin 1234
///     confirm no
///     text 7Q2M-XK4D-9PFA-T3HB
///     cancel
///
/// A prompt the script has no answer left for, or whose next answer is for another kind of
/// prompt, is cancelled, as a user who walks away would cancel it; the record says which.
/// The record never holds a PIN or typed text, only how many characters were entered.
public final class ScriptedTrustedUI: TrustedUIDevice {
    public enum Answer: Sendable, Equatable {
        case confirm(Bool)
        case pin([UInt8])
        case text(String)
        case cancel
    }

    /// Why a script was refused.
    public struct ScriptError: Error, CustomStringConvertible {
        public let description: String
    }

    private struct State {
        var answers: [Answer]
        var next = 0
        var record: [String] = []
    }

    private let state: Mutex<State>
    /// Where the record is also appended, if anywhere (the emulated screen, created 0600).
    private let recordPath: String?

    /// - Parameters:
    ///   - answers: the user's answers, in order.
    ///   - recordPath: a file that gets every screen as it is shown.
    public init(answers: [Answer], recordPath: String? = nil) {
        state = Mutex(State(answers: answers))
        self.recordPath = recordPath
    }

    /// Reads a script.
    /// - Throws: `ScriptError` naming the line that is not an answer.
    public convenience init(script: String, recordPath: String? = nil) throws(ScriptError) {
        var answers: [Answer] = []
        for (index, raw) in script.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            switch (words.first, words.count) {
            case (nil, _):
                continue
            case ("confirm", 2) where words[1] == "yes" || words[1] == "no":
                answers.append(.confirm(words[1] == "yes"))
            case ("pin", 2) where words[1].utf8.allSatisfy({ (0x30...0x39).contains($0) }):
                answers.append(.pin(Array(words[1].utf8)))
            case ("text", 2...):
                answers.append(.text(words.dropFirst().joined(separator: " ")))
            case ("cancel", 1):
                answers.append(.cancel)
            default:
                throw ScriptError(description: "line \(index + 1) of the trusted-UI script is not an answer; "
                    + "write `confirm yes`, `confirm no`, `pin DIGITS`, `text WORDS` or `cancel`")
            }
        }
        self.init(answers: answers, recordPath: recordPath)
    }

    /// Loads a script file; the record goes to `FILE.screen`.
    public convenience init(scriptFile path: String) throws(ScriptError) {
        let bytes: [UInt8]
        do throws(POSIXFile.Failure) {
            bytes = try POSIXFile.read(path, limit: 1 << 20)
        } catch {
            throw ScriptError(description: "cannot read the trusted-UI script: \(error)")
        }
        try self.init(script: String(decoding: bytes, as: UTF8.self), recordPath: path + ".screen")
    }

    /// Everything shown so far, one line per entry.
    public var record: [String] { state.withLock { $0.record } }

    /// How many answers are left.
    public var remainingAnswers: Int { state.withLock { $0.answers.count - $0.next } }

    public func show(_ screen: TrustedScreen, cancellation: Cancellation) throws(TrustedUIError) {
        append(screen.rendered)
    }

    public func confirm(_ screen: TrustedScreen, cancellation: Cancellation) throws(TrustedUIError) -> Bool {
        let answer = take()
        guard case let .confirm(yes) = answer else {
            append(screen.rendered + ["  → " + Self.refusal(answer, wanted: "confirm")])
            throw .cancelled
        }
        append(screen.rendered + ["  → " + (yes ? "yes" : "no")])
        return yes
    }

    public func readPIN(_ screen: TrustedScreen, cancellation: Cancellation) throws(TrustedUIError) -> [UInt8] {
        let answer = take()
        guard case let .pin(digits) = answer else {
            append(screen.rendered + ["  → " + Self.refusal(answer, wanted: "pin")])
            throw .cancelled
        }
        append(screen.rendered + ["  → PIN entered (\(digits.count) digits)"])
        return digits
    }

    public func readText(_ screen: TrustedScreen, cancellation: Cancellation) throws(TrustedUIError) -> String {
        let answer = take()
        guard case let .text(text) = answer else {
            append(screen.rendered + ["  → " + Self.refusal(answer, wanted: "text")])
            throw .cancelled
        }
        append(screen.rendered + ["  → text entered (\(text.utf8.count) characters)"])
        return text
    }

    private func take() -> Answer? {
        state.withLock { state in
            guard state.next < state.answers.count else { return nil }
            defer { state.next += 1 }
            return state.answers[state.next]
        }
    }

    private static func refusal(_ answer: Answer?, wanted: String) -> String {
        switch answer {
        case nil: "cancelled: the script has no answer left"
        case .cancel: "cancelled"
        case .confirm: "cancelled: the script answers `confirm` here, not `\(wanted)`"
        case .pin: "cancelled: the script answers `pin` here, not `\(wanted)`"
        case .text: "cancelled: the script answers `text` here, not `\(wanted)`"
        }
    }

    private func append(_ lines: [String]) {
        state.withLock { $0.record += lines }
        guard let recordPath else { return }
        let fd = open(recordPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(lines.map { $0 + "\n" }.joined().utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}
