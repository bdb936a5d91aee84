// What trustlet code adds to the shared JSON reader and writer (Wire/JSON.swift).

extension JSON {
    /// Reads a document in trustlet code: a refused document is `badFormat`.
    public static func read(_ bytes: [UInt8], limits: Limits = Limits()) throws(TrustletError) -> JSON {
        do throws(JSONError) {
            return try parse(bytes, limits: limits)
        } catch {
            throw .badFormat
        }
    }

    /// A number from an integer.
    public static func integer(_ value: Int64) -> JSON {
        let magnitude = value < 0 ? UInt64(0) &- UInt64(bitPattern: value) : UInt64(value)
        return .number((value < 0 ? "-" : "") + Bytes.decimal(magnitude))
    }
}
