import TrustletKit

/// A trustlet whose create entry point traps.
@main
struct HostileCreate: Trustlet {
    init() throws(TrustletError) {
        fatalError("trap in create")
    }

    mutating func invoke(command: UInt32, parameters: inout Parameters) throws(TrustletError) {}
}
