import HRProtocol

/// Why a store could not take or keep samples.
public enum RecordStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// More samples wait for a commit than the store holds (`maxPending`): the append was refused at once and
    /// nothing of it will be written. The device was not acked, so it still has them.
    case overloaded
    /// The store was closed before these samples could be committed.
    case closed
    /// Opening failed: the message names the file and the reason (foreign or corrupt file, unwritable directory).
    case cannotOpen(String)
    /// A read failed (the message says why).
    case readFailed(String)

    public var description: String {
        switch self {
        case .overloaded: "too many samples waiting for a commit"
        case .closed: "the record is closed"
        case .cannotOpen(let why): why
        case .readFailed(let why): "read failed: \(why)"
        }
    }
}

/// Whether the store is writing. Published to `/healthz` (503 `record unavailable`) and to metrics.
public enum RecordStoreHealth: Sendable, Equatable {
    case available
    /// Commits fail (disk full, directory gone, I/O error); the store keeps what it was given and retries.
    case unavailable(reason: String)
}

/// The result of one `append`: for each sample, in the order given, whether it was new to the record (`true`)
/// or its (class, participant, seq) was already recorded (`false`, a duplicate: nothing was written for it).
public typealias AppendResult = Result<[Bool], RecordStoreError>

/// A reader over recorded samples, sorted by participant (byte order of the id), then seq. Pull in chunks so
/// a 1.35-million-sample class never sits in memory whole. Not thread-safe: one reader, one thread at a time.
public protocol RecordCursor: AnyObject {
    /// Up to `max` next samples; empty when the cursor is exhausted.
    func next(max: Int) throws(RecordStoreError) -> [RecordedSample]
}

/// Where accepted samples go to be kept: the class record. The relay's core decides what to record and when a
/// device may be acked; a store only writes, reads and says when a write is durable.
///
/// Shape (so the embedded SQLite store and the cluster's JetStream store fit behind it):
/// - `append` returns at once and never waits for the disk or the network. Completions come later, on the
///   store's own thread, **in the order the appends were made**, once the samples are durable as configured.
///   Implementations group many appends into one commit (one transaction, one flush).
/// - While the store cannot write, it keeps what it was given (up to `maxPending` samples) and retries by
///   itself; completions wait, so acks stop but nothing accepted is forgotten while the process lives.
/// - Reads are synchronous and meant to be short (point reads, small ranges, cursors read in chunks).
public protocol RecordStore: AnyObject, Sendable {
    /// Hands samples to the store in order. Each (class, participant, seq) is recorded at most once, ever:
    /// a key already in the record is reported `false` and not written again. `completion` is called exactly
    /// once, on the store's thread; an append refused outright (`.overloaded`, `.closed`) may be completed at
    /// once, on the caller's thread, before appends queued earlier have completed.
    func append(_ samples: [RecordedSample], completion: @escaping @Sendable (AppendResult) -> Void)

    /// Records a participant's profile (the newest wins), ordered with the samples appended around it.
    func appendProfile(_ profile: RecordedProfile)

    /// The highest seqs recorded for a participant, highest first, at most `limit` (the relay seeds its
    /// in-memory duplicate window from this). Empty when the participant has no record.
    func recentSeqs(classID: String, participant: String, limit: Int) throws(RecordStoreError) -> [UInt32]

    /// Whether any sample of the class is recorded (committed).
    func hasRecord(classID: String) throws(RecordStoreError) -> Bool

    /// A cursor over the class's committed samples (only `participant`'s when given), sorted by participant
    /// (byte order), then seq.
    func read(classID: String, participant: String?) throws(RecordStoreError) -> any RecordCursor

    /// Every recorded profile of the class, sorted by participant.
    func profiles(classID: String) throws(RecordStoreError) -> [RecordedProfile]

    /// One participant's recorded profile, or nil (a store that reads profiles one by one cheaply overrides it).
    func profile(classID: String, participant: String) throws(RecordStoreError) -> RecordedProfile?

    /// Every class with a recorded sample, sorted (byte order).
    func classIDs() throws(RecordStoreError) -> [String]

    /// Deletes every class whose newest sample was received before `cutoffMs` (hub time, Unix ms), in the
    /// background; `completion` gets how many classes went.
    func deleteClasses(receivedBefore cutoffMs: Int64, completion: @escaping @Sendable (Int) -> Void)

    /// Whether commits currently succeed.
    var health: RecordStoreHealth { get }

    /// What the store has done so far (commits, duplicates, failures, pending), for metrics.
    var counters: RecordStoreCounters { get }

    /// Commits what is pending (waiting at most `timeoutMs` for a failing store), then stops the store's
    /// thread. Appends after `close` complete with `.closed`.
    func close(timeoutMs: Int)
}

extension RecordStore {
    /// The participant's entry of `profiles(classID:)`.
    public func profile(classID: String, participant: String) throws(RecordStoreError) -> RecordedProfile? {
        try profiles(classID: classID).first { $0.participant == participant }
    }
}
