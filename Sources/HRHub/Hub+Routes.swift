import HRCore
import HRProtocol
import LWSTransport

/// The hub's HTTP routes and their handlers. A new route is one `add` line and one handler method; the router
/// answers HEAD, OPTIONS, 405 with `allow` and 404 naming the path by itself.
extension Hub {
    static let routes: HTTPRouter<Hub> = {
        var router = HTTPRouter<Hub>()
        router.add(.get, "/healthz", Hub.healthz)
        router.add(.get, "/metrics", Hub.metricsPage)
        router.add(.get, "/v1/classes", Hub.classList)
        router.add(.get, "/v1/classes/live", Hub.classList)
        router.add(.get, "/v1/classes/{classId}/ws", Hub.upgradeRequired)
        for picker in ["/", "/index.html", "/classes", "/classes/"] {
            router.add(.get, picker, Hub.pickerPage)
        }
        router.add(.get, "/classes/{classId}", Hub.classPage)
        router.add(.get, "/classes/{classId}/summary", Hub.summaryPage)
        router.add(.post, "/v1/classes/{classId}/participants/{participantId}/samples", Hub.uploadRoute)
        router.add(.get, "/v1/classes/{classId}/record", Hub.recordRoute)
        router.add(.get, "/v1/classes/{classId}/leaderboard", Hub.leaderboardRoute)
        router.add(.get, "/v1/classes/{classId}/summary", Hub.summaryRoute)
        router.add(.get, WebAssets.classScriptPath, Hub.classScript)
        return router
    }()

    func healthz(_ request: HTTPRequest, _ parameters: RouteParameters) -> HTTPReply {
        .response(isDraining ? .text(503, "draining") : recordHealth ?? clusterHealth ?? .text(200, "ok"))
    }

    func uploadRoute(_ request: HTTPRequest, _ parameters: RouteParameters) -> HTTPReply {
        let classID = parameters["classId"]
        let participant = parameters["participantId"]
        if let bad = Self.badID(classID, "class") ?? Self.badID(participant, "participant") { return .response(bad) }
        return upload(request, classID: classID, participant: participant)
    }

    func recordRoute(_ request: HTTPRequest, _ parameters: RouteParameters) -> HTTPReply {
        let classID = parameters["classId"]
        if let bad = Self.badID(classID, "class") { return .response(bad) }
        return recordDump(request, classID: classID)
    }

    func metricsPage(_ request: HTTPRequest, _ parameters: RouteParameters) -> HTTPReply {
        .response(
            HTTPResponse(
                status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8",
                body: metrics.render(relay: relay, isDraining: isDraining, store: record?.store, cluster: cluster)))
    }

    /// `/v1/classes` (with connection counts) and `/v1/classes/live`. Class lists say who trains where: an admin
    /// token on a hub with a secret.
    func classList(_ request: HTTPRequest, _ parameters: RouteParameters) -> HTTPReply {
        guard access.isAdmin(bearer: bearer(request.head), nowSeconds: HubClock.nowMs() / 1000) else {
            return .response(.text(401, "an admin token is required: Authorization: Bearer … or ?token=…"))
        }
        let withConnections = request.head.path == "/v1/classes"
        return .response(
            HTTPResponse(
                status: 200, contentType: WebRoutes.jsonType,
                body: Array(WebRoutes.classesJSON(classSummaries(), connections: withConnections).utf8)))
    }

    func upgradeRequired(_ request: HTTPRequest, _ parameters: RouteParameters) -> HTTPReply {
        .response(.text(426, "WebSocket upgrade required"))
    }

    func pickerPage(_ request: HTTPRequest, _ parameters: RouteParameters) -> HTTPReply {
        .response(HTTPResponse(status: 200, contentType: WebRoutes.htmlType, body: WebAssets.pickerPage))
    }

    func classPage(_ request: HTTPRequest, _ parameters: RouteParameters) -> HTTPReply {
        let classID = parameters["classId"]
        if let bad = Self.badID(classID, "class") { return .response(bad) }
        return .response(HTTPResponse(status: 200, contentType: WebRoutes.htmlType, body: WebAssets.classPage))
    }

    /// The class screen's script, read from the resource bundle at start (`ServeCommand` refuses to start without).
    func classScript(_ request: HTTPRequest, _ parameters: RouteParameters) -> HTTPReply {
        switch WebAssets.classScript {
        case .success(let script):
            return .response(HTTPResponse(status: 200, contentType: WebRoutes.scriptType, body: script))
        case .failure(let error):
            return .response(.text(500, "\(error)"))
        }
    }

    /// 400 with the reason when `id` breaks the id rule (`kind`: "class" or "participant"), else nil.
    static func badID(_ id: String, _ kind: String) -> HTTPResponse? {
        Identifier.isValid(id) ? nil : .text(400, "bad \(kind) id '\(id)': expected \(Identifier.rule)")
    }
}
