import ArgumentParser
import LWSTransport

/// Where `hrprobe watch` connects: the viewer URL of one class, built from what the user typed.
///
/// Accepted forms:
/// - `ws://HOST:PORT/v1/classes/CLASS` (a trailing `/` is fine): `/ws?role=viewer` is appended;
/// - the full `ws://HOST:PORT/v1/classes/CLASS/ws?role=viewer[&mode=…][&token=…]` (or `role=participant`),
///   used as given.
///
/// A missing `/ws` is added, and so is `role=viewer` when the query names no role (so `…/classes/demo?mode=latest`
/// works too); any other role is refused, since a watcher must receive the class. Without a `board` parameter,
/// `board=100` is added, so the table shows the rank and points of every rider up to rank 100.
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
        let endsWithWS = segments.count == 4 && segments.last == "ws"  // (a class may be called "ws")
        if endsWithWS { segments.removeLast() }
        guard segments.count == 3, segments[0] == "v1", segments[1] == "classes", !segments[2].isEmpty else {
            throw ValidationError("'\(text)' does not name a class; \(usage)")
        }
        classID = segments[2]

        var parameters = (query ?? "").split(separator: "&").map(String.init)
        if let role = parameters.first(where: { $0.hasPrefix("role=") })?.dropFirst(5) {
            guard role == "viewer" || role == "participant" else {
                throw ValidationError("watch connects as a viewer (or participant), not as '\(role)'")
            }
        } else {
            parameters.insert("role=viewer", at: 0)
        }
        if !parameters.contains(where: { $0.hasPrefix("board=") }) { parameters.append("board=100") }
        url.pathAndQuery = (endsWithWS ? path : path + "/ws") + "?" + parameters.joined(separator: "&")
        self.url = url
    }
}
