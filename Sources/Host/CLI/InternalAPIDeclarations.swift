import TrubiZoneWire

/// TrustletKit's `@_extern` declarations of the internal API, generated from `HostABI`: each
/// function with labelled arguments in the table's order, so a call cannot swap two of one type.
/// `trubizone trustlet abi` prints it; `HostABITests` checks that
/// `Trustlets/SDK/TrustletKit/InternalAPI.generated.swift` is exactly this.
public enum InternalAPIDeclarations {
    /// Where TrustletKit keeps the generated file, from the package root.
    public static let path = "Trustlets/SDK/TrustletKit/InternalAPI.generated.swift"

    public static func render() -> String {
        var out = """
        // Generated from Trustlets/SDK/Wire/HostABI.swift by `trubizone trustlet abi`: do not edit.
        // HostABITests fails when this file and the table differ
        // (`TRUBIZONE_REGENERATE=1 swift test --filter HostABI` rewrites it).
        //
        // The internal API as the trustlet imports it (wasm module "\(HostABI.module)"). Every pointer and
        // length is checked by the runtime against the trustlet's memory; a bad one ends the session.

        """
        for function in HostABI.functions { out += declaration(function) }
        out += "\n#if TRUBIZONE_WEAKENINGS\n"
        for function in HostABI.testFunctions { out += declaration(function) }
        out += "#endif\n"
        return out
    }

    static func declaration(_ function: HostABI.Function) -> String {
        let group = function.group.isEmpty ? "Debug runtimes only; no capability group." : "Capability group: `\(function.group)`."
        let parameters = function.slots.map { "\($0.name): \(swiftType($0.kind))" }
        let result = function.returnsCode ? " -> UInt32" : ""
        let head = "func \(HostABI.module)_\(function.name)("
        var line = head + parameters.joined(separator: ", ") + ")" + result
        if line.count > 130 {
            line = head + "\n" + parameters.map { "    " + $0 }.joined(separator: ",\n") + "\n)" + result
        }
        return """

        /// \(function.summary)
        /// \(group)
        @_extern(wasm, module: "\(HostABI.module)", name: "\(function.name)") @_extern(c)
        \(line)

        """
    }

    static func swiftType(_ kind: HostABI.Slot.Kind) -> String {
        switch kind {
        case .inputPointer: "UnsafeRawPointer?"
        case .outputPointer: "UnsafeMutableRawPointer?"
        case .length: "Int32"
        case .u32Pointer: "UnsafeMutablePointer<UInt32>?"
        case .u64Pointer: "UnsafeMutablePointer<UInt64>?"
        case .value: "UInt32"
        }
    }
}
