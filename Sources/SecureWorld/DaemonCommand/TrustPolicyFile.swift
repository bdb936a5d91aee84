import Crypto
import Foundation
import TrubiZoneProtocol
import TrubiZoneSecureWorld

/// `trubizoned --trust-policy FILE`: the device owner's trust policy as JSON.
///
///     {"signers": [{"key": "developer-key.pub.pem", "name": "Clinic Apps Ltd",
///                   "uuids": ["8e0b7a4c-1d2e-4f30-9a1b-000000000001"],
///                   "caps": {"memoryPages": 512, "sealedBytes": 268435456}, "trustlets": 4}]}
///
/// `key` is a PEM file, relative to the policy file's directory. `name`, `uuids`, `caps` and
/// `trustlets` (how many trustlets the signer may keep, 8 by default) are optional; a cap left out
/// is the runtime's default cap. An unknown field is an error, so a typo
/// never loosens a policy silently.
enum TrustPolicyFile {
    static let signerFields: Set<String> = ["key", "name", "uuids", "caps", "trustlets"]
    static let capFields: Set<String> = Set(TrustletManifest.limitNames)

    static func load(_ path: String) throws(TrustPolicyError) -> TrustPolicy {
        guard let data = FileManager.default.contents(atPath: path) else { throw .malformed("cannot read \(path)") }
        guard let top = try? JSONSerialization.jsonObject(with: data) as? [String: Any], Set(top.keys) == ["signers"],
              let entries = top["signers"] as? [[String: Any]] else {
            throw .malformed("\(path) must be {\"signers\": [{\"key\": …, \"name\": …, \"uuids\": […], \"caps\": {…}}]}")
        }
        let directory = (path as NSString).deletingLastPathComponent
        var signers: [TrustPolicy.Signer] = []
        for (index, entry) in entries.enumerated() {
            let at = "signer \(index + 1)"
            if let unknown = Set(entry.keys).subtracting(signerFields).sorted().first {
                throw .malformed("\(at) has an unknown field \"\(unknown)\"; known: \(signerFields.sorted().joined(separator: ", "))")
            }
            guard let keyPath = entry["key"] as? String else { throw .malformed("\(at) needs \"key\": a developer public key (PEM) file") }
            let resolved = keyPath.hasPrefix("/") || directory.isEmpty ? keyPath : directory + "/" + keyPath
            guard let pem = try? String(contentsOfFile: resolved, encoding: .utf8), let key = try? P256.Signing.PublicKey(pemRepresentation: pem) else {
                throw .malformed("\(at): cannot read a P-256 public key from \(resolved)")
            }
            var signer = TrustPolicy.Signer(key: key, name: entry["name"] as? String)
            if entry["name"] != nil, signer.name == nil || signer.name!.isEmpty || signer.name!.count > 64 {
                throw .malformed("\(at): \"name\" must be a string of 1 to 64 characters")
            }
            if let uuids = entry["uuids"] {
                guard let list = uuids as? [String] else { throw .malformed("\(at): \"uuids\" must be a list of UUID strings") }
                for text in list {
                    guard let uuid = TrustletUUID(text) else { throw .malformed("\(at): \"\(text)\" is not a UUID") }
                    signer.uuids.insert(uuid)
                }
            }
            if let count = entry["trustlets"] {
                guard let number = count as? Int, !(count is Bool), (1...1024).contains(number) else {
                    throw .malformed("\(at): \"trustlets\" must be a whole number from 1 to 1024")
                }
                signer.maxTrustlets = number
            }
            if let caps = entry["caps"] {
                guard let table = caps as? [String: Any] else { throw .malformed("\(at): \"caps\" must be an object") }
                if let unknown = Set(table.keys).subtracting(capFields).sorted().first {
                    throw .malformed("\(at) has an unknown cap \"\(unknown)\"; known: \(capFields.sorted().joined(separator: ", "))")
                }
                guard let encoded = try? JSONSerialization.data(withJSONObject: table),
                      let limits = try? JSONDecoder().decode(TrustletManifest.Limits.self, from: encoded) else {
                    throw .malformed("\(at): every cap must be a whole number")
                }
                do throws(PackageError) {
                    signer.caps = try TrustletManifest.capped(limits)
                } catch {
                    throw .malformed("\(at): \(error)")
                }
            }
            signers.append(signer)
        }
        return try TrustPolicy(signers: signers)
    }
}
