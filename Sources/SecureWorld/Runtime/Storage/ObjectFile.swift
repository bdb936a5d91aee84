import Crypto

/// The format of one sealed object version in the REE file system.
///
///     header   "TZOB" | format u8 | 0 0 0 | seq u64                          16 bytes, in clear
///     id box   AES-GCM( id length u8 | id padded to 64 | data length u32 )   12 + 69 + 16 bytes
///     data box AES-GCM( data | zeros to the size bucket )                    12 + bucket + 16 bytes
///
/// The id box is authenticated with the header and the namespace ID, so a file cannot be moved to
/// another namespace or given another sequence number. The data box is additionally bound to the
/// object ID and sequence number, so contents cannot be swapped between objects or versions. The
/// ID is padded, and the data padded to the channel's size buckets (1 KiB, then powers of two to
/// 1 MiB, then whole MiB), so a file's size tells no more than its bucket: the REE file system
/// gives away no more of a trustlet's data volume than the wire does. (Format 1, unpadded, is
/// still read.)
enum ObjectFile {
    static let magic: [UInt8] = Array("TZOB".utf8)
    static let format: UInt8 = 2
    static let unpaddedFormat: UInt8 = 1

    /// The size the data is padded to: 1 KiB, powers of two up to 1 MiB, then whole MiB.
    static func bucket(_ count: Int) -> Int {
        var size = 1024
        while size < count && size < 1 << 20 { size <<= 1 }
        if count <= size { return size }
        return (count + (1 << 20) - 1) / (1 << 20) * (1 << 20)
    }

    /// The data box's plaintext size for `count` bytes of data in a file of `format`.
    static func storedSize(_ count: Int, format: UInt8) -> Int { format == unpaddedFormat ? count : bucket(count) }
    static let headerSize = 16
    static let maxIDLength = 64
    static let idPlaintextSize = 1 + maxIDLength + 4
    static let boxOverhead = 12 + 16
    static let prefixSize = headerSize + idPlaintextSize + boxOverhead
    static let overhead = prefixSize + boxOverhead

    struct Prefix {
        let seq: UInt64
        let id: [UInt8]
        let dataLength: Int
    }

    enum Failure: Error {
        case truncated(size: Int)
        case notAnObjectFile
        case unsupportedFormat(UInt8)
        case headerForged
        case lengthMismatch(size: Int, expected: Int)
        case contentForged
    }

    /// - Parameter clear: the `objectSealing` negative control (debug builds): the data box holds
    ///   the data in clear between a zero nonce and a zero tag, and is read back unchecked.
    static func seal(seq: UInt64, id: [UInt8], data: [UInt8], keys: NamespaceKeys, clear: Bool = false) -> [UInt8] {
        let header = magic + [format, 0, 0, 0] + be64(seq)
        var idPlain = [UInt8(id.count)] + id + [UInt8](repeating: 0, count: maxIDLength - id.count)
        idPlain += [UInt8(data.count >> 24 & 0xFF), UInt8(data.count >> 16 & 0xFF), UInt8(data.count >> 8 & 0xFF), UInt8(data.count & 0xFF)]
        // AES-GCM with a fresh random nonce per box cannot fail for these sizes.
        let idBox = try! AES.GCM.seal(idPlain, using: keys.encryption, authenticating: header + keys.namespaceID)
        var padded = data
        padded.append(contentsOf: repeatElement(0, count: bucket(data.count) - data.count))
        if clear { return header + Array(idBox.combined!) + [UInt8](repeating: 0, count: 12) + padded + [UInt8](repeating: 0, count: 16) }
        let dataBox = try! AES.GCM.seal(padded, using: keys.encryption, authenticating: dataAAD(header: header, id: id, keys: keys))
        return header + Array(idBox.combined!) + Array(dataBox.combined!)
    }

    /// Authenticates the header and the id box, from the first `prefixSize` bytes of a file.
    static func openPrefix(_ bytes: [UInt8], fileSize: Int, keys: NamespaceKeys, clear: Bool = false) throws(Failure) -> Prefix {
        guard fileSize >= 4, Array(bytes.prefix(4)) == magic else {
            throw fileSize < prefixSize ? .truncated(size: fileSize) : .notAnObjectFile
        }
        guard bytes.count >= prefixSize else { throw .truncated(size: fileSize) }
        guard bytes[4] == format || bytes[4] == unpaddedFormat else { throw .unsupportedFormat(bytes[4]) }
        let header = Array(bytes[0..<headerSize])
        guard let box = try? AES.GCM.SealedBox(combined: bytes[headerSize..<prefixSize]),
              let plain = try? AES.GCM.open(box, using: keys.encryption, authenticating: header + keys.namespaceID)
        else { throw .headerForged }
        let idLength = Int(plain[0])
        guard idLength >= 1, idLength <= maxIDLength else { throw .headerForged }
        let id = Array(plain[1...idLength])
        let dataLength = plain[1 + maxIDLength..<idPlaintextSize].reduce(0) { $0 << 8 | Int($1) }
        let expected = prefixSize + boxOverhead + storedSize(dataLength, format: bytes[4])
        guard fileSize == expected || clear else { throw .lengthMismatch(size: fileSize, expected: expected) }
        return Prefix(seq: readBE64(header[8...]), id: id, dataLength: dataLength)
    }

    /// The fast read: the header and id box must be byte for byte the ones authenticated when the
    /// object was written or loaded, and the data box must open. Its AAD binds namespace, object ID
    /// and sequence number, so success proves the file is exactly that version of that object, and
    /// nothing in it was changed. `nil` means something is wrong; the caller then takes the slow
    /// path to say what.
    static func openExpected(_ bytes: [UInt8], prefix expected: [UInt8], id: [UInt8], dataLength: Int, keys: NamespaceKeys,
                             clear: Bool = false) -> [UInt8]? {
        if clear { return bytes.count >= prefixSize + 12 && bytes[0..<prefixSize].elementsEqual(expected) ? inClear(bytes, dataLength) : nil }
        guard bytes.count >= prefixSize, bytes.count == prefixSize + boxOverhead + storedSize(dataLength, format: bytes[4]),
              bytes[0..<prefixSize].elementsEqual(expected) else { return nil }
        let header = Array(bytes[0..<headerSize])
        guard let box = try? AES.GCM.SealedBox(combined: bytes[prefixSize...]),
              let plain = try? AES.GCM.open(box, using: keys.encryption, authenticating: dataAAD(header: header, id: id, keys: keys))
        else { return nil }
        return Array(plain.prefix(dataLength))
    }

    /// The data of a file written by the `objectSealing` negative control: whatever is there.
    private static func inClear(_ bytes: [UInt8], _ dataLength: Int) -> [UInt8] {
        Array(bytes.dropFirst(prefixSize + 12).prefix(dataLength))
    }

    private static func dataAAD(header: [UInt8], id: [UInt8], keys: NamespaceKeys) -> [UInt8] {
        Array("data".utf8) + header + keys.namespaceID + [UInt8(id.count)] + id
    }
}
