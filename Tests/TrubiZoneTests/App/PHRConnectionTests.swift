import Foundation
import Hummingbird
import NIOCore
import PHRApp
import Testing

/// The app's connection to the server fails in seconds, saying why, so a user can act on it.
@Suite struct PHRConnectionTests {
    /// What `send` threw, as the user reads it.
    static func refusal(_ url: String) async -> PHRAppError? {
        do {
            _ = try await PHRConnection(baseURL: url).send("GET", "/health")
            return nil
        } catch { return error }
    }

    /// A loopback port that was free a moment ago: bound, read, closed.
    static func closedPort() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        close(fd)
        return UInt16(bigEndian: address.sin_port)
    }

    @Test func aPortNobodyListensOnIsRefusedAtOnce() async throws {
        let url = "http://127.0.0.1:\(Self.closedPort())"
        let error = try #require(await Self.refusal(url))
        guard case let .serverUnreachable(named, why) = error else { Issue.record("\(error)"); return }
        #expect(named == url && why.contains("connection refused"), "\(why)")
        #expect(error.exitCode == 69 && error.description.contains("phr-server serve"))
    }

    @Test func httpsToAPlainHTTPServerSaysToUseHTTP() async throws {
        let router = Router()
        router.get("/health") { _, _ in "ok" }
        let (port, ports) = AsyncStream.makeStream(of: Int.self)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in ports.yield(channel.localAddress?.port ?? 0) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            var iterator = port.makeAsyncIterator()
            let number = try #require(await iterator.next())
            // Plain HTTP answers; the same address as https:// is named for what it is.
            #expect(try await PHRConnection(baseURL: "http://127.0.0.1:\(number)").send("GET", "/health").status == 200)
            let error = try #require(await Self.refusal("https://127.0.0.1:\(number)"))
            guard case let .serverUnreachable(_, why) = error else { Issue.record("\(error)"); group.cancelAll(); return }
            #expect(why.contains("does not speak TLS") && why.contains("http://"), "\(why)")
            group.cancelAll()
        }
    }
}
