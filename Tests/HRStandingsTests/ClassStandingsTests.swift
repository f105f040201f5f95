import HRProtocol
import HRStandings
import Testing

@Suite("ClassStandings: ranks, pages, neighbours")
struct ClassStandingsTests {
    /// Standings where each rider earned `seconds` in zone 1 (their own 1 s samples).
    func standings(_ seconds: [String: Int]) -> ClassStandings {
        var result = ClassStandings()
        for (p, seconds) in seconds {
            for seq in 0...seconds {
                result.record(recorded(p, seq: UInt32(seq), ts: Int64(seq) * 1_000))
            }
        }
        return result
    }

    @Test func everyoneWithASampleIsRankedZeroIncluded() {
        let result = standings(["b": 0, "a": 0, "c": 3])
        #expect(result.count == 3)
        #expect(result.top(10).map(\.p) == ["c", "a", "b"])
        #expect(result.top(10).map(\.rank) == [1, 2, 3])
        #expect(result.top(10).map(\.pointsTenths) == [1, 0, 0])
        #expect(result.rank(of: "nobody") == nil && result.tally(of: "nobody") == nil && result.near("nobody") == nil)
    }

    @Test func tiesGoByIdInByteOrder() {
        // Byte order: '-' < digits < upper case < '_' < lower case; a shorter id before its extensions; ids that
        // share their first 8 or 16 bytes still compare on the rest.
        let ids = [
            "rider-0001b", "a", "B", "_x", "rider-0001", "rider-0001a", "9", "-z", "rider-00010",
            "0123456789abcdef-2", "0123456789abcdef", "0123456789abcdef-10", "0123456789abcdeg",
        ]
        let result = standings(Dictionary(uniqueKeysWithValues: ids.map { ($0, 2) }))
        let expected = [
            "-z", "0123456789abcdef", "0123456789abcdef-10", "0123456789abcdef-2", "0123456789abcdeg", "9", "B",
            "_x", "a", "rider-0001", "rider-00010", "rider-0001a", "rider-0001b",
        ]
        #expect(result.top(20).map(\.p) == expected)
        #expect(expected == ids.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
    }

    @Test func pointsDecideBeforeIds() {
        let result = standings(["a": 1, "z": 2, "m": 2])
        #expect(result.top(3).map(\.p) == ["m", "z", "a"])
        #expect(result.rank(of: "a") == 3)
    }

    @Test func duplicatesChangeNothing() {
        var result = standings(["a": 3])
        let counted = result.record(recorded("a", seq: 2, ts: 99_000, zone: 5))
        #expect(!counted)
        #expect(result.tally(of: "a")!.units == 3_000)
    }

    @Test func nearIsTwoAboveAndTwoBelowInRankOrder() {
        let result = standings(["a": 10, "b": 9, "c": 8, "d": 7, "e": 6, "f": 5])
        let middle = result.near("c")!
        #expect(middle.me.p == "c" && middle.me.rank == 3)
        #expect(middle.near.map(\.p) == ["a", "b", "d", "e"])
        #expect(middle.near.map(\.rank) == [1, 2, 4, 5])
        #expect(result.near("a")!.near.map(\.p) == ["b", "c"])
        #expect(result.near("b")!.near.map(\.p) == ["a", "c", "d"])
        #expect(result.near("f")!.near.map(\.p) == ["d", "e"])
        #expect(standings(["solo": 1]).near("solo")!.near.isEmpty)
    }

    @Test func pagesCoverTheStandingsOnce() {
        let result = standings(["a": 5, "b": 4, "c": 3, "d": 2, "e": 1])
        #expect(result.page(offset: 0, limit: 2).map(\.p) == ["a", "b"])
        #expect(result.page(offset: 2, limit: 2).map(\.p) == ["c", "d"])
        #expect(result.page(offset: 4, limit: 2).map(\.p) == ["e"])
        #expect(result.page(offset: 4, limit: 2).map(\.rank) == [5])
        #expect(result.page(offset: 5, limit: 2).isEmpty)
        #expect(result.page(offset: 1_000_000, limit: 1_000).isEmpty)
    }

    /// Thousands of riders fed in random order (backfills, moves up and down, block splits and merges), checked after
    /// every batch against a plain sort: rank of everyone, top, pages and neighbours.
    @Test func matchesABruteForceSort() {
        var random = SeededGenerator(seed: 42)
        // 3,000 riders: several blocks of the order, so blocks split and merge while riders move.
        let ride = randomRide(riders: 3_000, samples: 1...12, using: &random).shuffled(using: &random)
        var result = ClassStandings()
        var ids = Set<String>()
        for (index, sample) in ride.enumerated() {
            result.record(sample)
            ids.insert(sample.participant)
            guard index % 4_000 == 3_999 || index == ride.count - 1 else { continue }
            let expected = referenceRanking(result, ids: Array(ids))
            #expect(result.count == expected.count)
            #expect(result.page(offset: 0, limit: expected.count).map(\.p) == expected)
            #expect(result.top(10).map(\.p) == Array(expected.prefix(10)))
            for (rank, p) in expected.enumerated() {
                #expect(result.rank(of: p) == rank + 1)
            }
            for _ in 0..<50 {
                let offset = Int.random(in: 0...expected.count, using: &random)
                let limit = Int.random(in: 1...300, using: &random)
                let page = result.page(offset: offset, limit: limit)
                #expect(page.map(\.p) == Array(expected[offset..<min(expected.count, offset + limit)]))
                #expect(page.map(\.rank) == Array((offset + 1)..<(offset + 1 + page.count)))
                guard let p = expected.randomElement(using: &random) else { continue }
                let rank = expected.firstIndex(of: p)!
                let near = result.near(p)!
                #expect(near.me.p == p && near.me.rank == rank + 1)
                let window = expected[max(0, rank - 2)..<min(expected.count, rank + 3)].filter { $0 != p }
                #expect(near.near.map(\.p) == window)
            }
        }
        // Every rider's points are the formula over their own samples.
        let byRider = Dictionary(grouping: ride, by: \.participant)
        for (p, samples) in byRider {
            #expect(result.tally(of: p)!.units == referenceUnits(samples).0)
        }
    }

    /// A restart replays the record (sorted by participant, then seq): the same standings as the live order.
    @Test func replayingTheRecordGivesTheSameStandings() {
        var random = SeededGenerator(seed: 7)
        let ride = randomRide(riders: 200, samples: 5...40, using: &random)
        var live = ClassStandings()
        for sample in ride.shuffled(using: &random) {
            live.record(sample)
        }
        var replayed = ClassStandings()
        for sample in ride.sorted(by: { ($0.participant, $0.sample.seq) < ($1.participant, $1.sample.seq) }) {
            replayed.record(sample)
        }
        #expect(live.page(offset: 0, limit: 1_000) == replayed.page(offset: 0, limit: 1_000))
        #expect(live.summary(name: { _ in nil }) == replayed.summary(name: { _ in nil }))
    }

    @Test func zonePointsParsing() {
        #expect(ZonePoints(parsing: "1,2,4,8,8") == .standard)
        #expect(ZonePoints(parsing: "0, 1,2 ,3,1000")?.multipliers == [0, 1, 2, 3, 1_000])
        for bad in [
            "", "1,2,4,8", "1,2,4,8,8,8", "1,2,4,8,x", "1,2,4,8,-1", "1,2,4,8,1001", "1,,4,8,8", "1.5,2,4,8,8",
            "+1,2,4,8,8",
        ] {
            #expect(ZonePoints(parsing: bad) == nil, "\(bad)")
        }
        #expect(ZonePoints([1, 2, 3, 4]) == nil && ZonePoints([1, 2, 3, 4, -1]) == nil)
    }
}
