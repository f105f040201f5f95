import HRProbeCore
import Testing

/// Board staleness (`BoardStaleness`) on a made-up clock: a sample counts on a screen with the first board built
/// after its ack arrived, once per screen.
@Suite struct BoardStalenessTests {
    /// (written µs, staleness µs) of what one board showed for the first time.
    func shown(
        _ accounting: inout BoardStaleness, screen: Int, classIndex: Int = 0, atUs: Int64, arrivedUs: Int64
    ) -> [[Int64]] {
        var seen: [[Int64]] = []
        accounting.board(screen: screen, classIndex: classIndex, atUs: atUs, arrivedUs: arrivedUs) {
            seen.append([$0, $1])
        }
        return seen
    }

    @Test func aSampleCountsFromTheFirstBoardBuiltAfterItsAck() {
        var accounting = BoardStaleness(classes: 1, riders: 2)
        #expect(shown(&accounting, screen: 7, atUs: 500, arrivedUs: 600).isEmpty, "a screen's first board: its start")
        accounting.wrote(rider: 0, seq: 1, us: 1_000)
        accounting.wrote(rider: 0, seq: 2, us: 2_000)
        accounting.wrote(rider: 1, seq: 1, us: 2_100)
        accounting.acked(rider: 0, classIndex: 0, seq: 1, us: 1_300)
        // Built before the ack arrived: the sample may not be in it yet.
        #expect(shown(&accounting, screen: 7, atUs: 1_200, arrivedUs: 1_400).isEmpty)
        accounting.acked(rider: 0, classIndex: 0, seq: 2, us: 2_300)
        accounting.acked(rider: 1, classIndex: 0, seq: 1, us: 2_400)
        #expect(shown(&accounting, screen: 7, atUs: 2_350, arrivedUs: 2_500) == [[1_000, 1_500], [2_000, 500]])
        #expect(shown(&accounting, screen: 7, atUs: 3_000, arrivedUs: 3_100) == [[2_100, 1_000]])
        #expect(shown(&accounting, screen: 7, atUs: 4_000, arrivedUs: 4_100).isEmpty, "each sample once per screen")
    }

    @Test func everyScreenCountsEverySampleOnItsOwnBoards() {
        var accounting = BoardStaleness(classes: 2, riders: 2)
        _ = shown(&accounting, screen: 1, atUs: 0, arrivedUs: 0)
        _ = shown(&accounting, screen: 2, atUs: 0, arrivedUs: 0)
        _ = shown(&accounting, screen: 3, classIndex: 1, atUs: 0, arrivedUs: 0)
        accounting.wrote(rider: 0, seq: 10, us: 100)
        accounting.acked(rider: 0, classIndex: 0, seq: 12, us: 200)  // an ack covers every seq up to it
        #expect(shown(&accounting, screen: 1, atUs: 300, arrivedUs: 400) == [[100, 300]])
        #expect(shown(&accounting, screen: 2, atUs: 900, arrivedUs: 1_100) == [[100, 1_000]])
        #expect(shown(&accounting, screen: 3, classIndex: 1, atUs: 900, arrivedUs: 1_000).isEmpty, "another class")
        accounting.acked(rider: 0, classIndex: 0, seq: 13, us: 1_200)
        #expect(shown(&accounting, screen: 1, atUs: 1_300, arrivedUs: 1_400).isEmpty, "nothing written was left")
    }

    @Test func samplesEveryScreenWasShownAreDropped() {
        var accounting = BoardStaleness(classes: 1, riders: 1)
        _ = shown(&accounting, screen: 1, atUs: 0, arrivedUs: 0)
        _ = shown(&accounting, screen: 2, atUs: 0, arrivedUs: 0)
        var seq: UInt32 = 0
        func ride(_ count: Int, from us: Int64) {
            for step in 0..<count {
                seq += 1
                accounting.wrote(rider: 0, seq: seq, us: us + Int64(step))
                accounting.acked(rider: 0, classIndex: 0, seq: seq, us: us + Int64(step))
            }
        }
        ride(3_000, from: 1_000)
        #expect(shown(&accounting, screen: 1, atUs: 10_000, arrivedUs: 10_000).count == 3_000)
        ride(2_000, from: 20_000)
        #expect(accounting.held(classIndex: 0) == 5_000, "screen 2 has seen none of them yet")
        #expect(shown(&accounting, screen: 2, atUs: 30_000, arrivedUs: 30_000).count == 5_000)
        accounting.closed(screen: 1)
        ride(4_000, from: 40_000)
        #expect(accounting.held(classIndex: 0) < 4_096, "what every screen was shown is dropped")
        #expect(shown(&accounting, screen: 2, atUs: 50_000, arrivedUs: 50_000).count == 4_000)
    }

    @Test func writtenSamplesWaitingForAnAckAreBounded() {
        var accounting = BoardStaleness(classes: 1, riders: 1)
        _ = shown(&accounting, screen: 1, atUs: 0, arrivedUs: 0)
        for seq in 1...UInt32(BoardStaleness.maxPending + 10) { accounting.wrote(rider: 0, seq: seq, us: Int64(seq)) }
        accounting.acked(rider: 0, classIndex: 0, seq: UInt32(BoardStaleness.maxPending + 10), us: 5_000)
        #expect(shown(&accounting, screen: 1, atUs: 6_000, arrivedUs: 6_000).count == BoardStaleness.maxPending)
    }

    @Test func aRidersOwnScreenCountsItsSamplesFromTheFirstBoardAfterTheAck() {
        var accounting = BoardStaleness(classes: 1, riders: 2)
        accounting.viewsOwnSamples(rider: 0)
        var own: [[Int64]] = []
        accounting.wrote(rider: 0, seq: 1, us: 1_000)
        accounting.wrote(rider: 0, seq: 2, us: 2_000)
        accounting.wrote(rider: 1, seq: 1, us: 2_000)
        accounting.ownBoard(rider: 0, arrivedUs: 2_100) { own.append([$0, $1]) }
        #expect(own.isEmpty, "nothing acked yet: this board may not count them")
        accounting.acked(rider: 0, classIndex: 0, seq: 1, us: 2_500)
        accounting.acked(rider: 1, classIndex: 0, seq: 1, us: 2_500)  // rider 1 has no screen of its own
        accounting.ownBoard(rider: 0, arrivedUs: 3_000) { own.append([$0, $1]) }
        #expect(own == [[1_000, 2_000]])
        accounting.acked(rider: 0, classIndex: 0, seq: 2, us: 3_500)
        accounting.ownBoard(rider: 0, arrivedUs: 4_000) { own.append([$0, $1]) }
        accounting.ownBoard(rider: 0, arrivedUs: 5_000) { own.append([$0, $1]) }
        #expect(own == [[1_000, 2_000], [2_000, 2_000]], "once each")
        var others: [[Int64]] = []
        accounting.ownBoard(rider: 1, arrivedUs: 5_000) { others.append([$0, $1]) }
        #expect(others.isEmpty)
    }
}
