/// One accepted sample as the class record keeps it (docs/PROTOCOL.md, "The class record"): what the device sent,
/// when the hub received it, and the zone it earned when it was accepted (fixed then, with the hrmax known then,
/// so standings recomputed from the record after a restart agree with the live ones).
///
/// Key: (`classID`, `participant`, `sample.seq`), stored at most once, ever.
public struct RecordedSample: Sendable, Equatable {
    /// The class the sample was published into.
    public var classID: String
    /// The participant whose device captured it.
    public var participant: String
    /// The reading itself: seq, ts (device clock), bpm, rr, contact, ee.
    public var sample: Sample
    /// Hub receive time, Unix ms (`rts` on the wire).
    public var rts: Int64
    /// The zone (1...5) the sample had when it was accepted; nil without a known hrmax or with bpm 0.
    public var zone: UInt8?

    /// Creates a record row. Values are taken as given.
    public init(classID: String, participant: String, sample: Sample, rts: Int64, zone: UInt8? = nil) {
        self.classID = classID
        self.participant = participant
        self.sample = sample
        self.rts = rts
        self.zone = zone
    }
}

/// A rider's profile as the record keeps it, per class: the newest `hello` seen for that participant.
public struct RecordedProfile: Sendable, Equatable {
    public var classID: String
    public var participant: String
    public var profile: Profile

    public init(classID: String, participant: String, profile: Profile) {
        self.classID = classID
        self.participant = participant
        self.profile = profile
    }
}
