import LWSTransport

/// The hub's HTTP route table: path patterns, the methods each serves, and a handler per method.
///
/// A pattern is a path whose segments are literals or `{name}` parameters, e.g.
/// `/v1/classes/{classId}/participants/{participantId}/samples`; a parameter matches one non-empty segment.
/// The first route whose pattern matches the path answers:
/// - with the handler for the request's method;
/// - HEAD with the GET handler (the transport sends the head only);
/// - OPTIONS with 204 and `allow`;
/// - any other method with 405 and `allow`.
/// A path no pattern matches is answered 404 naming the path.
///
/// Handlers are unbound methods of `Context` (e.g. `Hub.healthz`), so the table holds no reference to the hub.
struct HTTPRouter<Context: AnyObject & Sendable>: Sendable {
    typealias Handler = @Sendable (Context) -> (HTTPRequest, RouteParameters) -> HTTPReply

    private struct Route: Sendable {
        let pattern: String
        let segments: [Substring]
        var handlers: [(method: HTTPMethod, handler: Handler)]
    }

    private var routes: [Route] = []

    /// Serves `method` on `pattern` with `handler`. Adding a second method to a pattern extends its route.
    mutating func add(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping Handler) {
        precondition(pattern.hasPrefix("/"), "a route pattern starts with '/': \(pattern)")
        if let index = routes.firstIndex(where: { $0.pattern == pattern }) {
            precondition(!routes[index].handlers.contains { $0.method == method }, "\(method) \(pattern) twice")
            routes[index].handlers.append((method, handler))
        } else {
            routes.append(Route(pattern: pattern, segments: Self.segments(pattern), handlers: [(method, handler)]))
        }
    }

    /// The answer to `request`, from `context`'s handlers.
    func reply(to request: HTTPRequest, in context: Context) -> HTTPReply {
        let path = Self.segments(request.head.path)
        for route in routes {
            guard let parameters = Self.match(route.segments, path) else { continue }
            let method = request.head.method
            if let found = route.handlers.first(where: { $0.method == method })
                ?? (method == .head ? route.handlers.first(where: { $0.method == .get }) : nil)
            {
                return found.handler(context)(request, parameters)
            }
            let allow = HTTPHeader("allow", Self.allowed(route).map(\.description).joined(separator: ", "))
            if method == .options {
                return .response(HTTPResponse(status: 204, headers: [allow], body: []))
            }
            return .response(
                .text(
                    405, "method \(method) not allowed on \(request.head.path): allowed \(allow.value)",
                    headers: [allow]))
        }
        return .response(.text(404, "not found: \(request.head.path)"))
    }

    /// The methods a route answers: its own, HEAD where it serves GET, and OPTIONS.
    private static func allowed(_ route: Route) -> [HTTPMethod] {
        var methods = route.handlers.map(\.method)
        if methods.contains(.get) && !methods.contains(.head) {
            methods.insert(.head, at: methods.firstIndex(of: .get)! + 1)
        }
        if !methods.contains(.options) { methods.append(.options) }
        return methods
    }

    /// `/a/b/` → `["a", "b", ""]`; `/` → `[""]`.
    private static func segments(_ path: String) -> [Substring] {
        Array(path.split(separator: "/", omittingEmptySubsequences: false).dropFirst())
    }

    private static func match(_ pattern: [Substring], _ path: [Substring]) -> RouteParameters? {
        guard pattern.count == path.count else { return nil }
        var parameters = RouteParameters()
        for (expected, actual) in zip(pattern, path) {
            if expected.hasPrefix("{") && expected.hasSuffix("}") {
                guard !actual.isEmpty else { return nil }
                parameters.values[String(expected.dropFirst().dropLast())] = String(actual)
            } else if expected != actual {
                return nil
            }
        }
        return parameters
    }
}

/// The values of a matched route's `{name}` segments.
struct RouteParameters {
    fileprivate(set) var values: [String: String] = [:]

    /// The value of `{name}`; the route's pattern guarantees it for its own parameter names.
    subscript(_ name: String) -> String {
        guard let value = values[name] else { preconditionFailure("no route parameter {\(name)}") }
        return value
    }
}
