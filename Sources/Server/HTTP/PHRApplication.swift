import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import PHRContract
import PHRProtocol
import PHRServer

/// The request context: Hummingbird's core storage and the peer's address (for rate limits).
public struct PHRRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// The PHR server's HTTP routes over a `PHRService`. Every answer is JSON (`ErrorBody` for
/// errors) except sync pages, which are sealed envelopes, and shared records, which are FHIR JSON.
public enum PHRApplication {
    /// The router, for `Application` and for HummingbirdTesting.
    public static func router(service: PHRService, challengeLimiter: RateLimiter = RateLimiter(capacity: 20, perSecond: 1.0 / 3)) -> Router<PHRRequestContext> {
        let router = Router(context: PHRRequestContext.self)
        router.add(middleware: RequestLogMiddleware())
        let routes = Routes(service: service, limiter: challengeLimiter)

        router.get("/health") { _, _ in try json(["status": "ok"]) }
        router.post(RouterPath(PHRRoute.enrollmentChallenge)) { request, context in await respond { try await routes.challenge(request, context) } }
        router.post(RouterPath(PHRRoute.enrollment)) { request, _ in await respond { try await routes.enroll(request) } }
        router.post(RouterPath(PHRRoute.sync)) { request, context in await respond { try await routes.sync(request, context) } }
        router.post(RouterPath(PHRRoute.observations)) { request, _ in await respond { try await routes.upload(request) } }
        router.post(RouterPath(PHRRoute.grants)) { request, _ in await respond { try await routes.grant(request) } }
        router.delete(RouterPath(PHRRoute.grantPrefix + ":grant")) { request, context in
            await respond { try await routes.revoke(request, grant: context.parameters.get("grant") ?? "") }
        }
        router.get(RouterPath(PHRRoute.audit)) { request, _ in await respond { try await routes.audit(request) } }
        router.get(RouterPath(PHRRoute.clock)) { request, _ in await respond { try await routes.clock(request) } }
        router.get("/v1/shared") { request, _ in await respond { try await routes.shared(request) } }
        router.get("/v1/shared/:type/:id") { request, context in
            await respond { try await routes.read(request, type: context.parameters.get("type") ?? "", id: context.parameters.get("id") ?? "") }
        }
        return router
    }

    /// The application: the router on a host and port.
    /// - Parameters:
    ///   - onRunning: called with the bound address once the server listens (port 0 picks one).
    ///   - challengeLimiter: challenges per peer address (default: 20 at once, then one per 3 s).
    ///   - tls: serve HTTPS with this configuration (certificate chain and key) instead of HTTP.
    public static func application(service: PHRService, host: String, port: Int, logger: Logger,
                                   challengeLimiter: RateLimiter = RateLimiter(capacity: 20, perSecond: 1.0 / 3), tls: TLSConfiguration? = nil,
                                   onRunning: @escaping @Sendable (SocketAddress) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        Application(router: router(service: service, challengeLimiter: challengeLimiter),
                    server: try tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
                    configuration: .init(address: .hostname(host, port: port), serverName: "phr-server"),
                    onServerRunning: { channel in if let address = channel.localAddress { await onRunning(address) } }, logger: logger)
    }
}

/// The handlers: read and check the request, call the service, write the answer.
struct Routes: Sendable {
    let service: PHRService
    let limiter: RateLimiter

    func challenge(_ request: Request, _ context: PHRRequestContext) async throws -> Response {
        let peer = context.remoteAddress?.ipAddress ?? "local"
        if let wait = await limiter.take(peer) { throw PHRError.tooManyAttempts(retryAfter: wait) }
        return try await json(service.challenge(), status: .created)
    }

    func enroll(_ request: Request) async throws -> Response {
        let body = try await Self.body(request)
        let enrollment = try await service.enroll(try decode(EnrollmentRequest.self, body, shape: "{\"challenge\", \"token\", \"code\", \"proof\"}"))
        return try json(enrollment, status: .created)
    }

    func sync(_ request: Request, _ context: PHRRequestContext) async throws -> Response {
        let (device, signed, body) = try await authenticated(request)
        let sync = body.isEmpty ? SyncRequest(cursor: nil) : try decode(SyncRequest.self, body, shape: "{\"cursor\", \"limit\"}")
        let answer = try await service.syncAnswer(device: device, request: sync, nonce: signed.nonce)
        var headers: HTTPFields = [.contentType: "application/octet-stream"]
        // Leaks that only the negative controls of a test's own server make (see `Weakening`).
        if let page = answer.logged { context.logger.info("sealed a page", metadata: ["page": "\(String(decoding: page, as: UTF8.self))"]) }
        if let page = answer.header, let name = HTTPField.Name("TZ-Page") { headers[name] = Data(page.prefix(4096)).base64EncodedString() }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.sealed)))
    }

    func upload(_ request: Request) async throws -> Response {
        let (device, signed, body) = try await authenticated(request)
        let receipt = try await service.upload(device: device, body: body, signature: signed.signature)
        return Self.sealed(try service.sealed(receipt, for: device, purpose: PHRMessage.receiptPurpose, sequence: receipt.sequence, answering: signed.nonce),
                           status: .created)
    }

    func grant(_ request: Request) async throws -> Response {
        let (device, signed, body) = try await authenticated(request)
        let receipt = try await service.grant(device: device, body: body)
        return Self.sealed(try service.sealed(receipt, for: device, purpose: PHRMessage.grantReceiptPurpose, sequence: UInt64(receipt.expiresAt),
                                              answering: signed.nonce), status: .created)
    }

    func revoke(_ request: Request, grant: String) async throws -> Response {
        let (device, signed, _) = try await authenticated(request)
        let receipt = try await service.revoke(device: device, grant: grant)
        return Self.sealed(try service.sealed(receipt, for: device, purpose: PHRMessage.revokeReceiptPurpose, sequence: UInt64(max(0, receipt.revokedAt ?? 0)),
                                              answering: signed.nonce))
    }

    func audit(_ request: Request) async throws -> Response {
        let (device, signed, _) = try await authenticated(request)
        let trail = try await service.auditTrail(device: device)
        let sequence = UInt64(max(0, trail.entries.last?.sequence ?? 0))
        return Self.sealed(try service.sealed(trail, for: device, purpose: PHRMessage.auditPurpose, sequence: sequence, answering: signed.nonce))
    }

    func clock(_ request: Request) async throws -> Response {
        let (device, signed, _) = try await authenticated(request)
        let answer = service.clockNow()
        return Self.sealed(try service.sealed(answer, for: device, purpose: PHRMessage.clockPurpose, sequence: UInt64(max(0, answer.time)),
                                              answering: signed.nonce))
    }

    static func sealed(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/octet-stream"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    func shared(_ request: Request) async throws -> Response {
        let practitioner = try await service.practitioner(bearer: Self.bearer(request))
        return try await json(service.grants(practitioner: practitioner))
    }

    func read(_ request: Request, type: String, id: String) async throws -> Response {
        let practitioner = try await service.practitioner(bearer: Self.bearer(request))
        guard PHRIdentifier.reference("\(type)/\(id)") != nil else { throw PHRError.notFound("\(type.prefix(64))/\(id.prefix(64))") }
        let resource = try await service.read(practitioner: practitioner, type: type, id: id)
        return Response(status: .ok, headers: [.contentType: "application/fhir+json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: resource)))
    }

    // MARK: Reading requests

    static func body(_ request: Request) async throws -> [UInt8] {
        do {
            var buffer = try await request.body.collect(upTo: PHRMessage.maxBodySize)
            return buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch is NIOTooManyBytesError {
            throw PHRError.bodyTooLarge(limit: PHRMessage.maxBodySize)
        }
    }

    func authenticated(_ request: Request) async throws -> (Device, SignedRequest, [UInt8]) {
        let body = try await Self.body(request)
        let (device, signed) = try await service.authenticate(method: request.method.rawValue, target: request.head.path ?? "/", body: body) { name in
            HTTPField.Name(name).flatMap { request.headers[$0] }
        }
        return (device, signed, body)
    }

    static func bearer(_ request: Request) -> String? {
        guard let value = request.headers[.authorization], value.hasPrefix("Bearer ") else { return nil }
        return String(value.dropFirst(7))
    }

    func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8], shape: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(body))
        } catch {
            throw PHRError.badRequest("the body is not the expected JSON \(shape)")
        }
    }
}

/// Runs a handler; a `PHRError` becomes its status and `ErrorBody`, anything else a 500 that says
/// nothing of the inside.
func respond(_ handler: () async throws -> Response) async -> Response {
    do {
        return try await handler()
    } catch let error as PHRError {
        var response = (try? json(ErrorBody(error: error.name, message: error.description), status: HTTPResponse.Status(code: error.status)))
            ?? Response(status: .internalServerError)
        if case let .tooManyAttempts(retryAfter) = error { response.headers[.retryAfter] = String(retryAfter) }
        return response
    } catch {
        let body = ErrorBody(error: "internal", message: "the server failed to answer; nothing was changed, try again later")
        return (try? json(body, status: .internalServerError)) ?? Response(status: .internalServerError)
    }
}

func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return Response(status: status, headers: [.contentType: "application/json"],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
}
