import HRCore
import HRProtocol
import Testing

/// A `SendQueue` with counters and a clock, drained the way the relay drains it.
private struct QueueHarness {
    var queue: SendQueue
    var counters = RelayCounters()
    var now: Int64 = 1_000
    var budgetMs: Int64 = 800
    var targetBytes = 16 * 1024

    init(
        mode: DeliveryMode = .all, format: WireFormat = .json, maxMessages: Int = 1024, maxBytes: Int = 262_144
    ) {
        queue = SendQueue(
            mode: mode, format: format, limits: SendQueue.Limits(maxMessages: maxMessages, maxBytes: maxBytes))
    }

    @discardableResult
    mutating func enqueue(_ message: OutboundMessage) -> SendQueue.EnqueueResult {
        queue.enqueue(message, now: now, counters: &counters)
    }

    /// Enqueues a sample of `p` captured now.
    @discardableResult
    mutating func sample(_ p: String, _ seq: UInt32, rr: [UInt16] = []) -> SendQueue.EnqueueResult {
        enqueue(outbound(p, seq, captureHubMs: now, rr: rr))
    }

    mutating func control(_ message: HubMessage) {
        enqueue(OutboundMessage(control: message))
    }

    /// One frame, or nil.
    mutating func frame() -> Frame? {
        var out: [UInt8] = []
        guard
            let kind = queue.drain(
                now: now, budgetMs: budgetMs, targetBytes: targetBytes, into: &out, counters: &counters)
        else {
            #expect(out.isEmpty, "nothing written when there is no frame")
            return nil
        }
        return Frame(kind: kind, bytes: out)
    }

    /// Every frame until the queue is empty.
    mutating func frames() -> [Frame] {
        var frames: [Frame] = []
        while let frame = frame() { frames.append(frame) }
        #expect(queue.isEmpty)
        return frames
    }

    mutating func messages() -> [HubMessage] { frames().flatMap { $0.messages() } }
}

@Suite struct SendQueueTests {
    @Test func emptyQueueGivesNoFrameAndLeavesTheBufferAlone() {
        var q = QueueHarness()
        var out: [UInt8] = [1, 2, 3]
        var counters = RelayCounters()
        #expect(q.queue.drain(now: 0, budgetMs: 800, targetBytes: 1024, into: &out, counters: &counters) == nil)
        #expect(out == [1, 2, 3])
        #expect(q.queue.isEmpty)
    }

    @Test func drainAppendsAfterWhatTheBufferHolds() {
        var q = QueueHarness()
        q.sample("ann", 1)
        var out: [UInt8] = Array("PRE".utf8)
        var counters = RelayCounters()
        #expect(q.queue.drain(now: q.now, budgetMs: 800, targetBytes: 1024, into: &out, counters: &counters) == .text)
        #expect(Array(out.prefix(3)) == Array("PRE".utf8))
        #expect((try? HubFrameDecoder.decodeJSON(Array(out.dropFirst(3))))?.seqs(of: "ann") == [1])
    }

    @Test func dropOldestByMessages() {
        var q = QueueHarness(maxMessages: 3)
        for seq: UInt32 in 1...3 { #expect(q.sample("ann", seq) == .queued) }
        #expect(q.sample("ann", 4) == .droppedOldest(1))
        #expect(q.sample("ann", 5) == .droppedOldest(1))
        #expect(q.queue.count == 3)
        let frames = q.frames()
        #expect(frames.count == 1)
        let messages = frames[0].messages()
        #expect(messages.first == .gap(Gap(p: "ann", fromSeq: 1, toSeq: 2, count: 2, reason: .backpressure)))
        #expect(messages.gaps.count == 1)
        #expect(messages.seqs(of: "ann") == [3, 4, 5])
        #expect(q.counters.droppedBackpressure == 2)
        #expect(q.counters.delivered == 3)
    }

    @Test func dropOldestByBytes() {
        let size = outbound("ann", 1, captureHubMs: 1_000).json.count
        var q = QueueHarness(maxBytes: size * 2 + size / 2)
        #expect(q.sample("ann", 1) == .queued)
        #expect(q.sample("ann", 2) == .queued)
        #expect(q.sample("ann", 3) == .droppedOldest(1))
        #expect(q.queue.bytes <= size * 2 + size / 2)
        #expect(q.queue.bytes == 2 * size)
        let messages = q.messages()
        #expect(messages.gaps == [Gap(p: "ann", fromSeq: 1, toSeq: 1, count: 1, reason: .backpressure)])
        #expect(messages.seqs(of: "ann") == [2, 3])
        #expect(q.queue.bytes == 0)
    }

    @Test func oneBigSampleCanDropSeveralSmallOnes() {
        let small = outbound("ann", 1, captureHubMs: 1_000).json.count
        var q = QueueHarness(maxBytes: small * 3)
        for seq: UInt32 in 1...3 { q.sample("ann", seq) }
        let big = outbound("ann", 4, captureHubMs: q.now, rr: Array(repeating: 1000, count: 16))
        #expect(big.json.count > small * 2)
        #expect(q.enqueue(big) == .droppedOldest(3))
        let messages = q.messages()
        #expect(messages.gaps == [Gap(p: "ann", fromSeq: 1, toSeq: 3, count: 3, reason: .backpressure)])
        #expect(messages.seqs(of: "ann") == [4])
    }

    @Test func gapRangesHoldOnlyDroppedSeqs() {
        // Seqs the device skipped (2, 5, 6) may still arrive later and be named elsewhere, so a gap never
        // spans them: each range is a run of consecutive dropped seqs and count == to − from + 1.
        var q = QueueHarness(maxMessages: 1)
        for seq: UInt32 in [1, 3, 4, 7, 10] { q.sample("ann", seq) }
        let messages = q.messages()
        #expect(
            messages.gaps == [
                Gap(p: "ann", fromSeq: 1, toSeq: 1, count: 1, reason: .backpressure),
                Gap(p: "ann", fromSeq: 3, toSeq: 4, count: 2, reason: .backpressure),
                Gap(p: "ann", fromSeq: 7, toSeq: 7, count: 1, reason: .backpressure),
            ])
        #expect(messages.seqs(of: "ann") == [10])
    }

    @Test func eachParticipantGetsItsOwnGap() {
        var q = QueueHarness(maxMessages: 2)
        for seq: UInt32 in 1...4 {
            q.sample("ann", seq)
            q.sample("bob", seq + 100)
        }
        let messages = q.messages()
        #expect(
            messages.gaps == [
                Gap(p: "ann", fromSeq: 1, toSeq: 3, count: 3, reason: .backpressure),
                Gap(p: "bob", fromSeq: 101, toSeq: 103, count: 3, reason: .backpressure),
            ])
        #expect(messages.seqs(of: "ann") == [4])
        #expect(messages.seqs(of: "bob") == [104])
    }

    @Test func gapGoesAtTheFrontOfTheNextFrame() {
        var q = QueueHarness(maxMessages: 2)
        q.control(.join(p: "ann", profile: Profile()))
        q.sample("ann", 1)
        q.sample("ann", 2)
        let messages = q.messages()
        #expect(
            messages == [
                .gap(Gap(p: "ann", fromSeq: 1, toSeq: 1, count: 1, reason: .backpressure)),
                .join(p: "ann", profile: Profile()),
                .hr(RelayedSample(p: "ann", sample: Sample(seq: 2, ts: q.now, bpm: 120), rts: q.now)),
            ])
    }

    @Test func controlMessagesAreNeverDropped() {
        var q = QueueHarness(maxMessages: 2, maxBytes: 64)
        q.control(
            .welcome(
                Welcome(
                    classID: "spin", role: .viewer, participant: nil, mode: .all, budgetMs: 800, ht: 0, lastSeq: nil)))
        q.control(.snapshot([]))
        for index in 0..<5 { q.control(.leave(p: "p\(index)", reason: .closed)) }
        #expect(q.queue.count == 7, "over both bounds, but nothing droppable")
        q.sample("ann", 1)
        #expect(q.queue.count == 7, "the sample itself goes")
        q.control(.stale(p: "ann", since: 1))
        let messages = q.messages()
        #expect(messages.count == 9)
        #expect(messages.first == .gap(Gap(p: "ann", fromSeq: 1, toSeq: 1, count: 1, reason: .backpressure)))
        #expect(messages.samples.isEmpty)
        #expect(messages.last == .stale(p: "ann", since: 1))
    }

    @Test func samplesBehindAControlMessageAreDroppedOldestFirst() {
        var q = QueueHarness(maxMessages: 3)
        q.sample("ann", 1)
        q.control(.join(p: "bob", profile: Profile()))
        q.sample("ann", 2)
        q.sample("ann", 3)  // drops 1 (the front)
        q.sample("ann", 4)  // drops 2 (behind the join)
        let messages = q.messages()
        #expect(messages.gaps == [Gap(p: "ann", fromSeq: 1, toSeq: 2, count: 2, reason: .backpressure)])
        #expect(messages.dropFirst().first == .join(p: "bob", profile: Profile()))
        #expect(messages.seqs(of: "ann") == [3, 4])
    }

    @Test func aGapNeverSpansADeliveredSeq() {
        var q = QueueHarness(maxMessages: 2)
        q.sample("ann", 1)
        q.sample("ann", 2)
        q.sample("ann", 3)  // drops 1
        // The frame carries gap 1…1, then 2 and 3. Later drops start a new gap.
        #expect(q.frame()?.messages().seqs(of: "ann") == [2, 3])
        q.sample("ann", 4)
        q.sample("ann", 5)
        q.sample("ann", 6)  // drops 4
        let messages = q.messages()
        #expect(messages.gaps == [Gap(p: "ann", fromSeq: 4, toSeq: 4, count: 1, reason: .backpressure)])
        #expect(messages.seqs(of: "ann") == [5, 6])
    }

    @Test func lateDropsAroundADeliveryAreSeparateGaps() {
        var q = QueueHarness()
        q.enqueue(outbound("ann", 1, captureHubMs: 0))
        q.enqueue(outbound("ann", 2, captureHubMs: 900))
        q.enqueue(outbound("ann", 3, captureHubMs: 0))
        q.enqueue(outbound("ann", 4, captureHubMs: 0))
        q.enqueue(outbound("ann", 5, captureHubMs: 900))
        q.now = 1_000
        let frames = q.frames()
        #expect(frames.count == 1, "late drops found while building a frame go at its end")
        let messages = frames[0].messages()
        #expect(messages.seqs(of: "ann") == [2, 5])
        #expect(
            messages.gaps == [
                Gap(p: "ann", fromSeq: 1, toSeq: 1, count: 1, reason: .late),
                Gap(p: "ann", fromSeq: 3, toSeq: 4, count: 2, reason: .late),
            ])
        #expect(q.counters.droppedLate == 3)
        #expect(q.counters.delivered == 2)
    }

    @Test func budgetEdgeIsInclusive() {
        var q = QueueHarness()
        q.enqueue(outbound("ann", 1, captureHubMs: 200))
        q.enqueue(outbound("ann", 2, captureHubMs: 199))
        q.now = 1_000
        let messages = q.messages()
        #expect(messages.seqs(of: "ann") == [1], "age 800 is within an 800 ms budget")
        #expect(messages.gaps == [Gap(p: "ann", fromSeq: 2, toSeq: 2, count: 1, reason: .late)])
    }

    @Test func everythingLateGivesAFrameOfGapsOnly() {
        var q = QueueHarness()
        for seq: UInt32 in 1...3 { q.enqueue(outbound("ann", seq, captureHubMs: 0)) }
        q.now = 5_000
        let frames = q.frames()
        #expect(frames.count == 1)
        #expect(frames[0].messages() == [.gap(Gap(p: "ann", fromSeq: 1, toSeq: 3, count: 3, reason: .late))])
    }

    @Test func latestModeKeepsOnePendingSamplePerParticipant() {
        var q = QueueHarness(mode: .latest)
        #expect(q.sample("ann", 1) == .queued)
        #expect(q.sample("bob", 50) == .queued)
        #expect(q.sample("ann", 2) == .conflated)
        #expect(q.sample("ann", 3) == .conflated)
        #expect(q.sample("bob", 51) == .conflated)
        #expect(q.queue.count == 2)
        let messages = q.messages()
        #expect(
            messages.gaps == [
                Gap(p: "ann", fromSeq: 1, toSeq: 2, count: 2, reason: .conflated),
                Gap(p: "bob", fromSeq: 50, toSeq: 50, count: 1, reason: .conflated),
            ])
        #expect(messages.seqs(of: "ann") == [3])
        #expect(messages.seqs(of: "bob") == [51])
        #expect(messages.samples.map(\.p) == ["ann", "bob"], "a replacement keeps its participant's place")
        #expect(q.counters.droppedConflated == 3)
        // Once delivered, the next sample is queued afresh.
        #expect(q.sample("ann", 4) == .queued)
        #expect(q.messages().seqs(of: "ann") == [4])
    }

    @Test func latestModeMergesRROldestFirst() throws {
        var q = QueueHarness(mode: .latest)
        q.sample("ann", 1, rr: [1, 2])
        q.sample("ann", 2)
        q.sample("ann", 3, rr: [3])
        q.sample("ann", 4, rr: [4, 5])
        let sample = try #require(q.messages().samples.first)
        #expect(sample.sample.seq == 4)
        #expect(sample.sample.rr == [1, 2, 3, 4, 5])
    }

    @Test func latestModeCapsMergedRRAt64KeepingTheNewest() throws {
        var q = QueueHarness(mode: .latest)
        for seq: UInt32 in 1...5 {
            q.sample("ann", seq, rr: (0..<16).map { UInt16(seq * 100) + $0 })
        }
        let sample = try #require(q.messages().samples.first)
        #expect(sample.sample.rr.count == 64)
        #expect(sample.sample.rr.first == 200, "the oldest 16 (seq 1's) went")
        #expect(sample.sample.rr.last == 515)
        #expect(q.queue.bytes == 0, "byte accounting survives merging")
    }

    @Test func latestModeDropOldestAndControlMessagesInFront() {
        var q = QueueHarness(mode: .latest, maxMessages: 3)
        q.sample("ann", 1)
        q.control(.join(p: "cat", profile: Profile()))
        q.sample("bob", 1)
        q.sample("cat", 1)  // over: drops ann 1 (front)
        q.sample("dan", 1)  // over: drops bob 1 (behind the join)
        q.sample("cat", 2)  // conflates cat 1, which moved
        q.sample("dan", 2)  // conflates dan 1
        let messages = q.messages()
        #expect(
            messages.gaps == [
                Gap(p: "ann", fromSeq: 1, toSeq: 1, count: 1, reason: .backpressure),
                Gap(p: "bob", fromSeq: 1, toSeq: 1, count: 1, reason: .backpressure),
                Gap(p: "cat", fromSeq: 1, toSeq: 1, count: 1, reason: .conflated),
                Gap(p: "dan", fromSeq: 1, toSeq: 1, count: 1, reason: .conflated),
            ])
        #expect(messages.samples.map { "\($0.p)\($0.sample.seq)" } == ["cat2", "dan2"])
    }

    @Test func latestModeLateAtDrain() {
        var q = QueueHarness(mode: .latest)
        q.enqueue(outbound("ann", 1, captureHubMs: 0))
        q.enqueue(outbound("ann", 2, captureHubMs: 0))
        q.now = 2_000
        let messages = q.messages()
        #expect(
            messages.gaps == [
                Gap(p: "ann", fromSeq: 1, toSeq: 1, count: 1, reason: .conflated),
                Gap(p: "ann", fromSeq: 2, toSeq: 2, count: 1, reason: .late),
            ])
        #expect(messages.samples.isEmpty)
    }

    @Test func binaryFormatSamplesInBinaryFramesControlInTextInOrder() throws {
        var q = QueueHarness(format: .binary)
        q.control(.join(p: "ann", profile: Profile()))
        q.sample("ann", 1)
        q.sample("ann", 2)
        q.control(.stale(p: "bob", since: 5))
        q.control(.live(p: "bob", since: 6))
        q.sample("bob", 9)
        let frames = q.frames()
        #expect(frames.map(\.kind) == [.text, .binary, .text, .binary])
        let messages = frames.flatMap { $0.messages() }
        #expect(
            messages.map { message -> String in
                switch message {
                case .hr(let s): "\(s.p)\(s.sample.seq)"
                case .join(let p, _): "join \(p)"
                case .stale(let p, _): "stale \(p)"
                case .live(let p, _): "live \(p)"
                default: "?"
                }
            } == ["join ann", "ann1", "ann2", "stale bob", "live bob", "bob9"])
        var expected: [UInt8] = []
        HubFrameEncoder.appendBinary(
            RelayedSample(p: "ann", sample: Sample(seq: 1, ts: q.now, bpm: 120), rts: q.now), to: &expected)
        HubFrameEncoder.appendBinary(
            RelayedSample(p: "ann", sample: Sample(seq: 2, ts: q.now, bpm: 120), rts: q.now), to: &expected)
        #expect(frames[1].bytes == expected)
    }

    @Test func binaryFormatGapsGoInATextFrameBeforeTheSamples() {
        var q = QueueHarness(format: .binary, maxMessages: 2)
        for seq: UInt32 in 1...4 { q.sample("ann", seq) }
        let frames = q.frames()
        #expect(frames.map(\.kind) == [.text, .binary])
        #expect(frames[0].messages() == [.gap(Gap(p: "ann", fromSeq: 1, toSeq: 2, count: 2, reason: .backpressure))])
        #expect(frames[1].messages().seqs(of: "ann") == [3, 4])
    }

    @Test func binaryFormatLateSamplesAreNamedInTheNextTextFrame() {
        var q = QueueHarness(format: .binary)
        q.enqueue(outbound("ann", 1, captureHubMs: 0))
        q.enqueue(outbound("ann", 2, captureHubMs: 900))
        q.enqueue(outbound("ann", 3, captureHubMs: 0))
        q.now = 1_000
        let frames = q.frames()
        #expect(frames.map(\.kind) == [.binary, .text])
        #expect(frames[0].messages().seqs(of: "ann") == [2])
        #expect(
            frames[1].messages() == [
                .gap(Gap(p: "ann", fromSeq: 1, toSeq: 1, count: 1, reason: .late)),
                .gap(Gap(p: "ann", fromSeq: 3, toSeq: 3, count: 1, reason: .late)),
            ])
    }

    @Test func binaryFormatAllLateBecomesATextFrame() {
        var q = QueueHarness(format: .binary)
        q.enqueue(outbound("ann", 1, captureHubMs: 0))
        q.enqueue(outbound("ann", 2, captureHubMs: 0))
        q.now = 1_000
        let frames = q.frames()
        #expect(frames.map(\.kind) == [.text])
        #expect(frames[0].messages() == [.gap(Gap(p: "ann", fromSeq: 1, toSeq: 2, count: 2, reason: .late))])
    }

    @Test func binaryFormatCountsBinaryBytes() {
        let message = outbound("ann", 1)
        var q = QueueHarness(format: .binary)
        q.enqueue(message)
        #expect(q.queue.bytes == message.binary.count)
        q.control(.leave(p: "ann", reason: .closed))
        #expect(
            q.queue.bytes == message.binary.count
                + OutboundMessage(control: .leave(p: "ann", reason: .closed)).json.count)
    }

    @Test(arguments: [DeliveryMode.all, .latest], [WireFormat.json, .binary])
    func frameTargetBytesSplitsABacklog(mode: DeliveryMode, format: WireFormat) {
        var q = QueueHarness(mode: mode, format: format)
        q.targetBytes = 300
        let participants = (0..<40).map { "rider\($0)" }
        for p in participants { q.sample(p, 1, rr: [900, 901]) }
        let largest =
            participants.map { p in
                format == .binary
                    ? outbound(p, 1, rr: [900, 901]).binary.count : outbound(p, 1, rr: [900, 901]).json.count
            }.max() ?? 0
        let frames = q.frames()
        #expect(frames.count > 3)
        for (index, frame) in frames.enumerated() {
            #expect(frame.bytes.count < q.targetBytes + largest + 2, "a frame stops growing past the target")
            if index < frames.count - 1 {
                #expect(frame.bytes.count >= q.targetBytes, "and only stops once it reached it")
            }
        }
        let delivered = frames.flatMap { $0.messages() }.samples.map(\.p)
        #expect(delivered == participants)
        #expect(q.counters.delivered == 40)
    }

    @Test func overflowSinceStartsAtTheFirstDropAndClearsBelowHalf() {
        var q = QueueHarness(maxMessages: 4)
        for seq: UInt32 in 1...4 { q.sample("ann", seq) }
        #expect(q.queue.overflowSince == nil)
        q.now = 1_500
        q.sample("ann", 5)
        #expect(q.queue.overflowSince == 1_500)
        q.now = 1_600
        q.sample("ann", 6)
        #expect(q.queue.overflowSince == 1_500, "still the start of the overflow")
        q.targetBytes = 2  // one message per frame
        #expect(q.frame()?.messages().gaps.count == 1, "the gap alone fills the first frame")
        #expect(q.queue.count == 4)
        #expect(q.frame()?.messages().seqs(of: "ann") == [3])
        #expect(q.queue.count == 3, "above half")
        #expect(q.queue.overflowSince == 1_500)
        _ = q.frame()
        #expect(q.queue.count == 2)
        #expect(q.queue.overflowSince == nil, "back to half its bounds")
    }

    /// A tick's messages: the bounds count only what the client held before them.
    @Test func aTickLargerThanTheBoundsIsKeptWhole() {
        var q = QueueHarness(maxMessages: 4)
        let tick = (1...10 as ClosedRange<UInt32>).map { outbound("ann", $0, captureHubMs: q.now) }
        q.queue.enqueueTick(tick[...], now: q.now, counters: &q.counters)
        #expect(q.queue.count == 10)
        #expect(q.queue.overflowSince == nil)
        #expect(q.messages().seqs(of: "ann") == Array(1...10))
        #expect(q.counters.droppedBackpressure == 0)
    }

    /// A client still holding an earlier tick keeps at most `maxMessages` of it (the oldest go) and the whole
    /// newer tick.
    @Test func theBacklogBeforeATickIsBounded() {
        var q = QueueHarness(maxMessages: 4)
        let first = (1...10 as ClosedRange<UInt32>).map { outbound("ann", $0, captureHubMs: q.now) }
        q.queue.enqueueTick(first[...], now: q.now, counters: &q.counters)
        q.now += 100
        let second = (11...20 as ClosedRange<UInt32>).map { outbound("ann", $0, captureHubMs: q.now) }
        q.queue.enqueueTick(second[...], now: q.now, counters: &q.counters)
        #expect(q.queue.count == 14)
        #expect(q.queue.overflowSince == q.now)
        let messages = q.messages()
        #expect(messages.first == .gap(Gap(p: "ann", fromSeq: 1, toSeq: 6, count: 6, reason: .backpressure)))
        #expect(messages.seqs(of: "ann") == Array(7...20))
        #expect(q.queue.overflowSince == nil, "drained")
    }
}
