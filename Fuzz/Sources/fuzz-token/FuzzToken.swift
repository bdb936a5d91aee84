import FuzzDriver
import Crypto
import Foundation
import TrubiZoneCBOR
import TrubiZoneCOSE
import TrubiZoneEAT
import TrubiZoneVerifier

// The attestation token as a relying party meets it: COSE_Sign1 decoding and ES256 verification,
// the PSA/EAT claims, and the whole appraisal (certificate chain included). None may crash, and
// no token made of these bytes may be affirmed: the verifier trusts no root here.
let key = P256.Signing.PrivateKey()
let verifier = AttestationVerifier(policy: AttestationPolicy(trustedRoots: [], reference: ReferenceValues(), expectedNonce: Array(repeating: 7, count: 32)))

@main
enum FuzzToken {
    static func main() { exit(trubizone_fuzz(CommandLine.argc, CommandLine.unsafeArgv, fuzzToken)) }
}

func fuzzToken(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let message = try? COSESign1(decoding: bytes) {
        precondition((try? message.verify(with: key.publicKey)) == nil, "a signature by a key that never signed verified")
        _ = message.header(COSE.Label.x5chain)
    }
    // The claims behind a valid signature: the payload signed here, so the parser past it is reached.
    if let signed = try? COSESign1.sign(payload: bytes, key: key).encoded(), let message = try? COSESign1(decoding: signed) {
        precondition((try? message.verify(with: key.publicKey)) != nil, "a fresh signature failed to verify")
        _ = try? AttestationToken(signed)
    }
    _ = try? AttestationToken(bytes)
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var status: Appraisal.Status = .contraindicated
    Task {
        status = await verifier.appraise(bytes).status
        done.signal()
    }
    done.wait()
    precondition(status != .affirming, "a token affirmed with no trusted root")
    return 0
}
