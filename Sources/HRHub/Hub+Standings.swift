import HRCore
import HRProtocol
import HRStandings
import LWSTransport

/// The hub's standings reads in progress (stored in `Hub`). Service thread only.
struct StandingsReads {
    /// An HTTP request waiting for a class's standings, and how to answer it from them (and the riders' names).
    struct Waiter {
        let request: HTTPRequestID
        let answer: (ClassStandings, [String: String]) -> HTTPResponse
    }

    /// Reads off the service thread (made on first use: it posts back through the hub).
    var rebuilder: StandingsRebuilder?
    /// Requests waiting, per class, for a read in progress.
    var waiting: [String: [Waiter]] = [:]
    /// Classes with a read in progress for HTTP requests only (the relay's rebuilds are the relay's to know).
    var reading: Set<String> = []
}

/// The standings endpoints (docs/PROTOCOL.md, "Standings: the live leaderboard"): `GET …/leaderboard` and
/// `GET …/summary`, from the relay's in-memory standings while the class is live, else from a read of the record.
/// Names come from the recorded profiles, so an answer is the same before and after a restart.
///
/// Reading a class's whole record takes seconds for a big class, so it never runs on the service thread: the
/// relay's rebuilds (a class made again after a restart) and the reads these endpoints need (a class not in memory,
/// or one whose standings are still being rebuilt) run on `StandingsRebuilder`'s thread; the requests are answered
/// when their class's read comes back (`standingsRead`).
extension Hub {
    func leaderboardRoute(_ request: HTTPRequest, _ parameters: RouteParameters) -> HTTPReply {
        let classID = parameters["classId"]
        if let refusal = standingsRefusal(request, classID: classID) { return .response(refusal) }
        let query: LeaderboardQuery
        do throws(RequestError) {
            query = try LeaderboardQuery.parse(query: request.head.query)
        } catch {
            return .response(.text(400, error.reason))
        }
        return standingsReply(request, classID: classID) { standings, names in
            let body = standings.leaderboard(at: HubClock.nowMs(), query: query) { names[$0] }
            return HTTPResponse(status: 200, contentType: WebRoutes.jsonType, body: body)
        }
    }

    func summaryRoute(_ request: HTTPRequest, _ parameters: RouteParameters) -> HTTPReply {
        let classID = parameters["classId"]
        if let refusal = standingsRefusal(request, classID: classID) { return .response(refusal) }
        return standingsReply(request, classID: classID) { standings, names in
            HTTPResponse(status: 200, contentType: WebRoutes.jsonType, body: standings.summary { names[$0] })
        }
    }

    /// The post-class page (its script reads the summary and the record).
    func summaryPage(_ request: HTTPRequest, _ parameters: RouteParameters) -> HTTPReply {
        if let refusal = standingsRefusal(request, classID: parameters["classId"]) { return .response(refusal) }
        return .response(HTTPResponse(status: 200, contentType: WebRoutes.htmlType, body: WebAssets.summaryPage))
    }

    /// Hands the relay's new rebuilds to the rebuilder. From `applyEffects`.
    func startStandingsRebuilds() {
        for rebuild in relay.takeStandingsRebuilds() {
            standingsRebuilder().start(classID: rebuild.classID, points: rebuild.points, rebuild: rebuild)
        }
    }

    /// A read came back (service thread): a rebuild goes to the relay, then every request waiting for the class is
    /// answered, from the relay's standings when the class is live and ready, else from this read.
    func standingsRead(_ result: StandingsRebuilder.Result) {
        let now = HubClock.nowMs()
        if let rebuild = result.rebuild {
            relay.standingsRebuilt(rebuild, standings: result.standings, now: now)
        } else {
            standingsReads.reading.remove(result.classID)
        }
        if let waiters = standingsReads.waiting.removeValue(forKey: result.classID) {
            let standings = relay.standings(classID: result.classID) ?? result.standings
            for waiter in waiters {
                _ = server.respond(waiter.request, answer(waiter.answer, standings, classID: result.classID))
            }
        }
    }

    private func standingsRebuilder() -> StandingsRebuilder {
        if let rebuilder = standingsReads.rebuilder { return rebuilder }
        // `standingsRebuilder` is only asked for with the record on (the relay rebuilds only then; the routes
        // refuse without it).
        let rebuilder = StandingsRebuilder(record: record!) { [weak self] result in
            guard let hub = self else { return }
            hub.server.post { hub.standingsRead(result) }
        }
        standingsReads.rebuilder = rebuilder
        return rebuilder
    }

    /// `answer` with the class's standings: at once when the relay has them ready, else when a read comes back
    /// (one read per class, shared by every request waiting for it; the relay's rebuild when one is under way).
    private func standingsReply(
        _ request: HTTPRequest, classID: String,
        answer: @escaping (ClassStandings, [String: String]) -> HTTPResponse
    ) -> HTTPReply {
        if let live = relay.standings(classID: classID) {
            return .response(self.answer(answer, live, classID: classID))
        }
        standingsReads.waiting[classID, default: []].append(StandingsReads.Waiter(request: request.id, answer: answer))
        if !relay.isRebuildingStandings(classID: classID), !standingsReads.reading.contains(classID) {
            standingsReads.reading.insert(classID)
            standingsRebuilder().start(classID: classID, points: settings.zonePoints, rebuild: nil)
        }
        return .deferred
    }

    /// `answer`'s response with the riders' recorded names; 503 when the record cannot be read.
    private func answer(
        _ answer: (ClassStandings, [String: String]) -> HTTPResponse, _ standings: ClassStandings, classID: String
    ) -> HTTPResponse {
        guard let record else { return .text(404, "the record is off on this hub (--record off)") }
        do {
            var names: [String: String] = [:]
            for recorded in try record.store.profiles(classID: classID) {
                if let name = recorded.profile.name { names[recorded.participant] = name }
            }
            return answer(standings, names)
        } catch {
            return .text(503, "record unavailable: \(error)")
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
}
