import HRCore
import HRProtocol
import HRStandings
import LWSTransport

/// The standings endpoints (docs/PROTOCOL.md, "Standings: the live leaderboard"): `GET …/leaderboard` and
/// `GET …/summary`, from the relay's in-memory standings while the class is live, else built from the record.
/// Names come from the recorded profiles, so an answer is the same before and after a restart.
extension Hub {
    func leaderboardRoute(_ request: HTTPRequest, _ parameters: RouteParameters) -> HTTPReply {
        standingsReply(request, classID: parameters["classId"]) { standings, names in
            let query: LeaderboardQuery
            do throws(RequestError) {
                query = try LeaderboardQuery.parse(query: request.head.query)
            } catch {
                return .text(400, error.reason)
            }
            let body = standings.leaderboard(at: HubClock.nowMs(), query: query) { names[$0] }
            return HTTPResponse(status: 200, contentType: WebRoutes.jsonType, body: body)
        }
    }

    func summaryRoute(_ request: HTTPRequest, _ parameters: RouteParameters) -> HTTPReply {
        standingsReply(request, classID: parameters["classId"]) { standings, names in
            HTTPResponse(status: 200, contentType: WebRoutes.jsonType, body: standings.summary { names[$0] })
        }
    }

    /// The post-class page (its script reads the summary and the record).
    func summaryPage(_ request: HTTPRequest, _ parameters: RouteParameters) -> HTTPReply {
        if let refusal = standingsRefusal(request, classID: parameters["classId"]) { return .response(refusal) }
        return .response(HTTPResponse(status: 200, contentType: WebRoutes.htmlType, body: WebAssets.summaryPage))
    }

    /// The checks both endpoints share (record on, class id, viewer or admin token, a record for the class), then
    /// `answer` with the class's standings and its riders' names.
    private func standingsReply(
        _ request: HTTPRequest, classID: String,
        answer: (ClassStandings, [String: String]) -> HTTPResponse
    ) -> HTTPReply {
        if let refusal = standingsRefusal(request, classID: classID) { return .response(refusal) }
        guard let record else { return .response(.text(404, "the record is off on this hub (--record off)")) }
        do {
            var names: [String: String] = [:]
            for recorded in try record.store.profiles(classID: classID) {
                if let name = recorded.profile.name { names[recorded.participant] = name }
            }
            return .response(answer(standings(classID: classID, record: record), names))
        } catch {
            return .response(.text(503, "record unavailable: \(error)"))
        }
    }

    /// Nil when `request` may read the standings of `classID`: the record is on, the id is valid, the token is a
    /// viewer or admin token for the class (or the hub is open), and the class has a record.
    private func standingsRefusal(_ request: HTTPRequest, classID: String) -> HTTPResponse? {
        guard let record else { return .text(404, "the record is off on this hub (--record off)") }
        if let bad = Self.badID(classID, "class") { return bad }
        if let refusal = viewerRefusal(request, classID: classID) { return refusal }
        do {
            guard try record.store.hasRecord(classID: classID) else { return .text(404, "no record for class '\(classID)'") }
            return nil
        } catch {
            return .text(503, "record unavailable: \(error)")
        }
    }

    /// The live class's standings, or the class's standings built from the record (one read of its samples).
    private func standings(classID: String, record: RecordBridge) -> ClassStandings {
        if let live = relay.standings(classID: classID) { return live }
        var built = ClassStandings(points: settings.zonePoints)
        record.forEachRecorded(classID: classID) { built.record($0) }
        return built
    }
}
