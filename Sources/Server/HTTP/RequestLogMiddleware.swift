import Foundation
import Hummingbird
import Logging
import PHRProtocol

/// Logs each request by its route pattern (`/v1/shared/{type}/{id}`), never its actual path, query,
/// headers or body: the server's logs must not carry record IDs, tokens or health data.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = PHRRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPError {
            // The router's own refusals (no such route, a method a route does not take) answer in
            // the protocol's error format too.
            let name = error.status == .notFound ? "not-found" : error.status == .methodNotAllowed ? "method-not-allowed" : "bad-request"
            let message = error.status == .notFound ? "no such route; the routes are under /v1 (see the README)"
                : "\(request.method.rawValue) is not allowed here"
            response = (try? json(ErrorBody(error: name, message: message), status: error.status)) ?? Response(status: error.status)
        }
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        context.logger.info("request", metadata: [
            "method": .string(request.method.rawValue),
            "route": .string(context.endpointPath ?? "unmatched"),
            "status": .stringConvertible(response.status.code),
            "ms": .string(String(format: "%.2f", milliseconds)),
        ])
        return response
    }
}

/// A token bucket per key (a peer address): `capacity` at once, refilled at `perSecond`.
public actor RateLimiter {
    let capacity: Double
    let perSecond: Double
    var buckets: [String: (tokens: Double, at: ContinuousClock.Instant)] = [:]

    public init(capacity: Int, perSecond: Double) {
        self.capacity = Double(capacity)
        self.perSecond = perSecond
    }

    /// Takes a token for `key`.
    /// - Returns: `nil` if allowed, or the seconds to wait.
    public func take(_ key: String) -> Int? {
        let now = ContinuousClock.now
        var bucket = buckets[key] ?? (capacity, now)
        let elapsed = now - bucket.at
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        bucket.tokens = min(capacity, bucket.tokens + seconds * perSecond)
        bucket.at = now
        defer { buckets[key] = bucket }
        if buckets.count > 100_000 { buckets.removeAll() }
        guard bucket.tokens >= 1 else { return Int(((1 - bucket.tokens) / perSecond).rounded(.up)) }
        bucket.tokens -= 1
        return nil
    }
}
