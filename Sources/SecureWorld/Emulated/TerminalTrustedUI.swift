#if canImport(Glibc)
import Glibc
#endif
import TrubiZoneSecureWorld

/// The daemon's own terminal as the trusted display (`--trusted-ui tty`): prompts go to its
/// controlling terminal and answers come from its keyboard, out of reach of the clients on the
/// world-switch socket. PINs are read with echo off.
///
/// An interaction ends as cancelled when the client cancels the operation, when no answer comes
/// within the timeout, or when the user answers with an empty line.
public final class TerminalTrustedUI: TrustedUIDevice {
    private let path: String
    private let timeout: Duration

    /// - Throws: `TrustedUIError.unavailable` when the terminal cannot be opened (a daemon without one).
    public init(path: String = "/dev/tty", timeout: Duration = .seconds(120)) throws(TrustedUIError) {
        let fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { throw .unavailable }
        close(fd)
        self.path = path
        self.timeout = timeout
    }

    public func show(_ screen: TrustedScreen, cancellation: Cancellation) throws(TrustedUIError) {
        try withTerminal { fd throws(TrustedUIError) in
            Self.write(fd, Self.banner + screen.rendered.joined(separator: "\n") + "\n")
        }
    }

    public func confirm(_ screen: TrustedScreen, cancellation: Cancellation) throws(TrustedUIError) -> Bool {
        try withTerminal { fd throws(TrustedUIError) in
            Self.write(fd, Self.banner + screen.rendered.joined(separator: "\n") + "\n")
            for _ in 0..<3 {
                Self.write(fd, "[\(screen.trustlet)] yes or no (empty line cancels): ")
                switch try readLine(fd, cancellation: cancellation).lowercased() {
                case "y", "yes": return true
                case "n", "no": return false
                case "": throw .cancelled
                default: continue
                }
            }
            throw .cancelled
        }
    }

    public func readPIN(_ screen: TrustedScreen, cancellation: Cancellation) throws(TrustedUIError) -> [UInt8] {
        try withTerminal { fd throws(TrustedUIError) in
            // Echo goes off (and anything typed ahead is discarded) before the prompt appears.
            var saved = termios()
            let isTerminal = tcgetattr(fd, &saved) == 0
            if isTerminal {
                var quiet = saved
                quiet.c_lflag &= ~tcflag_t(ECHO)
                tcsetattr(fd, TCSAFLUSH, &quiet)
            }
            defer {
                if isTerminal { tcsetattr(fd, TCSANOW, &saved) }
                Self.write(fd, "\n")
            }
            Self.write(fd, Self.banner + screen.rendered.joined(separator: "\n") + "\n[\(screen.trustlet)] PIN (not shown): ")
            let line = try readLine(fd, cancellation: cancellation)
            if line.isEmpty { throw .cancelled }
            return Array(line.utf8)
        }
    }

    public func readText(_ screen: TrustedScreen, cancellation: Cancellation) throws(TrustedUIError) -> String {
        try withTerminal { fd throws(TrustedUIError) in
            Self.write(fd, Self.banner + screen.rendered.joined(separator: "\n") + "\n[\(screen.trustlet)] (empty line cancels): ")
            let line = try readLine(fd, cancellation: cancellation)
            if line.isEmpty { throw .cancelled }
            return line
        }
    }

    private static let banner = "\n──────── TrubiZone trusted UI ────────\n"

    private func withTerminal<R>(_ body: (Int32) throws(TrustedUIError) -> R) throws(TrustedUIError) -> R {
        let fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { throw .unavailable }
        defer { close(fd) }
        return try body(fd)
    }

    /// One line of input, waiting in short steps so a cancellation is noticed.
    private func readLine(_ fd: Int32, cancellation: Cancellation) throws(TrustedUIError) -> String {
        let deadline = ContinuousClock.now + timeout
        var line: [UInt8] = []
        while true {
            if cancellation.isCancelled || ContinuousClock.now >= deadline { throw .cancelled }
            var request = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&request, 1, 200)
            if ready < 0 && errno != EINTR { throw .cancelled }
            guard ready > 0 else { continue }
            var byte: UInt8 = 0
            guard read(fd, &byte, 1) == 1 else { throw .cancelled }
            if byte == 0x0A { break }
            if byte != 0x0D && line.count < 256 { line.append(byte) }
        }
        return String(decoding: line, as: UTF8.self).trimmingSpaces
    }

    private static func write(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}

private extension String {
    var trimmingSpaces: String {
        let scalars = unicodeScalars.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed()
        return String(String.UnicodeScalarView(scalars))
    }
}
