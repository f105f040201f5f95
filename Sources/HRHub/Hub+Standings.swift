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

    /// The checks both endpoints share (record on, class id, viewer or admin token, a record for the class), then
    /// `answer` with the class's standings and its riders' names.
    private func standingsReply(
        _ request: HTTPRequest, classID: String,
        answer: (ClassStandings, [String: String]) -> HTTPResponse
    ) -> HTTPReply {
        guard let record else { return .response(.text(404, "the record is off on this hub (--record off)")) }
        guard Identifier.isValid(classID) else {
            return .response(.text(400, "bad class id '\(classID)': expected \(Identifier.rule)"))
        }
        if let refusal = viewerRefusal(request, classID: classID) { return .response(refusal) }
        do {
            guard try record.store.hasRecord(classID: classID) else {
                return .response(.text(404, "no record for class '\(classID)'"))
            }
            var names: [String: String] = [:]
            for recorded in try record.store.profiles(classID: classID) {
                if let name = recorded.profile.name { names[recorded.participant] = name }
            }
            return .response(answer(standings(classID: classID, record: record), names))
        } catch {
            return .response(.text(503, "record unavailable: \(error)"))
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
