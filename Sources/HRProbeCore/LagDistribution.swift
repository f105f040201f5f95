import Histogram

/// One lag distribution in microseconds: an HdrHistogram (1 µs to 1 hour, three significant digits) plus how
/// many values fell outside it (negative lags, possible across machines with a clock error).
///
/// Distributions are merged with `add`, bucket by bucket: percentiles of merged histograms are exact to the
/// histogram's precision, never averages of percentiles.
public struct LagDistribution {
    /// The values, µs.
    public private(set) var histogram: Histogram<UInt64>
    /// Values below zero, clamped to 0 in the histogram.
    public private(set) var negative = 0

    /// An empty distribution; `digits` trades precision for memory (three digits: about 200 KiB).
    public init(digits: SignificantDigits = .three) {
        histogram = Histogram(
            lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000,
            numberOfSignificantValueDigits: digits)
    }

    /// Records one lag, µs.
    public mutating func record(_ us: Int64) {
        if us < 0 { negative += 1 }
        _ = histogram.record(UInt64(min(max(us, 0), 3_600_000_000)))
    }

    /// Adds every value of `other`.
    public mutating func add(_ other: LagDistribution) {
        histogram.add(other.histogram)
        negative += other.negative
    }

    /// Forgets every value.
    public mutating func reset() {
        histogram.reset()
        negative = 0
    }

    public var count: UInt64 { histogram.totalCount }

    /// The value at `percentile` (0…100), µs; 0 when empty.
    public func valueUs(at percentile: Double) -> Int64 {
        count == 0 ? 0 : Int64(histogram.valueAtPercentile(percentile))
    }

    /// The largest value, µs (exact to the histogram's precision).
    public var maxUs: Int64 { count == 0 ? 0 : Int64(histogram.max) }

    public var meanUs: Double { count == 0 ? 0 : histogram.mean }
}
