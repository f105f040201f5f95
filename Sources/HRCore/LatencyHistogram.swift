/// A fixed-bucket histogram of milliseconds, cheap enough to feed once per delivered sample on the hot path
/// (a short scan of twelve bounds, no allocation). The hub exports it in Prometheus form.
public struct LatencyHistogram: Sendable, Equatable {
    /// Upper bounds of the buckets, ms (Prometheus `le`); a last implicit bucket holds everything above.
    public static let boundsMs: [Int64] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 800, 1000, 2500]

    /// Count per bucket (not cumulative); one more than `boundsMs` for the overflow bucket.
    public private(set) var counts = [Int](repeating: 0, count: LatencyHistogram.boundsMs.count + 1)
    /// Sum of every value, ms.
    public private(set) var sumMs: Int64 = 0
    /// Values recorded.
    public private(set) var total = 0

    public init() {}

    /// Records one value (negative values count as 0: clocks are only as good as the offset estimate).
    public mutating func record(_ ms: Int64) {
        let value = max(0, ms)
        var index = 0
        while index < Self.boundsMs.count, value > Self.boundsMs[index] { index += 1 }
        counts[index] += 1
        sumMs += value
        total += 1
    }

    /// Adds every value `other` recorded.
    public mutating func add(_ other: LatencyHistogram) {
        for index in counts.indices { counts[index] += other.counts[index] }
        sumMs += other.sumMs
        total += other.total
    }
}
