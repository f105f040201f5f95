import HRProtocol

/// Per-participant playout buffer: releases samples in `seq` order at `ts + offset + playout delay`, so a
/// stream that arrives jittery or reordered goes out at the cadence the device captured it.
///
/// The playout delay adapts to the arrival jitter the way audio playout buffers do (Ramjee et al. 1994,
/// algorithm 1; RFC 3550's interarrival jitter): an exponentially weighted mean `d` of each sample's extra
/// network delay (arrival minus its fastest-possible arrival) and of its mean deviation `v`, with the delay
/// set to `d + 4·v` less a small tolerance, capped at `maxDelayMs` (half the class budget). A missing seq is never waited for: a
/// sample goes out at its own release time whether or not the ones before it came.
public struct JitterBuffer: Sendable {
    /// Tuning. Defaults suit ~1 Hz heart-rate straps.
    public struct Settings: Sendable, Equatable {
        /// Off: every sample is released on arrival (playout delay 0).
        public var enabled: Bool = true
        /// The playout delay never exceeds this (half the class budget).
        public var maxDelayMs: Int64 = 400
        /// Weight of the history in the moving averages (Ramjee uses 0.998 at 50 packets/s; a strap sends
        /// one sample a second, so a shorter memory of about ten samples).
        public var smoothing: Double = 0.9
        /// How many deviations of headroom the delay keeps above the mean.
        public var deviations: Double = 4
        /// Jitter this small is not worth waiting for: a screen updating once a second cannot show it, and
        /// a loaded LAN or loopback jitters by a few ms all the time. It is taken off the delay.
        public var toleranceMs: Double = 15

        public init(enabled: Bool = true, maxDelayMs: Int64 = 400) {
            self.enabled = enabled
            self.maxDelayMs = maxDelayMs
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
    /// Smoothed extra network delay, ms.
    public private(set) var meanDelay: Double = 0
    /// Smoothed mean deviation of the extra delay, ms.
    public private(set) var meanDeviation: Double = 0
    private var primed = false

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// The current playout delay in ms.
    public var playoutDelayMs: Int64 {
        guard settings.enabled else { return 0 }
        let delay = (meanDelay + settings.deviations * meanDeviation - settings.toleranceMs).rounded(.up)
        return min(settings.maxDelayMs, max(0, Int64(delay)))
    }

    /// When the earliest held sample is due, or nil when nothing is held.
    public var nextReleaseMs: Int64? { held.lazy.map(\.releaseMs).min() }

    /// Holds a newly accepted sample. `offsetMs` is the device's learnt clock offset (hub − device), so
    /// `ts + offset` is the sample's fastest-possible arrival on the hub's clock.
    public mutating func insert(_ sample: Sample, arrivalMs: Int64, offsetMs: Int64) {
        let earliest = sample.ts &+ offsetMs
        if settings.enabled {
            // Extra delay over the fastest arrival seen; a stall counts as at most the cap, so one long
            // Wi-Fi outage does not hold every later sample back for minutes.
            let extra = Double(min(max(0, arrivalMs - earliest), settings.maxDelayMs * 2))
            if primed {
                let a = settings.smoothing
                meanDeviation = a * meanDeviation + (1 - a) * abs(extra - meanDelay)
                meanDelay = a * meanDelay + (1 - a) * extra
            } else {
                meanDelay = extra
                primed = true
            }
        }
        let release = max(arrivalMs, earliest &+ playoutDelayMs)
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
}
