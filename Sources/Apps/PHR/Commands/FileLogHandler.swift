import Foundation
import Logging
import Synchronization

/// A log handler that appends every line to a file: the normal world's logs, as the attacker
/// (who can read them all) sees them.
public struct FileLogHandler: LogHandler {
    final class Sink: Sendable {
        let handle: Mutex<FileHandle?>
        init(path: String) {
            if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
            let file = FileHandle(forWritingAtPath: path)
            _ = try? file?.seekToEnd()
            handle = Mutex(file)
        }
        func write(_ line: String) { handle.withLock { $0?.write(Data((line + "\n").utf8)) } }
    }

    let label: String
    let sink: Sink
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace

    /// A factory for `Logger(label:factory:)` writing to `path`.
    public static func factory(path: String) -> @Sendable (String) -> LogHandler {
        let sink = Sink(path: path)
        return { label in FileLogHandler(label: label, sink: sink) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        sink.write("\(event.level) \(label): \(event.message) \(merged.map { "\($0)=\($1)" }.sorted().joined(separator: " "))")
    }
}
