import DequeModule

/// Learns how a device's clock relates to the hub's: the minimum of `arrival − ts` over a sliding window.
///
/// The minimum is the sample that crossed the network fastest, so `ts + offset` estimates when a sample
/// would have reached the hub with no queueing at all; a device whose clock is an hour off is judged as
/// fairly as one in sync. A monotonic deque keeps the window's minimum in amortised O(1).
public struct ClockOffsetEstimator: Sendable {
    /// How far back observations count.
    public let windowMs: Int64
    private var candidates: Deque<(atMs: Int64, offset: Int64)> = []

    public init(windowMs: Int64 = 60_000) {
        self.windowMs = windowMs
    }

    /// The current estimate (0 before any observation).
    public var offset: Int64 { candidates.first?.offset ?? 0 }

    /// Records one sample that arrived at hub time `arrivalMs` with device time `ts`.
    public mutating func observe(ts: Int64, arrivalMs: Int64) {
        let offset = arrivalMs &- ts
        while let last = candidates.last, last.offset >= offset { candidates.removeLast() }
        candidates.append((arrivalMs, offset))
        while let first = candidates.first, arrivalMs - first.atMs > windowMs { candidates.removeFirst() }
    }
}
