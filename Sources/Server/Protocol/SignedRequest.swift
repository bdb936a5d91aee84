import Crypto
import Foundation
import TrubiZoneProtocol
import TrubiZoneWire

/// How a device signs a request to the PHR server.
///
/// The PHR trustlet holds the device's signing key (an ES256 key in the runtime, bound to the
/// trustlet by its attestation token). Every request after enrollment carries four headers and is
/// signed over `SignedRequestMessage` (one definition, compiled into the trustlet too):
///
///     TrubiZone PHR request v1 \n METHOD \n TARGET \n DEVICE \n TIME \n NONCE \n BODY
///
/// `TARGET` is the path with its query, `TIME` Unix seconds in decimal, `NONCE` 32 lowercase hex
/// digits, and `BODY` the exact body bytes. The signature is raw `r ‖ s` (64 bytes) in hex. The
/// server accepts a request once: it checks the time window and remembers each nonce for longer
/// than the window.
public struct SignedRequest: Sendable, Equatable {
    public static let deviceHeader = "TZ-Device"
    public static let timeHeader = "TZ-Time"
    public static let nonceHeader = "TZ-Nonce"
    public static let signatureHeader = "TZ-Signature"
    /// How far the request's time may be from the server's clock, either way.
    public static let window: TimeInterval = 300

    public let device: String
    public let time: Int64
    /// 16 random bytes, as 32 lowercase hex digits.
    public let nonce: String
    /// ES256, raw `r ‖ s`.
    public let signature: [UInt8]

    public init(device: String, time: Int64, nonce: String, signature: [UInt8]) {
        (self.device, self.time, self.nonce, self.signature) = (device, time, nonce, signature)
    }

    /// The bytes that are signed.
    public static func message(method: String, target: String, device: String, time: Int64, nonce: String, body: some Collection<UInt8>) -> [UInt8] {
        SignedRequestMessage.message(method: Array(method.utf8), target: Array(target.utf8), device: Array(device.utf8),
                                     time: UInt64(clamping: time), nonce: Array(nonce.utf8), body: Array(body))
    }

    /// Signs a request with a key held in software (tests, the load generator). The PHR trustlet
    /// builds the same message and signs it with its runtime key.
    public static func sign(method: String, target: String, body: some Collection<UInt8>, device: String, key: P256.Signing.PrivateKey,
                            time: Date = Date(), nonce: [UInt8]? = nil) throws -> SignedRequest {
        let nonce = nonce.map(Hex.encode) ?? PHRIdentifier.random()
        let seconds = Int64(time.timeIntervalSince1970)
        let message = Self.message(method: method, target: target, device: device, time: seconds, nonce: nonce, body: body)
        return SignedRequest(device: device, time: seconds, nonce: nonce, signature: Array(try key.signature(for: message).rawRepresentation))
    }

    /// The request's headers.
    public var headers: [(String, String)] {
        [(Self.deviceHeader, device), (Self.timeHeader, String(time)), (Self.nonceHeader, nonce), (Self.signatureHeader, Hex.encode(signature))]
    }

    /// Reads the four headers; `nil` names the first one missing or malformed.
    public static func parse(header: (String) -> String?) -> Result<SignedRequest, PHRProtocolError> {
        guard let device = header(deviceHeader), PHRIdentifier.isIdentifier(device) else { return .failure(.badHeader(deviceHeader)) }
        guard let timeText = header(timeHeader), let time = Int64(timeText), time >= 0, String(time) == timeText else { return .failure(.badHeader(timeHeader)) }
        guard let nonce = header(nonceHeader), nonce.utf8.count == 32, Hex.decode(nonce) != nil, nonce == nonce.lowercased() else {
            return .failure(.badHeader(nonceHeader))
        }
        guard let signatureText = header(signatureHeader), let signature = Hex.decode(signatureText), signature.count == 64 else {
            return .failure(.badHeader(signatureHeader))
        }
        return .success(SignedRequest(device: device, time: time, nonce: nonce, signature: signature))
    }

    /// Whether the signature is `key`'s over this request.
    public func isValid(method: String, target: String, body: some Collection<UInt8>, key: P256.Signing.PublicKey) -> Bool {
        guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
        return key.isValidSignature(signature, for: Self.message(method: method, target: target, device: device, time: time, nonce: nonce, body: body))
    }
}

/// A request that does not follow the protocol.
public enum PHRProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    case badHeader(String)

    public var description: String {
        switch self {
        case let .badHeader(name): "the \(name) header is missing or malformed"
        }
    }
}

/// The shapes of the protocol's identifiers.
public enum PHRIdentifier {
    /// A new identifier (device, challenge, grant) or request nonce: 16 random bytes as 32
    /// lowercase hex digits.
    public static func random() -> String {
        Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255) })
    }

    /// An identifier as `random()` makes them (device, challenge, grant, nonce): exactly 32
    /// lowercase hex digits.
    public static func isIdentifier(_ text: String) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// A FHIR logical ID: `[A-Za-z0-9\-\.]{1,64}`.
    public static func isFHIRID(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.count <= 64
            && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x2D || $0 == 0x2E }
    }

    /// A FHIR resource type name: a capital letter, then letters.
    public static func isResourceType(_ text: Substring) -> Bool {
        guard let first = text.utf8.first, (0x41...0x5A).contains(first), text.utf8.count <= 64 else { return false }
        return text.utf8.allSatisfy { (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
    }

    /// `Type/id`, split; `nil` when it is not one.
    public static func reference(_ text: String) -> (type: String, id: String)? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, isResourceType(parts[0]), isFHIRID(parts[1]) else { return nil }
        return (String(parts[0]), String(parts[1]))
    }
}

/// The Gregorian calendar's days, one rule for the app's date options and the server's FHIR dateTime reader.
public enum PHRCalendar {
    /// Whether `year-month-day` names a day that exists (2026-02-29 does not).
    public static func isDay(year: Int, month: Int, day: Int) -> Bool {
        guard (1...12).contains(month) else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return (1...days).contains(day)
    }
}
