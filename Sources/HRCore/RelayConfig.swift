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
    /// The class tick, ms (0: off). Every class releases what is due on this grid of the hub clock (multiples of
    /// `tickMs` since the epoch, so every hub of a cluster ticks alike): a sample due at `t` goes out on the first
    /// tick at or after `t` (and after its arrival), or on the last tick that keeps it within the budget when that
    /// one is earlier. On a tick each viewer of the class gets one frame with everything due for it, built once per
    /// wire format and mode and shared by every viewer with nothing else pending. Presence and boards wait for
    /// the tick too; replies to one connection (welcome, snapshot, pong, errors, acks) go out at once.
    /// Off: every sample goes out when it is due.
    public var tickMs: Int64 = 100
    /// Bytes reserved before every frame's payload for the transport's frame header (`FrameBuffer.headroom`).
    public var frameHeadroom: Int = 0
    /// Points per minute in zones 1...5 (`--zone-points`), for the standings.
    public var zonePoints = ZonePoints.standard
    /// A connection is sent at most one `board` per this many ms (`--board-interval-ms`).
    public var boardIntervalMs: Int64 = 1_000
    /// Board connections one class's board tick serves at most; a class with more is served in turns, its ticks
    /// `boardIntervalMs` / turns apart (a tick's cost stays ≤ 5 ms at 20,000 participants: bench/RESULTS.md).
    public var boardConnectionsPerTick = 2_000

    public init() {}

    /// The jitter buffer's settings: on or off, its delay capped at half the budget, releases on the tick grid.
    var jitterSettings: JitterBuffer.Settings {
        JitterBuffer.Settings(enabled: jitterBuffer, maxDelayMs: budgetMs / 2, tickMs: tickMs, budgetMs: budgetMs)
    }
}
