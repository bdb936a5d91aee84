#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The normal world's file system, as sealed storage uses it: the only way the runtime reaches
/// the REE's files (on OP-TEE, the supplicant's file service; here `POSIXFileSystem`).
///
/// Nothing stored through it is trusted: every object is sealed, and its freshness is anchored in
/// the root of trust's counters, so a backend that loses, changes or rolls back files is detected.
public protocol REEFileSystem: Sendable {
    func exists(_ path: String) -> Bool
    /// Creates a directory (mode 0700) if it does not exist.
    func makeDirectory(_ path: String) throws(REEFileError)
    /// Makes a directory's entries (creations, renames, removals) durable.
    func syncDirectory(_ path: String) throws(REEFileError)
    /// Creates or replaces a file (mode 0600); with `durable`, it is on stable storage on return.
    func write(_ path: String, _ bytes: [UInt8], durable: Bool) throws(REEFileError)
    /// Removes a file; one that is not there is no error.
    func remove(_ path: String) throws(REEFileError)
    /// The names in a directory, without `.` and `..`.
    func list(_ path: String) throws(REEFileError) -> [String]
    /// Up to `count` bytes of a file; a shorter result means the file is shorter.
    func read(_ path: String, upTo count: Int) throws(REEFileError) -> [UInt8]
    /// At most `count` bytes from the start of a file, and its size.
    func readPrefix(_ path: String, count: Int) throws(REEFileError) -> (bytes: [UInt8], fileSize: Int)
}

/// A failed REE file operation, with the `errno` it ended in.
public struct REEFileError: Error, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let errno: Int32

    public init(operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String { "\(operation) \(path): \(String(cString: strerror(errno))) (errno \(errno))" }
    public var isNotFound: Bool { errno == ENOENT }
    /// The file system is full (not a trustlet's quota).
    public var isFull: Bool { errno == ENOSPC || errno == EDQUOT }
}

/// Paths in the REE directory, as strings.
enum REEPath {
    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
