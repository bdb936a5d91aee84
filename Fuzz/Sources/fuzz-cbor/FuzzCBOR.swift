import FuzzDriver
import Foundation
import TrubiZoneCBOR

// The CBOR decoder, lenient and strict. Whatever decodes must encode to bytes that decode to the
// same encoding again; whatever the strict (deterministic) decoder accepts must be exactly its own
// deterministic encoding.
let lenient = CBORDecoder()
let strict = CBORDecoder(maxDepth: 16, maxItems: 4096, requireDeterministic: true, allowIndefiniteLengths: false)

@main
enum FuzzCBOR {
    static func main() { exit(trubizone_fuzz(CommandLine.argc, CommandLine.unsafeArgv, fuzzCBOR)) }
}

func fuzzCBOR(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let item = try? lenient.decode(bytes) {
        let encoded = item.encoded()
        guard let again = try? lenient.decode(encoded) else { preconditionFailure("the encoder wrote bytes the decoder refuses") }
        precondition(again.encoded() == encoded, "encoding is not stable across a round trip")
    }
    if let item = try? strict.decode(bytes) {
        precondition(item.encoded() == bytes, "the deterministic decoder accepted a non-deterministic encoding")
    }
    return 0
}
