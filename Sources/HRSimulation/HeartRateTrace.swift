/// A recorded beat-to-beat heart-rate series: the time of each heartbeat and the interval since the one before.
///
/// Read from CSV text with a header line and the columns `t_ms,rr_ms` (more columns, such as `bpm`, are ignored),
/// one row per beat, times ascending: what `tools/make_trace.py` derives from a real PPG recording
/// (tests/data/ppg-trace.csv). `TraceReplay` plays it back as a device's readings.
public struct HeartRateTrace: Sendable, Equatable {
    /// One heartbeat: when it happened (ms from the start of the recording) and the interval that ended with it.
    public struct Beat: Sendable, Equatable {
        public var timeMs: Int64
        public var intervalMs: Int64
    }

    /// Why a trace could not be read; `description` names the line and what is wrong with it.
    public struct FormatError: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// The beats, times strictly ascending.
    public let beats: [Beat]

    /// How long one pass of the trace lasts, ms (from its start to its last beat); replays wrap around after it.
    public var durationMs: Int64 { beats.last!.timeMs }

    /// Parses CSV text: a header naming `t_ms` and `rr_ms`, then at least two beats with times that go up, each
    /// interval 240…2400 ms (25…250 bpm).
    public init(csv text: String) throws {
        var lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        lines.removeAll(where: \.isEmpty)
        guard let header = lines.first else { throw FormatError(description: "the trace is empty") }
        let columns = header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let timeColumn = columns.firstIndex(of: "t_ms"), let rrColumn = columns.firstIndex(of: "rr_ms") else {
            throw FormatError(description: "line 1: the header must name the columns t_ms and rr_ms, got '\(header)'")
        }
        var beats: [Beat] = []
        for (index, line) in lines.enumerated().dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count > max(timeColumn, rrColumn),
                let time = Int64(fields[timeColumn].trimmingCharacters(in: .whitespaces)),
                let interval = Int64(fields[rrColumn].trimmingCharacters(in: .whitespaces))
            else {
                throw FormatError(description: "line \(index + 1): expected whole numbers for t_ms and rr_ms, got '\(line)'")
            }
            guard (240...2_400).contains(interval) else {
                throw FormatError(description: "line \(index + 1): rr_ms \(interval) is outside 240…2400 (25…250 bpm)")
            }
            if let previous = beats.last, time <= previous.timeMs {
                throw FormatError(description: "line \(index + 1): t_ms \(time) does not come after \(previous.timeMs)")
            }
            guard time >= 0 else { throw FormatError(description: "line \(index + 1): t_ms cannot be negative") }
            beats.append(Beat(timeMs: time, intervalMs: interval))
        }
        guard beats.count >= 2, beats.last!.timeMs > 0 else {
            throw FormatError(description: "the trace needs at least two beats")
        }
        self.beats = beats
    }
}

extension HeartRateTrace {
    /// How many beats happen at or before `timeMs` (binary search).
    func count(upTo timeMs: Int64) -> Int {
        var low = 0
        var high = beats.count
        while low < high {
            let mid = (low + high) / 2
            if beats[mid].timeMs <= timeMs { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

/// Plays a `HeartRateTrace` back as one device's readings: from `startMs` on, wall time `t` reads the trace at
/// `(t − startMs + shiftMs) mod duration`, so riders given different shifts are not in lockstep.
public struct TraceReplay: Sendable, Equatable {
    public let trace: HeartRateTrace
    public let startMs: Int64
    public let shiftMs: Int64
    /// The trace position of the previous reading (the beats after it are the next reading's).
    private var lastPositionMs: Int64?
    /// The newest beat read so far (index into `trace.beats`), for the bpm when a reading has no new beat.
    private var lastBeat: Int

    /// A replay starting at wall time `startMs`, `shiftMs` into the trace (any value; taken modulo its length).
    public init(trace: HeartRateTrace, startMs: Int64, shiftMs: Int64) {
        self.trace = trace
        self.startMs = startMs
        self.shiftMs = ((shiftMs % trace.durationMs) + trace.durationMs) % trace.durationMs
        self.lastBeat = 0
    }

    /// The reading at wall time `timeMs` (not earlier than the previous one): the heart rate of the newest beats
    /// (60,000 / their mean interval, over the beats since the previous reading, or the last beat when none
    /// came) and the intervals of those beats in order, ms.
    public mutating func reading(at timeMs: Int64) -> (bpm: Double, intervalsMs: [Int64]) {
        let duration = trace.durationMs
        let position = ((max(0, timeMs - startMs) + shiftMs) % duration + duration) % duration
        var intervals: [Int64] = []
        if let last = lastPositionMs {
            // Beats in (last, position], wrapping around the end of the trace.
            let ranges =
                last <= position
                ? [trace.count(upTo: last)..<trace.count(upTo: position)]
                : [trace.count(upTo: last)..<trace.beats.count, 0..<trace.count(upTo: position)]
            for range in ranges {
                intervals += trace.beats[range].map(\.intervalMs)
                if let newest = range.last { lastBeat = newest }
            }
        } else {
            lastBeat = max(0, trace.count(upTo: position) - 1)
        }
        lastPositionMs = position
        let recent = intervals.isEmpty ? [trace.beats[lastBeat].intervalMs] : intervals
        let mean = Double(recent.reduce(0, +)) / Double(recent.count)
        return (60_000 / mean, intervals)
    }
}
