import HRCore
import HRProtocol
import HRStandings
import Testing

/// Standings in the relay (docs/PROTOCOL.md, "Standings: the live leaderboard"): fed only with what the record
/// committed as new, `board` messages on the class tick, rebuilt from the record after a restart. Manual clock.
@Suite struct RelayStandingsTests {
    let record = FakeRecord()

    func harness(_ configure: (inout RelayConfig) -> Void = { _ in }) -> RelayHarness {
        RelayHarness(record: record, configure: configure)
    }

    func commit(_ h: RelayHarness) {
        record.take(from: h.relay)
        record.commitAll(to: h.relay, now: h.now)
    }

    /// A rider with hrmax 200 who sends `count` samples one second apart at `bpm` (the clock moves on), committed.
    func ride(_ h: RelayHarness, _ p: String, bpm: UInt8, count: UInt32, from seq: UInt32 = 1) -> ClientID {
        let device = h.publisher(p)
        h.hello(device, hrmax: 200)
        for index in 0..<count {
            if index > 0 { h.advance(1_000) }
            h.hr(device, seq: seq + index, bpm: bpm)
        }
        commit(h)
        return device
    }

    @Test func pointsComeOnlyFromCommittedSamplesAndFollowTheFormula() throws {
        let h = harness()
        let anna = h.publisher("anna")
        h.hello(anna, hrmax: 200)
        for seq: UInt32 in 1...4 { h.hr(anna, seq: seq, bpm: 190, ts: h.now + Int64(seq) * 1_000) }  // zone 5
        #expect(h.relay.standings(classID: "spin")?.count == 0, "nothing is committed yet")
        commit(h)
        let standings = try #require(h.relay.standings(classID: "spin"))
        // 3 intervals of 1 s in zone 5: 3/60 × 8 = 0.4 points.
        let units = try #require(standings.tally(of: "anna")).units
        #expect(units == 24_000, "3,000 ms × 8")
        #expect(standings.top(1) == [BoardEntry(p: "anna", rank: 1, pointsTenths: 4)])
    }

    @Test func aDuplicateTheRecordRefusesIsNotCountedTwice() throws {
        let h = harness()
        _ = ride(h, "anna", bpm: 190, count: 3)
        let before = try #require(h.relay.standings(classID: "spin")?.tally(of: "anna"))
        // An upload of the same seqs: the store reports them as duplicates.
        let samples = (1...3).map { Sample(seq: UInt32($0), ts: 0, bpm: 60) }
        h.relay.upload(UploadID(1), classID: "spin", participant: "anna", samples: samples, recordedProfile: nil, now: h.now)
        commit(h)
        #expect(h.relay.standings(classID: "spin")?.tally(of: "anna") == before)
    }

    @Test func aViewerGetsABoardRightAfterTheSnapshotOnceAnyoneIsRanked() {
        let h = harness()
        let early = h.viewer()
        #expect(h.messages(early).boards.isEmpty, "nobody is ranked yet")
        _ = ride(h, "anna", bpm: 190, count: 4)
        _ = ride(h, "bob", bpm: 150, count: 4)
        let viewer = h.viewer()
        let messages = h.messages(viewer)
        #expect(messages.count == 3)
        #expect(messages[1].snapshot != nil)
        let board = messages[2].board
        #expect(board?.n == 2)
        #expect(board?.top.map(\.p) == ["anna", "bob"])
        #expect(board?.top.map(\.pointsTenths) == [4, 2], "3 s in zone 5 (×8) and in zone 3 (×4)")
        #expect(board?.top.first?.bpm == 190)
        #expect(board?.top.first?.zone == 5)
        #expect(board?.me == nil)
    }

    @Test func boardsComeAtMostOncePerIntervalAndOnlyWhenChanged() {
        let h = harness()
        let anna = ride(h, "anna", bpm: 190, count: 2)
        let viewer = h.viewer()
        #expect(h.messages(viewer).boards.count == 1)
        h.advance(400)
        h.hr(anna, seq: 3, bpm: 190, ts: h.now)
        commit(h)
        h.tick()
        #expect(h.messages(viewer).boards.isEmpty, "within the interval")
        #expect(h.relay.nextWakeMs <= h.now + 600)
        h.advance(600)
        h.tick()
        let boards = h.messages(viewer).boards
        #expect(boards.count == 1)
        #expect(boards.first?.at == h.now)
        h.advance(1_000)
        h.hr(anna, seq: 4, bpm: 190)
        commit(h)
        h.tick()
        #expect(h.messages(viewer).boards.count == 1, "one class tick an interval after the last")
        h.advance(5_000)
        h.tick()
        #expect(h.messages(viewer).boards.isEmpty, "nothing changed")
    }

    @Test func staggeredViewersDoNotKeepTheClassTicking() {
        let h = harness()
        let anna = ride(h, "anna", bpm: 190, count: 2)
        let early = h.viewer()
        #expect(h.messages(early).boards.count == 1)
        h.advance(500)
        h.hr(anna, seq: 3, bpm: 190)
        commit(h)
        h.tick()
        #expect(h.messages(early).boards.isEmpty, "held: its first board went out 500 ms ago")
        h.advance(200)
        let late = h.viewer()
        #expect(h.messages(late).boards.count == 1)
        h.advance(300)
        h.tick()
        #expect(h.messages(early).boards.count == 1, "served by the extra tick an interval after its first")
        let ticks = h.counters.boardTicks
        for _ in 0..<5 {
            h.advance(500)
            h.tick()
        }
        #expect(h.counters.boardTicks == ticks, "nothing changed: no more ticks")
        #expect(h.messages(late).boards.isEmpty)
    }

    @Test func boardZeroGetsNoBoardAndTopCountsRanks() {
        let h = harness()
        _ = ride(h, "anna", bpm: 190, count: 2)
        _ = ride(h, "bob", bpm: 150, count: 2)
        _ = ride(h, "cleo", bpm: 100, count: 2)
        let none = h.open(.viewer, board: 0)
        let two = h.open(.viewer, board: 2)
        #expect(h.messages(none).boards.isEmpty)
        #expect(h.messages(two).boards.first?.top.map(\.p) == ["anna", "bob"])
    }

    @Test func aParticipantGetsMeAndNear() throws {
        let h = harness()
        for (index, p) in ["a", "b", "c", "d", "e", "f"].enumerated() {
            _ = ride(h, p, bpm: 190, count: UInt32(8 - index))
        }
        let screen = h.open(.participant, "d", board: 1)
        let board = try #require(h.messages(screen).boards.first)
        #expect(board.top.map(\.p) == ["a"])
        #expect(board.me?.p == "d")
        #expect(board.me?.rank == 4)
        #expect(board.near.map(\.p) == ["b", "c", "e", "f"])
    }

    @Test func viewersWithTheSameBoardValueGetTheSameBytesFromOneTick() {
        let h = harness()
        let anna = ride(h, "anna", bpm: 190, count: 2)
        let first = h.viewer()
        let second = h.viewer()
        _ = h.messages(first)
        _ = h.messages(second)
        let ticks = h.counters.boardTicks
        h.advance(1_000)
        h.hr(anna, seq: 3, bpm: 150, ts: h.now)
        commit(h)
        h.tick()
        #expect(h.counters.boardTicks == ticks + 1)
        let a = h.frames(first).map(\.text)
        let b = h.frames(second).map(\.text)
        #expect(a == b)
        #expect(a.joined().contains(#""t":"board""#))
    }

    @Test func recordOffMeansNoStandings() {
        let h = RelayHarness()
        let anna = h.publisher("anna")
        h.hello(anna, hrmax: 200)
        h.hr(anna, seq: 1, bpm: 190)
        h.hr(anna, seq: 2, bpm: 190)
        let viewer = h.viewer()
        h.advance(2_000)
        h.tick()
        #expect(h.messages(viewer).boards.isEmpty)
        #expect(h.relay.standings(classID: "spin") == nil)
    }

    @Test func aRestartRebuildsTheSameStandingsFromTheRecord() throws {
        let h = harness()
        _ = ride(h, "anna", bpm: 190, count: 5)
        _ = ride(h, "bob", bpm: 150, count: 10)
        let before = try #require(h.relay.standings(classID: "spin")).summary { _ in nil }
        let restarted = RelayHarness(record: record)
        #expect(restarted.relay.standings(classID: "spin") == nil, "not in memory yet")
        let viewer = restarted.viewer()
        #expect(restarted.relay.isRebuildingStandings(classID: "spin"))
        #expect(restarted.relay.standings(classID: "spin") == nil, "still being rebuilt")
        #expect(restarted.messages(viewer).boards.isEmpty, "no board before the standings are back")
        record.rebuildAll(for: restarted.relay, now: restarted.now)
        let after = try #require(restarted.relay.standings(classID: "spin")).summary { _ in nil }
        #expect(after == before)
        restarted.tick()
        #expect(restarted.messages(viewer).boards.first?.top.map(\.p) == ["bob", "anna"])
    }

    @Test func anUploadIntoALiveClassMovesARiderUp() throws {
        let h = harness()
        _ = ride(h, "anna", bpm: 150, count: 4)
        let bob = ride(h, "bob", bpm: 150, count: 2)
        let viewer = h.viewer()
        #expect(h.messages(viewer).boards.first?.top.map(\.p) == ["anna", "bob"])
        // Bob's device was offline for seqs 3...10: zone 5 the whole time.
        let samples = (3...10).map { Sample(seq: UInt32($0), ts: h.now + Int64($0) * 1_000, bpm: 190) }
        h.relay.upload(UploadID(1), classID: "spin", participant: "bob", samples: samples, recordedProfile: nil, now: h.now)
        commit(h)
        _ = bob
        h.advance(1_000)
        h.tick()
        let board = try #require(h.messages(viewer).boards.last)
        #expect(board.top.map(\.p) == ["bob", "anna"])
    }

    @Test func samplesCommittedDuringARebuildCountExactlyOnce() throws {
        let h = harness()
        _ = ride(h, "anna", bpm: 190, count: 5)
        _ = ride(h, "bob", bpm: 150, count: 5)
        let restarted = RelayHarness(record: record)
        restarted.now = h.now
        let viewer = restarted.viewer()
        #expect(restarted.relay.isRebuildingStandings(classID: "spin"))
        let rebuilds = restarted.relay.takeStandingsRebuilds()
        #expect(rebuilds.map(\.classID) == ["spin"])
        #expect(restarted.relay.takeStandingsRebuilds().isEmpty, "taken once")
        // Anna rides on while the record is read: 6 and 7 are committed before the read sees the record (so the read
        // and the backlog both hold them), 8 after it.
        let anna = restarted.publisher("anna")
        for seq: UInt32 in 6...7 {
            restarted.advance(1_000)
            restarted.hr(anna, seq: seq, bpm: 190)
        }
        record.take(from: restarted.relay)
        record.commitAll(to: restarted.relay, now: restarted.now)
        let read = record.standings("spin")
        restarted.advance(1_000)
        restarted.hr(anna, seq: 8, bpm: 190)
        record.take(from: restarted.relay)
        record.commitAll(to: restarted.relay, now: restarted.now)
        #expect(restarted.relay.standings(classID: "spin") == nil, "still being rebuilt")
        #expect(restarted.messages(viewer).boards.isEmpty)

        restarted.relay.standingsRebuilt(rebuilds[0], standings: read, now: restarted.now)
        let standings = try #require(restarted.relay.standings(classID: "spin"))
        #expect(!restarted.relay.isRebuildingStandings(classID: "spin"))
        #expect(standings.tally(of: "anna")?.samples == 8)
        #expect(standings.tally(of: "anna") == record.standings("spin").tally(of: "anna"), "as if read whole")
        #expect(standings.tally(of: "bob")?.samples == 5)
        restarted.tick()
        let board = try #require(restarted.messages(viewer).boards.last)
        #expect(board.top.map(\.p) == ["anna", "bob"])
    }

    @Test func aRebuildForAClassForgottenMeanwhileIsDropped() throws {
        let h = harness()
        _ = ride(h, "anna", bpm: 190, count: 3)
        let restarted = RelayHarness(record: record) { $0.classLingerMs = 1_000 }
        let first = restarted.viewer()
        let stale = try #require(restarted.relay.takeStandingsRebuilds().first)
        restarted.close(first)
        restarted.advance(2_000)
        restarted.tick()
        #expect(restarted.relay.classCount == 0, "forgotten")
        _ = restarted.viewer()
        let fresh = try #require(restarted.relay.takeStandingsRebuilds().first)
        #expect(fresh.id != stale.id)
        restarted.relay.standingsRebuilt(stale, standings: ClassStandings(), now: restarted.now)
        #expect(restarted.relay.isRebuildingStandings(classID: "spin"), "the old read is not this room's")
        restarted.relay.standingsRebuilt(fresh, standings: record.standings("spin"), now: restarted.now)
        #expect(restarted.relay.standings(classID: "spin")?.tally(of: "anna")?.samples == 3)
        restarted.relay.standingsRebuilt(fresh, standings: ClassStandings(), now: restarted.now)
        #expect(restarted.relay.standings(classID: "spin")?.count == 1, "a second delivery changes nothing")
    }

    @Test func aClassWithoutARecordNeedsNoRebuild() {
        let h = harness()
        _ = h.viewer()
        #expect(h.relay.takeStandingsRebuilds().isEmpty)
        #expect(h.relay.standings(classID: "spin")?.count == 0)
    }

    @Test func aBigClassIsServedInTurnsEachConnectionAtMostOncePerInterval() throws {
        // 2 connections per tick, 5 screens (one a participant's): 3 turns, ticks ceil(1000 / 3) = 334 ms apart.
        let h = harness { $0.boardConnectionsPerTick = 2 }
        let anna = ride(h, "anna", bpm: 190, count: 2)
        _ = ride(h, "bob", bpm: 150, count: 2)
        var screens = (0..<4).map { _ in h.viewer() }
        screens.append(h.open(.participant, "bob"))  // bob's own screen (takes his device's place)
        var boards: [ClientID: [Board]] = [:]
        func collect() {
            for screen in screens { boards[screen, default: []] += h.messages(screen).boards }
        }
        collect()
        #expect(screens.allSatisfy { boards[$0]?.count == 1 }, "each screen's first board, right after its snapshot")
        // Anna rides on at 1 Hz for 6 s; the hub is woken whenever it asks to be.
        var changes: [Int64] = []
        var nextSample = h.now + 1_000
        let end = h.now + 6_000
        var seq: UInt32 = 3
        while h.now < end {
            h.now = min(max(h.relay.nextWakeMs, h.now + 1), nextSample)
            if h.now == nextSample {
                h.hr(anna, seq: seq, bpm: 150 + UInt8(seq % 40), ts: h.now)
                commit(h)
                changes.append(h.now)
                seq += 1
                nextSample += 1_000
            }
            h.tick()
            collect()
        }
        var perTick: [Int64: Int] = [:]
        for screen in screens {
            let times = try #require(boards[screen]).map(\.at)
            for (earlier, later) in zip(times, times.dropFirst()) {
                #expect(later - earlier >= 1_000, "at most one board per interval per connection")
            }
            for at in times.dropFirst() { perTick[at, default: 0] += 1 }
            // Every change reaches every screen within an interval and one gap.
            for change in changes.dropLast(2) {
                #expect(times.contains { $0 >= change && $0 <= change + 1_334 }, "a board within 1,334 ms of \(change)")
            }
        }
        #expect(perTick.values.allSatisfy { $0 <= 2 }, "a tick serves 2 connections at most")
        #expect(perTick.count >= 3 * 5, "the turns are spread over the interval")
        let mine = try #require(boards[screens[4]]?.last)
        #expect(mine.me?.p == "bob")
    }

    @Test func withTheClassTickABoardIsBuiltOnTheTickThatSendsIt() throws {
        let h = harness { $0.tickMs = 50 }
        h.advance(13)  // off the 50 ms grid
        let anna = ride(h, "anna", bpm: 190, count: 2)
        let viewer = h.viewer()
        var boards: [Board] = []
        /// Wakes the relay when it asks to be woken (housekeeping runs on every tick here), until a board arrives.
        func untilABoard() {
            boards = []
            for _ in 0..<200 where boards.isEmpty {
                h.now = min(max(h.relay.nextWakeMs, h.now + 1), h.now + 50)
                h.tick()
                boards = h.messages(viewer).boards
            }
        }
        untilABoard()
        #expect(boards.count == 1, "the first board, on the next class tick")
        h.advance(1_000)
        h.hr(anna, seq: 3, bpm: 150)
        commit(h)
        untilABoard()
        let board = try #require(boards.first)
        #expect(board.at % 50 == 0, "built at \(board.at), on the grid")
        #expect(board.at == h.now, "and sent on that same tick")
    }

    /// A viewer whose `board` waits for the same tick as the class's samples gets one frame: its board, then the
    /// tick's shared messages (copied behind it); a viewer without a board gets the shared frame itself.
    @Test func aBoardAndTheTicksSamplesGoInOneFrame() throws {
        let h = harness { $0.tickMs = 100 }
        let anna = ride(h, "anna", bpm: 190, count: 2)
        let withBoard = h.viewer()
        let plain = h.open(.viewer, board: 0)
        for _ in 0..<30 {  // the first boards and whatever else is pending
            h.advance(100)
            h.tick()
            _ = h.frames(withBoard)
            _ = h.frames(plain)
        }
        h.hr(anna, seq: 3, bpm: 150)
        commit(h)
        h.advance(100 - h.now % 100)
        let before = h.counters
        h.tick()
        let own = h.relay.nextFrame(withBoard, now: h.now).map { Frame(kind: $0.kind, bytes: $0.buffer.payload) }
        #expect(h.relay.nextFrame(withBoard, now: h.now) == nil, "one frame")
        let sharedFrame = try #require(h.relay.nextFrame(plain, now: h.now))
        let messages = try #require(own).messages()
        #expect(messages.boards.count == 1)
        #expect(messages.first?.board != nil, "the board first, as its queue had it")
        #expect(messages.seqs(of: "anna") == [3])
        let shared = Frame(kind: sharedFrame.kind, bytes: sharedFrame.buffer.payload).messages()
        #expect(shared.seqs(of: "anna") == [3])
        #expect(shared.boards.isEmpty)
        #expect(Array(messages.dropFirst()) == shared, "the same tick, behind the board")
        #expect(h.counters.sharedFramesWithExtras == before.sharedFramesWithExtras + 1)
        #expect(h.counters.sharedFrames == before.sharedFrames + 1)
    }
}
