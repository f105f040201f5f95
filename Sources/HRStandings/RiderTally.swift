/// One rider's standing, built from their recorded samples in any order: points, time in zone and the summary
/// numbers (PROTOCOL.md, "Standings: the live leaderboard").
///
/// The formula: a sample with a zone earns, for the time since the same rider's previous recorded sample by seq
/// (`ts` difference, at least 0 and at most `cap`, 5 s; a rider's first sample earns nothing),
/// `seconds / 60 × multiplier(zone)`. The same capped interval counts as time in that zone.
///
/// Exact integer bookkeeping: points are kept as `units` = Σ interval ms × multiplier (one point is 60,000 units),
/// time in zone in ms. So the same samples give the same numbers whatever order they arrive in, to the last bit.
///
/// Only what a future insert can need is kept: a new seq always lands in a gap between two runs of consecutive
/// seqs, and what it changes depends only on the end of the run below (its `ts`) and the start of the run above
/// (its `ts` and zone). So the rider keeps one `SeqRun` per run of consecutive seqs, not one entry per sample: a
/// rider with no gaps costs one run whatever the length of the ride, an in-order sample costs O(1), and a
/// backfill a binary search over the runs (plus moving the runs above it when it opens a new one).
public struct RiderTally: Sendable, Equatable {
    /// Longest interval one sample earns for, in ms.
    public static let capMs: Int64 = 5_000
    /// Units per point: interval ms × multiplier, and a minute has 60,000 ms.
    public static let unitsPerPoint: Int64 = 60_000

    /// Exact points × 60,000.
    public private(set) var units: Int64 = 0
    /// Milliseconds in zones 1...5 (the same capped intervals as points).
    public private(set) var zoneMs: [Int64] = [0, 0, 0, 0, 0]
    /// Recorded samples.
    public private(set) var samples = 0
    /// Smallest and largest `ts` (meaningful once `samples` > 0).
    public private(set) var firstTs: Int64 = .max
    public private(set) var lastTs: Int64 = .min
    /// Largest bpm.
    public private(set) var maxBpm: UInt8 = 0
    /// Sum and count of the non-zero bpm.
    public private(set) var bpmSum: Int64 = 0
    public private(set) var bpmCount = 0

    /// Runs of consecutive seqs, sorted by seq, never touching or overlapping.
    private var runs: [SeqRun] = []

    /// Creates an empty tally.
    public init() {}

    /// Exact points as a Double (for display use `pointsTenths`).
    public var points: Double { Double(units) / Double(Self.unitsPerPoint) }

    /// Points in tenths, rounded half away from zero, exactly.
    public var pointsTenths: Int64 { Self.tenths(units: units) }

    /// `units` as points in tenths, rounded half away from zero, exactly.
    static func tenths(units: Int64) -> Int64 { divideRounded(units, by: unitsPerPoint / 10) }

    /// Seconds in zones 1...5 in tenths, rounded half away from zero, exactly.
    public var zoneTenths: [Int64] { zoneMs.map { Self.divideRounded($0, by: 100) } }

    /// Mean of the non-zero bpm, rounded half away from zero; 0 when there is none.
    public var avgBpm: Int {
        bpmCount == 0 ? 0 : Int(Self.divideRounded(bpmSum, by: Int64(bpmCount)))
    }

    /// Adds one recorded sample. Returns false, changing nothing, when `seq` is already counted.
    /// `zone` is the zone fixed at acceptance (nil, or anything outside 1...5, earns nothing).
    @discardableResult
    public mutating func record(seq: UInt32, ts: Int64, bpm: UInt8, zone: UInt8?, points: ZonePoints) -> Bool {
        let zone = zone ?? 0
        // `above`: the first run starting after seq (in-order samples go past every run: no search).
        let above: Int
        if let last = runs.last, last.first <= seq {
            above = runs.count
        } else {
            above = runs.partitioningIndex { $0.first > seq }
        }
        let below = above > 0 ? runs[above - 1] : nil
        if let below, seq <= below.last {
            return false
        }
        if let below {
            earn(zone: zone, from: below.lastTs, to: ts, sign: 1, points: points)
        }
        if above < runs.count {
            let next = runs[above]
            if let below {
                earn(zone: next.firstZone, from: below.lastTs, to: next.firstTs, sign: -1, points: points)
            }
            earn(zone: next.firstZone, from: ts, to: next.firstTs, sign: 1, points: points)
        }
        let joinsBelow = below.map { $0.last + 1 == seq } ?? false
        let joinsAbove = above < runs.count && seq + 1 == runs[above].first
        switch (joinsBelow, joinsAbove) {
        case (true, true):
            runs[above - 1].last = runs[above].last
            runs[above - 1].lastTs = runs[above].lastTs
            runs.remove(at: above)
        case (true, false):
            runs[above - 1].last = seq
            runs[above - 1].lastTs = ts
        case (false, true):
            runs[above].first = seq
            runs[above].firstTs = ts
            runs[above].firstZone = zone
        case (false, false):
            runs.insert(SeqRun(first: seq, last: seq, firstTs: ts, firstZone: zone, lastTs: ts), at: above)
        }
        samples += 1
        firstTs = min(firstTs, ts)
        lastTs = max(lastTs, ts)
        maxBpm = max(maxBpm, bpm)
        if bpm > 0 {
            bpmSum += Int64(bpm)
            bpmCount += 1
        }
        return true
    }

    /// Adds (`sign` 1) or takes back (`sign` -1) what a sample in `zone` at `to` earns after its predecessor at `from`.
    @inline(__always)
    private mutating func earn(zone: UInt8, from: Int64, to: Int64, sign: Int64, points: ZonePoints) {
        guard zone >= 1 && zone <= 5 else { return }
        let multiplier = points.multiplier(zone: zone)
        let interval = to > from ? min(to - from, Self.capMs) : 0
        units += sign * interval * multiplier
        zoneMs[Int(zone) - 1] += sign * interval
    }

    /// `value / divisor` rounded half away from zero, in integers (`divisor` > 0).
    static func divideRounded(_ value: Int64, by divisor: Int64) -> Int64 {
        let half = divisor / 2
        // With an odd divisor an exact half cannot happen, and floor(divisor / 2) still rounds the rest right.
        let magnitude = (value.magnitude + UInt64(half)) / UInt64(divisor)
        return value < 0 ? -Int64(magnitude) : Int64(magnitude)
    }
}

/// A run of consecutive seqs of one rider: its bounds, the `ts` at both ends and the zone of its first sample (all a
/// new neighbour needs). `firstZone` 0 means no zone.
private struct SeqRun: Sendable, Equatable {
    var first: UInt32
    var last: UInt32
    var firstTs: Int64
    var firstZone: UInt8
    var lastTs: Int64
}

extension Array {
    /// The index of the first element for which `belongs` is true, the elements being partitioned (all false, then
    /// all true); `count` when there is none. A binary search.
    func partitioningIndex(where belongs: (Element) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if belongs(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
