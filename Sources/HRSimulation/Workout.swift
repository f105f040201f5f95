/// An interval class plan: target intensity over time, as a fraction of heart-rate reserve.
///
/// Intensity 0 means resting heart rate and 1 means maximum heart rate; in between it is the fraction of the
/// heart-rate reserve (Karvonen): target bpm = hrrest + intensity × (hrmax − hrrest). A plan is a list of
/// segments (warm-up, work, recovery, cool-down), each a steady level or a linear ramp.
///
/// Times are milliseconds elapsed since the class started. A plan that `repeats` wraps around, which is what a
/// demo class that loops every few minutes wants; otherwise the last intensity holds after the end.
public struct Workout: Sendable, Equatable {
    /// One part of a plan: a kind, a duration and an intensity that ramps linearly from start to end.
    public struct Segment: Sendable, Equatable {
        /// What a segment is for.
        public enum Kind: String, Sendable, CaseIterable {
            /// Easy riding with rising intensity at the start of the class.
            case warmUp
            /// A hard interval.
            case work
            /// An easy interval between hard ones.
            case recovery
            /// Easy riding with falling intensity at the end of the class.
            case coolDown
        }

        /// What this segment is for.
        public var kind: Kind
        /// How long the segment lasts, in milliseconds (positive).
        public var durationMs: Int64
        /// Intensity (fraction of heart-rate reserve, 0...1) at the start of the segment.
        public var startIntensity: Double
        /// Intensity (fraction of heart-rate reserve, 0...1) at the end of the segment.
        public var endIntensity: Double

        /// A segment whose intensity ramps linearly from `startIntensity` to `endIntensity`.
        ///
        /// Intensities are clamped to 0...1; `durationMs` must be positive.
        public init(kind: Kind, durationMs: Int64, startIntensity: Double, endIntensity: Double) {
            precondition(durationMs > 0, "a segment must last a positive time")
            self.kind = kind
            self.durationMs = durationMs
            self.startIntensity = min(max(startIntensity, 0), 1)
            self.endIntensity = min(max(endIntensity, 0), 1)
        }

        /// A segment held at one intensity.
        public init(kind: Kind, durationMs: Int64, intensity: Double) {
            self.init(kind: kind, durationMs: durationMs, startIntensity: intensity, endIntensity: intensity)
        }

        /// The intensity `offsetMs` into the segment (clamped to the segment).
        public func intensity(atOffsetMs offsetMs: Int64) -> Double {
            let fraction = Double(min(max(offsetMs, 0), durationMs)) / Double(durationMs)
            return startIntensity + (endIntensity - startIntensity) * fraction
        }
    }

    /// The segments in order. Never empty.
    public let segments: [Segment]
    /// Whether the plan starts over after its last segment (a looping demo) instead of holding the last intensity.
    public let repeats: Bool
    /// Start of each segment, in ms since the class started (same indices as `segments`).
    private let starts: [Int64]

    /// The total length of one pass through the plan, in milliseconds.
    public let durationMs: Int64

    /// A plan made of `segments` (at least one), optionally looping.
    public init(segments: [Segment], repeats: Bool = false) {
        precondition(!segments.isEmpty, "a workout needs at least one segment")
        self.segments = segments
        self.repeats = repeats
        var starts: [Int64] = []
        starts.reserveCapacity(segments.count)
        var total: Int64 = 0
        for segment in segments {
            starts.append(total)
            total += segment.durationMs
        }
        self.starts = starts
        self.durationMs = total
    }

    /// The time at which segment `index` starts, in ms since the class started (first pass).
    public func startMs(ofSegment index: Int) -> Int64 {
        starts[index]
    }

    /// The index of the segment in effect `elapsedMs` after the class started.
    ///
    /// Before the start this is the first segment; after the end, the last one, or for a repeating plan the
    /// segment of the current pass.
    public func segmentIndex(at elapsedMs: Int64) -> Int {
        locate(elapsedMs).index
    }

    /// The target intensity (fraction of heart-rate reserve, 0...1) `elapsedMs` after the class started.
    ///
    /// Before the start this is the first segment's start intensity; after the end of a plan that does not repeat,
    /// the last segment's end intensity.
    public func intensity(at elapsedMs: Int64) -> Double {
        let (index, offset) = locate(elapsedMs)
        return segments[index].intensity(atOffsetMs: offset)
    }

    /// The segment in effect at `elapsedMs` and the offset into it.
    private func locate(_ elapsedMs: Int64) -> (index: Int, offset: Int64) {
        if elapsedMs < 0 { return (0, 0) }
        var time = elapsedMs
        if time >= durationMs {
            if !repeats { return (segments.count - 1, segments[segments.count - 1].durationMs) }
            time %= durationMs
        }
        // Binary search for the last start at or before `time`.
        var low = 0
        var high = starts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if starts[mid] <= time { low = mid } else { high = mid - 1 }
        }
        return (low, time - starts[low])
    }
}

extension Workout {
    /// A classic interval plan: a warm-up ramp, work intervals separated by recoveries, and a cool-down ramp.
    ///
    /// - Parameters:
    ///   - warmUpMs: Length of the warm-up, which ramps from `warmUpIntensity.lowerBound` to its upper bound.
    ///   - workIntensities: One entry per work interval: its intensity (fraction of heart-rate reserve).
    ///   - workMs: Length of each work interval.
    ///   - recoveryMs: Length of each recovery between two work intervals (none after the last one).
    ///   - recoveryIntensity: Intensity of the recoveries.
    ///   - coolDownMs: Length of the cool-down, which ramps from `coolDownIntensity.upperBound` to its lower bound.
    ///   - repeats: Whether the plan loops.
    public static func intervals(
        warmUpMs: Int64,
        warmUpIntensity: ClosedRange<Double> = 0.30...0.60,
        workIntensities: [Double],
        workMs: Int64,
        recoveryMs: Int64,
        recoveryIntensity: Double = 0.45,
        coolDownMs: Int64,
        coolDownIntensity: ClosedRange<Double> = 0.25...0.55,
        repeats: Bool = false
    ) -> Workout {
        var segments = [
            Segment(
                kind: .warmUp, durationMs: warmUpMs,
                startIntensity: warmUpIntensity.lowerBound, endIntensity: warmUpIntensity.upperBound)
        ]
        for (number, intensity) in workIntensities.enumerated() {
            if number > 0 {
                segments.append(Segment(kind: .recovery, durationMs: recoveryMs, intensity: recoveryIntensity))
            }
            segments.append(Segment(kind: .work, durationMs: workMs, intensity: intensity))
        }
        segments.append(
            Segment(
                kind: .coolDown, durationMs: coolDownMs,
                startIntensity: coolDownIntensity.upperBound, endIntensity: coolDownIntensity.lowerBound))
        return Workout(segments: segments, repeats: repeats)
    }

    /// The default 45-minute class: 8 min warm-up, six 3-minute work intervals building from 80 % to 92 % of
    /// heart-rate reserve, each followed by a 2-minute recovery at 45 %, then a 7 min cool-down.
    public static let standard: Workout = {
        let minute: Int64 = 60_000
        let base = Workout.intervals(
            warmUpMs: 8 * minute,
            workIntensities: [0.80, 0.84, 0.88, 0.84, 0.88, 0.92],
            workMs: 3 * minute,
            recoveryMs: 2 * minute,
            coolDownMs: 7 * minute)
        // A last recovery before the cool-down, so every work interval is followed by one.
        var segments = base.segments
        segments.insert(
            Segment(kind: .recovery, durationMs: 2 * minute, intensity: 0.45), at: segments.count - 1)
        return Workout(segments: segments)
    }()

    /// A short plan, for a demo that loops every few minutes. As fractions of `durationMs`: a warm-up ramp of
    /// 10 %, two work intervals of 25 % (at 85 % and 90 % of heart-rate reserve), each followed by a recovery at
    /// 35 % (20 % and 10 % long), and a cool-down ramp of 10 %.
    ///
    /// Intervals shorter than a minute or so barely move a heart rate (the rise takes about 30 s, the fall 60 s), so
    /// a plan of 4 minutes or more shows clear swings. The cool-down ends where the warm-up starts, so a repeating
    /// short plan loops without a jump.
    /// - Parameters:
    ///   - durationMs: Length of one pass, at least 20 s (default 4 minutes).
    ///   - repeats: Whether the plan loops (default true).
    public static func short(durationMs: Int64 = 240_000, repeats: Bool = true) -> Workout {
        precondition(durationMs >= 20_000, "a short workout lasts at least 20 s")
        let unit = durationMs / 20  // 5 % of the plan
        let plan: [(Segment.Kind, Int64, Double, Double)] = [
            (.warmUp, 2 * unit, 0.30, 0.60),
            (.work, 5 * unit, 0.85, 0.85),
            (.recovery, 4 * unit, 0.35, 0.35),
            (.work, 5 * unit, 0.90, 0.90),
            (.recovery, 2 * unit, 0.35, 0.35),
        ]
        var segments = plan.map { kind, length, from, to in
            Segment(kind: kind, durationMs: length, startIntensity: from, endIntensity: to)
        }
        // The cool-down takes what is left, so one pass lasts exactly `durationMs`.
        let used = plan.reduce(Int64(0)) { $0 + $1.1 }
        segments.append(
            Segment(kind: .coolDown, durationMs: durationMs - used, startIntensity: 0.35, endIntensity: 0.30))
        return Workout(segments: segments, repeats: repeats)
    }
}
