import HRProtocol

/// One rider in a class and the state of their device's stream. Outlives the device's connections, so
/// `last_seq` and duplicate detection survive reconnects for as long as the class is remembered.
final class Participant {
    let id: String
    var profile = Profile()
    /// Seqs accepted so far (duplicate detection and `welcome.last_seq`).
    var accepted = SeqWindow()
    /// Seqs this hub relayed live, from its own devices or from other hubs (cluster mode: what comes in from NATS is
    /// dropped when already here). Not seeded from the record: in a cluster the record holds samples of other hubs
    /// that this hub's viewers have not been sent yet.
    var relayed = SeqWindow()
    /// Highest seq released to viewers; an accepted seq at or below it arrived too late to relay.
    var releasedHighest: UInt32?
    /// The newest relayed sample, for snapshots.
    var last: RelayedSample?
    /// Hub time of the last sample, or of the connection when none came since.
    var lastActivityMs: Int64 = 0
    /// Whether viewers were told `stale` and not yet `live`.
    var stale = false
    /// The device's connection; nil while the participant is away.
    var connection: Client?
    /// The other hubs that announce this participant present (cluster mode, Relay+Remote.swift).
    var remoteHubs: Set<String> = []
    /// When the current connection opened (hub time): across hubs, the newer connection takes over.
    var connectedSinceMs: Int64 = 0
    var clock = ClockOffsetEstimator()
    var bucket: TokenBucket
    var jitter: JitterBuffer
    /// The release time of this participant's entry in the relay's wake-up heap, if it has one pending.
    var scheduledWakeMs: Int64?
    /// Whether `accepted` and the profile were read from the record (`Relay.seed`). Riders this hub knows only from
    /// other hubs (cluster mode) are not, until a device of theirs connects or uploads here: a class of thousands
    /// announced at once would otherwise cost as many record reads.
    var seeded = false
    /// Connections of this rider waiting for its record read (Relay+Admission.swift), in the order they opened.
    var waiting: [PendingOpen] = []

    init(id: String, maxSampleRate: Double, jitter: JitterBuffer.Settings) {
        self.id = id
        self.jitter = JitterBuffer(settings: jitter)
        // The bucket holds a minute's worth so a device can replay its offline buffer at once.
        bucket = TokenBucket(rate: maxSampleRate, capacity: maxSampleRate * 60)
    }

    /// Connected here, or announced present by another hub of the cluster.
    var isPresent: Bool { connection != nil || !remoteHubs.isEmpty }

    /// Applies a `hello`: fields present replace the old ones, absent fields are kept.
    func update(with hello: Profile) {
        if let name = hello.name { profile.name = name }
        if let hrmax = hello.hrmax { profile.hrmax = hrmax }
        if let hrrest = hello.hrrest { profile.hrrest = hrrest }
    }

    var snapshotEntry: SnapshotEntry { SnapshotEntry(p: id, profile: profile, last: last) }
}
