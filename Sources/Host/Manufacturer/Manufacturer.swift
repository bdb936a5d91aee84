import Crypto
import Foundation
import SwiftASN1
import TrubiZoneEmulatedDevice
import TrubiZoneProtocol
import TrubiZoneSecureWorld
import X509

/// The device manufacturer of emulated devices: keeps a CA in its own directory and certifies each
/// device's attestation key with it.
///
/// A verifier needs only the CA certificate (`ca-cert.pem`); the CA key never enters a device's
/// secure state.
public enum Manufacturer {
    public static let caCertificateFile = "ca-cert.pem"
    public static let caKeyFile = "ca-key.pem"

    /// What provisioning made.
    public struct ProvisionedDevice: Sendable {
        public let deviceID: String
        public let certificateChainPEM: String
        public let caCertificatePath: String
        public let createdCA: Bool
    }

    public enum Failure: Error, CustomStringConvertible {
        case secureState(SecureStateError)
        case ca(String)

        public var description: String {
            switch self {
            case let .secureState(error): error.description
            case let .ca(message): message
            }
        }
    }

    /// Creates a new emulated device.
    /// - Parameters:
    ///   - stateDirectory: the new device's secure state directory (created 0700).
    ///   - caDirectory: the manufacturer CA's directory; a CA is created there if none exists.
    ///   - now: the clock, for certificate validity.
    public static func provision(stateDirectory: String, caDirectory: String, now: Date = Date()) throws(Failure) -> ProvisionedDevice {
        let (ca, created) = try loadOrCreateCA(caDirectory, now: now)
        let attestationKey: P256.Signing.PublicKey
        do throws(SecureStateError) {
            attestationKey = try EmulatedRootOfTrust.createSecrets(in: stateDirectory)
        } catch {
            throw .secureState(error)
        }
        let deviceID = DeviceID(attestationKey: attestationKey)
        do {
            let subject = try DistinguishedName {
                OrganizationName("TrubiZone emulated device")
                // X.520 allows 64 characters: the SHA-256 of the key, which is also the tokens' kid.
                CommonName(Hex.encode(Array(deviceID.bytes.dropFirst())))
            }
            let device = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: Certificate.PublicKey(attestationKey),
                notValidBefore: now.addingTimeInterval(-3600),
                notValidAfter: now.addingTimeInterval(20 * 365 * 86400),
                issuer: ca.certificate.subject,
                subject: subject,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    SubjectKeyIdentifier(keyIdentifier: ArraySlice(Insecure.SHA1.hash(data: attestationKey.x963Representation)))
                    AuthorityKeyIdentifier(keyIdentifier: try ca.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
                },
                issuerPrivateKey: Certificate.PrivateKey(ca.key))
            let chain = try device.serializeAsPEM().pemString + "\n" + ca.certificate.serializeAsPEM().pemString + "\n"
            do throws(SecureStateError) {
                try EmulatedRootOfTrust.installCertificateChain(pem: chain, in: stateDirectory)
            } catch {
                throw Failure.secureState(error)
            }
            return ProvisionedDevice(deviceID: deviceID.hex, certificateChainPEM: chain,
                                     caCertificatePath: caDirectory + "/" + caCertificateFile, createdCA: created)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .ca("could not issue the device certificate: \(error)")
        }
    }

    /// Loads the manufacturer CA in `directory`, creating it if there is none yet.
    /// - Returns: the CA certificate, which verifiers take as their root.
    public static func certificateAuthority(directory: String, now: Date = Date()) throws(Failure) -> Certificate {
        try loadOrCreateCA(directory, now: now).0.certificate
    }

    private struct CA {
        let certificate: Certificate
        let key: P256.Signing.PrivateKey
    }

    private static func loadOrCreateCA(_ directory: String, now: Date) throws(Failure) -> (CA, Bool) {
        let certPath = directory + "/" + caCertificateFile
        let keyPath = directory + "/" + caKeyFile
        let files = FileManager.default
        if files.fileExists(atPath: certPath) {
            do {
                let certificate = try Certificate(pemEncoded: String(contentsOfFile: certPath, encoding: .utf8))
                let key = try P256.Signing.PrivateKey(pemRepresentation: String(contentsOfFile: keyPath, encoding: .utf8))
                guard Certificate.PublicKey(key.publicKey) == certificate.publicKey else {
                    throw Failure.ca("\(keyPath) does not match \(certPath)")
                }
                return (CA(certificate: certificate, key: key), false)
            } catch let failure as Failure {
                throw failure
            } catch {
                throw .ca("cannot read the manufacturer CA in \(directory): \(error)")
            }
        }
        do {
            try files.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let key = P256.Signing.PrivateKey()
            let name = try DistinguishedName {
                OrganizationName("TrubiZone emulated manufacturer")
                CommonName("TrubiZone Emulated Device CA")
            }
            let certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: Certificate.PublicKey(key.publicKey),
                notValidBefore: now.addingTimeInterval(-3600),
                notValidAfter: now.addingTimeInterval(30 * 365 * 86400),
                issuer: name,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                    SubjectKeyIdentifier(keyIdentifier: ArraySlice(Insecure.SHA1.hash(data: key.publicKey.x963Representation)))
                },
                issuerPrivateKey: Certificate.PrivateKey(key))
            // The key first, with owner-only permissions, so it is never readable by others.
            guard files.createFile(atPath: keyPath, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw Failure.ca("cannot write \(keyPath)")
            }
            try certificate.serializeAsPEM().pemString.write(toFile: certPath, atomically: true, encoding: .utf8)
            return (CA(certificate: certificate, key: key), true)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .ca("cannot create the manufacturer CA in \(directory): \(error)")
        }
    }
}
