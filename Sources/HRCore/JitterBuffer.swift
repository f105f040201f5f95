import HRProtocol

/// Per-participant playout buffer: releases samples in `seq` order at `ts + offset + playout delay`, so a
/// stream that arrives jittery or reordered goes out at the cadence the device captured it.
///
/// The playout delay is a percentile of recent extra network delays (arrival minus the fastest-possible
/// arrival, `ts + offset`): it waits long enough for `coverage` (95 %) of the last `window` (32) samples, but
/// never more than `headroomMs` (60) above their median extra delay, less a small tolerance, and never more
/// than `maxDelayMs` (half the class budget).
///
/// Why this shape: a sample can never reach a screen before it reaches the hub, so no buffer lowers the p99 of
/// the lag below the network's p99; all it can do is hold the fast samples back toward the slow ones, and every
/// millisecond it cuts off the lag spread (p99 − p50) it adds to the median. The headroom caps that price, and
/// the median keeps the cap meaningful on a link whose normal delay is high. A percentile over a short window
/// forgets a burst as soon as it leaves the window (32 samples), and a stall longer than the cap (a TCP
/// retransmission on a lossy link, an outage) is not counted at all: no delay within the cap could cover it,
/// so a lossy link no longer parks every sample at the cap. (The estimator it replaces, an exponentially weighted mean plus four mean
/// deviations, Ramjee et al. 1994, added about 120 ms at the median on bursty Wi-Fi for a fifth of the spread,
/// and sat at the cap on a lossy link: docs/ROBUSTNESS.md.)
///
/// A missing seq is never waited for: a sample goes out at its own release time whether or not the ones before
/// it came.
public struct JitterBuffer: Sendable {
    /// Tuning. Defaults suit ~1 Hz heart-rate straps.
    public struct Settings: Sendable, Equatable {
        /// Off: every sample is released on arrival (playout delay 0).
        public var enabled: Bool = true
        /// The playout delay never exceeds this (half the class budget).
        public var maxDelayMs: Int64 = 400
        /// How many recent extra delays the estimate looks at (32 samples: half a minute at 1 Hz).
        public var window: Int = 32
        /// Share of the recent samples the playout point waits for (0…1).
        public var coverage: Double = 0.95
        /// The playout delay is at most this much above the median recent extra delay: what the buffer may add
        /// to a typical sample's lag.
        public var headroomMs: Int64 = 60
        /// Jitter this small is not worth waiting for: a screen updating once a second cannot show it, and
        /// a loaded LAN or loopback jitters by a few ms all the time. It is taken off the delay.
        public var toleranceMs: Int64 = 15
        /// The class tick (0: none). With one, release times fall on its grid (`Grid`).
        public var tickMs: Int64 = 0
        /// The class budget, for the grid: a release is never moved past `capture + budgetMs` if a tick before
        /// that is still to come.
        public var budgetMs: Int64 = 800

        public init(enabled: Bool = true, maxDelayMs: Int64 = 400, tickMs: Int64 = 0, budgetMs: Int64 = 800) {
            self.enabled = enabled
            self.maxDelayMs = maxDelayMs
            self.tickMs = tickMs
            self.budgetMs = budgetMs
        }
    }

    /// A sample waiting for its release time.
    public struct Held: Sendable, Equatable {
        public var sample: Sample
        /// Hub time it arrived.
        public var arrivalMs: Int64
        /// Hub time it is due to go out.
        public var releaseMs: Int64
    }

    public let settings: Settings
    /// Held samples, sorted by seq.
    public private(set) var held: [Held] = []
    /// The recent extra delays within the cap, oldest first (at most `settings.window`).
    private var recent: [Int64] = []
    /// The same values, sorted.
    private var sorted: [Int64] = []
    /// The current playout delay in ms.
    public private(set) var playoutDelayMs: Int64 = 0

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// When the earliest held sample is due, or nil when nothing is held.
    public var nextReleaseMs: Int64? { held.lazy.map(\.releaseMs).min() }

    /// Holds a newly accepted sample. `offsetMs` is the device's learnt clock offset (hub − device), so
    /// `ts + offset` is the sample's fastest-possible arrival on the hub's clock.
    public mutating func insert(_ sample: Sample, arrivalMs: Int64, offsetMs: Int64) {
        let earliest = sample.ts &+ offsetMs
        let extra = max(0, arrivalMs - earliest)
        if settings.enabled && extra <= settings.maxDelayMs {
            // A stall beyond the cap (a TCP retransmission on a lossy link, an outage) is not jitter the buffer
            // could cover: counting it would only hold the on-time samples after it back.
            observe(extra)
        }
        var release = max(arrivalMs, earliest &+ playoutDelayMs)
        if settings.tickMs > 0 {
            release = Self.tick(
                due: release, arrivalMs: arrivalMs, deadlineMs: earliest &+ settings.budgetMs, tickMs: settings.tickMs)
        }
        let entry = Held(sample: sample, arrivalMs: arrivalMs, releaseMs: release)
        let index = held.firstIndex { $0.sample.seq > sample.seq } ?? held.endIndex
        held.insert(entry, at: index)
    }

    /// Takes the samples due at `now`, in seq order: every held sample up to the last one whose release time
    /// has come (a due sample never waits for an earlier seq that is not due yet or never came).
    public mutating func releaseDue(now: Int64) -> [Held] {
        guard let last = held.lastIndex(where: { $0.releaseMs <= now }) else { return [] }
        let due = Array(held[...last])
        held.removeSubrange(...last)
        return due
    }

    /// The tick a sample due at `due` goes out on: the first tick at or after `due` that is later than its arrival;
    /// when that one would take it past its budget deadline (`capture + budget`), the last tick before the
    /// deadline instead, provided it is still later than the arrival (the playout delay is cut short rather than
    /// the sample lost). Without such a tick it stays on the first one, where the budget names it late.
    public static func tick(due: Int64, arrivalMs: Int64, deadlineMs: Int64, tickMs: Int64) -> Int64 {
        var tick = ceiling(due, tickMs)
        if tick <= arrivalMs { tick += tickMs }
        if tick > deadlineMs {
            let last = floor(deadlineMs, tickMs)
            if last > arrivalMs { tick = last }
        }
        return tick
    }

    /// The grid point at or below `ms` (floor division, so negative times stay on the grid too).
    public static func floor(_ ms: Int64, _ tickMs: Int64) -> Int64 {
        let remainder = ms % tickMs
        return remainder < 0 ? ms - remainder - tickMs : ms - remainder
    }

    /// The grid point at or above `ms`.
    public static func ceiling(_ ms: Int64, _ tickMs: Int64) -> Int64 {
        let below = floor(ms, tickMs)
        return below == ms ? ms : below + tickMs
    }

    /// Adds one extra delay to the window and recomputes the playout delay.
    private mutating func observe(_ extra: Int64) {
        if recent.count == max(1, settings.window) {
            let evicted = recent.removeFirst()
            sorted.remove(at: Self.insertionIndex(of: evicted, in: sorted))
        }
        recent.append(extra)
        sorted.insert(extra, at: Self.insertionIndex(of: extra, in: sorted))
        let n = sorted.count
        let rank = min(n, max(1, Int((settings.coverage * Double(n)).rounded(.up))))
        let covering = sorted[rank - 1]
        let median = sorted[(n - 1) / 2]
        let delay = min(covering, median + settings.headroomMs) - settings.toleranceMs
        playoutDelayMs = min(settings.maxDelayMs, max(0, delay))
    }

    /// The first index whose value is not below `value` (binary search in an ascending array).
    private static func insertionIndex(of value: Int64, in values: [Int64]) -> Int {
        var low = 0
        var high = values.count
        while low < high {
            let mid = (low + high) / 2
            if values[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
