import FuzzDriver
import Crypto
import Foundation
import TrubiZoneEmulatedDevice
import TrubiZoneProtocol
import TrubiZoneSecureWorld

// The trustlet package loader: the container, its signature, the manifest and the wasm module's
// imports and exports, as the secure world checks them before anything of a package runs.
//
// The first byte picks the mode. 0: the rest is a package as it arrives. Otherwise the rest is
// `manifest length u16 | manifest | wasm`, packed and signed here with a fixed key, so the
// fuzzer reaches the manifest and module checks behind the signature.
let developer = P256.Signing.PrivateKey()
let world: (storage: SealedStorage, log: SecureLogBook) = {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trubizone-fuzz-package-\(getpid())").path
    try? FileManager.default.createDirectory(atPath: directory + "/secure", withIntermediateDirectories: true)
    _ = try! EmulatedRootOfTrust.createSecrets(in: directory + "/secure")
    let root = try! EmulatedRootOfTrust(directory: directory + "/secure", durable: false)
    let storage = try! SealedStorage(configuration: .init(reeDirectory: directory + "/ree", durable: false), rootOfTrust: root)
    return (storage, SecureLogBook(capacity: 16))
}()

func signed(manifest: ArraySlice<UInt8>, wasm: ArraySlice<UInt8>) -> [UInt8] {
    var bytes = TrustletPackage.magic + [TrustletPackage.format, 0, 0, 0]
    for blob in [manifest, wasm] {
        let count = UInt32(blob.count)
        bytes += [UInt8(count >> 24), UInt8(count >> 16 & 0xFF), UInt8(count >> 8 & 0xFF), UInt8(count & 0xFF)]
        bytes += blob
    }
    bytes += developer.publicKey.x963Representation
    bytes += try! developer.signature(for: bytes).rawRepresentation
    return bytes
}

@main
enum FuzzPackage {
    static func main() { exit(trubizone_fuzz(CommandLine.argc, CommandLine.unsafeArgv, fuzzPackage)) }
}

func fuzzPackage(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let mode = input.first else { return 0 }
    let bytes: [UInt8]
    if mode == 0 {
        bytes = Array(input.dropFirst())
    } else {
        guard input.count >= 3 else { return 0 }
        let manifestLength = min(Int(input[1]) << 8 | Int(input[2]), input.count - 3)
        bytes = signed(manifest: input[3..<(3 + manifestLength)], wasm: input[(3 + manifestLength)...])
    }
    let package: TrustletPackage
    do throws(PackageError) {
        package = try TrustletPackage(bytes: bytes)
    } catch {
        if case .badSignature = error { precondition(mode == 0, "a package signed just now failed its signature check") }
        return 0
    }
    guard let manifest = try? package.manifest.validated() else { return 0 }
    do {
        let trustlet = try WasmTrustlet(wasm: package.wasm, uuid: manifest.uuid, name: package.manifest.name, signerID: package.signerID,
                                        version: package.manifest.version, limits: manifest.limits, capabilities: manifest.capabilities,
                                        storage: world.storage, secureLog: world.log)
        precondition(trustlet.measurement == package.measurement, "the loaded module is not the package's")
    } catch {
        precondition(!error.description.isEmpty, "a refusal without a reason")
    }
    return 0
}
