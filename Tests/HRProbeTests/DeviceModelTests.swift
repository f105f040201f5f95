import HRProtocol
import Testing

@testable import HRProbeCore

/// The device model's decisions, with time given by hand (µs).
@Suite struct DeviceModelTests {
    static func sample(_ seq: UInt32) -> Sample { Sample(seq: seq, ts: Int64(seq) * 1_000, bpm: 120) }

    /// A device whose link is up (welcomed, nothing recorded yet), that captured and wrote seqs `seqs` at 1 ms each.
    static func live(writing seqs: ClosedRange<UInt32>) -> DeviceModel {
        var device = DeviceModel()
        _ = device.welcomed(lastSeq: nil, budgetMs: 800, nowUs: 0)
        for seq in seqs {
            let live = device.capture(sample(seq), nowUs: Int64(seq) * 1_000)
            #expect(live)
            device.wrote(seq: seq, nowUs: Int64(seq) * 1_000)
        }
        return device
    }

    @Test func capturesIntoTheBufferAndSaysWhetherToSendLive() {
        var device = DeviceModel()
        let offline = device.capture(Self.sample(1), nowUs: 0)
        _ = device.welcomed(lastSeq: nil, budgetMs: nil, nowUs: 1)
        let live = device.capture(Self.sample(2), nowUs: 2)
        #expect(!offline && live)
        #expect(device.pending == 2)
        #expect(device.counters.captured == 2)
    }

    @Test func anAckDropsWhatThisLinkWroteUpToItsSeqAndTimesIt() {
        var device = Self.live(writing: 1...5)
        var latencies: [Int64] = []
        var seqs: [UInt32] = []
        let dropped = device.ack(3, nowUs: 10_000) {
            seqs.append($0)
            latencies.append($1)
        }
        #expect(dropped == 3)
        #expect(seqs == [1, 2, 3])
        #expect(latencies == [9_000, 8_000, 7_000])
        #expect(device.buffer.map(\.sample.seq) == [4, 5])
        #expect(device.counters.acked == 3)
    }

    @Test func anAckDoesNotCoverSamplesNeverWritten() {
        var device = Self.live(writing: 1...2)
        _ = device.capture(Self.sample(3), nowUs: 3_000)  // captured, not yet written
        let dropped = device.ack(3, nowUs: 4_000)
        #expect(dropped == 2)
        #expect(device.buffer.map(\.sample.seq) == [3])
    }

    @Test func anAckOnANewLinkDoesNotCoverWhatTheOldLinkWrote() {
        var device = Self.live(writing: 1...3)
        _ = device.linkLost(nowUs: 4_000, unit: 0)
        let ignored = device.ack(3, nowUs: 4_000)
        #expect(ignored == 0)  // not live
        let resend = device.welcomed(lastSeq: 1, budgetMs: 800, nowUs: 5_000)
        #expect(resend.map(\.seq) == [2, 3])
        device.wrote(seq: 2, nowUs: 5_000)
        let dropped = device.ack(3, nowUs: 6_000)
        #expect(dropped == 1)  // seq 2 only: 3 was written on the old link
        #expect(device.buffer.map(\.sample.seq) == [1, 3])
        #expect(device.counters.resent == 1)
    }

    @Test func afterAWelcomeItResendsOnlyWhatIsNewerThanLastSeqInSerialOrder() {
        var device = DeviceModel()
        for seq: UInt32 in [UInt32.max - 1, UInt32.max, 0, 1] { _ = device.capture(Self.sample(seq), nowUs: 0) }
        let resend = device.welcomed(lastSeq: UInt32.max, budgetMs: 800, nowUs: 100_000)
        #expect(resend.map(\.seq) == [0, 1])
        #expect(device.pending == 4)  // nothing leaves the buffer without an ack or an upload
    }

    @Test func backoffIsEqualJitterDoublingToTheCap() {
        let device = DeviceModel()
        #expect(device.backoffUs(attempt: 0, unit: 0) == 125_000)
        #expect(device.backoffUs(attempt: 0, unit: 1) == 250_000)
        #expect(device.backoffUs(attempt: 3, unit: 0) == 1_000_000)
        #expect(device.backoffUs(attempt: 9, unit: 1) == 8_000_000)
        var lost = DeviceModel()
        let first = lost.linkLost(nowUs: 1_000, unit: 0)
        let second = lost.linkLost(nowUs: 1_000, unit: 0)
        #expect(first == 126_000 && second == 251_000)
        _ = lost.welcomed(lastSeq: nil, budgetMs: nil, nowUs: 2_000)
        #expect(lost.attempts == 0)
    }

    @Test func anOutageLongerThanTheBudgetIsUploadedNotResent() {
        var device = DeviceModel()
        _ = device.welcomed(lastSeq: nil, budgetMs: 800, nowUs: 0)
        _ = device.linkLost(nowUs: 0, unit: 0)
        for seq: UInt32 in 1...30 { _ = device.capture(Self.sample(seq), nowUs: Int64(seq) * 100_000) }
        // Back at 3.1 s: seq 1 was captured 3 s ago, beyond the 800 ms budget.
        let resend = device.welcomed(lastSeq: nil, budgetMs: 800, nowUs: 3_100_000)
        #expect(resend.isEmpty)
        let chunk = device.nextUpload(nowUs: 3_100_000)
        #expect(chunk?.map(\.seq) == Array(1...30))
        let second = device.nextUpload(nowUs: 3_100_000)
        #expect(second == nil)  // one request at a time
        // Captured during the upload: goes live, not into the upload.
        let live = device.capture(Self.sample(31), nowUs: 3_150_000)
        #expect(live)
        device.wrote(seq: 31, nowUs: 3_150_000)
        device.uploadAnswered(accepted: 28, duplicates: 2)
        #expect(device.buffer.map(\.sample.seq) == [31])
        #expect(device.counters.uploadedAccepted == 28 && device.counters.uploadedDuplicates == 2)
    }

    @Test func aShortOutageWithinTheBudgetIsResentLive() {
        var device = DeviceModel()
        _ = device.welcomed(lastSeq: nil, budgetMs: 800, nowUs: 0)
        _ = device.linkLost(nowUs: 0, unit: 0)
        for seq: UInt32 in 1...3 { _ = device.capture(Self.sample(seq), nowUs: Int64(seq) * 100_000) }
        let resend = device.welcomed(lastSeq: nil, budgetMs: 800, nowUs: 400_000)
        #expect(resend.map(\.seq) == [1, 2, 3])
        let upload = device.nextUpload(nowUs: 400_000)
        #expect(upload == nil)
    }

    @Test func moreThanTheLimitIsUploadedInChunks() {
        var policy = DeviceModel.Policy()
        policy.uploadAbove = 5
        policy.chunkLimit = 4
        var device = DeviceModel(policy: policy)
        for seq: UInt32 in 1...9 { _ = device.capture(Self.sample(seq), nowUs: 0) }
        let resend = device.welcomed(lastSeq: nil, budgetMs: 60_000, nowUs: 1)
        #expect(resend.isEmpty)
        let first = device.nextUpload(nowUs: 1)
        #expect(first?.map(\.seq) == [1, 2, 3, 4])
        device.uploadAnswered(accepted: 4, duplicates: 0)
        let second = device.nextUpload(nowUs: 1)
        #expect(second == nil)  // 5 left: not more than the limit, and young
        #expect(device.pending == 5)
    }

    @Test func aFailedUploadKeepsEverythingAndWaitsABackoff() {
        var device = DeviceModel()
        _ = device.capture(Self.sample(1), nowUs: 0)
        _ = device.welcomed(lastSeq: nil, budgetMs: 800, nowUs: 1_000_000)
        let first = device.nextUpload(nowUs: 1_000_000)
        #expect(first != nil)
        device.uploadFailed(nowUs: 1_000_000, unit: 0)
        #expect(device.pending == 1)
        let early = device.nextUpload(nowUs: 1_100_000)
        #expect(early == nil)  // within the 125 ms backoff
        let retry = device.nextUpload(nowUs: 1_125_000)
        #expect(retry?.map(\.seq) == [1])
        #expect(device.counters.uploadFailures == 1)
    }

    @Test func noUploadWhileTheLinkIsDown() {
        var device = DeviceModel()
        _ = device.capture(Self.sample(1), nowUs: 0)
        #expect(!device.uploadIsDue(nowUs: 10_000_000))
        let upload = device.nextUpload(nowUs: 10_000_000)
        #expect(upload == nil)
    }

    @Test func samplesInFlightOnTheLiveLinkAreNotUploadedUntilTheAckTimeout() {
        var device = Self.live(writing: 1...1)
        let early = device.nextUpload(nowUs: 2_000_000)
        #expect(early == nil)  // written 1 ms in, unacked, within 5 s
        let late = device.nextUpload(nowUs: 5_002_000)
        #expect(late?.map(\.seq) == [1])
    }

    @Test func aSilentLinkWithAnUnackedSampleLooksDeadAfterTheLimit() {
        var device = Self.live(writing: 1...2)  // written at 1 and 2 ms, welcomed (heard) at 0
        #expect(!device.linkLooksDead(nowUs: 10_000_000))  // no ack ever: a hub without a record; silence says nothing
        device.heard(nowUs: 3_000)
        _ = device.ack(1, nowUs: 3_000)  // seq 2 still waits
        #expect(!device.linkLooksDead(nowUs: 3_003_000))
        #expect(device.linkLooksDead(nowUs: 3_003_001))
        device.heard(nowUs: 3_003_001)  // anything from the hub: alive again
        #expect(!device.linkLooksDead(nowUs: 3_004_000))
        _ = device.ack(2, nowUs: 3_004_000)
        #expect(!device.linkLooksDead(nowUs: 10_000_000))  // silent, but nothing waits for an ack
        _ = device.linkLost(nowUs: 10_000_000, unit: 0)
        #expect(!device.linkLooksDead(nowUs: 20_000_000))  // not live
    }

    @Test func samplesAtOrBelowLastSeqWaitForAnUploadOnceOld() {
        var device = Self.live(writing: 1...2)
        _ = device.linkLost(nowUs: 3_000, unit: 0)
        let resend = device.welcomed(lastSeq: 2, budgetMs: 800, nowUs: 4_000)
        #expect(resend.isEmpty)
        let young = device.nextUpload(nowUs: 500_000)
        #expect(young == nil)
        let old = device.nextUpload(nowUs: 900_000)
        #expect(old?.map(\.seq) == [1, 2])
        device.uploadAnswered(accepted: 0, duplicates: 2)
        #expect(device.pending == 0)
    }
}

/// Captured against recorded and delivered, per rider.
@Suite struct RiderLedgerTests {
    @Test func aCompleteRecordAndFullyAccountedViewersHaveNoProblem() {
        var ledger = RiderLedger(
            classID: "c", participant: "r0", firstSeq: 10, captured: 5, capturedInWindow: 3, stillBuffered: 0)
        for seq: UInt32 in 10...14 { ledger.recorded(seq) }
        var counts = StreamCounts()
        counts.delivered = 2
        counts.late = 1
        ledger.viewers = [RiderLedger.ViewerShare(owed: 3, counts: counts)]
        #expect(ledger.recorded == 5 && ledger.missing == 0)
        #expect(ledger.problems.isEmpty)
    }

    @Test func missingTwiceAndForeignRowsAreProblems() {
        var ledger = RiderLedger(
            classID: "c", participant: "r0", firstSeq: 1, captured: 4, capturedInWindow: 4, stillBuffered: 1)
        for seq: UInt32 in [1, 2, 2, 9, 0] { ledger.recorded(seq) }
        #expect(ledger.recorded == 2)
        #expect(ledger.recordDuplicates == 1)
        #expect(ledger.recordForeign == 2)
        #expect(ledger.missing == 2)
        #expect(ledger.problems.count == 3)
    }

    @Test func aViewerShortOfOwedOrWithDuplicatesIsAProblem() {
        var ledger = RiderLedger(
            classID: "c", participant: "r0", firstSeq: 1, captured: 2, capturedInWindow: 2, stillBuffered: 0)
        ledger.recorded(1)
        ledger.recorded(2)
        var short = StreamCounts()
        short.delivered = 1
        var twice = StreamCounts()
        twice.delivered = 2
        twice.duplicates = 1
        ledger.viewers = [
            RiderLedger.ViewerShare(owed: 2, counts: short), RiderLedger.ViewerShare(owed: 2, counts: twice),
        ]
        #expect(ledger.viewers[0].unaccounted == 1)
        #expect(ledger.problems.count == 2)
    }
}
