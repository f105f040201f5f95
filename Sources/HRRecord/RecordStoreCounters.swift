/// What a store has done so far, for metrics. A snapshot: read it as often as needed.
public struct RecordStoreCounters: Sendable, Equatable {
    /// Samples newly written by successful commits.
    public var committedSamples: Int = 0
    /// Samples whose key was already recorded (reported `false`, not written again).
    public var duplicates: Int = 0
    /// Successful commits (transactions).
    public var commitBatches: Int = 0
    /// Commit attempts that failed and were rolled back (each is retried).
    public var failedCommits: Int = 0
    /// Samples appended and not completed yet (queued or in a commit being attempted).
    public var pendingSamples: Int = 0

    /// All zero.
    public init() {}
}
