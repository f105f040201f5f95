import HRCore
import HRProtocol
import LWSTransport

/// The plain-HTTP pages the hub serves beside its WebSockets: the class picker and the class screen, and the
/// JSON class lists (`Hub` routes `/v1/classes` and `/v1/classes/live`, which need an admin token on a hub
/// with a secret). Everything is built in (see `WebAssets`); nothing is read from disk.
///
/// Runs on the service thread, like every other `Hub` callback, so it may read the relay directly.
enum WebRoutes {
    static let htmlType = "text/html; charset=utf-8"
    static let jsonType = "application/json"

    /// The answer for `path`, or nil when the path is not one of the web routes.
    static func response(for path: String, relay: Relay) -> HTTPResponse? {
        switch path {
        case "/", "/index.html":
            return HTTPResponse(status: 200, contentType: htmlType, body: WebAssets.pickerPage)
        case "/classes", "/classes/":
            return HTTPResponse(status: 200, contentType: htmlType, body: WebAssets.pickerPage)
        default:
            break
        }
        guard path.hasPrefix("/classes/") else { return nil }
        let classID = path.dropFirst("/classes/".count)
        guard Identifier.isValid(classID) else {
            return .text(400, "bad class id '\(classID)': expected \(Identifier.rule)")
        }
        return HTTPResponse(status: 200, contentType: htmlType, body: WebAssets.classPage)
    }

    /// `[{"id":"demo","participants":12,"viewers":1}]`: every class the relay remembers, sorted by id; with
    /// `connections`, each entry also counts every open connection (the admin list, `/v1/classes`).
    /// Class ids are `[A-Za-z0-9_-]` (checked when a class is created), so they need no JSON escaping.
    static func classesJSON(_ relay: Relay, connections: Bool = false) -> String {
        let items = relay.classSummaries().map {
            let count = connections ? #""connections":\#($0.connections),"# : ""
            return #"{"id":"\#($0.id)",\#(count)"participants":\#($0.participants),"viewers":\#($0.viewers)}"#
        }
        return "[" + items.joined(separator: ",") + "]"
    }
}
