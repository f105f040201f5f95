import HRProtocol

/// What the relay asks the class record synchronously (point reads only): once per participant it starts to
/// remember, the seqs already recorded at the top of the participant's stream (to seed its duplicate window and
/// `welcome.last_seq` after a restart) and the recorded profile (so zones keep their hrmax); once per class it makes,
/// whether the class has a record. Whole-class reads run off the relay's thread (`Relay.takeStandingsRebuilds`).
/// The hub adapts its `RecordStore`; tests use a dictionary. A seqs lookup that fails answers "nothing recorded":
/// the store still refuses to record a key twice, so a wrong answer costs a duplicate noticed at commit, never a
/// double count.
public protocol RecordIndex: AnyObject {
    /// The highest recorded seqs of `participant` in `classID`, highest first, at most `limit`; and its profile.
    func recorded(classID: String, participant: String, limit: Int) -> (seqs: [UInt32], profile: Profile?)

    /// Whether any sample of `classID` is committed (a point read). The relay asks once when it makes a class's room:
    /// a class with a record gets its standings rebuilt from it off the relay's thread (`takeStandingsRebuilds`);
    /// one without starts empty. A lookup that fails should answer true (a rebuild that reads nothing is harmless).
    func hasRecord(classID: String) -> Bool
}

/// Accepted samples (and profile updates) the relay wants written, in order. The hub hands them to its
/// `RecordStore` and reports the outcome with `Relay.recordCommitted(_:inserted:now:)`, batches in the order
/// they were taken.
public struct RecordBatch: Sendable {
    /// Identifies the batch in `recordCommitted`.
    public let id: UInt64
    /// Samples to append, in acceptance order.
    public var samples: [RecordedSample]
    /// Profile updates (`hello`) since the previous batch.
    public var profiles: [RecordedProfile]

    /// A batch as the relay takes it (public for tests that drive a store without a relay).
    public init(id: UInt64, samples: [RecordedSample], profiles: [RecordedProfile] = []) {
        self.id = id
        self.samples = samples
        self.profiles = profiles
    }
}

/// An offline upload (`POST …/samples`) waiting for its commit; the hub answers the HTTP request when the relay
/// reports `.uploadCommitted`.
public struct UploadID: Hashable, Sendable {
    public let rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
}
