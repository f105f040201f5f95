/// One rider's samples from capture to the class record and to each viewer: every captured sample must be in the
/// record exactly once, and every viewer must have had it live or been told in a gap, never twice.
///
/// Captured samples are the seqs `firstSeq ..< firstSeq + captured` (a device numbers its samples by one whether or
/// not it is connected). The record's seqs are added one by one with `recorded(_:)` as the probe reads
/// `GET …/record`; viewers' fates come from their `StreamCounts`, which cover the measured window only.
public struct RiderLedger: Equatable, Codable, Sendable {
    /// One viewer's share of this rider (measured window).
    public struct ViewerShare: Equatable, Codable, Sendable {
        /// Samples it was owed: the rider's captures in the measured window.
        public var owed: Int
        public var delivered: Int
        /// Named in a gap (late, backpressure or conflated).
        public var gapped: Int
        /// Neither delivered nor named in a gap (`owed − delivered − gapped`; includes what was lost at a close or
        /// had not arrived when the run ended).
        public var unaccounted: Int
        /// Received twice, or delivered and gapped (counted twice).
        public var twice: Int

        /// A viewer's share from its stream counts.
        public init(owed: Int, counts: StreamCounts) {
            self.owed = owed
            delivered = counts.delivered
            gapped = counts.explained
            unaccounted = owed - delivered - gapped
            twice = counts.duplicates + counts.contradictions + counts.doubleGaps
        }
    }

    public var classID: String
    public var participant: String
    public var firstSeq: UInt32
    /// Samples the device captured over the whole run (warm-up included), and in the measured window.
    public var captured: Int
    public var capturedInWindow: Int
    /// Captured samples found in the record (each counted once), record rows of a seq already seen, and record rows
    /// with a seq the device never captured.
    public var recorded = 0
    public var recordDuplicates = 0
    public var recordForeign = 0
    /// Samples still in the device's buffer when the run ended (neither acked nor uploaded).
    public var stillBuffered: Int
    public var viewers: [ViewerShare] = []
    private var seen: [UInt64] = []

    /// A rider that captured `captured` samples from `firstSeq` (`capturedInWindow` of them in the measured window).
    public init(
        classID: String, participant: String, firstSeq: UInt32, captured: Int, capturedInWindow: Int,
        stillBuffered: Int
    ) {
        self.classID = classID
        self.participant = participant
        self.firstSeq = firstSeq
        self.captured = captured
        self.capturedInWindow = capturedInWindow
        self.stillBuffered = stillBuffered
        seen = Array(repeating: 0, count: (captured + 63) / 64)
    }

    /// One record row of this rider.
    public mutating func recorded(_ seq: UInt32) {
        let k = Int(Int64(seq &- firstSeq) & 0xFFFF_FFFF)
        guard k < captured else {
            recordForeign += 1
            return
        }
        let mask = UInt64(1) << UInt64(k % 64)
        if seen[k / 64] & mask != 0 {
            recordDuplicates += 1
        } else {
            seen[k / 64] |= mask
            recorded += 1
        }
    }

    /// Captured samples the record does not have.
    public var missing: Int { captured - recorded }

    /// What is wrong, one phrase each; empty when every sample is in the record exactly once and every viewer had
    /// each live or in a gap, once.
    public var problems: [String] {
        var out: [String] = []
        let who = "\(classID)/\(participant)"
        if missing > 0 { out.append("\(who): \(missing) of \(captured) captured samples not in the record") }
        if recordDuplicates > 0 { out.append("\(who): \(recordDuplicates) samples recorded twice") }
        if recordForeign > 0 { out.append("\(who): \(recordForeign) recorded samples the device never captured") }
        for (v, share) in viewers.enumerated() {
            if share.unaccounted != 0 {
                let n = "\(share.unaccounted) of \(share.owed)"
                out.append("\(who): viewer \(v) has \(n) samples neither delivered nor gapped")
            }
            if share.twice > 0 { out.append("\(who): viewer \(v) had \(share.twice) samples twice") }
        }
        return out
    }

    enum CodingKeys: String, CodingKey {
        case classID, participant, firstSeq, captured, capturedInWindow, recorded, recordDuplicates, recordForeign
        case stillBuffered, viewers
    }
}
