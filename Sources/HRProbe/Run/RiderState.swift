import HRProbeCore
import HRSimulation

/// One simulated rider: the device that makes its samples (in publishing roles), its schedule, and what the
/// probe remembers about its recent samples (when each was written, which viewers have had it).
struct RiderState {
    /// How many recent write times and fan-out slots are kept (by seq modulo this).
    static let ringSize = 128
    /// How many recently written samples are kept for a resend after a reconnect.
    static let resendDepth = 16

    let classIndex: Int
    let indexInClass: Int
    /// Its publishing connection in this process, if any.
    var connection: Int?
    var device: DeviceSimulator?
    /// Its schedule: sample k is due at `originUs + schedule.offsetUs(k)`, Unix µs (the intended send time; `ts`
    /// is that time in whole ms). The first is `firstIndex` (later than 0 when a ramp starts the rider late), the
    /// next `nextIndex`.
    var originUs: Int64 = 0
    var firstIndex: Int64 = 0
    var nextIndex: Int64 = 0
    /// The seq of its first sample (the one of `firstIndex`; seqs then go up by one per schedule slot, sent or
    /// buffered while disconnected).
    var firstSeq: UInt32 = 0
    /// Its first seq inside the measured window (what the accounting counts from), once known.
    var measuredFrom: UInt32?
    /// The newest seq written to the hub, and the newest any viewer of this process saw.
    var lastWrittenSeq: UInt32?
    var lastObservedSeq: UInt32?
    /// Sending has started (the ramp let it in) and not yet stopped.
    var sending = false

    /// Write time (µs) of recent seqs: `writtenSeq[i]` says which seq `writtenUs[i]` belongs to.
    var writtenSeq: [UInt32]
    var writtenUs: [Int64]
    /// Fan-out of recent seqs: how many normal viewers still owe it (-1: one got a gap instead), the latest
    /// delivery, and its intended send time.
    var fanSeq: [UInt32]
    var fanRemaining: [Int32]
    var fanLatestUs: [Int64]
    var fanIntendedUs: [Int64]
    /// Recently written samples (for a resend) and samples made while disconnected (an offline buffer).
    var recent: [OutboundFrame] = []
    var backlog: [OutboundFrame] = []
    /// With `--device-model firmware`: the device's buffer and decisions (then `recent` and `backlog` stay empty).
    var firmware: DeviceModel?
    /// Samples captured over the run, and in the measured window.
    var captured = 0
    var capturedInWindow = 0

    init(classIndex: Int, indexInClass: Int) {
        self.classIndex = classIndex
        self.indexInClass = indexInClass
        writtenSeq = Array(repeating: 0, count: Self.ringSize)
        writtenUs = Array(repeating: -1, count: Self.ringSize)
        fanSeq = Array(repeating: 0, count: Self.ringSize)
        fanRemaining = Array(repeating: -2, count: Self.ringSize)
        fanLatestUs = Array(repeating: 0, count: Self.ringSize)
        fanIntendedUs = Array(repeating: 0, count: Self.ringSize)
    }

    /// Notes that `seq` was written at `us`.
    mutating func noteWritten(seq: UInt32, us: Int64) {
        let slot = Int(seq % UInt32(Self.ringSize))
        writtenSeq[slot] = seq
        writtenUs[slot] = us
        if lastWrittenSeq.map({ Self.isAfter(seq, $0) }) ?? true { lastWrittenSeq = seq }
    }

    /// When `seq` was written, if still remembered.
    func writtenAt(seq: UInt32) -> Int64? {
        let slot = Int(seq % UInt32(Self.ringSize))
        return writtenSeq[slot] == seq && writtenUs[slot] >= 0 ? writtenUs[slot] : nil
    }

    /// A normal viewer had `seq` at `us`; returns the fan-out lag (µs) when it was the last viewer owing it.
    /// `viewers` is how many normal viewers of the class are connected.
    mutating func fanOutDelivered(seq: UInt32, intendedUs: Int64, us: Int64, viewers: Int) -> Int64? {
        let slot = Int(seq % UInt32(Self.ringSize))
        if fanSeq[slot] != seq || fanRemaining[slot] == -2 {
            fanSeq[slot] = seq
            fanRemaining[slot] = Int32(viewers)
            fanLatestUs[slot] = us
            fanIntendedUs[slot] = intendedUs
        }
        guard fanRemaining[slot] > 0 else { return nil }
        fanRemaining[slot] -= 1
        fanLatestUs[slot] = max(fanLatestUs[slot], us)
        return fanRemaining[slot] == 0 ? fanLatestUs[slot] - fanIntendedUs[slot] : nil
    }

    /// A normal viewer got a gap for `seq`: the class never completes it.
    mutating func fanOutMissed(seq: UInt32) {
        let slot = Int(seq % UInt32(Self.ringSize))
        fanSeq[slot] = seq
        fanRemaining[slot] = -1
    }

    /// When sample k is due, Unix µs.
    func dueUs(index k: Int64, _ schedule: SampleSchedule) -> Int64 {
        originUs + schedule.offsetUs(k)
    }

    /// When the sample with `seq` was due, Unix µs, to the µs (its `ts` has whole ms); nil before the rider's
    /// schedule started or for a seq before its first.
    func dueUs(seq: UInt32, _ schedule: SampleSchedule) -> Int64? {
        guard device != nil else { return nil }
        let k = Int64(Int32(bitPattern: seq &- firstSeq))
        guard k >= 0 else { return nil }
        return dueUs(index: firstIndex + k, schedule)
    }

    /// Serial-number order (RFC 1982): whether `a` comes after `b`.
    static func isAfter(_ a: UInt32, _ b: UInt32) -> Bool {
        Int32(bitPattern: a &- b) > 0
    }

    /// Whether `seq` counts in the measured window.
    func isMeasured(_ seq: UInt32) -> Bool {
        guard let measuredFrom else { return false }
        return Int32(bitPattern: seq &- measuredFrom) >= 0
    }
}
