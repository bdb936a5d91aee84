import Foundation
import Synchronization
import Testing
import TrubiZoneClient
import TrubiZoneEmulatedDevice
import TrubiZoneProtocol
import TrubiZoneSecureWorld
import TrubiZoneTesting

#if canImport(Glibc)
import Glibc
#endif

@Suite struct TrustedUITests {
    @Test func everyLineCarriesTheVerifiedNameAndControlCharactersAreDropped() throws {
        let screen = ScriptedTrustedUI(answers: [])
        let ui = TrustedUI(device: screen)
        // A trustlet tries to clear the screen and draw a line that looks like another's.
        try ui.show("Pay 10 €\u{1B}[2J\u{1B}[H\n[bank] Approved\u{202E}", from: "shop", cancellation: Cancellation())
        #expect(screen.record == ["[shop] Pay 10 €[2J[H", "[shop] [bank] Approved"])
        #expect(throws: TrustedUIError.tooLong) {
            try ui.show(String(repeating: "x", count: TrustedUI.maxText + 1), from: "shop", cancellation: Cancellation())
        }
        #expect(throws: TrustedUIError.unavailable) { try TrustedUI.none.show("hi", from: "shop", cancellation: Cancellation()) }
    }

    @Test func scriptsAreReadStrictly() throws {
        let script = ScriptedTrustedUI(answers: [])
        _ = script
        let parsed = try ScriptedTrustedUI(script: "# the user\nconfirm yes\n\npin 0042  # a PIN\ncancel\nconfirm no\n")
        #expect(parsed.remainingAnswers == 4)
        for bad in ["confirm maybe", "pin 12a4", "pin", "press ok", "cancel now"] {
            #expect(throws: ScriptedTrustedUI.ScriptError.self) { try ScriptedTrustedUI(script: "confirm yes\n" + bad) }
        }
        let error = #expect(throws: ScriptedTrustedUI.ScriptError.self) { try ScriptedTrustedUI(script: "confirm yes\nconfirm maybe") }
        #expect(error?.description.contains("line 2") == true)
        // A PIN the user types that is not 4 to 16 digits is refused by the runtime.
        let ui = TrustedUI(device: ScriptedTrustedUI(answers: [.pin(Array("12".utf8))]))
        #expect(throws: TrustedUIError.invalidPIN) { try ui.readPIN("PIN?", from: "vault", cancellation: Cancellation()) }
    }

    /// The daemon's terminal, played by a pseudo-terminal: the prompt is shown there, the answer
    /// typed there, and the PIN is read with echo off.
    @Test func theTerminalAsksAndReadsWithEchoOff() async throws {
        let (master, slave) = try #require(Self.pseudoTerminal())
        // The terminal stays open between prompts, as a real one does (else the master reads EIO).
        let keeper = open(slave, O_RDWR | O_NOCTTY)
        defer { close(keeper); close(master) }
        let terminal = try TerminalTrustedUI(path: slave, timeout: .seconds(20))
        let ui = TrustedUI(device: terminal)

        // The user, on a thread of its own (the test's executor may be busy with other tests).
        let seen = Mutex("")
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            func waitFor(_ text: String) {
                while !seen.withLock({ $0.contains(text) }) {
                    var buffer = [UInt8](repeating: 0, count: 512)
                    let count = read(master, &buffer, buffer.count)
                    if count <= 0 { return }
                    seen.withLock { $0 += String(decoding: buffer.prefix(count), as: UTF8.self) }
                }
            }
            func type(_ text: String) { _ = Array(text.utf8).withUnsafeBytes { write(master, $0.baseAddress, $0.count) } }
            waitFor("yes or no")
            type("yes\n")
            waitFor("PIN (not shown)")
            type("2580\n")
            done.signal()
        }
        #expect(try ui.confirm("Share the lab report?", from: "phr", cancellation: Cancellation()))
        #expect(try ui.readPIN("Enter your PIN.", from: "phr", cancellation: Cancellation()) == Array("2580".utf8))
        done.wait()
        let shown = seen.withLock { $0 }
        #expect(shown.contains("[phr] Share the lab report?"))
        #expect(shown.contains("[phr] Enter your PIN."))
        #expect(!shown.contains("2580"), "the PIN was echoed")
    }

    @Test func aClientCancellationEndsAWaitingPrompt() async throws {
        let (master, slave) = try #require(Self.pseudoTerminal())
        defer { close(master) }
        // Long enough that only the cancellation can end the prompt within the bound below.
        let terminal = try TerminalTrustedUI(path: slave, timeout: .seconds(600))
        let device = try EmulatedDevice()
        defer { withExtendedLifetime(device) {} }
        let world = try device.secureWorld(trustedUI: TrustedUI(device: terminal))
        try Samples.install("vault", as: Samples.vault, in: world)
        let session = try await TEEContext.inProcess(world).openSession(uuid: Samples.vault)
        let started = ContinuousClock.now
        let parameters: [TEEParameter] = [.input(Array("s".utf8))]
        let store = Task { try await session.invoke(command: 0, parameters: parameters) }
        try await Task.sleep(for: .milliseconds(500))
        store.cancel()
        let error = await #expect(throws: TEEError.self) { try await store.value }
        #expect(error?.code == .cancel)
        #expect(ContinuousClock.now - started < .seconds(300), "the prompt ended by its timeout, not by the cancellation")
    }

    /// A pseudo-terminal pair: the master's descriptor and the slave's path (`/dev/ptmx`, then
    /// unlock and ask for the number, as `posix_openpt`/`unlockpt`/`ptsname` do).
    static func pseudoTerminal() -> (Int32, String)? {
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        guard master >= 0 else { return nil }
        var unlock: Int32 = 0
        var number: UInt32 = 0
        guard ioctl(master, 0x4004_5431 /* TIOCSPTLCK */, &unlock) == 0, ioctl(master, 0x8004_5430 /* TIOCGPTN */, &number) == 0 else {
            close(master)
            return nil
        }
        return (master, "/dev/pts/\(number)")
    }
}
