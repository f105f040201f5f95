import HRProtocol

/// Every outcome of every sample, counted in one place (the hub exports these as metrics).
public struct RelayCounters: Sendable, Equatable {
    /// Samples accepted from devices.
    public var received = 0
    /// Samples other hubs accepted, taken in here (cluster mode).
    public var remoteReceived = 0
    /// Samples from other hubs dropped as already seen here (same participant and seq).
    public var remoteDuplicates = 0
    /// Sample deliveries put into frames (one per sample per client).
    public var delivered = 0
    /// Client samples refused as duplicates (seq already accepted).
    public var duplicates = 0
    /// Client samples refused by the rate limit.
    public var rateLimited = 0
    /// Accepted samples never relayed because they came too late for everyone: after a higher seq was
    /// released, or already older than the budget when due.
    public var arrivedLate = 0
    /// Deliveries dropped by a full queue.
    public var droppedBackpressure = 0
    /// Deliveries dropped because the sample was older than the budget when its frame was built.
    public var droppedLate = 0
    /// Deliveries replaced by a newer sample in `latest` mode.
    public var droppedConflated = 0
    /// Client messages rejected with an `error` (any code).
    public var errors = 0
    /// Connections closed as slow consumers (4008).
    public var slowConsumerCloses = 0
    /// Connections replaced by a newer one for the same participant (4009).
    public var takeovers = 0
    /// Samples the record committed as new (live, backfill and upload).
    public var recorded = 0
    /// Samples the record already held when they were committed (counted once more nowhere else).
    public var recordDuplicates = 0
    /// Samples too old for the live path, new to the record: recorded and named late.
    public var backfilled = 0
    /// Samples the record refused (overloaded or closed): not recorded, never acked.
    public var recordFailed = 0
    /// `ack` messages sent.
    public var acks = 0
    /// Class board ticks run (one `BoardTick` built each).
    public var boardTicks = 0
    /// `board` messages queued (first boards included).
    public var boards = 0
    /// Class tick frames written as the shared bytes, and those copied behind a connection's own extras (a board,
    /// a gap) or before its pongs, in one frame with them. A connection with more pending gets the tick through its
    /// own queue instead.
    public var sharedFrames = 0
    public var sharedFramesWithExtras = 0
    /// Per delivered sample: hub residency, from arrival (`rts`) to being put into a frame.
    public var residency = LatencyHistogram()
    /// Per delivered sample: estimated age when put into a frame, `now − (ts + device clock offset)`: what
    /// the budget is checked against, the hub's best estimate of the end-to-end delay so far.
    public var age = LatencyHistogram()
    /// Per sample accepted on a socket and recorded: from its acceptance to its commit reaching the relay, when
    /// its `ack` is queued (unless an error still holds it back): the record's share of the device's wait.
    public var ackDelay = LatencyHistogram()

    public init() {}

    /// Adds the deliveries and drops of `other` (a shared frame's, once per viewer it is written to).
    mutating func addDeliveries(_ other: RelayCounters) {
        delivered += other.delivered
        droppedBackpressure += other.droppedBackpressure
        droppedLate += other.droppedLate
        droppedConflated += other.droppedConflated
        residency.add(other.residency)
        age.add(other.age)
    }

    mutating func record(drop reason: GapReason) {
        switch reason {
        case .backpressure: droppedBackpressure += 1
        case .late: droppedLate += 1
        case .conflated: droppedConflated += 1
        }
    }
}
