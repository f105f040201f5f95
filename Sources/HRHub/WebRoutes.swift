import HRCore
import HRProtocol
import LWSTransport

/// The plain-HTTP pages the hub serves beside its WebSockets: the class picker, the class screen and the
/// small JSON list the picker reads. Everything is built in (see `WebAssets`); nothing is read from disk.
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
        case "/v1/classes/live":
            return HTTPResponse(status: 200, contentType: jsonType, body: Array(liveClassesJSON(relay).utf8))
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

    /// `[{"id":"demo","participants":12,"viewers":1}]`: every class the relay remembers, sorted by id.
    /// Class ids are `[A-Za-z0-9_-]` (checked when a class is created), so they need no JSON escaping.
    static func liveClassesJSON(_ relay: Relay) -> String {
        let items = relay.classSummaries().map {
            #"{"id":"\#($0.id)","participants":\#($0.participants),"viewers":\#($0.viewers)}"#
        }
        return "[" + items.joined(separator: ",") + "]"
    }
}
