import HRProtocol
import Testing

@testable import HRProbe
@testable import HRProbeCore

/// The allocation-free scanner reads exactly what the hub's encoder writes.
@Suite struct HubFrameScannerTests {
    static let sample = RelayedSample(
        p: "r17", sample: Sample(seq: 4_000_000_000, ts: 1_795_300_000_123, bpm: 142, rr: [431, 440], contact: true),
        rts: 1_795_300_000_125, pct: 76, zone: 3)

    private func scan(_ frame: [UInt8]) -> ([ScannedMessage], HubFrameScanner.Summary) {
        var found: [ScannedMessage] = []
        let summary = HubFrameScanner.scanJSON(frame) { found.append($0) }
        return (found, summary)
    }

    @Test func readsSamplesAndGapsFromAnEncodedFrame() throws {
        let gap = Gap(p: "r3", fromSeq: 7, toSeq: 9, count: 3, reason: .late)
        let frame = HubFrameEncoder.frame([.hr(Self.sample), .gap(gap)])
        let (found, summary) = scan(frame)
        #expect(summary == HubFrameScanner.Summary())
        try #require(found.count == 2)
        #expect(found[0].kind == .hr)
        #expect(found[0].seq == 4_000_000_000)
        #expect(found[0].ts == 1_795_300_000_123 && found[0].rts == 1_795_300_000_125)
        #expect(ParticipantNumbering.index(in: frame, found[0].p) == 17)
        #expect(found[1].kind == .gap)
        #expect(found[1].fromSeq == 7 && found[1].toSeq == 9 && found[1].count == 3 && found[1].reason == .late)
        #expect(ParticipantNumbering.index(in: frame, found[1].p) == 3)
    }

    @Test func controlMessagesAreFlaggedAndNestedSamplesSkipped() {
        let welcome = Welcome(
            classID: "c", role: .viewer, participant: nil, mode: .all, budgetMs: 800, ht: 5, lastSeq: nil)
        let entry = SnapshotEntry(p: "r1", profile: Profile(name: "A \"q\""), last: Self.sample)
        let snapshot = HubMessage.snapshot([entry])
        let frame = HubFrameEncoder.frame([.welcome(welcome), snapshot, .pong(id: .string("x"), ct: nil, ht: 9)])
        let (found, summary) = scan(frame)
        #expect(found.isEmpty, "a snapshot's last sample is not a delivery")
        #expect(summary.hasOtherMessages && !summary.malformed)
    }

    @Test(arguments: ["", "{}", "[{\"t\":\"hr\",\"seq\":1", "[1]", "[{\"t\":\"hr\"} x"])
    func malformedFramesAreReported(text: String) {
        #expect(scan(Array(text.utf8)).1.malformed)
    }

    @Test func readsBinaryFrames() throws {
        var frame: [UInt8] = []
        HubFrameEncoder.appendBinary(Self.sample, to: &frame)
        var second = Self.sample
        second.p = "r2"
        second.sample.seq = 5
        second.sample.ee = 12
        HubFrameEncoder.appendBinary(second, to: &frame)
        var found: [ScannedMessage] = []
        #expect(HubFrameScanner.scanBinary(frame) { found.append($0) })
        try #require(found.count == 2)
        #expect(found[0].seq == 4_000_000_000)
        #expect(found[0].ts == Self.sample.sample.ts && found[0].rts == Self.sample.rts)
        #expect(ParticipantNumbering.index(in: frame, found[1].p) == 2)
        #expect(found[1].seq == 5)
        #expect(!HubFrameScanner.scanBinary(frame.dropLast()) { _ in })
    }

    @Test func participantNumbersParseOnlyTheProbesIds() {
        func index(_ id: String) -> Int? {
            let bytes = Array(id.utf8)
            return ParticipantNumbering.index(in: bytes, 0..<bytes.count)
        }
        #expect(index("r0") == 0)
        #expect(index("r123") == 123)
        #expect(index(ParticipantNumbering.id(4_242)) == 4_242)
        #expect(index("r") == nil)
        #expect(index("r01") == nil)
        #expect(index("anna") == nil)
        #expect(index("r1x") == nil)
    }

    @Test func dueQueuePopsInTimeOrder() {
        var queue = DueQueue()
        for (i, due) in [50, 10, 40, 20, 30, 10].enumerated() {
            queue.push(DueQueue.Event(dueUs: Int64(due), kind: .sample, index: i))
        }
        #expect(queue.popDue(nowUs: 5) == nil)
        var order: [Int64] = []
        while let event = queue.popDue(nowUs: 45) { order.append(event.dueUs) }
        #expect(order == [10, 10, 20, 30, 40])
        #expect(queue.count == 1)
    }
}
