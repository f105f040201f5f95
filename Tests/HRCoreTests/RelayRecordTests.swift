import HRCore
import HRProtocol
import Testing

/// The record's rules in the relay (docs/PROTOCOL.md, "The class record"): what is written, when a device is
/// acked, durable dedupe beyond the window, backfills and uploads. Commits happen only when a test says so.
@Suite struct RelayRecordTests {
    let record = FakeRecord()

    func harness(_ configure: (inout RelayConfig) -> Void = { _ in }) -> RelayHarness {
        RelayHarness(record: record, configure: configure)
    }

    func commit(_ h: RelayHarness) {
        record.take(from: h.relay)
        record.commitAll(to: h.relay, now: h.now)
    }

    @Test func withoutARecordNothingIsWrittenOrAcked() {
        let h = RelayHarness()
        let anna = h.publisher("anna")
        for seq: UInt32 in 1...3 { h.hr(anna, seq: seq) }
        #expect(h.relay.takeRecordBatch() == nil)
        #expect(h.messages(anna).acks.isEmpty)
        #expect(!h.relay.isRecording)
    }

    @Test func acceptedSamplesAreWrittenInOrderWithTheZoneOfTheirAcceptance() throws {
        let h = harness()
        let anna = h.publisher("anna")
        h.hr(anna, seq: 1, bpm: 150)
        h.hello(anna, name: "Anna", hrmax: 200)
        h.hr(anna, seq: 2, bpm: 150)  // 75 %: zone 3
        h.hello(anna, hrmax: 160)
        h.hr(anna, seq: 3, bpm: 150)  // 94 %: zone 5
        let batch = try #require(h.relay.takeRecordBatch())
        #expect(batch.samples.map(\.sample.seq) == [1, 2, 3])
        #expect(batch.samples.map(\.zone) == [nil, 3, 5])
        #expect(batch.samples.allSatisfy { $0.classID == "spin" && $0.participant == "anna" && $0.rts == h.now })
        #expect(batch.profiles.last?.profile == Profile(name: "Anna", hrmax: 160))
        #expect(h.relay.takeRecordBatch() == nil, "a batch is taken once")
    }

    @Test func ackComesOnlyAfterTheCommitAndCoversWhatWasCommitted() {
        let h = harness()
        let anna = h.publisher("anna")
        _ = h.messages(anna)
        for seq: UInt32 in 1...3 { h.hr(anna, seq: seq) }
        record.take(from: h.relay)
        h.hr(anna, seq: 4)
        #expect(h.messages(anna).acks.isEmpty, "nothing is committed yet")
        record.commitAll(to: h.relay, now: h.now)
        #expect(h.messages(anna).acks == [3], "4 is not handed to the store yet: the ack stops below it")
        commit(h)
        #expect(h.messages(anna).acks == [4])
        #expect(record.seqs("spin", "anna") == [1, 2, 3, 4])
        #expect(h.counters.recorded == 4)
        #expect(h.counters.acks == 2)
    }

    @Test func theAckDelayIsTimedFromAcceptanceToTheCommitReachingTheRelay() {
        let h = harness()
        let anna = h.publisher("anna")
        h.hr(anna, seq: 1)
        h.advance(20)
        h.hr(anna, seq: 2)
        record.take(from: h.relay)
        h.advance(30)
        record.commitAll(to: h.relay, now: h.now)
        let delay = h.counters.ackDelay
        #expect(delay.total == 2)
        #expect(delay.sumMs == 50 + 30)
        let bucket50 = LatencyHistogram.boundsMs.firstIndex(of: 50)!
        #expect(delay.counts[bucket50] == 2, "30 ms and 50 ms both fall in (25, 50]")
    }

    @Test func rejectedSamplesAreCoveredAfterTheirError() {
        let h = harness()
        let anna = h.publisher("anna")
        _ = h.messages(anna)
        h.hr(anna, seq: 1)
        h.hr(anna, seq: 1)
        h.hr(anna, seq: 2)
        commit(h)
        let messages = h.messages(anna)
        #expect(messages.errors.map(\.seq) == [1])
        #expect(messages.acks == [2])
        let errorAt = messages.firstIndex { $0.error != nil }
        let ackAt = messages.firstIndex { $0.ack != nil }
        #expect(errorAt! < ackAt!, "the error naming a seq goes out before an ack covering it")
    }

    @Test func theAckNeverDecreasesAndRepeatsWhenABackfillLandsBelowIt() {
        record.preload("spin", "anna", seqs: (1...300).filter { $0 != 50 })
        let h = harness()
        let anna = h.publisher("anna")
        let screen = h.quietViewer()
        _ = h.messages(anna)
        h.hr(anna, seq: 301)
        commit(h)
        #expect(h.messages(anna).acks == [301])
        h.hr(anna, seq: 50)  // far below the window: the record decides
        #expect(record.seqs("spin", "anna").contains(50) == false)
        commit(h)
        #expect(h.messages(anna).acks == [301], "the same N again: a newly committed sample lies below it")
        #expect(record.seqs("spin", "anna").contains(50))
        let gaps = h.messages(screen).gaps
        #expect(gaps == [Gap(p: "anna", fromSeq: 50, toSeq: 50, count: 1, reason: .late)])
        #expect(h.counters.backfilled == 1)
    }

    @Test func afterARestartTheWindowAndLastSeqComeFromTheRecord() throws {
        record.preload("spin", "anna", seqs: 1...300)
        let h = harness()
        let anna = h.publisher("anna")
        let welcome = try #require(h.messages(anna).compactMap(\.welcome).first)
        #expect(welcome.lastSeq == 300)
        h.hr(anna, seq: 299)  // in the window: known at once
        #expect(h.messages(anna).errors.map(\.code) == [.duplicate])
        #expect(h.relay.takeRecordBatch() == nil)
        h.advance(200)  // out of the first error's coalescing window
        h.hr(anna, seq: 10)  // below the window: the record answers at commit
        #expect(h.messages(anna).errors.isEmpty)
        commit(h)
        let messages = h.messages(anna)
        #expect(messages.errors.map(\.code) == [.duplicate])
        #expect(messages.errors.map(\.seq) == [10])
        #expect(messages.acks == [299], "300 was never sent on this connection: the ack covers what it sent")
        #expect(record.seqs("spin", "anna").count == 300, "nothing recorded twice")
        #expect(h.counters.duplicates == 2)
    }

    @Test func aRecordedProfileKeepsZonesAfterARestart() throws {
        let first = harness()
        let anna = first.publisher("anna")
        first.hello(anna, name: "Anna", hrmax: 200)
        first.hr(anna, seq: 1, bpm: 150)
        commit(first)
        let second = harness()
        let screen = second.quietViewer()
        let again = second.publisher("anna")
        second.hr(again, seq: 2, bpm: 150)
        let sample = try #require(second.messages(screen).samples.first)
        #expect(sample.zone == 3)
        #expect(try #require(second.relay.takeRecordBatch()).samples.first?.zone == 3)
    }

    @Test func theSameSeqsFromTwoConnectionsAreRecordedOnce() {
        let h = harness()
        let bike = h.publisher("anna")
        for seq: UInt32 in 1...5 { h.hr(bike, seq: seq) }
        let app = h.publisher("anna")  // takes over
        _ = h.messages(app)
        for seq: UInt32 in 1...8 { h.hr(app, seq: seq) }
        commit(h)
        #expect(record.seqs("spin", "anna") == Array(1...8))
        var messages = h.messages(app)
        #expect(messages.acks == [1], "2…5 are refused in a coalesced error not sent yet: no ack may cover them")
        h.advance(200)
        h.tick()
        messages += h.messages(app)
        #expect(messages.errors.namedSeqs == [1, 2, 3, 4, 5])
        #expect(messages.acks == [1, 8], "the ack follows the coalesced error")
        let errorAt = messages.lastIndex { $0.error != nil }
        let ackAt = messages.lastIndex { $0.ack != nil }
        #expect(errorAt! < ackAt!)
    }

    @Test func aRefusedWriteIsNeverAckedAndMayBeSentAgain() {
        let h = harness()
        let anna = h.publisher("anna")
        _ = h.messages(anna)
        h.hr(anna, seq: 1)
        h.hr(anna, seq: 2)
        record.take(from: h.relay)
        record.failAll(to: h.relay, now: h.now)
        #expect(h.messages(anna).acks.isEmpty)
        #expect(h.counters.recordFailed == 2)
        h.hr(anna, seq: 3)
        commit(h)
        #expect(h.messages(anna).acks.isEmpty, "1 and 2 were never recorded: no ack may cover them")
        h.hr(anna, seq: 1)
        h.hr(anna, seq: 2)
        #expect(h.messages(anna).errors.isEmpty, "a refused seq is not a duplicate")
        commit(h)
        #expect(h.messages(anna).acks == [3])
        #expect(record.seqs("spin", "anna") == [1, 2, 3])
    }

    @Test func aRefusalThatOvertakesABatchStillBeingWrittenIsHandled() throws {
        let h = harness()
        let anna = h.publisher("anna")
        _ = h.messages(anna)
        h.hr(anna, seq: 1)
        let first = try #require(h.relay.takeRecordBatch())
        h.hr(anna, seq: 2)
        let second = try #require(h.relay.takeRecordBatch())
        h.relay.recordCommitted(second.id, inserted: nil, now: h.now)  // refused at once (overloaded)
        h.relay.recordCommitted(first.id, inserted: [true], now: h.now)
        h.relay.recordCommitted(first.id, inserted: [true], now: h.now)  // a repeat changes nothing
        #expect(h.messages(anna).acks == [1], "2 was refused: the ack stops below it")
        #expect(h.relay.recordBatchesInFlight == 0)
        #expect(h.counters.recorded == 1)
        #expect(h.counters.recordFailed == 1)
    }

    @Test func anUploadIsRecordedOnceNamedLateAndAnsweredAfterItsCommit() {
        let h = harness()
        let screen = h.quietViewer()
        let anna = h.publisher("anna")
        for seq: UInt32 in 601...605 { h.hr(anna, seq: seq) }
        commit(h)
        _ = h.messages(screen)
        _ = h.takeEffects()
        let samples = (1...600).map { Sample(seq: UInt32($0), ts: h.now - 600_000 + Int64($0) * 1000, bpm: 130) }
        h.relay.upload(UploadID(1), classID: "spin", participant: "anna", samples: samples, recordedProfile: nil, now: h.now)
        #expect(h.takeEffects().isEmpty, "answered after the commit, not before")
        commit(h)
        #expect(h.takeEffects().filter(\.isUpload) == [.uploadCommitted(UploadID(1), accepted: 600, duplicates: 0, highestSeq: 600)])
        #expect(record.seqs("spin", "anna") == Array(1...605))
        let messages = h.messages(screen)
        #expect(messages.samples.isEmpty, "uploads are never relayed live")
        #expect(messages.gaps == [Gap(p: "anna", fromSeq: 1, toSeq: 600, count: 600, reason: .late)])
        h.relay.upload(UploadID(2), classID: "spin", participant: "anna", samples: samples, recordedProfile: nil, now: h.now)
        commit(h)
        #expect(h.takeEffects().filter(\.isUpload) == [.uploadCommitted(UploadID(2), accepted: 0, duplicates: 600, highestSeq: 600)])
        #expect(h.messages(screen).gaps.isEmpty)
        h.hr(anna, seq: 600)
        #expect(h.messages(anna).errors.map(\.code) == [.duplicate], "uploaded seqs are duplicates on the socket too")
    }

    @Test func anUploadForAClassNotInMemoryUsesTheRecordedProfile() throws {
        let h = harness()
        let samples = [Sample(seq: 7, ts: 1, bpm: 180)]
        h.relay.upload(
            UploadID(9), classID: "gone", participant: "bob", samples: samples, recordedProfile: Profile(hrmax: 200),
            now: h.now)
        let batch = try #require(h.relay.takeRecordBatch())
        #expect(batch.samples.map(\.zone) == [5])
        #expect(h.relay.classCount == 0, "an upload does not create a class")
    }

    @Test func anEmptyUploadIsAnsweredAtOnce() {
        let h = harness()
        h.relay.upload(UploadID(3), classID: "spin", participant: "anna", samples: [], recordedProfile: nil, now: h.now)
        #expect(h.takeEffects() == [.uploadCommitted(UploadID(3), accepted: 0, duplicates: 0, highestSeq: nil)])
    }

    @Test func aRefusedUploadFails() {
        let h = harness()
        h.relay.upload(
            UploadID(4), classID: "spin", participant: "anna", samples: [Sample(seq: 1, ts: 1, bpm: 100)],
            recordedProfile: nil, now: h.now)
        record.take(from: h.relay)
        record.failAll(to: h.relay, now: h.now)
        #expect(h.takeEffects() == [.uploadFailed(UploadID(4))])
    }

    @Test func aBackfillDuplicateGivesItsRateTokenBack() {
        record.preload("spin", "anna", seqs: 1...300)
        let h = harness { $0.maxSampleRate = 1 }  // 60 tokens
        let anna = h.publisher("anna")
        _ = h.messages(anna)
        for seq: UInt32 in 1...60 { h.hr(anna, seq: seq) }
        commit(h)
        h.advance(200)
        h.tick()  // the coalesced duplicate errors go out
        #expect(h.messages(anna).errors.namedSeqs == Array(1...60))
        h.hr(anna, seq: 301)
        #expect(h.messages(anna).errors.isEmpty, "duplicates found by the record took no token in the end")
    }
}

extension [ProtocolError] {
    /// Every seq the errors name, a coalesced run counting each of its seqs.
    var namedSeqs: [UInt32] {
        flatMap { error -> [UInt32] in
            if let run = error.coalesced { return [UInt32](run.fromSeq...run.toSeq) }
            return error.seq.map { [$0] } ?? []
        }
    }
}

extension RelayEffect {
    var isUpload: Bool {
        switch self {
        case .uploadCommitted, .uploadFailed: true
        default: false
        }
    }
}
