import HRProtocol
import Testing

@testable import HRProbe
@testable import HRProbeCore

/// The per-stream accounting: every owed sample is delivered, explained by a gap, or counted as missing.
@Suite struct StreamAccountTests {
    @Test func inOrderDeliveriesAreCountedOnce() {
        var stream = StreamAccount(expectFrom: 100)
        for seq in UInt32(100)...109 {
            #expect(stream.deliver(seq: seq, transitUs: 1_000, measuredFrom: 100) == .inOrder)
        }
        stream.finish(lastSeq: 109, measuredFrom: 100)
        #expect(stream.counts.delivered == 10)
        #expect(stream.counts.expected == 10)
        #expect(stream.counts.violations == 0)
    }

    @Test func aHoleWithoutAGapIsUnexplainedAtTheEnd() {
        var stream = StreamAccount(expectFrom: 1)
        stream.deliver(seq: 1, transitUs: 0, measuredFrom: 1)
        stream.deliver(seq: 3, transitUs: 0, measuredFrom: 1)
        stream.finish(lastSeq: 4, measuredFrom: 1)
        #expect(stream.counts.delivered == 2)
        #expect(stream.counts.unexplained == 1, "seq 2: the hub moved past it without a gap")
        #expect(stream.counts.pendingAtEnd == 1, "seq 4 never came, and nothing after it did")
        #expect(stream.firstUnexplained == 2)
    }

    @Test func aGapExplainsItsRangeByReason() {
        var stream = StreamAccount(expectFrom: 10)
        stream.deliver(seq: 10, transitUs: 0, measuredFrom: 10)
        stream.gap(fromSeq: 11, toSeq: 13, count: 3, reason: .backpressure, measuredFrom: 10)
        stream.gap(fromSeq: 14, toSeq: 14, count: 1, reason: .late, measuredFrom: 10)
        stream.deliver(seq: 15, transitUs: 0, measuredFrom: 10)
        stream.finish(lastSeq: 15, measuredFrom: 10)
        #expect(stream.counts.backpressure == 3)
        #expect(stream.counts.late == 1)
        #expect(stream.counts.unexplained == 0)
        #expect(stream.counts.expected == 6)
        #expect(stream.counts.lost == 4)
    }

    @Test func aGapMayArriveAfterHigherSeqs() {
        // A `late` gap for a sample the jitter buffer gave up on comes after newer samples.
        var stream = StreamAccount(expectFrom: 1)
        stream.deliver(seq: 1, transitUs: 0, measuredFrom: 1)
        stream.deliver(seq: 3, transitUs: 0, measuredFrom: 1)
        stream.gap(fromSeq: 2, toSeq: 2, count: 1, reason: .late, measuredFrom: 1)
        stream.finish(lastSeq: 3, measuredFrom: 1)
        #expect(stream.counts.late == 1)
        #expect(stream.counts.unexplained == 0)
    }

    @Test func duplicatesReorderingAndContradictionsAreNamed() {
        var stream = StreamAccount(expectFrom: 1)
        stream.deliver(seq: 1, transitUs: 0, measuredFrom: 1)
        #expect(stream.deliver(seq: 1, transitUs: 0, measuredFrom: 1) == .duplicate)
        stream.deliver(seq: 3, transitUs: 0, measuredFrom: 1)
        #expect(stream.deliver(seq: 2, transitUs: 0, measuredFrom: 1) == .reordered)
        stream.gap(fromSeq: 4, toSeq: 4, count: 1, reason: .backpressure, measuredFrom: 1)
        #expect(stream.deliver(seq: 4, transitUs: 0, measuredFrom: 1) == .afterGap)
        stream.gap(fromSeq: 1, toSeq: 1, count: 1, reason: .late, measuredFrom: 1)
        stream.gap(fromSeq: 4, toSeq: 4, count: 1, reason: .late, measuredFrom: 1)
        #expect(stream.counts.duplicates == 1)
        #expect(stream.counts.reordered == 1)
        #expect(stream.counts.contradictions == 3, "delivery after gap, gap over 1, gap over delivered 4")
        #expect(stream.counts.delivered == 4)
    }

    @Test func aGapWhoseCountDisagreesWithItsRangeIsFlagged() {
        var stream = StreamAccount(expectFrom: 1)
        stream.gap(fromSeq: 1, toSeq: 5, count: 3, reason: .backpressure, measuredFrom: 1)
        #expect(stream.counts.gapCountMismatches == 1)
        #expect(stream.counts.backpressure == 5)
    }

    @Test func onlySeqsFromTheMeasuredWindowAreCounted() {
        var stream = StreamAccount(expectFrom: 1)
        for seq in UInt32(1)...5 { stream.deliver(seq: seq, transitUs: 0, measuredFrom: nil) }
        for seq in UInt32(6)...10 { stream.deliver(seq: seq, transitUs: 0, measuredFrom: 6) }
        stream.finish(lastSeq: 12, measuredFrom: 6)
        #expect(stream.counts.delivered == 5)
        #expect(stream.counts.pendingAtEnd == 2)
    }

    @Test func holesLeavingTheWindowAreCountedAsTheyGo() {
        var stream = StreamAccount(expectFrom: 1)
        stream.deliver(seq: 1, transitUs: 0, measuredFrom: 1)
        let far = UInt32(1 + 3 * StreamAccount.windowSize)
        stream.deliver(seq: far, transitUs: 0, measuredFrom: 1)
        #expect(stream.counts.unexplained == Int(far) - Int(StreamAccount.windowSize) - 1, "seqs 2…far−512")
        stream.finish(lastSeq: far, measuredFrom: 1)
        #expect(stream.counts.unexplained == Int(far) - 2)
        #expect(stream.counts.delivered == 2)
    }

    @Test func aViewerThatNeverHeardAnythingOwesEverything() {
        var stream = StreamAccount(expectFrom: 50)
        stream.finish(lastSeq: 59, measuredFrom: 50)
        #expect(stream.counts.pendingAtEnd == 10)
        #expect(stream.counts.lost == 10)
    }

    @Test func closingCountsOpenHolesApartAndRestarts() {
        var stream = StreamAccount(expectFrom: 1)
        stream.deliver(seq: 1, transitUs: 0, measuredFrom: 1)
        stream.deliver(seq: 4, transitUs: 0, measuredFrom: 1)
        stream.close(measuredFrom: 1)
        #expect(stream.counts.lostAtClose == 2)
        #expect(!stream.isStarted)
        // After a reconnect the stream owes only from what it observes next.
        stream.deliver(seq: 20, transitUs: 0, measuredFrom: 1)
        stream.finish(lastSeq: 21, measuredFrom: 1)
        #expect(stream.counts.pendingAtEnd == 1)
        #expect(stream.counts.delivered == 3)
    }

    @Test func seqsWrapAroundUInt32() {
        var stream = StreamAccount(expectFrom: UInt32.max - 1)
        for seq: UInt32 in [UInt32.max - 1, UInt32.max, 0, 1] {
            #expect(stream.deliver(seq: seq, transitUs: 0, measuredFrom: UInt32.max - 1) == .inOrder)
        }
        stream.finish(lastSeq: 2, measuredFrom: UInt32.max - 1)
        #expect(stream.counts.delivered == 4)
        #expect(stream.counts.pendingAtEnd == 1)
    }

    @Test func jitterFollowsRFC3550() {
        var jitter = InterarrivalJitter()
        jitter.add(transitUs: 1_000)
        jitter.add(transitUs: 1_000)
        #expect(jitter.valueUs == 0, "a constant lag has no jitter")
        jitter.add(transitUs: 2_600)
        #expect(jitter.valueUs == 100, "|D| = 1600 µs moves the estimate 1/16 of the way")
    }
}
