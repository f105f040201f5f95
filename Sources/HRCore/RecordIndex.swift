import HRProtocol

/// What the relay asks the class record synchronously, once per participant it starts to remember: the seqs
/// already recorded at the top of the participant's stream (to seed its duplicate window and `welcome.last_seq`
/// after a restart) and the recorded profile (so zones keep their hrmax). The hub adapts its `RecordStore`;
/// tests use a dictionary. A lookup that fails answers "nothing recorded": the store still refuses to record a
/// key twice, so a wrong answer costs a duplicate noticed at commit, never a double count.
public protocol RecordIndex: AnyObject {
    /// The highest recorded seqs of `participant` in `classID`, highest first, at most `limit`; and its profile.
    func recorded(classID: String, participant: String, limit: Int) -> (seqs: [UInt32], profile: Profile?)

    /// Every committed sample of `classID`, in any order, handed to `body` one at a time (so the class need not sit
    /// in memory whole). The relay calls it once when it makes a class's room, to rebuild its standings: a read
    /// of the class's whole record, O(samples recorded in the class), on the relay's thread: measured 0.23 µs per
    /// row with the SQLite store (release build, 1,000,000 rows in 225 ms), so a 50-rider hour (180,000 rows) costs
    /// about 40 ms and a 20,000-rider hour (72 million rows) about 17 s during which the hub serves nothing else.
    /// A read that fails stops early; the standings then miss what was not read until the class is made again.
    func forEachRecorded(classID: String, _ body: (RecordedSample) -> Void)
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
}

/// An offline upload (`POST …/samples`) waiting for its commit; the hub answers the HTTP request when the relay
/// reports `.uploadCommitted`.
public struct UploadID: Hashable, Sendable {
    public let rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
}
