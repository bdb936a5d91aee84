// The internal API's ABI, written once: every function the runtime gives a trustlet (wasm module
// `tz`), the capability group that admits it, and its arguments in order. The runtime registers
// its host functions from this table, names each argument it touches by the table's name, and
// refuses a module whose import of a `tz` function has another signature. TrustletKit's
// `@_extern` declarations (`TrustletKit/InternalAPI.generated.swift`) are generated from it with
// labelled arguments, so a call that passes two arguments in the wrong order does not compile;
// `HostABITests` fails when the generated file and the table differ, and rewrites it when run with
// `TRUBIZONE_REGENERATE=1`.
//
// A function's arguments never change under its name. Trustlets already signed import it by name
// and wasm type, and the load check sees only how many i32s it takes: two arguments swapped, or a
// result of another size, would pass it. An incompatible change is a new function (a new name),
// with the old one kept or removed.
//
// Strings and arrays only, no Foundation, so Embedded Swift builds it (trustlets do not call it;
// the linker drops it from them).

/// The internal API's functions and how a trustlet calls them.
public enum HostABI {
    /// The wasm module every internal-API function is imported from.
    public static let module = "tz"

    /// One argument as the trustlet passes it: one or more i32 slots, named after `name`.
    public enum Argument: Sendable {
        /// Bytes the runtime reads: (`name` pointer, `nameLength`).
        case input(String, what: String)
        /// Bytes the runtime fills, as many as the trustlet asks: (`name` pointer, `nameLength`).
        case area(String, what: String)
        /// A result of a length the trustlet cannot know beforehand, under GlobalPlatform's
        /// short-buffer rule: (`name` pointer, `nameCapacity`, `nameLength` pointer to a UInt32).
        /// The length is always written; the bytes only when they fit.
        case output(String, what: String)
        /// A result of a fixed size the runtime writes: (`name` pointer). A 4- or 8-byte result is
        /// a little-endian UInt32 or UInt64.
        case result(String, bytes: Int, what: String)
        /// A number: (`name`).
        case value(String, what: String)

        public var name: String {
            switch self {
            case .input(let name, _), .area(let name, _), .output(let name, _), .result(let name, _, _), .value(let name, _): name
            }
        }

        /// What the argument is, as a sentence's object ("an object ID"): in errors and docs.
        public var what: String {
            switch self {
            case .input(_, let what), .area(_, let what), .output(_, let what), .result(_, _, let what), .value(_, let what): what
            }
        }

        /// The i32 slots the argument takes, in order.
        public var slots: [Slot] {
            switch self {
            case .input(let name, _): [Slot(name: name, kind: .inputPointer), Slot(name: name + "Length", kind: .length)]
            case .area(let name, _): [Slot(name: name, kind: .outputPointer), Slot(name: name + "Length", kind: .length)]
            case .output(let name, _):
                [Slot(name: name, kind: .outputPointer), Slot(name: name + "Capacity", kind: .length), Slot(name: name + "Length", kind: .u32Pointer)]
            case .result(let name, let bytes, _):
                [Slot(name: name, kind: bytes == 4 ? .u32Pointer : bytes == 8 ? .u64Pointer : .outputPointer)]
            case .value(let name, _): [Slot(name: name, kind: .value)]
            }
        }
    }

    /// One i32 a trustlet passes.
    public struct Slot: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            case inputPointer, outputPointer, length, u32Pointer, u64Pointer, value
        }
        public let name: String
        public let kind: Kind

        /// Whether the slot is an address or a length in the trustlet's memory (not a number).
        public var isAddressOrLength: Bool { kind != .value }
    }

    /// One function of the internal API.
    public struct Function: Sendable {
        public let name: String
        /// The manifest's name of the capability group that admits it; empty for none.
        public let group: String
        public let arguments: [Argument]
        /// Whether it answers a GlobalPlatform return code (every function but `log` does).
        public let returnsCode: Bool
        /// What it does, in one sentence: the generated declaration's doc comment.
        public let summary: String

        public init(_ name: String, _ group: String, _ arguments: [Argument], returnsCode: Bool = true, _ summary: String) {
            self.name = name
            self.group = group
            self.arguments = arguments
            self.returnsCode = returnsCode
            self.summary = summary
        }

        /// Its i32 slots in order: its wasm signature is `(i32 × slots.count) -> i32` (no result
        /// when it returns no code).
        public var slots: [Slot] {
            var all: [Slot] = []
            for argument in arguments { all.append(contentsOf: argument.slots) }
            return all
        }

        /// The argument named `name`, and the index of its first slot.
        public func argument(_ name: String) -> (argument: Argument, slot: Int)? {
            var slot = 0
            for argument in arguments {
                if argument.name.utf8.elementsEqual(name.utf8) { return (argument, slot) }
                slot += argument.slots.count
            }
            return nil
        }
    }

    /// Every function a shipped trustlet may import, by group.
    public static var functions: [Function] {
        [
            Function("log", "log", [.input("message", what: "a message")], returnsCode: false,
                     "Writes a line to the trustlet's secure log (kept by the secure world, never shown to the normal world)."),
            Function("random", "random", [.area("buffer", what: "a buffer")], "Fills the buffer with random bytes (at most 64 KiB)."),
            Function("time_monotonic", "time", [.result("nanoseconds", bytes: 8, what: "the time")],
                     "Nanoseconds since the runtime started; never goes back."),
            Function("time_wall", "time", [.result("seconds", bytes: 8, what: "the time")], "Seconds since 1970 (UTC), from the secure world's clock."),

            Function("storage_write", "storage", [.input("id", what: "an object ID"), .input("data", what: "object data")],
                     "Creates or replaces a sealed object."),
            Function("storage_read", "storage", [.input("id", what: "an object ID"), .output("buffer", what: "the read buffer")],
                     "Reads a sealed object; ITEM_NOT_FOUND if there is none with that ID."),
            Function("storage_delete", "storage", [.input("id", what: "an object ID")], "Deletes a sealed object."),
            Function("counter_read", "counters", [.input("id", what: "a counter ID"), .result("value", bytes: 8, what: "the value")],
                     "Reads a replay-protected counter (0 if never advanced)."),
            Function("counter_increment", "counters", [.input("id", what: "a counter ID"), .result("value", bytes: 8, what: "the value")],
                     "Adds one to a replay-protected counter and gives the new value."),

            Function("sha256", "crypto", [.input("data", what: "the data"), .result("digest", bytes: 32, what: "the digest buffer")],
                     "SHA-256 of the data."),
            Function("hmac_sha256", "crypto",
                     [.input("key", what: "the key"), .input("data", what: "the data"), .result("mac", bytes: 32, what: "the MAC buffer")],
                     "HMAC-SHA256 of the data under the key."),
            Function("hkdf_sha256", "crypto",
                     [.input("ikm", what: "the input key material"), .input("salt", what: "the salt"), .input("info", what: "the info"),
                      .area("output", what: "the output buffer")],
                     "HKDF-SHA256 (RFC 5869): fills the output (1 to 8,160 bytes)."),
            Function("hpke_seal", "crypto",
                     [.input("recipient", what: "the recipient key"), .input("info", what: "the info"), .input("aad", what: "the associated data"),
                      .input("plaintext", what: "the plaintext"), .output("output", what: "the output buffer")],
                     "HPKE base mode (RFC 9180, P-256, HKDF-SHA256, AES-128-GCM) to a public key: encapsulated key ‖ ciphertext."),

            Function("key_generate", "keys",
                     [.value("kind", what: "the key kind"), .input("id", what: "a key ID"), .output("publicKey", what: "the public key buffer")],
                     "Generates a runtime-held key (kind 1 signing, 2 HPKE, 3 AEAD); gives its public key (65 bytes; none for AEAD)."),
            Function("key_public", "keys", [.input("id", what: "a key ID"), .output("publicKey", what: "the public key buffer")],
                     "A runtime-held key's public key."),
            Function("key_sign", "keys",
                     [.input("id", what: "a key ID"), .input("data", what: "the data"), .result("signature", bytes: 64, what: "the signature buffer")],
                     "Signs with a runtime-held key: ES256, raw r ‖ s."),
            Function("key_delete", "keys", [.input("id", what: "a key ID")], "Deletes a runtime-held key."),
            Function("aead_seal", "keys",
                     [.input("id", what: "a key ID"), .input("aad", what: "the associated data"), .input("input", what: "the plaintext"),
                      .output("output", what: "the output buffer")],
                     "AES-256-GCM with a runtime-held key: nonce ‖ ciphertext ‖ tag."),
            Function("aead_open", "keys",
                     [.input("id", what: "a key ID"), .input("aad", what: "the associated data"), .input("input", what: "the sealed box"),
                      .output("output", what: "the output buffer")],
                     "Opens what aead_seal sealed with the same key and associated data."),
            Function("hpke_open", "keys",
                     [.input("id", what: "a key ID"), .input("info", what: "the info"), .input("aad", what: "the associated data"),
                      .input("message", what: "the message"), .output("output", what: "the output buffer")],
                     "Opens an HPKE base-mode message (encapsulated key ‖ ciphertext) with a runtime-held HPKE key."),
            Function("hpke_seal_auth", "keys",
                     [.input("id", what: "a key ID"), .input("recipient", what: "the recipient key"), .input("info", what: "the info"),
                      .input("aad", what: "the associated data"), .input("plaintext", what: "the plaintext"), .output("output", what: "the output buffer")],
                     "HPKE Auth mode, the runtime-held key the sender's: encapsulated key ‖ ciphertext."),
            Function("hpke_open_auth", "keys",
                     [.input("id", what: "a key ID"), .input("sender", what: "the sender key"), .input("info", what: "the info"),
                      .input("aad", what: "the associated data"), .input("message", what: "the message"), .output("output", what: "the output buffer")],
                     "Opens an HPKE Auth-mode message only if the sender's key sealed it."),

            Function("ui_show", "ui", [.input("text", what: "the text")], "Shows text on the trusted display, under the trustlet's verified name."),
            Function("ui_confirm", "ui", [.input("question", what: "the question"), .result("answer", bytes: 4, what: "the answer")],
                     "Asks the user a yes/no question on the trusted display: answer 1 yes, 0 no."),
            Function("ui_read_pin", "ui", [.input("prompt", what: "the prompt"), .output("pin", what: "the PIN buffer")],
                     "Reads a PIN on the trusted display's keypad: the digits, as ASCII."),
            Function("ui_read_text", "ui", [.input("prompt", what: "the prompt"), .output("text", what: "the text buffer")],
                     "Reads a line on the trusted display: printable ASCII, 1 to 64 bytes."),

            Function("attest", "attestation",
                     [.input("nonce", what: "the nonce"), .input("signingKey", what: "a key ID"), .input("hpkeKey", what: "a key ID"),
                      .output("token", what: "the token buffer")],
                     "An attestation token for the nonce, binding the named runtime-held keys (an empty ID binds none)."),
        ]
    }

    /// What only a test build of a trustlet imports, and only a debug runtime defines.
    public static var testFunctions: [Function] {
        [
            Function("test_weakened", "", [.input("name", what: "a name")],
                     "Whether the attack suite's negative control turned the check `name` off: SUCCESS off, ITEM_NOT_FOUND on."),
        ]
    }
}
