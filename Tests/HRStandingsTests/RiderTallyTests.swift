import HRProtocol
import HRStandings
import Testing

@Suite("RiderTally: the points formula")
struct RiderTallyTests {
    /// Feeds (seq, ts, zone) samples to a fresh tally.
    func tally(_ samples: [(UInt32, Int64, UInt8?)], bpm: UInt8 = 120, points: ZonePoints = .standard) -> RiderTally {
        var tally = RiderTally()
        for (seq, ts, zone) in samples {
            let counted = tally.record(seq: seq, ts: ts, bpm: bpm, zone: zone, points: points)
            #expect(counted)
        }
        return tally
    }

    @Test func firstSampleEarnsNothing() {
        let first = tally([(1, 1_000, 5)])
        #expect(first.units == 0 && first.zoneMs == [0, 0, 0, 0, 0] && first.samples == 1)
    }

    @Test(arguments: [(UInt8(1), Int64(1)), (2, 2), (3, 4), (4, 8), (5, 8)])
    func eachZoneEarnsItsMultiplier(zone: UInt8, multiplier: Int64) {
        // 60 samples 1 s apart: 59 s in the zone.
        let result = tally((0..<60).map { (UInt32($0), Int64($0) * 1_000, zone) })
        #expect(result.units == 59_000 * multiplier)
        #expect(result.zoneMs[Int(zone) - 1] == 59_000)
        #expect(result.points == 59.0 / 60.0 * Double(multiplier))
    }

    @Test func customMultipliers() {
        let points = ZonePoints([0, 3, 5, 7, 11])!
        let result = tally([(1, 0, 1), (2, 1_000, 1), (3, 2_000, 2), (4, 3_000, 5)], points: points)
        #expect(result.units == 0 + 1_000 * 3 + 1_000 * 11)
        #expect(result.zoneMs == [1_000, 1_000, 0, 0, 1_000])
    }

    @Test func intervalIsCappedAtFiveSeconds() {
        let result = tally([(1, 0, 3), (2, 4_999, 3), (3, 9_999, 3), (4, 60_000, 3)])
        #expect(result.units == (4_999 + 5_000 + 5_000) * 4)
        #expect(result.zoneMs[2] == 14_999)
    }

    @Test func tsSteppingBackwardsCountsZero() {
        // seq 2 is captured "before" seq 1 (a device clock jump): 0 s; seq 3 counts from seq 2's ts.
        let result = tally([(1, 10_000, 2), (2, 7_000, 2), (3, 8_000, 2)])
        #expect(result.units == 1_000 * 2)
        #expect(result.zoneMs[1] == 1_000)
        #expect(result.firstTs == 7_000 && result.lastTs == 10_000)
    }

    @Test func noZoneEarnsNothingButIsStillThePrevious() {
        // seq 2 has no zone (bpm 0 or no hrmax): it earns nothing, and seq 3 earns only since seq 2, not since 1.
        var result = RiderTally()
        result.record(seq: 1, ts: 0, bpm: 150, zone: 4, points: .standard)
        result.record(seq: 2, ts: 3_000, bpm: 0, zone: nil, points: .standard)
        result.record(seq: 3, ts: 4_000, bpm: 150, zone: 4, points: .standard)
        #expect(result.units == 1_000 * 8)
        #expect(result.zoneMs == [0, 0, 0, 1_000, 0])
        #expect(result.samples == 3 && result.maxBpm == 150 && result.avgBpm == 150)
    }

    @Test func zoneOutsideOneToFiveEarnsNothing() {
        let result = tally([(1, 0, 1), (2, 1_000, 0), (3, 2_000, 6)])
        #expect(result.units == 0 && result.zoneMs == [0, 0, 0, 0, 0])
    }

    @Test func duplicateSeqChangesNothing() {
        var result = tally([(1, 0, 1), (2, 1_000, 1), (5, 4_000, 1)])
        let before = result
        for seq: UInt32 in [2, 5, 1] {
            let counted = result.record(seq: seq, ts: 1_500, bpm: 200, zone: 5, points: .standard)
            #expect(!counted)
        }
        #expect(result == before)
    }

    @Test func backfillInTheMiddleRecomputesItsSuccessor() {
        // 1 at 0 s, 3 at 4 s (zone 5): 3 earns 4 s × 8. Backfill 2 at 2 s in zone 1: 2 earns 2 s × 1, 3 now 2 s × 8.
        var result = tally([(1, 0, 5), (3, 4_000, 5)])
        #expect(result.units == 4_000 * 8)
        let counted = result.record(seq: 2, ts: 2_000, bpm: 90, zone: 1, points: .standard)
        #expect(counted)
        #expect(result.units == 2_000 * 1 + 2_000 * 8)
        #expect(result.zoneMs == [2_000, 0, 0, 0, 4_000 - 2_000])
    }

    @Test func backfillBeforeTheFirstSampleMakesTheOldFirstEarn() {
        var result = tally([(5, 10_000, 3), (6, 11_000, 3)])
        #expect(result.units == 1_000 * 4)
        let counted = result.record(seq: 4, ts: 9_000, bpm: 90, zone: 2, points: .standard)
        #expect(counted)
        // seq 4 is now the first (earns nothing); seq 5 earns 1 s in zone 3.
        #expect(result.units == 2_000 * 4)
        let countedToo = result.record(seq: 1, ts: 0, bpm: 90, zone: 2, points: .standard)
        #expect(countedToo)
        // seq 4 earns since seq 1, capped: 5 s in zone 2.
        #expect(result.units == 2_000 * 4 + 5_000 * 2)
    }

    @Test func summaryNumbers() {
        var result = RiderTally()
        for (seq, bpm) in [(UInt32(1), UInt8(100)), (2, 0), (3, 101), (4, 0)] {
            result.record(seq: seq, ts: Int64(seq) * 1_000, bpm: bpm, zone: nil, points: .standard)
        }
        // Mean of 100 and 101 is 100.5: half away from zero gives 101; the zeros are left out.
        #expect(result.avgBpm == 101 && result.maxBpm == 101 && result.samples == 4)
        #expect(RiderTally().avgBpm == 0)
    }

    // MARK: Rounding to tenths, half away from zero, exact

    @Test func pointsRoundHalfAwayFromZero() {
        // 1.25 points = 75,000 units: one 5 s interval at multiplier 15.
        let points = ZonePoints([15, 1, 1, 1, 1])!
        #expect(tally([(1, 0, 1), (2, 5_000, 1)], points: points).pointsTenths == 13)
        // 0.05 points = 3,000 units; 0.0499… = 2,999 units.
        #expect(tally([(1, 0, 1), (2, 3_000, 1)]).pointsTenths == 1)
        #expect(tally([(1, 0, 1), (2, 2_999, 1)]).pointsTenths == 0)
        // 0.15 points = 9,000 units (binary floating point would give 0.1 for 0.15 × 10 rounded down).
        #expect(tally([(1, 0, 1), (2, 4_500, 2)]).pointsTenths == 2)
        // 2.45 points = 147,000 units: three 4.9 s intervals at multiplier 10.
        let ten = ZonePoints([10, 1, 1, 1, 1])!
        #expect(tally([(1, 0, 1), (2, 4_900, 1), (3, 9_800, 1), (4, 14_700, 1)], points: ten).pointsTenths == 25)
    }

    @Test func zoneSecondsRoundHalfAwayFromZero() {
        // 150 ms → 0.15 s → 0.2; 149 ms → 0.1; 50 ms → 0.1.
        #expect(tally([(1, 0, 1), (2, 150, 1)]).zoneTenths == [2, 0, 0, 0, 0])
        #expect(tally([(1, 0, 2), (2, 149, 2)]).zoneTenths == [0, 1, 0, 0, 0])
        #expect(tally([(1, 0, 3), (2, 50, 3)]).zoneTenths == [0, 0, 1, 0, 0])
    }

    // MARK: Order does not matter

    @Test func anyArrivalOrderGivesExactlyTheInOrderResult() {
        var random = SeededGenerator(seed: 0x5EED)
        for round in 0..<200 {
            let ride = randomRide(riders: 1, samples: 1...60, using: &random)
            var inOrder = RiderTally()
            for sample in ride {
                inOrder.record(
                    seq: sample.sample.seq, ts: sample.sample.ts, bpm: sample.sample.bpm, zone: sample.zone,
                    points: .standard)
            }
            let (units, zoneMs) = referenceUnits(ride)
            #expect(inOrder.units == units && inOrder.zoneMs == zoneMs, "round \(round)")
            for _ in 0..<5 {
                var shuffled = RiderTally()
                for sample in ride.shuffled(using: &random) {
                    let counted = shuffled.record(
                        seq: sample.sample.seq, ts: sample.sample.ts, bpm: sample.sample.bpm, zone: sample.zone,
                        points: .standard)
                    #expect(counted)
                }
                #expect(shuffled == inOrder, "round \(round)")
            }
        }
    }
}
