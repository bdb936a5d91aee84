import Crypto
import Synchronization
import TrubiZoneSecureWorld

/// Monotonic counters kept in files of the secure state directory, emulating RPMB.
///
/// Each counter is one file of two fixed-size slots, written alternately in place with
/// `pwrite` + `fdatasync`. A write torn by a crash leaves the other slot intact, so after a crash
/// the counter holds either its old or its new record, never neither. Every slot is MACed with the
/// counter key from the hardware unique key, as RPMB frames are.
final class FileCounterStore: MonotonicCounterStore {
    static let slotSize = 512
    static let maxNameLength = 96
    static let maxPayload = 256
    private static let magic: [UInt8] = Array("TZRC".utf8)
    private static let macOffset = slotSize - 32

    private struct Cached {
        var record: CounterRecord
        var slot: Int
    }

    private let directory: String
    private let key: SymmetricKey
    private let durable: Bool
    private let cache = Mutex<[String: Cached]>([:])

    init(directory: String, key: SymmetricKey, durable: Bool) throws(CounterError) {
        self.directory = directory
        self.key = key
        self.durable = durable
        do {
            try POSIXFile.makeDirectory(directory)
        } catch {
            throw .io(error.description)
        }
    }

    func read(_ name: String) throws(CounterError) -> CounterRecord? {
        try load(name)?.record
    }

    func advance(_ name: String, to value: UInt64, payload: [UInt8]) throws(CounterError) {
        guard name.utf8.count <= Self.maxNameLength else { throw .nameTooLong(name) }
        guard payload.count <= Self.maxPayload else { throw .payloadTooLarge(payload.count) }
        let current = try load(name)
        if let current, value <= current.record.value {
            throw .notMonotonic(name: name, current: current.record.value, attempted: value)
        }
        // Write the slot that does not hold the current record, so a torn write loses nothing.
        let slot = current.map { 1 - $0.slot } ?? 0
        let bytes = encodeSlot(name: name, record: CounterRecord(value: value, payload: payload))
        let path = self.path(for: name)
        let isNew = current == nil
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io("open \(path): errno \(errno)") }
        defer { close(fd) }
        do {
            try POSIXFile.writeAll(fd, bytes, offset: slot * Self.slotSize, path: path)
        } catch {
            throw .io(error.description)
        }
        if durable {
            guard fdatasync(fd) == 0 else { throw .io("fdatasync \(path): errno \(errno)") }
            if isNew {
                do { try POSIXFile.syncDirectory(directory) } catch { throw .io(error.description) }
            }
        }
        cache.withLock { $0[name] = Cached(record: CounterRecord(value: value, payload: payload), slot: slot) }
    }

    func values() throws(CounterError) -> [(name: String, value: UInt64)] {
        let files: [String]
        do { files = try POSIXFile.list(directory) } catch { throw .io(error.description) }
        var out: [(name: String, value: UInt64)] = []
        for file in files where !file.hasSuffix(".tmp") {
            guard let bytes = try? POSIXFile.read(directory + "/" + file, limit: 2 * Self.slotSize) else { continue }
            if let best = newestSlot(in: bytes, expectedName: nil) {
                out.append((best.name, best.record.value))
            }
        }
        return out.sorted { $0.name < $1.name }
    }

    // MARK: Slots

    private func load(_ name: String) throws(CounterError) -> Cached? {
        if let cached = cache.withLock({ $0[name] }) { return cached }
        let path = self.path(for: name)
        let bytes: [UInt8]
        do {
            bytes = try POSIXFile.read(path, limit: 2 * Self.slotSize)
        } catch let failure where failure.isNotFound {
            return nil
        } catch {
            throw .io(error.description)
        }
        guard let best = newestSlot(in: bytes, expectedName: name) else { throw .corrupt(name: name) }
        let cached = Cached(record: best.record, slot: best.slot)
        cache.withLock { $0[name] = cached }
        return cached
    }

    private func newestSlot(in bytes: [UInt8], expectedName: String?) -> (name: String, record: CounterRecord, slot: Int)? {
        var best: (name: String, record: CounterRecord, slot: Int)?
        for slot in 0..<2 {
            let start = slot * Self.slotSize
            guard bytes.count >= start + Self.slotSize else { continue }
            guard let decoded = decodeSlot(Array(bytes[start..<start + Self.slotSize])) else { continue }
            if let expectedName, decoded.name != expectedName { continue }
            if best == nil || decoded.record.value > best!.record.value {
                best = (decoded.name, decoded.record, slot)
            }
        }
        return best
    }

    private func encodeSlot(name: String, record: CounterRecord) -> [UInt8] {
        var slot = Self.magic
        let nameBytes = Array(name.utf8)
        slot.append(UInt8(nameBytes.count))
        slot += nameBytes
        for shift in stride(from: 56, through: 0, by: -8) { slot.append(UInt8((record.value >> UInt64(shift)) & 0xFF)) }
        slot.append(UInt8(record.payload.count >> 8))
        slot.append(UInt8(record.payload.count & 0xFF))
        slot += record.payload
        slot += [UInt8](repeating: 0, count: Self.macOffset - slot.count)
        slot += Array(HMAC<SHA256>.authenticationCode(for: slot, using: key))
        return slot
    }

    private func decodeSlot(_ slot: [UInt8]) -> (name: String, record: CounterRecord)? {
        let body = Array(slot[0..<Self.macOffset])
        let tag = Array(slot[Self.macOffset...])
        guard HMAC<SHA256>.isValidAuthenticationCode(tag, authenticating: body, using: key) else { return nil }
        guard Array(body[0..<4]) == Self.magic else { return nil }
        let nameLength = Int(body[4])
        guard nameLength <= Self.maxNameLength else { return nil }
        var offset = 5
        let name = String(decoding: body[offset..<offset + nameLength], as: UTF8.self)
        offset += nameLength
        var value: UInt64 = 0
        for i in 0..<8 { value = value << 8 | UInt64(body[offset + i]) }
        offset += 8
        let payloadLength = Int(body[offset]) << 8 | Int(body[offset + 1])
        offset += 2
        guard payloadLength <= Self.maxPayload, offset + payloadLength <= Self.macOffset else { return nil }
        return (name, CounterRecord(value: value, payload: Array(body[offset..<offset + payloadLength])))
    }

    private func path(for name: String) -> String {
        directory + "/" + Array(SHA256.hash(data: Array(name.utf8))).prefix(16).map { b in
            (b < 16 ? "0" : "") + String(b, radix: 16)
        }.joined()
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
