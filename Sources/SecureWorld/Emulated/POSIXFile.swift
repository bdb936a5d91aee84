#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TrubiZoneSecureWorld

/// The few file operations the secure world needs, on raw POSIX calls so that every `fsync` is
/// explicit and every failure carries its `errno`.
enum POSIXFile {
    typealias Failure = REEFileError

    /// Reads a whole file. Refuses files larger than `limit` so a planted giant file cannot
    /// exhaust the secure world's memory.
    static func read(_ path: String, limit: Int) throws(Failure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Failure(operation: "stat", path: path, errno: errno) }
        guard Int(info.st_size) <= limit else { throw Failure(operation: "read", path: path, errno: EFBIG) }
        return try readFully(fd, count: Int(info.st_size), path: path)
    }

    /// Reads up to `count` bytes without asking the file's size first (one system call fewer on
    /// the hot read path); a short result means the file is shorter.
    static func read(_ path: String, upTo count: Int) throws(Failure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        return try readFully(fd, count: count, path: path, shortReadIsEnd: true)
    }

    /// Reads at most `count` bytes from the start of a file.
    static func readPrefix(_ path: String, count: Int) throws(Failure) -> (bytes: [UInt8], fileSize: Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Failure(operation: "stat", path: path, errno: errno) }
        let bytes = try readFully(fd, count: min(count, Int(info.st_size)), path: path)
        return (bytes, Int(info.st_size))
    }

    /// Reads up to `count` bytes straight into a new array: no zero fill, and no copy when the
    /// file is shorter (objects are read on the hot path).
    /// With `shortReadIsEnd`, a short read ends the loop: on a regular file it means end of file,
    /// which saves the extra zero-length read that would otherwise confirm it.
    private static func readFully(_ fd: Int32, count: Int, path: String, shortReadIsEnd: Bool = false) throws(Failure) -> [UInt8] {
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count {
                let n = pread(fd, buffer.baseAddress! + done, count - done, off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    break
                }
                if n == 0 { break }
                done += n
                if shortReadIsEnd, done < count { break }
            }
            initialized = done
        }
        if failure != 0 { throw Failure(operation: "read", path: path, errno: failure) }
        return bytes
    }

    /// Creates (or replaces) a file with mode 0600 and writes `bytes`; with `durable`, the data is
    /// on stable storage when this returns.
    static func write(_ path: String, _ bytes: [UInt8], durable: Bool) throws(Failure) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(operation: "create", path: path, errno: errno) }
        defer { close(fd) }
        try writeAll(fd, bytes, offset: 0, path: path)
        if durable, fsync(fd) != 0 { throw Failure(operation: "fsync", path: path, errno: errno) }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], offset: Int, path: String) throws(Failure) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(operation: "write", path: path, errno: errno)
            }
            done += n
        }
    }

    /// Makes a directory's entries (creations, renames, removals) durable.
    static func syncDirectory(_ path: String) throws(Failure) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw Failure(operation: "fsync", path: path, errno: errno) }
    }

    /// Atomically replaces `path` with `bytes` (write to a temporary, fsync, rename, fsync the directory).
    static func replaceAtomically(_ path: String, _ bytes: [UInt8], durable: Bool) throws(Failure) {
        let temporary = path + ".tmp"
        try write(temporary, bytes, durable: durable)
        guard rename(temporary, path) == 0 else { throw Failure(operation: "rename", path: path, errno: errno) }
        if durable { try syncDirectory(parent(of: path)) }
    }

    static func remove(_ path: String) throws(Failure) {
        if unlink(path) != 0, errno != ENOENT { throw Failure(operation: "unlink", path: path, errno: errno) }
    }

    /// Creates a directory with mode 0700 if it does not exist.
    static func makeDirectory(_ path: String, mode: mode_t = 0o700) throws(Failure) {
        if mkdir(path, mode) != 0, errno != EEXIST { throw Failure(operation: "mkdir", path: path, errno: errno) }
    }

    /// Creates a directory and any missing parents, each with mode 0700.
    static func makeDirectories(_ path: String) throws(Failure) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            try makeDirectory(prefix)
        }
    }

    /// The names in a directory, without `.` and `..`.
    static func list(_ path: String) throws(Failure) -> [String] {
        guard let dir = opendir(path) else { throw Failure(operation: "opendir", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    struct Status {
        let mode: UInt32
        let owner: UInt32
        let isDirectory: Bool
    }

    static func status(_ path: String) throws(Failure) -> Status {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw Failure(operation: "stat", path: path, errno: errno) }
        return Status(mode: UInt32(info.st_mode) & 0o7777, owner: UInt32(info.st_uid),
                      isDirectory: (info.st_mode & S_IFMT) == S_IFDIR)
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static var effectiveUserID: UInt32 { UInt32(geteuid()) }
}
