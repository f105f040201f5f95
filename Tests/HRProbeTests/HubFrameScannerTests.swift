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

    @Test func readsBoardsAndAcksWithoutDecodingThem() throws {
        // A board's entries carry `p`, `seq`-like numbers and nested objects: none of them may leak into the message.
        let entry = BoardEntry(p: "r9", rank: 1, pointsTenths: 125, bpm: 150, zone: 4)
        let board = Board(at: 1_795_300_000_999, n: 50, top: [entry], me: entry, near: [entry])
        let messages: [HubMessage] = [.hr(Self.sample), .board(board), .ack(seq: 77)]
        let frame = HubFrameEncoder.frame(messages)
        let (found, summary) = scan(frame)
        #expect(summary == HubFrameScanner.Summary(), "no message left for the full decoder")
        try #require(found.map(\.kind) == [.hr, .board, .ack])
        #expect(found[1].at == 1_795_300_000_999)
        // The board's span is exactly the hub's encoding of it (what the report counts as board bytes).
        #expect(Array(frame[found[1].span]) == Array(HubFrameEncoder.frame([.board(board)]).dropFirst().dropLast()))
        #expect(found[2].seq == 77)
        #expect(Array(frame[found[0].span]) == Array(HubFrameEncoder.frame([.hr(Self.sample)]).dropFirst().dropLast()))
    }

    @Test(arguments: [#"[{"t":"board","n":3,"top":[]}]"#, #"[{"t":"ack"}]"#, #"[{"t":"board","at":"x"}]"#])
    func boardsWithoutAtAndAcksWithoutSeqAreMalformed(text: String) {
        let (found, summary) = scan(Array(text.utf8))
        #expect(summary.malformed)
        #expect(found.isEmpty)
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

    @Test func rangesAreIndicesOfTheCollectionScanned() throws {
        // A slice that does not start at 0, a raw buffer (what the transport hands over) and the array itself must
        // all map `p` to the same rider: the scanner works on offsets and shifts them back.
        let frame = HubFrameEncoder.frame([.hr(Self.sample)])
        let padded = Array("xxxx".utf8) + frame
        let slice = padded[4...]
        var fromSlice: [ScannedMessage] = []
        #expect(!HubFrameScanner.scanJSON(slice) { fromSlice.append($0) }.malformed)
        try #require(fromSlice.count == 1)
        #expect(fromSlice[0].p.lowerBound >= 4)
        #expect(ParticipantNumbering.index(in: slice, fromSlice[0].p) == 17)
        var fromRaw: [ScannedMessage] = []
        _ = frame.withUnsafeBytes { raw in
            HubFrameScanner.scanJSON(raw) { m in
                fromRaw.append(m)
                #expect(ParticipantNumbering.index(in: raw, m.p) == 17)
            }
        }
        #expect(fromRaw == scan(frame).0)

        var binary: [UInt8] = Array("yy".utf8)
        HubFrameEncoder.appendBinary(Self.sample, to: &binary)
        var fromBinarySlice: [ScannedMessage] = []
        #expect(HubFrameScanner.scanBinary(binary[2...]) { fromBinarySlice.append($0) })
        try #require(fromBinarySlice.count == 1)
        #expect(ParticipantNumbering.index(in: binary, fromBinarySlice[0].p) == 17)
    }

    @Test func eachMessageStartsFromDefaults() throws {
        // The scanner reuses one message value: a field one object lacks must not keep the previous object's value.
        let text = #"[{"t":"hr","p":"r1","seq":9,"ts":5,"rts":6},{"t":"hr","p":"r2","seq":10},"#
            + #"{"t":"gap","p":"r1","from_seq":3,"to_seq":4,"count":2,"reason":"conflated"},"#
            + #"{"t":"gap","p":"r1","from_seq":5,"to_seq":5,"count":1}]"#
        let (found, summary) = scan(Array(text.utf8))
        #expect(summary == HubFrameScanner.Summary())
        try #require(found.count == 4)
        #expect(found[1].seq == 10 && found[1].ts == 0 && found[1].rts == 0)
        #expect(found[2].reason == .conflated && found[2].count == 2)
        #expect(found[3].reason == .backpressure && found[3].fromSeq == 5)
    }

    @Test func unknownTypesAndReasonsAreTold() {
        let text = #"[{"t":"hrx","p":"r1","seq":1},{"t":"gap","p":"r1","from_seq":1,"to_seq":1,"count":1,"reason":"lat"}]"#
        let (found, summary) = scan(Array(text.utf8))
        #expect(summary.hasOtherMessages, "hrx is another type, not hr")
        #expect(found.count == 1 && found[0].kind == .gap && found[0].reason == .backpressure)
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
