import HRProtocol
import Testing

@testable import HRProbe

/// `hrprobe watch` and the standings: it asks for ranks up to 100 and shows each rider's rank and points.
@Suite struct WatchStandingsTests {
    @Test func theWatchAsksForAHundredRanksUnlessTold() throws {
        let plain = try WatchTarget("ws://127.0.0.1:8080/v1/classes/demo")
        #expect(plain.url.pathAndQuery == "/v1/classes/demo/ws?role=viewer&board=100")
        let told = try WatchTarget("ws://127.0.0.1:8080/v1/classes/demo/ws?role=viewer&board=5")
        #expect(told.url.pathAndQuery == "/v1/classes/demo/ws?role=viewer&board=5")
    }

    @Test func rowsShowRankAndPointsInRankOrder() throws {
        var board = ClassBoard(classID: "spin")
        let now: Int64 = 1_000_000
        board.apply(.welcome(Welcome(classID: "spin", role: .viewer, participant: nil, mode: .all, budgetMs: 800,
            ht: now, lastSeq: nil)), now: now)
        for p in ["anna", "ben", "cleo"] { board.apply(.join(p: p, profile: Profile()), now: now) }
        board.apply(
            .board(Board(at: now, n: 2, top: [
                BoardEntry(p: "ben", rank: 1, pointsTenths: 123), BoardEntry(p: "anna", rank: 2, pointsTenths: 5),
            ])), now: now)
        let text = BoardRenderer(color: false).render(&board, now: now)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("class spin · 3 riders · 2 ranked"), "\(lines[0])")
        #expect(lines[1].contains("RANK    PTS  STATE"), "\(lines[1])")
        #expect(lines[2].hasPrefix("ben") && lines[2].contains("     1   12.3  "), "\(lines[2])")
        #expect(lines[3].hasPrefix("anna") && lines[3].contains("     2    0.5  "), "\(lines[3])")
        #expect(lines[4].hasPrefix("cleo") && lines[4].contains("     -      -  "), "unranked last: \(lines[4])")
    }
}
