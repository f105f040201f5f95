/// When a publishing rider's samples are due: the k-th at k × (1 s / rate) after the rider's origin, to the
/// microsecond.
///
/// Each due time is computed from k, never by adding a rounded interval k times, so a rate whose period is not a
/// whole number of microseconds or milliseconds (400 Hz = 2.5 ms, 3 Hz = 333.3… ms) sends exactly `rate` samples
/// per second and nothing drifts over a long run. (The schedule once added a whole-millisecond interval: 400 Hz
/// sent every 3 ms, 333 samples/s.)
struct SampleSchedule: Equatable {
    /// Samples per second, above 0.
    let rate: Double

    init(rate: Double) {
        precondition(rate > 0 && rate.isFinite, "a schedule needs a positive rate")
        self.rate = rate
    }

    /// The period, µs; fractional when the rate does not divide a second (2,500 at 400 Hz, 333,333.3… at 3 Hz).
    var periodUs: Double { 1e6 / rate }

    /// The k-th sample's offset from the origin, µs, rounded to the nearest µs. `k × 10⁶` is exact in a Double
    /// (k below 2⁵³ / 10⁶, i.e. 285 years at 1 kHz), so the only rounding is that of one division.
    func offsetUs(_ k: Int64) -> Int64 {
        Int64((Double(k) * 1e6 / rate).rounded())
    }

    /// The first k ≥ 0 whose offset is at or after `us`.
    func firstIndex(atOrAfter us: Int64) -> Int64 {
        guard us > 0 else { return 0 }
        var k = max(0, Int64((Double(us) * rate / 1e6).rounded(.up)))
        while k > 0 && offsetUs(k - 1) >= us { k -= 1 }
        while offsetUs(k) < us { k += 1 }
        return k
    }

    /// The last k ≥ 0 whose offset is at or before `us` (0 when none is): the period `us` falls in.
    func lastIndex(atOrBefore us: Int64) -> Int64 {
        max(0, firstIndex(atOrAfter: us + 1) - 1)
    }

    /// How many samples are due in `[fromUs, toUs)` after the origin.
    func count(fromUs: Int64, toUs: Int64) -> Int64 {
        guard toUs > fromUs else { return 0 }
        return firstIndex(atOrAfter: toUs) - firstIndex(atOrAfter: fromUs)
    }
}
