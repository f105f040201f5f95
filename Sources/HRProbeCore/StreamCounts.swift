/// What happened to the samples of one (viewer, participant) stream, or of many streams added up.
///
/// Counts of fates (`delivered`, the explained losses, `unexplained`, `lostAtClose`, `pendingAtEnd`) cover only samples in
/// the measured window; the anomaly counts (`duplicates`, `contradictions`, …) cover the whole run, since each is
/// a broken promise of the protocol whenever it happens.
public struct StreamCounts: Equatable, Codable {
    /// Samples received once, in or out of order.
    public var delivered = 0
    /// Samples named in a `gap` with reason `backpressure` (the viewer's queue overflowed).
    public var backpressure = 0
    /// Samples named in a `gap` with reason `late` (older than the budget).
    public var late = 0
    /// Samples named in a `gap` with reason `conflated` (replaced by a newer one in `mode=latest`).
    public var conflated = 0
    /// Samples neither delivered nor named in a gap while the viewer was connected: a hub bug.
    public var unexplained = 0
    /// Samples still unaccounted for when the viewer's connection closed (a `gap` may have been on its way).
    public var lostAtClose = 0
    /// Samples published that had neither arrived nor been named in a gap when the run ended, all newer than
    /// anything the viewer had heard of (late, or lost without a gap: the drain was too short to tell).
    public var pendingAtEnd = 0
    /// The same sample received again.
    public var duplicates = 0
    /// Samples received after a higher `seq` of the same participant.
    public var reordered = 0
    /// A sample received after a gap named it, or a gap naming a sample already received.
    public var contradictions = 0
    /// A sample named by two gaps.
    public var doubleGaps = 0
    /// Gaps whose `count` differs from the number of samples in their range that the probe published.
    public var gapCountMismatches = 0
    /// A sample that arrived so late it had left the accounting window (already counted as unexplained).
    public var outsideWindow = 0

    /// All zero.
    public init() {}

    /// Samples explained by a gap.
    public var explained: Int { backpressure + late + conflated }
    /// Samples the viewer was owed: delivered, explained or missing.
    public var expected: Int { delivered + explained + unexplained + lostAtClose + pendingAtEnd }
    /// Samples that never arrived, conflated ones excluded (conflation is `mode=latest` doing its job).
    public var lost: Int { backpressure + late + unexplained + lostAtClose + pendingAtEnd }
    /// Anomalies that break the protocol's delivery promises.
    public var violations: Int { unexplained + duplicates + contradictions + doubleGaps + outsideWindow }

    /// Adds `other` field by field.
    public mutating func add(_ other: StreamCounts) {
        delivered += other.delivered
        backpressure += other.backpressure
        late += other.late
        conflated += other.conflated
        unexplained += other.unexplained
        lostAtClose += other.lostAtClose
        pendingAtEnd += other.pendingAtEnd
        duplicates += other.duplicates
        reordered += other.reordered
        contradictions += other.contradictions
        doubleGaps += other.doubleGaps
        gapCountMismatches += other.gapCountMismatches
        outsideWindow += other.outsideWindow
    }
}
