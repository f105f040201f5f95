import HRCore
import HRProtocol
import LWSTransport

/// What the hub's HTTP routes (`Hub+Routes.swift`) answer with: the content types and the JSON class lists. The
/// pages are in memory (see `WebAssets`); nothing is read from disk after the start.
///
/// Runs on the service thread, like every other `Hub` callback, so it may read the relay directly.
enum WebRoutes {
    static let htmlType = "text/html; charset=utf-8"
    static let jsonType = "application/json"
    static let scriptType = "text/javascript; charset=utf-8"

    /// One class in the class lists: connections here, riders present and viewing connections (cluster-wide in
    /// cluster mode: `Hub.classSummaries`).
    struct ClassSummary: Equatable {
        var id: String
        var connections: Int
        var participants: Int
        var viewers: Int
    }

    /// `[{"id":"demo","participants":12,"viewers":1}]`: the classes, sorted by id; with `connections`, each entry
    /// also counts the open connections on this hub (the admin list, `/v1/classes`).
    /// Class ids are `[A-Za-z0-9_-]` (checked when a class is created), so they need no JSON escaping.
    static func classesJSON(_ summaries: [ClassSummary], connections: Bool = false) -> String {
        let items = summaries.map {
            let count = connections ? #""connections":\#($0.connections),"# : ""
            return #"{"id":"\#($0.id)",\#(count)"participants":\#($0.participants),"viewers":\#($0.viewers)}"#
        }
        return "[" + items.joined(separator: ",") + "]"
    }
}
