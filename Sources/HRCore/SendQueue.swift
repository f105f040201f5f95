import DequeModule
import HRProtocol

/// One client's bounded queue of outgoing messages, and the frames drained from it.
///
/// - `all` mode keeps every sample in order and drops the oldest samples when the queue is over its bounds.
/// - `latest` mode keeps at most one pending sample per participant: a newer one replaces it in place and
///   takes over its RR intervals.
/// Control messages (welcome, join, gap, …) are never dropped. Every dropped sample is named in a `gap`,
/// which goes out at the front of the next frame. A sample older than the budget when its frame is built is
/// dropped as `late` instead of sent.
public struct SendQueue {
    /// Bounds of one queue: how far behind the client may fall. With the class tick they count what the hub holds
    /// for the client beyond the newest tick's messages (`enqueueTick`), so a class whose tick carries more than
    /// the bounds does not cut a client that keeps up, and a client one tick behind is treated as one that got
    /// its frame shared.
    public struct Limits: Sendable, Equatable {
        /// Most messages queued (samples and control messages).
        public var maxMessages: Int = 1024
        /// Most encoded bytes queued.
        public var maxBytes: Int = 262_144

        public init(maxMessages: Int = 1024, maxBytes: Int = 262_144) {
            self.maxMessages = maxMessages
            self.maxBytes = maxBytes
        }
    }

    /// What `enqueue` did, so callers and tests can see backpressure instead of guessing.
    public enum EnqueueResult: Equatable, Sendable {
        /// Queued; nothing lost.
        case queued
        /// Queued after dropping this many of the oldest samples (named in gaps).
        case droppedOldest(Int)
        /// Replaced a pending sample of the same participant (`latest` mode; named in a gap).
        case conflated
    }

    public let mode: DeliveryMode
    public let format: WireFormat
    public let limits: Limits

    /// Queued messages, oldest first.
    private var items: Deque<OutboundMessage> = []
    /// Items ever removed from the front; `absolute index − removed` is an item's current offset.
    private var removed = 0
    /// `latest` mode: the absolute index of each participant's pending sample.
    private var latestSlot: [String: Int] = [:]
    /// Gaps not yet sent, in the order they arose.
    private var pendingGaps: [Gap] = []
    /// Per (participant, reason), the index in `pendingGaps` of a gap that a further drop may extend.
    /// Cleared for a participant as soon as one of its samples is delivered, so a gap never spans a delivery.
    private var openGaps: [GapKey: Int] = [:]
    /// Encoded bytes queued.
    public private(set) var bytes = 0
    /// The newest tick's messages and bytes (`enqueueTick`): the bounds leave room for them on top of `limits`.
    private var tickAllowance = (messages: 0, bytes: 0)
    /// When the queue first had to drop for room and has not drained back to half its bounds since.
    public private(set) var overflowSince: Int64?

    private struct GapKey: Hashable {
        var participant: String
        var reason: GapReason
    }

    public init(mode: DeliveryMode, format: WireFormat, limits: Limits) {
        self.mode = mode
        self.format = format
        self.limits = limits
    }

    /// Messages queued (gaps not included).
    public var count: Int { items.count }
    /// Whether there is anything to write.
    public var isEmpty: Bool { items.isEmpty && pendingGaps.isEmpty }

    private func size(of message: OutboundMessage) -> Int {
        format == .binary && message.isSample ? message.binary.count : message.json.count + message.tail.count
    }

    /// The bounds in force: `limits` plus room for the newest tick's messages.
    private var maxMessages: Int { limits.maxMessages &+ tickAllowance.messages }
    private var maxBytes: Int { limits.maxBytes &+ tickAllowance.bytes }

    /// Queues one class tick's messages. The bounds then count only what the client still holds from before
    /// this tick (its backlog): over them, the oldest samples go, the tick's own ones last.
    public mutating func enqueueTick(
        _ messages: ArraySlice<OutboundMessage>, now: Int64, counters: inout RelayCounters
    ) {
        var allowance = (messages: messages.count, bytes: 0)
        for message in messages { allowance.bytes += size(of: message) }
        tickAllowance = allowance
        for message in messages { enqueue(message, now: now, counters: &counters) }
    }

    /// Queues a message. Never blocks and never fails: over the bounds, the oldest samples go.
    @discardableResult
    public mutating func enqueue(_ message: OutboundMessage, now: Int64, counters: inout RelayCounters)
        -> EnqueueResult
    {
        if mode == .latest, let sample = message.sample, let slot = latestSlot[sample.p] {
            let offset = slot - removed
            let older = items[offset]
            let merged = Self.conflate(older: older, newer: message)
            bytes += size(of: merged) - size(of: older)
            items[offset] = merged
            if let dropped = older.sample { recordGap(dropped, reason: .conflated, counters: &counters) }
            return .conflated
        }
        if mode == .latest, let sample = message.sample {  // mode first: `all` never copies the sample
            latestSlot[sample.p] = removed + items.count
        }
        items.append(message)
        bytes += size(of: message)
        var dropped = 0
        while items.count > maxMessages || bytes > maxBytes {
            guard dropOldestSample(counters: &counters) else {
                // Only control messages left and still over the bounds: nothing may be dropped, so the
                // slow-consumer clock runs instead (4008 ends it).
                if overflowSince == nil { overflowSince = now }
                break
            }
            dropped += 1
        }
        if dropped > 0 {
            if overflowSince == nil { overflowSince = now }
            return .droppedOldest(dropped)
        }
        return .queued
    }

    /// Whether everything queued is a few control messages (and gaps): what may go in front of a tick's shared frame
    /// in one frame (`extras`), rather than make the client take the tick through its queue.
    public var holdsOnlyExtras: Bool {
        items.count <= 8 && bytes <= 2048 && !items.contains(where: \.isSample)
    }

    /// Appends the pending gaps and the first `count` messages (control messages) as JSON array elements, each
    /// followed by a comma, and removes them: the part of a frame that goes before a tick's shared messages.
    public mutating func drainExtras(count: Int, into out: inout [UInt8]) {
        for gap in pendingGaps {
            HubFrameEncoder.appendJSON(.gap(gap), to: &out)
            out.append(UInt8(ascii: ","))
        }
        pendingGaps.removeAll(keepingCapacity: true)
        openGaps.removeAll(keepingCapacity: true)
        for _ in 0..<min(count, items.count) {
            let message = items.first!
            popFront()
            out.append(contentsOf: message.json)
            if !message.tail.isEmpty { out.append(contentsOf: message.tail) }
            out.append(UInt8(ascii: ","))
        }
    }

    /// Puts `messages` behind the first `count` queued ones, as if they had been queued then: a tick's shared frame
    /// that could not be written before its oldest sample went over the budget comes back this way (`count` 0: in
    /// front of everything; else behind the extras that were to go before it). The rules of `enqueue` apply to the
    /// whole: over the bounds the oldest samples go, `latest` keeps the newest.
    public mutating func insert(_ messages: [OutboundMessage], after count: Int, now: Int64, counters: inout RelayCounters) {
        guard !messages.isEmpty else { return }
        var rebuilt = SendQueue(mode: mode, format: format, limits: limits)
        rebuilt.pendingGaps = pendingGaps
        rebuilt.openGaps = openGaps
        rebuilt.overflowSince = overflowSince
        rebuilt.tickAllowance = tickAllowance
        for message in items.prefix(count) { rebuilt.enqueue(message, now: now, counters: &counters) }
        for message in messages { rebuilt.enqueue(message, now: now, counters: &counters) }
        for message in items.dropFirst(count) { rebuilt.enqueue(message, now: now, counters: &counters) }
        self = rebuilt
    }

    /// Builds the next frame's payload into `out` (after whatever `out` already holds) and says its kind, or
    /// returns nil (leaving `out` as it was) when nothing is left to send.
    public mutating func drain(
        now: Int64, budgetMs: Int64, targetBytes: Int, into out: inout [UInt8], counters: inout RelayCounters
    ) -> OutboundFrameKind? {
        defer {
            if overflowSince != nil, items.count <= maxMessages / 2, bytes <= maxBytes / 2 {
                overflowSince = nil
            }
        }
        if format == .binary, pendingGaps.isEmpty, let first = items.first, first.isSample {
            return drainBinary(now: now, budgetMs: budgetMs, targetBytes: targetBytes, into: &out, counters: &counters)
        }
        let start = out.count
        out.append(UInt8(ascii: "["))
        var first = true
        func append(_ message: OutboundMessage, to out: inout [UInt8]) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(contentsOf: message.json)
            if !message.tail.isEmpty { out.append(contentsOf: message.tail) }
        }
        func appendGaps(_ out: inout [UInt8]) {
            for gap in pendingGaps {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                HubFrameEncoder.appendJSON(.gap(gap), to: &out)
            }
            pendingGaps.removeAll(keepingCapacity: true)
            openGaps.removeAll(keepingCapacity: true)
        }
        appendGaps(&out)
        // At least one message per frame, however small the target.
        while let message = items.first, first || out.count - start < targetBytes {
            if message.isSample && format == .binary { break }
            popFront()
            if message.isSample {
                if now - message.captureHubMs > budgetMs {
                    recordGap(message.sample!, reason: .late, counters: &counters)
                    continue
                }
                delivered(message, now: now, counters: &counters)
            }
            append(message, to: &out)
        }
        appendGaps(&out)  // the late drops found while building this frame
        if first {
            out.removeSubrange(start...)
            return nil
        }
        out.append(UInt8(ascii: "]"))
        return .text
    }

    private mutating func drainBinary(
        now: Int64, budgetMs: Int64, targetBytes: Int, into out: inout [UInt8], counters: inout RelayCounters
    ) -> OutboundFrameKind? {
        let start = out.count
        while let message = items.first, message.isSample, out.count == start || out.count - start < targetBytes {
            popFront()
            if now - message.captureHubMs > budgetMs {
                recordGap(message.sample!, reason: .late, counters: &counters)
                continue
            }
            delivered(message, now: now, counters: &counters)
            out.append(contentsOf: message.binary)
        }
        if out.count == start {
            // Everything was late: the gaps go out as a text frame instead.
            return drain(now: now, budgetMs: budgetMs, targetBytes: targetBytes, into: &out, counters: &counters)
        }
        return .binary
    }

    private mutating func popFront() {
        let message = items.removeFirst()
        removed += 1
        bytes -= size(of: message)
        if mode == .latest, message.isSample { latestSlot[message.sample!.p] = nil }
    }

    private mutating func delivered(_ message: OutboundMessage, now: Int64, counters: inout RelayCounters) {
        counters.delivered += 1
        counters.residency.record(now - message.rts)
        counters.age.record(now - message.captureHubMs)
        if !openGaps.isEmpty, let sample = message.sample {
            openGaps[GapKey(participant: sample.p, reason: .backpressure)] = nil
            openGaps[GapKey(participant: sample.p, reason: .late)] = nil
            openGaps[GapKey(participant: sample.p, reason: .conflated)] = nil
        }
    }

    /// Drops the oldest queued sample. Returns false when only control messages are left.
    private mutating func dropOldestSample(counters: inout RelayCounters) -> Bool {
        guard let offset = items.firstIndex(where: { $0.isSample }) else { return false }
        let message = offset == items.startIndex ? items.first! : items[offset]
        if offset == items.startIndex {
            popFront()
        } else {
            // A control message sits in front: remove from the middle and renumber the latest-mode slots
            // behind it (rare: control messages are few and small).
            items.remove(at: offset)
            bytes -= size(of: message)
            if mode == .latest {
                let absolute = removed + offset
                latestSlot = latestSlot.compactMapValues { $0 == absolute ? nil : ($0 > absolute ? $0 - 1 : $0) }
            }
        }
        if let sample = message.sample { recordGap(sample, reason: .backpressure, counters: &counters) }
        return true
    }

    /// Names a dropped sample in a pending gap, extending the participant's open gap for the same reason when
    /// the seq follows it directly. A range therefore holds only dropped seqs (never one the device skipped,
    /// which might still come and be named elsewhere): `count` is always `to_seq − from_seq + 1`.
    private mutating func recordGap(_ sample: RelayedSample, reason: GapReason, counters: inout RelayCounters) {
        counters.record(drop: reason)
        let seq = sample.sample.seq
        let key = GapKey(participant: sample.p, reason: reason)
        if let index = openGaps[key], pendingGaps[index].toSeq &+ 1 == seq {
            pendingGaps[index].toSeq = seq
            pendingGaps[index].count += 1
            return
        }
        openGaps[key] = pendingGaps.count
        pendingGaps.append(Gap(p: sample.p, fromSeq: seq, toSeq: seq, count: 1, reason: reason))
    }

    /// The newer sample carrying the RR intervals of the one it replaces (at most 64, the newest kept).
    static func conflate(older: OutboundMessage, newer: OutboundMessage) -> OutboundMessage {
        guard let old = older.sample, var merged = newer.sample, !old.sample.rr.isEmpty else { return newer }
        var rr = old.sample.rr + merged.sample.rr
        let cap = HRProtocol.Limits.rrMaxMergedCount
        if rr.count > cap { rr.removeFirst(rr.count - cap) }
        merged.sample.rr = rr
        return OutboundMessage(sample: merged, captureHubMs: newer.captureHubMs)
    }
}
