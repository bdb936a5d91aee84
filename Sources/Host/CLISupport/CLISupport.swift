import ArgumentParser
import Foundation

/// The exit statuses every TrubiZone command gives (`sysexits.h` where one fits).
public enum ExitStatus {
    /// The work was done.
    public static let success: Int32 = 0
    /// The other end refused, or a check failed.
    public static let refused: Int32 = 1
    /// The command line or a file it names cannot be used (`EX_USAGE`).
    public static let usage: Int32 = 64
    /// A daemon, server or database it needs cannot be reached (`EX_UNAVAILABLE`).
    public static let unavailable: Int32 = 69
}

/// Prints `error: message` on standard error and gives the exit status to throw.
public func fail(_ message: String, code: Int32) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode(code)
}

/// Files a user names on the command line: each failure says which file and why, as usage (64)
/// when the path is the problem, as a failure (1) when the disk is.
public enum CommandFile {
    /// Writes `bytes` to `path` with exactly `mode`, replacing a file there unless `replacing` is
    /// false. The bytes go to a new file beside it first (never through a symbolic link, never
    /// into a file someone else made), which is synced and then renamed over `path`: a kill leaves
    /// the old file or the new one, never half of one, and a file made readable by others
    /// beforehand does not keep its mode. A symbolic link at `path` is refused.
    public static func write(_ bytes: some Collection<UInt8>, to path: String, mode: mode_t = 0o644, replacing: Bool = true) throws(ExitCode) {
        var link = stat()
        if lstat(path, &link) == 0, (link.st_mode & S_IFMT) == S_IFLNK {
            throw fail("\(path) is a symbolic link; name the file itself", code: ExitStatus.usage)
        }
        let temporary = replacing ? "\(parent(of: path))/.\(path.split(separator: "/").last ?? "file").\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp" : path
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw fail("cannot write \(path): \(why(errno, path))", code: code(errno)) }
        var done = false
        defer {
            close(fd)
            if !done { unlink(temporary) }
        }
        let data = Array(bytes)
        var written = 0
        while written < data.count {
            let n = data.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + written, data.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw fail("cannot write \(path): \(why(errno, path))", code: ExitStatus.refused) }
            written += n
        }
        // The mode asked for, whatever the umask took away.
        guard fchmod(fd, mode) == 0, fsync(fd) == 0 else { throw fail("cannot write \(path): \(why(errno, path))", code: ExitStatus.refused) }
        if replacing, rename(temporary, path) != 0 { throw fail("cannot write \(path): \(why(errno, path))", code: code(errno)) }
        done = true
    }

    /// Refuses, as usage, a path where `write` could not put a file: checked before work that
    /// cannot be repeated for free (a record released on the trusted UI, say) produces the bytes.
    public static func checkWritable(_ path: String) throws(ExitCode) {
        var link = stat()
        if lstat(path, &link) == 0, (link.st_mode & S_IFMT) == S_IFLNK {
            throw fail("\(path) is a symbolic link; name the file itself", code: ExitStatus.usage)
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard !isDirectory.boolValue else { throw fail("cannot write \(path): \(why(EISDIR, path))", code: ExitStatus.usage) }
            guard access(path, W_OK) == 0 else { throw fail("cannot write \(path): \(why(errno, path))", code: code(errno)) }
            return
        }
        let parent = Self.parent(of: path)
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw fail("cannot write \(path): \(why(ENOENT, path))", code: ExitStatus.usage)
        }
        guard access(parent, W_OK | X_OK) == 0 else { throw fail("cannot write \(path): \(why(errno, path))", code: code(errno)) }
    }

    /// Makes the folder `path` and any folders above it that are missing.
    public static func makeDirectory(_ path: String, mode: Int = 0o755) throws(ExitCode) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw fail("\(path) is a file, not a folder", code: ExitStatus.usage) }
            guard access(path, W_OK) == 0 else { throw fail("cannot write in \(path): \(why(errno, path))", code: code(errno)) }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: mode])
        } catch {
            // Find the nearest folder above that exists, and say why it will not take one.
            var parent = Self.parent(of: path)
            while !FileManager.default.fileExists(atPath: parent) && parent != "/" { parent = Self.parent(of: parent) }
            let reason = if FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), !isDirectory.boolValue {
                "\(parent) is a file, not a folder"
            } else if access(parent, W_OK | X_OK) != 0 {
                "cannot write in \(parent): \(why(errno, parent))"
            } else {
                "\(error.localizedDescription)"
            }
            throw fail("cannot make the folder \(path): \(reason)", code: ExitStatus.usage)
        }
    }

    /// The bytes of the file `path`, which the command calls `what` (e.g. "the developer key").
    public static func read(_ path: String, what: String) throws(ExitCode) -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw fail("\(what) \(path) does not exist", code: ExitStatus.usage) }
        guard !isDirectory.boolValue else { throw fail("\(what) \(path) is a folder, not a file", code: ExitStatus.usage) }
        guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot read \(what) \(path): \(why(EACCES, path))", code: ExitStatus.usage) }
        return Array(data)
    }

    /// The folder a path names its file in, as the user wrote it ("." for a bare name).
    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func code(_ error: Int32) -> Int32 {
        [ENOENT, ENOTDIR, EACCES, EPERM, EISDIR, EEXIST, EROFS, ENAMETOOLONG].contains(error) ? ExitStatus.usage : ExitStatus.refused
    }

    static func why(_ error: Int32, _ path: String) -> String {
        switch error {
        case ENOENT: "the folder \(Self.parent(of: path)) does not exist"
        case EACCES, EPERM: "permission denied"
        case EISDIR: "it is a folder"
        case EEXIST: "it exists, and this command does not overwrite it"
        case ENOTDIR: "a part of the path is a file, not a folder"
        case EROFS: "the file system is read-only"
        case ENOSPC: "the disk is full"
        default: String(cString: strerror(error))
        }
    }
}

/// Writes JSON to standard output with sorted keys, so scripts and tests can compare output.
public func printJSON(_ value: some Encodable) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self))
}
