import Foundation
import Testing
import TrubiZoneCLI
import TrubiZoneClient
import TrubiZoneProtocol
@testable import TrubiZoneSecureWorld
import TrubiZoneTesting
import TrubiZoneWire
import WAT

/// The internal API exists once, in `HostABI`: the runtime registers from it, TrustletKit's
/// declarations are generated from it, and a module that imports a function another way is refused.
@Suite struct HostABITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    @Test func trustletKitsDeclarationsAreGeneratedFromTheTable() throws {
        let file = Self.root.appending(path: InternalAPIDeclarations.path)
        let generated = InternalAPIDeclarations.render()
        if ProcessInfo.processInfo.environment["TRUBIZONE_REGENERATE"] == "1" {
            try Data(generated.utf8).write(to: file)
        }
        let checkedIn = try String(contentsOf: file, encoding: .utf8)
        #expect(checkedIn == generated, "\(InternalAPIDeclarations.path) differs from HostABI: run TRUBIZONE_REGENERATE=1 swift test --filter HostABI")
        // Each declaration names its arguments, so a call that swaps two of one type does not compile.
        #expect(checkedIn.contains("func tz_storage_write(id: UnsafeRawPointer?, idLength: Int32, data: UnsafeRawPointer?, dataLength: Int32) -> UInt32"))
        // No other TrustletKit file declares an import of its own.
        let kit = Self.root.appending(path: "Trustlets/SDK/TrustletKit")
        for name in try FileManager.default.contentsOfDirectory(atPath: kit.path) where name.hasSuffix(".swift") && name != "InternalAPI.generated.swift" {
            let source = try String(contentsOf: kit.appending(path: name), encoding: .utf8)
            #expect(!source.contains("@_extern(wasm"), "\(name) declares an internal-API import by hand")
        }
    }

    @Test func theTableIsWellFormed() {
        let all = HostABI.functions + HostABI.testFunctions
        #expect(Set(all.map(\.name)).count == all.count, "a function is listed twice")
        let groups = Set(Capabilities.names.map(\.0))
        for function in HostABI.functions {
            #expect(groups.contains(function.group), "tz.\(function.name) names no capability group of the manifest")
            let slots = function.slots.map(\.name)
            #expect(Set(slots).count == slots.count, "tz.\(function.name) has two arguments of one name")
            // Every slot is a Swift identifier the generated declaration can label.
            #expect(slots.allSatisfy { $0.first?.isLetter == true && $0.allSatisfy { $0.isLetter || $0.isNumber } }, "tz.\(function.name)")
        }
        #expect(WasmTrustlet.internalAPI == Set(HostABI.functions.map(\.name)))
        // The layout the generated declarations and the runtime share, for one function.
        let read = HostABI.functions.first { $0.name == "storage_read" }
        #expect(read?.slots.map(\.name) == ["id", "idLength", "buffer", "bufferCapacity", "bufferLength"])
        #expect(read?.argument("buffer")?.slot == 2)
    }

    /// A group the manifest cannot name (a typo in a new entry) admits no trustlet, rather than
    /// every trustlet (the empty set every trustlet has).
    @Test func aFunctionOfAnUnnamedGroupAdmitsNoTrustlet() {
        let typo = HostFunctionLayout(HostABI.Function("storage_wipe", "storgae", [.input("id", what: "an object ID")], "A typo."))
        #expect(!Capabilities.all.contains(typo.capability) && !typo.capability.isEmpty)
        let none = HostFunctionLayout(HostABI.Function("test_x", "", [], "Debug only."))
        #expect(none.capability.isEmpty)
        for function in HostABI.functions {
            #expect(HostFunctionLayout(function).capability == Capabilities.names.first { $0.0 == function.group }?.1, "tz.\(function.name)")
        }
    }

    /// A module that imports every function exactly as the table lays it out: instantiating it
    /// proves the runtime defines each one, with that signature.
    static func probe(importing functions: [HostABI.Function]) throws -> [UInt8] {
        let imports = functions.map { function in
            let parameters = function.slots.isEmpty ? "" : " (param" + String(repeating: " i32", count: function.slots.count) + ")"
            return #"(import "tz" "\#(function.name)" (func $\#(function.name)\#(parameters)\#(function.returnsCode ? " (result i32)" : "")))"#
        }
        return try wat2wasm("""
        (module
          \(imports.joined(separator: "\n  "))
          (memory (export "memory") 1)
          (func (export "__main_argc_argv") (param i32 i32) (result i32) (i32.const 0))
          (func (export "tz_create") (result i32) (i32.const 0))
          (func (export "tz_open_session") (param i32) (result i32) (i32.const 0))
          (func (export "tz_invoke") (param i32 i32) (result i32) (i32.const 0))
          (func (export "tz_close_session"))
          (func (export "tz_alloc") (param i32) (result i32) (i32.const 1024))
          (func (export "tz_free") (param i32)))
        """)
    }

    @Test func theRuntimeDefinesEveryFunctionWithTheTablesSignature() async throws {
        let world = try World(.inProcess)
        let uuid = TrustletUUID("8e0b7a4c-1d2e-4f30-9a1b-0000000000ab")!
        let trustlet = try WasmTrustlet(wasm: Self.probe(importing: HostABI.functions), uuid: uuid, name: "abi-probe", signerID: Samples.developer,
                                        limits: Samples.testLimits, capabilities: .all, storage: world.runtime.storage, secureLog: world.runtime.secureLog)
        world.runtime.install(trustlet)
        let context = try world.context()
        defer { context.close() }
        // Opening a session instantiates the module against the runtime's host functions.
        let session = try await context.openSession(uuid: uuid)
        try await session.close()
    }

    @Test func anImportWithAnotherSignatureIsRefusedAtLoad() throws {
        let world = try World(.inProcess)
        for wat in [
            // Two arguments short.
            #"(module (import "tz" "storage_read" (func (param i32 i32 i32) (result i32))) (memory (export "memory") 1))"#,
            // The right count, one of them i64.
            #"(module (import "tz" "storage_read" (func (param i32 i32 i32 i32 i64) (result i32))) (memory (export "memory") 1))"#,
            // No return code.
            #"(module (import "tz" "storage_read" (func (param i32 i32 i32 i32 i32))) (memory (export "memory") 1))"#,
        ] {
            let error = #expect(throws: TrustletLoadError.self) {
                _ = try WasmTrustlet(wasm: try wat2wasm(wat), uuid: Samples.hello, name: "x", signerID: Samples.developer, capabilities: .all,
                                     storage: world.runtime.storage, secureLog: world.runtime.secureLog)
            }
            #expect(error?.description.contains("tz.storage_read") == true, "\(error?.description ?? "")")
            #expect(error?.description.contains("5 i32 parameters → an i32 return code") == true, "\(error?.description ?? "")")
        }
    }
}
