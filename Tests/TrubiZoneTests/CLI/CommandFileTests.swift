import ArgumentParser
import Foundation
import Testing
import TrubiZoneCLISupport
import TrubiZoneTesting

/// The files commands write for a user (a released health record, a sealed object's plaintext, a
/// key): never through a symbolic link another app planted, never keeping the mode of a file made
/// beforehand, never half written.
@Suite struct CommandFileTests {
    static func mode(_ path: String) -> mode_t {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o7777 : 0
    }

    @Test func aFileIsReplacedWholeWithTheModeAskedFor() throws {
        let work = TemporaryDirectory("command-file")
        defer { withExtendedLifetime(work) {} }
        let path = work.appending("record.json")
        #expect(FileManager.default.createFile(atPath: path, contents: Data("someone else's".utf8), attributes: [.posixPermissions: 0o666]))
        try CommandFile.write(Array("the record".utf8), to: path, mode: 0o600)
        #expect(FileManager.default.contents(atPath: path) == Data("the record".utf8))
        #expect(Self.mode(path) == 0o600, "not the 0666 of the file made beforehand")
        #expect(try FileManager.default.contentsOfDirectory(atPath: work.path) == ["record.json"], "no temporary file left")
        // A key is never written over one that is there.
        #expect(throws: ExitCode(ExitStatus.usage)) { try CommandFile.write([1], to: path, mode: 0o600, replacing: false) }
        #expect(FileManager.default.contents(atPath: path) == Data("the record".utf8))
    }

    @Test func aSymbolicLinkIsRefusedAndItsTargetUntouched() throws {
        let work = TemporaryDirectory("command-file-link")
        defer { withExtendedLifetime(work) {} }
        let target = work.appending("victim"), link = work.appending("out.json"), dangling = work.appending("dangling.json")
        #expect(FileManager.default.createFile(atPath: target, contents: Data("keep".utf8)))
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: work.appending("planted"))
        for path in [link, dangling] {
            #expect(throws: ExitCode(ExitStatus.usage)) { try CommandFile.checkWritable(path) }
            #expect(throws: ExitCode(ExitStatus.usage)) { try CommandFile.write(Array("the record".utf8), to: path, mode: 0o600) }
            #expect(throws: ExitCode(ExitStatus.usage)) { try CommandFile.write(Array("a key".utf8), to: path, mode: 0o600, replacing: false) }
        }
        #expect(FileManager.default.contents(atPath: target) == Data("keep".utf8))
        #expect(!FileManager.default.fileExists(atPath: work.appending("planted")))
    }
}
