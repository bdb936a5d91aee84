import TrubiZoneSecureWorld

/// The REE file system of an emulated device: the host's files, through raw POSIX calls.
public struct POSIXFileSystem: REEFileSystem {
    public init() {}

    public func exists(_ path: String) -> Bool { POSIXFile.exists(path) }
    public func makeDirectory(_ path: String) throws(REEFileError) { try POSIXFile.makeDirectory(path) }
    public func syncDirectory(_ path: String) throws(REEFileError) { try POSIXFile.syncDirectory(path) }
    public func write(_ path: String, _ bytes: [UInt8], durable: Bool) throws(REEFileError) { try POSIXFile.write(path, bytes, durable: durable) }
    public func remove(_ path: String) throws(REEFileError) { try POSIXFile.remove(path) }
    public func list(_ path: String) throws(REEFileError) -> [String] { try POSIXFile.list(path) }
    public func read(_ path: String, upTo count: Int) throws(REEFileError) -> [UInt8] { try POSIXFile.read(path, upTo: count) }
    public func readPrefix(_ path: String, count: Int) throws(REEFileError) -> (bytes: [UInt8], fileSize: Int) {
        try POSIXFile.readPrefix(path, count: count)
    }
}
