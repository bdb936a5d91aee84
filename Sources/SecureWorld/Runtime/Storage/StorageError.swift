import TrubiZoneProtocol

/// A sealed-storage failure: a GP return code and a diagnostic that names what was wrong.
///
/// Diagnostics name files and version numbers, never object IDs or contents: they travel to the
/// normal world.
public struct StorageError: Error, Equatable, Sendable, CustomStringConvertible {
    public let code: ReturnCode
    public let diagnostic: String
    /// A trustlet's quota refused the change: nothing on disk is in doubt.
    let isQuota: Bool

    public init(_ code: ReturnCode, _ diagnostic: String) {
        self.init(code, diagnostic, isQuota: false)
    }

    private init(_ code: ReturnCode, _ diagnostic: String, isQuota: Bool) {
        self.code = code
        self.diagnostic = diagnostic
        self.isQuota = isQuota
    }

    public var description: String { "\(code.name): \(diagnostic)" }

    static let notFound = StorageError(.itemNotFound, "no object with that ID")
    static func corrupt(_ why: String) -> StorageError { StorageError(.corruptObject, why) }
    static func tampered(_ why: String) -> StorageError { StorageError(.security, why) }
    static func badParameters(_ why: String) -> StorageError { StorageError(.badParameters, why) }
    /// A trustlet's quota is used up (not the REE file system's space).
    static func quota(_ why: String) -> StorageError { StorageError(.storageNoSpace, why, isQuota: true) }

    static func io(_ failure: REEFileError) -> StorageError {
        failure.isFull
            ? StorageError(.storageNoSpace, "the REE file system is full")
            : StorageError(.storageNotAvailable, "REE file system: \(failure.description)")
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
