import HRProtocol

/// One class tick's frame for one wire format and mode, built once and written, as the same bytes, to every
/// viewer of the class that had nothing else pending.
///
/// It is what such a viewer's own queue would have made of the tick's messages (`build` runs them through a
/// `SendQueue`), so a viewer gets the same bytes on either path.
final class SharedFrame {
    /// Headroom, then the payload. Never written to but by the transport (the frame header, in the headroom).
    let buffer: FrameBuffer
    let kind: OutboundFrameKind
    /// The tick's messages: a viewer whose frame could not be written before its oldest sample went over the
    /// budget gets them through its own queue instead, where the budget reaches each one.
    let messages: [OutboundMessage]
    /// What writing the frame to one viewer counts: deliveries, conflated samples (`latest` mode), and the
    /// residency and age of each delivered sample as at the tick.
    let counts: RelayCounters
    /// The capture time of the oldest sample in the frame on the hub's clock; `.max` with none.
    let oldestCaptureMs: Int64

    private init(
        buffer: FrameBuffer, kind: OutboundFrameKind, messages: [OutboundMessage], counts: RelayCounters,
        oldestCaptureMs: Int64
    ) {
        self.buffer = buffer
        self.kind = kind
        self.messages = messages
        self.counts = counts
        self.oldestCaptureMs = oldestCaptureMs
    }

    /// The one frame a viewer in `mode` and `format` with an empty queue gets for `messages` at `now`; nil when
    /// it would take more than one frame (binary samples beside control messages) or none.
    static func build(
        _ messages: [OutboundMessage], mode: DeliveryMode, format: WireFormat, now: Int64, budgetMs: Int64,
        headroom: Int
    ) -> SharedFrame? {
        var queue = SendQueue(mode: mode, format: format, limits: .init(maxMessages: .max, maxBytes: .max))
        var counts = RelayCounters()
        var oldest = Int64.max
        var bytes = 0
        for message in messages {
            queue.enqueue(message, now: now, counters: &counts)
            if message.isSample { oldest = min(oldest, message.captureHubMs) }
            bytes += message.json.count + message.tail.count + 1
        }
        let buffer = FrameBuffer(headroom: headroom, capacity: bytes + 2)
        guard
            let kind = queue.drain(
                now: now, budgetMs: budgetMs, targetBytes: .max, into: &buffer.bytes, counters: &counts),
            queue.isEmpty
        else { return nil }
        return SharedFrame(buffer: buffer, kind: kind, messages: messages, counts: counts, oldestCaptureMs: oldest)
    }
}
