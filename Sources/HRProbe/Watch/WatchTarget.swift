import ArgumentParser
import LWSTransport

/// Where `hrprobe watch` connects: the viewer URL of one class, built from what the user typed.
///
/// Accepted forms:
/// - `ws://HOST:PORT/v1/classes/CLASS` (a trailing `/` is fine): `/ws?role=viewer` is appended;
/// - the full `ws://HOST:PORT/v1/classes/CLASS/ws?role=viewer[&mode=…][&token=…]` (or `role=participant`),
///   used as given; a `/ws` without a query gets `?role=viewer`.
///
/// `wss://` works the same way.
struct WatchTarget: Equatable {
    /// The URL to connect to.
    var url: WebSocketURL
    /// The class id from the path, shown until the hub's `welcome` names it.
    var classID: String

    /// Parses and completes `text`; throws a `ValidationError` that says what is expected.
    init(_ text: String) throws {
        let usage = "expected ws://HOST:PORT/v1/classes/CLASS or ws://HOST:PORT/v1/classes/CLASS/ws?role=viewer"
        guard var url = WebSocketURL(text) else {
            throw ValidationError("'\(text)' is not a ws:// or wss:// URL; \(usage)")
        }
        let pathAndQuery = url.pathAndQuery
        let queryStart = pathAndQuery.firstIndex(of: "?")
        var path = String(pathAndQuery[..<(queryStart ?? pathAndQuery.endIndex)])
        let query = queryStart.map { String(pathAndQuery[pathAndQuery.index(after: $0)...]) }
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }

        var segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        let endsWithWS = segments.last == "ws"
        if endsWithWS { segments.removeLast() }
        guard segments.count == 3, segments[0] == "v1", segments[1] == "classes", !segments[2].isEmpty else {
            throw ValidationError("'\(text)' does not name a class; \(usage)")
        }
        classID = segments[2]

        if endsWithWS, let query, !query.isEmpty {
            let role = query.split(separator: "&").first { $0.hasPrefix("role=") }?.dropFirst(5)
            if let role, role != "viewer", role != "participant" {
                throw ValidationError("watch connects as a viewer (or participant), not as '\(role)'")
            }
            url.pathAndQuery = "\(path)?\(query)"
        } else {
            guard query == nil || query!.isEmpty else {
                throw ValidationError("'\(text)': a query belongs after /ws; \(usage)")
            }
            url.pathAndQuery = endsWithWS ? "\(path)?role=viewer" : "\(path)/ws?role=viewer"
        }
        self.url = url
    }
}
