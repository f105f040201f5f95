import HRProtocol
import HRStandings

/// Everything the relay's behaviour depends on. Defaults are PROTOCOL.md's.
public struct RelayConfig: Sendable {
    /// Latency budget per class: a sample older than this when it would go into a frame is not sent live.
    public var budgetMs: Int64 = 800
    /// Bounds of each client's send queue.
    public var queueLimits = SendQueue.Limits()
    /// A queue that stays full this long closes its client with 4008.
    public var slowConsumerMs: Int64 = 10_000
    /// No sample for this long on an open socket marks a participant `stale`.
    public var staleAfterMs: Int64 = 3_000
    /// Token-bucket refill rate per participant, samples per second; the bucket holds 60 s worth.
    public var maxSampleRate: Double = 10
    /// A class with no connection left is forgotten after this long (with every participant's `last_seq`).
    public var classLingerMs: Int64 = 60_000
    /// Whether the per-participant jitter buffer paces releases; off releases samples on arrival.
    public var jitterBuffer: Bool = true
    /// Most classes at once: a connection that would create one more is closed with 4029.
    public var maxClasses: Int = 10_000
    /// Most participants a class remembers: a new one beyond is closed with 4029.
    public var maxParticipantsPerClass: Int = 20_000
    /// Errors (duplicates excepted) one connection may cause; the next closes it with 4029.
    public var maxErrors: Int = 100
    /// How often `tick` does its housekeeping (stale, slow consumers, class expiry).
    public var housekeepingMs: Int64 = 100
    /// Heart-rate zone boundaries (% of HRmax where zones 2…5 begin).
    public var zones = ZoneTable.standard
    /// A frame stops growing once it holds this many payload bytes; the rest goes in the next write, so
    /// little sits in the transport where drop-oldest and the budget cannot reach it.
    public var frameTargetBytes: Int = 16 * 1024
    /// Frames per second a connection is sent samples in, at most (0: no limit). Samples that come faster
    /// share frames: a screen redraws 60 times a second, and the kernel's cost is per frame, not per byte.
    /// Control messages (welcome, pong, errors, presence) are never held back.
    public var maxFrameRate: Double = 100
    /// Frames a connection may get in a row before `maxFrameRate` applies, so samples that happen to come
    /// close together at a normal rate are not delayed.
    public var frameBurst: Double = 8
    /// Points per minute in zones 1...5 (`--zone-points`), for the standings.
    public var zonePoints = ZonePoints.standard
    /// A connection is sent at most one `board` per this many ms (`--board-interval-ms`).
    public var boardIntervalMs: Int64 = 1_000
    /// Board connections one class's board tick serves at most; a class with more is served in turns, its ticks
    /// `boardIntervalMs` / turns apart (a tick's cost stays ≤ 5 ms at 20,000 participants: bench/RESULTS.md).
    public var boardConnectionsPerTick = 2_000

    public init() {}

    /// The jitter buffer's settings: on or off, its delay capped at half the budget.
    var jitterSettings: JitterBuffer.Settings {
        JitterBuffer.Settings(enabled: jitterBuffer, maxDelayMs: budgetMs / 2)
    }
}
