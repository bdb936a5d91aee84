// trubizone-bench: the performance goals of the TEE core, each measured against its baseline in
// the same run. Build in release: `swift run -c release trubizone-bench`.
import Crypto
import Foundation
import Logging
import TrubiZoneClient
import TrubiZoneDaemon
import TrubiZoneEmulatedDevice
import TrubiZoneManufacturer
import TrubiZoneProtocol
import TrubiZoneSampleTrustlets
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
var onlyTrustlets = false
var onlyAttestation = false
var sizes = [1024, 64 * 1024]
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--objects": objectCount = Int(arguments.next() ?? "") ?? objectCount
    case "--iterations": invokeIterations = Int(arguments.next() ?? "") ?? invokeIterations
    case "--json": json = true
    case "--invoke-only": onlyInvoke = true
    case "--storage-only": onlyStorage = true
    case "--trustlets-only": onlyTrustlets = true
    case "--attestation-only": onlyAttestation = true
    case "--size-kib": sizes = [(Int(arguments.next() ?? "") ?? 1) * 1024]
    case "-h", "--help":
        print("""
            USAGE: trubizone-bench [--objects N] [--iterations N] [--invoke-only | --storage-only | --trustlets-only | --attestation-only]
                                   [--size-kib K] [--json]

            Measures, in one run, each TEE-core goal against its baseline:
              invoke round trip of a no-op command: in-process, and over the socket vs a raw Unix-socket ping-pong
              sealed storage put/get of 1 KiB and 64 KiB objects (durable) vs plain files with the same fsync policy
              wasm trustlets: invoke overhead vs a native trustlet, guest compute vs native Swift,
                host-API SHA-256 vs native, cold start of each sample trustlet
              attestation: token issue in the secure world, full appraisal, a whole round; HPKE seal/open
                of 4 KiB and 1 MiB vs AES-GCM alone on the same bytes
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

if !onlyStorage && !onlyTrustlets && !onlyAttestation {
    progress("invoke round trip: \(invokeIterations) no-op invokes per transport…")
    let world = try SecureWorld.emulated(stateDirectory: workspace + "/state", reeDirectory: workspace + "/ree-invoke")
    let runtime = SecureWorld(storage: world.storage, trustlets: [NoOpTrustlet()])
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

if !onlyInvoke && !onlyTrustlets && !onlyAttestation {
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

// MARK: Wasm trustlets

/// FNV-1a 64 — the same Swift the `bench` trustlet runs in the guest.
func fnv1a(_ bytes: [UInt8]) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01B3
    }
    return hash
}

func perCall(_ iterations: Int, _ body: () async throws -> Void) async rethrows -> Double {
    for _ in 0..<min(100, iterations) { try await body() }
    let clock = ContinuousClock()
    let start = clock.now
    for _ in 0..<iterations { try await body() }
    return seconds(clock.now - start) / Double(iterations)
}

struct Measurement: Sendable {
    let name: String, value: Double, unit: String, note: String
}

/// The trustlet measurements, off the main actor: a closure formed in top-level code would hop to
/// the main actor on every call and time the hop instead of the call.
nonisolated func measureTrustlets(workspace: String, iterations: Int) async throws -> [Measurement] {
    let quiet = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
    let world = try SecureWorld.emulated(stateDirectory: workspace + "/state", reeDirectory: workspace + "/ree-trustlets", logger: quiet)
    let benchID = TrustletUUID("b0b0b0b0-0000-4000-8000-0000000000bb")!
    let limits = TrustletLimits(memoryPages: 64, fuelPerCall: 2_000_000_000)
    let bench = try WasmTrustlet(wasm: SampleTrustlets.wasm("bench"), uuid: benchID, name: "bench", signerID: Array(repeating: 1, count: 32),
                                 limits: limits, capabilities: .all, storage: world.storage, secureLog: world.secureLog)
    let runtime = SecureWorld(storage: world.storage, trustlets: [NoOpTrustlet(), bench], logger: quiet)
    let context = try TEEContext.inProcess(runtime)
    let native = try await context.openSession(uuid: NoOpTrustlet.id)
    let wasm = try await context.openSession(uuid: benchID)
    var out: [Measurement] = []

    // Interleaved, best of 4, as for the socket pair.
    var nativeRuns: [Double] = [], wasmRuns: [Double] = []
    for _ in 0..<4 {
        nativeRuns.append(try await perCall(iterations / 4) { try await native.invoke(command: 0) })
        wasmRuns.append(try await perCall(iterations / 4) { try await wasm.invoke(command: 0) })
    }
    let nativeInvoke = nativeRuns.min()!, wasmInvoke = wasmRuns.min()!
    out.append(Measurement(name: "no-op invoke, native built-in trustlet", value: nativeInvoke * 1e6, unit: "µs/call", note: ""))
    out.append(Measurement(name: "no-op invoke, wasm trustlet", value: wasmInvoke * 1e6, unit: "µs/call", note: ""))
    out.append(Measurement(name: "wasm overhead per invocation", value: (wasmInvoke - nativeInvoke) * 1e6, unit: "µs", note: "goal ≤ 3 µs"))

    let data = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    var guestHash: UInt64 = 0, nativeHash: UInt64 = 0
    let guestCompute = try await perCall(20) {
        let result = try await wasm.invoke(command: 1, parameters: [.valueOutput])
        guestHash = UInt64(result.value(0)?.a ?? 0) << 32 | UInt64(result.value(0)?.b ?? 0)
    }
    let nativeCompute = await perCall(20) { nativeHash = fnv1a(data) }
    guard guestHash == nativeHash else { throw BenchFailure(description: "the guest and native FNV-1a disagree") }
    out.append(Measurement(name: "FNV-1a over 1 MiB, Swift in the guest", value: guestCompute * 1e3, unit: "ms", note: ""))
    out.append(Measurement(name: "FNV-1a over 1 MiB, the same Swift native", value: nativeCompute * 1e3, unit: "ms", note: ""))
    out.append(Measurement(name: "guest / native compute time", value: guestCompute / nativeCompute, unit: "×", note: "goal ≤ 5×"))

    let hostCrypto = try await perCall(50) { _ = try await wasm.invoke(command: 2, parameters: [.output(capacity: 32)]) }
    let nativeCrypto = await perCall(50) { _ = SHA256.hash(data: data) }
    out.append(Measurement(name: "SHA-256 of 1 MiB through the host API (a whole invoke)", value: hostCrypto * 1e3, unit: "ms", note: ""))
    out.append(Measurement(name: "SHA-256 of 1 MiB native (swift-crypto)", value: nativeCrypto * 1e3, unit: "ms", note: ""))
    out.append(Measurement(name: "host-API / native crypto throughput", value: nativeCrypto / hostCrypto, unit: "×", note: "goal ≥ 0.9×"))

    // Each sample's first invoke: hello echoes, vault reports its status, bench runs its no-op.
    let firstCalls: [(String, UInt32, [TEEParameter])] = [
        ("hello", 0, [.input([1]), .output(capacity: 8), .valueOutput]), ("vault", 2, [.valueOutput, .valueOutput]), ("bench", 0, []),
    ]
    for (name, command, parameters) in firstCalls {
        let bytes = try SampleTrustlets.wasm(name)
        let uuid = TrustletUUID("b0b0b0b0-0000-4000-8000-0000000000c0")!
        let cold = try await perCall(20) {
            let trustlet = try WasmTrustlet(wasm: bytes, uuid: uuid, name: name, signerID: Array(repeating: 2, count: 32),
                                            limits: limits, capabilities: .all, storage: world.storage, secureLog: world.secureLog)
            runtime.install(trustlet)
            let session = try await context.openSession(uuid: uuid)
            _ = try await session.invoke(command: command, parameters: parameters)
            try await session.close()
        }
        out.append(Measurement(name: "cold start \(name), \(bytes.count / 1024) KiB (parse … first invoke)", value: cold * 1e3, unit: "ms", note: ""))
    }
    return out
}

struct BenchFailure: Error, CustomStringConvertible { let description: String }

if !onlyInvoke && !onlyStorage && !onlyAttestation {
    progress("wasm trustlets: invoke overhead, compute, host-API crypto, cold start…")
    let measured = try await measureTrustlets(workspace: workspace, iterations: invokeIterations)
    if !json { print("Wasm trustlets (in-process; WasmKit interpreter)") }
    for m in measured { report(m.name, m.value, m.unit, m.note) }
}

if !onlyInvoke && !onlyStorage && !onlyTrustlets {
    progress("attestation: token issue, appraisal, HPKE…")
    let measured = try await measureAttestation(workspace: workspace)
    if !json { print("Attestation and the HPKE channel (in-process)") }
    for m in measured { report(m.name, m.value, m.unit, m.note) }
}

if json {
    let data = try JSONSerialization.data(withJSONObject: ["results": results], options: [.prettyPrinted, .sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}
