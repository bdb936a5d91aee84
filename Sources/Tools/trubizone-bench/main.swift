// trubizone-bench: the performance goals of the TEE core, each measured against its baseline in
// the same run. Build in release: `swift run -c release trubizone-bench`.
import Crypto
import Foundation
import Logging
import TrubiZoneClient
import TrubiZoneDaemon
import TrubiZoneManufacturer
import TrubiZoneProtocol
import TrubiZoneSecureWorld

#if canImport(Glibc)
import Glibc
#endif

// MARK: Options

var objectCount = 10_000
var invokeIterations = 100_000
var json = false
var onlyInvoke = false
var onlyStorage = false
var sizes = [1024, 64 * 1024]
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--objects": objectCount = Int(arguments.next() ?? "") ?? objectCount
    case "--iterations": invokeIterations = Int(arguments.next() ?? "") ?? invokeIterations
    case "--json": json = true
    case "--invoke-only": onlyInvoke = true
    case "--storage-only": onlyStorage = true
    case "--size-kib": sizes = [(Int(arguments.next() ?? "") ?? 1) * 1024]
    case "-h", "--help":
        print("""
            USAGE: trubizone-bench [--objects N] [--iterations N] [--invoke-only | --storage-only] [--size-kib K] [--json]

            Measures, in one run, each TEE-core goal against its baseline:
              invoke round trip of a no-op command: in-process, and over the socket vs a raw Unix-socket ping-pong
              sealed storage put/get of 1 KiB and 64 KiB objects (durable) vs plain files with the same fsync policy
            """)
        exit(0)
    default:
        FileHandle.standardError.write(Data("error: unknown argument \(argument); see --help\n".utf8))
        exit(64)
    }
}


// The allocator setting trubizoned runs with, for the whole process: baselines and sealed runs alike.
MemoryTuning.keepFreedMemory()

var results: [[String: Any]] = []
@MainActor func report(_ name: String, _ value: Double, _ unit: String, _ note: String = "") {
    results.append(["name": name, "value": value, "unit": unit, "note": note])
    if !json {
        let padded = name.padding(toLength: 56, withPad: " ", startingAt: 0)
        print("  \(padded) \(String(format: "%12.2f", value)) \(unit.padding(toLength: 8, withPad: " ", startingAt: 0)) \(note)")
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

@MainActor func progress(_ text: String) { if !json { FileHandle.standardError.write(Data((text + "\n").utf8)) } }

let workspace = NSTemporaryDirectory() + "tz-bench-\(getpid())"
try? FileManager.default.removeItem(atPath: workspace)
try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: workspace) }
_ = try Manufacturer.provision(stateDirectory: workspace + "/state", caDirectory: workspace + "/ca")

// MARK: Invoke round trip

/// The cheapest possible command, so the round trip measures the world switch and dispatch alone.
struct NoOpTrustlet: NativeTrustlet {
    static let id = TrustletUUID("b0b0b0b0-0000-4000-8000-000000000001")!
    var uuid: TrustletUUID { Self.id }
    var name: String { "no-op" }
    func openSession(client: ClientIdentity, parameters: inout TrustletParameters) throws(TrustletError) -> any TrustletSession { Session() }
    struct Session: TrustletSession {
        func invoke(command: UInt32, parameters: inout TrustletParameters, cancellation: Cancellation) throws(TrustletError) {}
        func close() {}
    }
}

func measureInvoke(_ session: TEESession, iterations: Int) async throws -> Double {
    for _ in 0..<min(1000, iterations) { try await session.invoke(command: 0) }
    let clock = ContinuousClock()
    let start = clock.now
    for _ in 0..<iterations { try await session.invoke(command: 0) }
    return seconds(clock.now - start) / Double(iterations) * 1e6
}

/// A raw Unix-socket ping-pong moving the same number of bytes as an invoke and its reply. It runs
/// on a pool thread, as the invoke measurement does: the main thread is Dispatch's, and timing a
/// blocking loop there is not comparable.
func rawPingPong(requestSize: Int, replySize: Int, iterations: Int) async throws -> Double {
    try await Task.detached { try rawPingPongOnThisThread(requestSize: requestSize, replySize: replySize, iterations: iterations) }.value
}

func rawPingPongOnThisThread(requestSize: Int, replySize: Int, iterations: Int) throws -> Double {
    let path = workspace + "/raw.sock"
    let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    _ = FrameSocket.withAddress(path) { bind(listener, $0, $1) }
    listen(listener, 1)
    let server = Thread {
        let fd = accept(listener, nil, nil)
        // Reads ask for as much as a 64 KiB buffer holds, as the daemon's buffered reader does.
        var request = [UInt8](repeating: 0, count: 64 * 1024)
        let reply = [UInt8](repeating: 7, count: replySize)
        while true {
            var done = 0
            while done < requestSize {
                let n = request.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + done, 64 * 1024 - done, 0) }
                if n <= 0 { close(fd); return }
                done += n
            }
            _ = reply.withUnsafeBytes { send(fd, $0.baseAddress!, replySize, Int32(MSG_NOSIGNAL)) }
        }
    }
    server.start()
    let client = try FrameSocket.connect(path: path)
    let request = [UInt8](repeating: 1, count: requestSize)
    var reply = [UInt8](repeating: 0, count: 64 * 1024)
    func once() {
        _ = request.withUnsafeBytes { send(client.fd, $0.baseAddress!, requestSize, Int32(MSG_NOSIGNAL)) }
        var done = 0
        while done < replySize {
            let n = reply.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress! + done, 64 * 1024 - done, 0) }
            if n <= 0 { return }
            done += n
        }
    }
    for _ in 0..<min(1000, iterations) { once() }
    let clock = ContinuousClock()
    let start = clock.now
    for _ in 0..<iterations { once() }
    let perCall = seconds(clock.now - start) / Double(iterations) * 1e6
    client.close()
    close(listener)
    unlink(path)
    return perCall
}

if !onlyStorage {
    progress("invoke round trip: \(invokeIterations) no-op invokes per transport…")
    let world = try SecureWorld.emulated(stateDirectory: workspace + "/state", reeDirectory: workspace + "/ree-invoke")
    let runtime = SecureWorld(rootOfTrust: world.rootOfTrust, storage: world.storage, trustlets: [NoOpTrustlet()])
    let inProcess = try TEEContext.inProcess(runtime)
    let inProcessMicros = try await measureInvoke(try await inProcess.openSession(uuid: NoOpTrustlet.id), iterations: invokeIterations)

    let server = WorldSwitchServer(endpoint: runtime, configuration: .init(socketPath: workspace + "/tz.sock"),
                                   logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() })
    try server.start()
    let overSocket = try TEEContext.socket(path: workspace + "/tz.sock")
    let session = try await overSocket.openSession(uuid: NoOpTrustlet.id)
    let requestSize = WorldSwitchCodec.encode(.invokeCommand(session: session.id, command: 0, parameters: Parameters(),
                                                             cancellationToken: .random()), requestID: 1).count
    let replySize = WorldSwitchCodec.encode(Reply(code: .success, origin: .trustedApp), requestID: 1).count
    // Interleave the two socket measurements so drift on a shared machine hits both alike.
    var socketRuns: [Double] = [], rawRuns: [Double] = []
    for round in 0..<4 {
        // Alternate which goes first, so neither always runs on a warmer (or busier) machine.
        if round % 2 == 1 { rawRuns.append(try await rawPingPong(requestSize: requestSize, replySize: replySize, iterations: invokeIterations / 4)) }
        socketRuns.append(try await measureInvoke(session, iterations: invokeIterations / 4))
        if round % 2 == 0 { rawRuns.append(try await rawPingPong(requestSize: requestSize, replySize: replySize, iterations: invokeIterations / 4)) }
    }
    if ProcessInfo.processInfo.environment["TZ_BENCH_VERBOSE"] != nil {
        progress("socket runs (µs): \(socketRuns.map { String(format: "%.1f", $0) }), raw runs: \(rawRuns.map { String(format: "%.1f", $0) })")
    }
    let socketMicros = socketRuns.min()!, rawMicros = rawRuns.min()!
    overSocket.close()
    server.shutdown()

    if !json { print("Invoke round trip (no-op command, best of 4 interleaved runs for the socket pair)") }
    report("in-process invoke", inProcessMicros, "µs/call", "goal ≤ 5 µs")
    report("socket invoke (\(requestSize) B request, \(replySize) B reply)", socketMicros, "µs/call")
    report("raw Unix-socket ping-pong, same sizes", rawMicros, "µs/call")
    report("socket invoke / raw ping-pong", socketMicros / rawMicros, "×", "goal ≤ 1.5×")
}

// MARK: Sealed storage vs plain files

/// The plain-file baseline with the same durability: write a temporary file, fsync it, rename it
/// into place, fsync the directory — what any careful app does to store a file durably.
func plainPut(_ directory: String, _ name: String, _ data: [UInt8]) {
    let path = directory + "/" + name
    let temporary = path + ".tmp"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    _ = data.withUnsafeBytes { write(fd, $0.baseAddress, data.count) }
    fsync(fd)
    close(fd)
    rename(temporary, path)
    let dir = open(directory, O_RDONLY | O_DIRECTORY)
    fsync(dir)
    close(dir)
}

func plainGet(_ directory: String, _ name: String, size: Int) -> [UInt8] {
    let fd = open(directory + "/" + name, O_RDONLY)
    var buffer = [UInt8](repeating: 0, count: size)
    _ = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, size) }
    close(fd)
    return buffer
}

if !onlyInvoke {
    for size in sizes {
        // A namespace of its own per pass: its counter must match its own REE directory.
        let namespace = StorageNamespace(signerID: Array(repeating: 1, count: 32), uuid: Array(repeating: 2, count: 16), subject: "bench-\(size)")
        progress("sealed storage: \(objectCount) objects of \(size / 1024) KiB, durable, vs plain files…")
        let world = try SecureWorld.emulated(stateDirectory: workspace + "/state", reeDirectory: workspace + "/ree-\(size)")
        let plainDirectory = workspace + "/plain-\(size)"
        try FileManager.default.createDirectory(atPath: plainDirectory, withIntermediateDirectories: true)
        let data = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let clock = ContinuousClock()

        // Alternate sealed and plain in batches so both see the same disk conditions.
        var sealedPut = Duration.zero, plainPutTime = Duration.zero
        let batch = 500
        var i = 0
        while i < objectCount {
            let end = min(i + batch, objectCount)
            var start = clock.now
            for k in i..<end { try world.storage.put(namespace, id: Array("object-\(k)".utf8), data: data) }
            sealedPut += clock.now - start
            start = clock.now
            for k in i..<end { plainPut(plainDirectory, "object-\(k)", data) }
            plainPutTime += clock.now - start
            i = end
        }
        // Gets alternate in batches too, so neither pass is always the first to touch the files.
        var sealedGet = Duration.zero, plainGetTime = Duration.zero
        i = 0
        while i < objectCount {
            let end = min(i + batch, objectCount)
            let first = clock.now
            for k in i..<end { _ = try world.storage.get(namespace, id: Array("object-\(k)".utf8)) }
            sealedGet += clock.now - first
            let second = clock.now
            for k in i..<end { _ = plainGet(plainDirectory, "object-\(k)", size: size) }
            plainGetTime += clock.now - second
            i = end
        }
        var start = clock.now

        // The same sealed files read raw, without crypto: what the file I/O alone costs.
        let sealedDirectory = world.storage.directory(of: namespace)
        let sealedNames = (try? FileManager.default.contentsOfDirectory(atPath: sealedDirectory)) ?? []
        start = clock.now
        for name in sealedNames { _ = plainGet(sealedDirectory, name, size: size + 141) }
        let rawSealedRead = seconds(clock.now - start) / Double(max(1, sealedNames.count))

        // The floor under any authenticated read: AES-256-GCM opening the same bytes, no I/O.
        let key = SymmetricKey(size: .bits256)
        let box = try AES.GCM.seal(data, using: key, authenticating: [1, 2, 3])
        let combined = Array(box.combined!)
        let opens = max(1, min(objectCount, 5_000))
        start = clock.now
        for _ in 0..<opens { _ = try AES.GCM.open(AES.GCM.SealedBox(combined: combined), using: key, authenticating: [1, 2, 3]) }
        let gcmOpen = seconds(clock.now - start) / Double(opens)

        let n = Double(objectCount)
        let label = "\(size / 1024) KiB"
        if !json { print("Sealed storage, \(objectCount) objects of \(label), durability on") }
        report("sealed put \(label)", n / seconds(sealedPut), "ops/s")
        report("plain-file put \(label) (fsync file + dir)", n / seconds(plainPutTime), "ops/s")
        report("sealed / plain put throughput \(label)", seconds(plainPutTime) / seconds(sealedPut), "×", "goal ≥ 0.5×")
        report("sealed get \(label)", n / seconds(sealedGet), "ops/s")
        report("plain-file get \(label)", n / seconds(plainGetTime), "ops/s")
        report("sealed / plain get throughput \(label)", seconds(plainGetTime) / seconds(sealedGet), "×", "goal ≥ 0.5×")
        report("sealed get \(label), per call", seconds(sealedGet) / n * 1e6, "µs/op")
        report("plain-file get \(label), per call", seconds(plainGetTime) / n * 1e6, "µs/op")
        report("raw read of the sealed files (no crypto)", rawSealedRead * 1e6, "µs/op")
        report("AES-256-GCM open of \(label) alone (no I/O)", gcmOpen * 1e6, "µs/op", "the floor an authenticated read adds")
        report("plain read + GCM open, as a ratio to plain read", seconds(plainGetTime) / (seconds(plainGetTime) + gcmOpen * n), "×",
               "the best any authenticated get could reach")
        try? FileManager.default.removeItem(atPath: workspace + "/ree-\(size)")
        try? FileManager.default.removeItem(atPath: plainDirectory)
    }
}

if json {
    let data = try JSONSerialization.data(withJSONObject: ["results": results], options: [.prettyPrinted, .sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}
