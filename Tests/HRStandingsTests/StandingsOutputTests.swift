import Foundation
import HRProtocol
import HRStandings
import Testing

@Suite("Board ticks, leaderboard and summary bodies")
struct StandingsOutputTests {
    /// a: 2 s in zone 5 (16/60 = 0.2667 → 0.3), b: 3 s in zone 1 (0.05 → 0.1), c: one sample (0.0).
    func sample() -> ClassStandings {
        var result = ClassStandings()
        for (p, samples) in [("a", [(0, 5), (1_000, 5), (2_000, 5)]), ("b", [(0, 1), (3_000, 1)]), ("c", [(0, 2)])] {
            for (seq, (ts, zone)) in samples.enumerated() {
                result.record(recorded(p, seq: UInt32(seq), ts: Int64(ts), bpm: 150, zone: UInt8(zone)))
            }
        }
        return result
    }

    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func boardBytesAreExact() throws {
        var tick = sample().board(at: 5_000) { p in
            p == "a" ? (bpm: 171, zone: 5) : p == "b" ? (bpm: 0, zone: nil) : nil
        }
        let top = tick.top(2)
        #expect(
            text(top.bytes)
                == #"{"t":"board","at":5000,"n":3,"top":[{"p":"a","rank":1,"points":0.3,"bpm":171,"zone":5},"#
                + #"{"p":"b","rank":2,"points":0.1,"bpm":0}]"#)
        let suffix = tick.suffix(for: "c")!
        #expect(
            text(suffix.bytes)
                == #","me":{"p":"c","rank":3,"points":0.0},"near":[{"p":"a","rank":1,"points":0.3,"bpm":171,"zone":5},"#
                + #"{"p":"b","rank":2,"points":0.1,"bpm":0}]}"#)
        #expect(tick.suffix(for: "nobody") == nil)
        // The spliced frame is what HubFrameEncoder writes for the whole message, and decodes back to it.
        let board = tick.board(top: 2, for: "c")
        let spliced = [UInt8(ascii: "[")] + top.bytes + suffix.bytes + [UInt8(ascii: "]")]
        #expect(spliced == HubFrameEncoder.frame([.board(board)]))
        #expect(try HubFrameDecoder.decodeJSON(spliced) == [.board(board)])
        #expect(board.me?.p == "c" && board.near.map(\.p) == ["a", "b"])
        // A viewer, or a participant not ranked yet: the shared part closed with `}`.
        let viewer = tick.board(top: 2, for: "nobody")
        #expect(viewer.me == nil && viewer.near.isEmpty)
        #expect(HubFrameEncoder.frame([.board(viewer)]) == [UInt8(ascii: "[")] + top.bytes + Array("}]".utf8))
    }

    @Test func boardZeroRidersAndTopBeyondTheClass() {
        var empty = ClassStandings().board(at: 1) { _ in nil }
        #expect(text(empty.top(10).bytes) == #"{"t":"board","at":1,"n":0,"top":[]"#)
        var tick = sample().board(at: 1) { _ in nil }
        #expect(tick.top(100).bytes.count == tick.top(3).bytes.count)
    }

    @Test func equalStandingsShareIdenticalTopBytes() {
        // The same samples in another order: byte-identical top parts, equal digests.
        var one = ClassStandings()
        var other = ClassStandings()
        var random = SeededGenerator(seed: 3)
        let ride = randomRide(riders: 50, samples: 3...30, using: &random)
        for sample in ride { one.record(sample) }
        for sample in ride.reversed() { other.record(sample) }
        let live: (String) -> LiveReading? = { p in (bpm: UInt8(p.utf8.count + 100), zone: 3) }
        var a = one.board(at: 9, live: live)
        var b = other.board(at: 9, live: live)
        for count in [1, 10, 100] {
            #expect(a.top(count) == b.top(count))
        }
        #expect(a.suffix(for: "r7") == b.suffix(for: "r7"))
    }

    @Test func digestsChangeExactlyWhenTheContentDoes() {
        let standings = sample()
        var quiet = standings.board(at: 1_000) { _ in nil }
        var later = standings.board(at: 2_000) { _ in nil }
        // Only `at` differs: same digests, different bytes.
        #expect(quiet.top(2).digest == later.top(2).digest && quiet.top(2).bytes != later.top(2).bytes)
        // A listed rider's bpm changes the top; an unlisted rider's does not.
        var listed = standings.board(at: 1_000) { p in p == "b" ? (bpm: 90, zone: 1) : nil }
        var unlisted = standings.board(at: 1_000) { p in p == "c" ? (bpm: 90, zone: 1) : nil }
        #expect(listed.top(2).digest != quiet.top(2).digest)
        #expect(unlisted.top(2).digest == quiet.top(2).digest)
        #expect(unlisted.suffix(for: "c")!.digest != quiet.suffix(for: "c")!.digest)
        // Points move: the top changes.
        var moved = standings
        moved.record(recorded("c", seq: 1, ts: 5_000, zone: 5))
        var afterMove = moved.board(at: 1_000) { _ in nil }
        #expect(afterMove.top(2).digest != quiet.top(2).digest)
        // A new rider at 0 points below the top: `n` changed, so the top's content did too.
        var joined = standings
        joined.record(recorded("zz", seq: 1, ts: 0))
        var afterJoin = joined.board(at: 1_000) { _ in nil }
        #expect(afterJoin.top(2).digest != quiet.top(2).digest)
    }

    @Test func leaderboardBody() {
        let standings = sample()
        let names: (String) -> String? = { $0 == "a" ? #"Anna "A""# : nil }
        #expect(
            text(standings.leaderboard(at: 7, query: LeaderboardQuery(offset: 0, limit: 2), name: names))
                == #"{"at":7,"n":3,"entries":[{"p":"a","name":"Anna \"A\"","rank":1,"points":0.3},"#
                + #"{"p":"b","rank":2,"points":0.1}]}"#)
        #expect(
            text(standings.leaderboard(at: 7, query: LeaderboardQuery(offset: 2, limit: 5), name: names))
                == #"{"at":7,"n":3,"entries":[{"p":"c","rank":3,"points":0.0}]}"#)
        #expect(
            text(standings.leaderboard(at: 7, query: LeaderboardQuery(offset: 3, limit: 5), name: names))
                == #"{"at":7,"n":3,"entries":[]}"#)
    }

    @Test func summaryBody() {
        var standings = sample()
        standings.record(recorded("c", seq: 1, ts: 150, bpm: 0, zone: nil))
        let body = text(standings.summary(name: { $0 == "b" ? "Bo" : nil }))
        #expect(
            body
                == #"[{"p":"a","samples":3,"first_ts":0,"last_ts":2000,"avg_bpm":150,"max_bpm":150,"#
                + #""zone_seconds":[0.0,0.0,0.0,0.0,2.0],"points":0.3,"rank":1},"#
                + #"{"p":"b","name":"Bo","samples":2,"first_ts":0,"last_ts":3000,"avg_bpm":150,"max_bpm":150,"#
                + #""zone_seconds":[3.0,0.0,0.0,0.0,0.0],"points":0.1,"rank":2},"#
                + #"{"p":"c","samples":2,"first_ts":0,"last_ts":150,"avg_bpm":150,"max_bpm":150,"#
                + #""zone_seconds":[0.0,0.0,0.0,0.0,0.0],"points":0.0,"rank":3}]"#)
        #expect((try? JSONSerialization.jsonObject(with: Data(body.utf8))) != nil)
    }
}
