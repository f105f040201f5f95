import Foundation
import HRProtocol
import Synchronization

/// The embedded class record: one SQLite file, `<dataDir>/record.sqlite3`, in WAL mode, written by a thread of its
/// own with group commit: everything queued, up to `maxBatchSamples`, in one transaction; a trickle waits up to
/// `maxCommitDelay` after its first sample to share a transaction.
///
/// Over SQLite's C API through a thin system-library target (CSQLite) rather than GRDB: the store needs a handful
/// of statements, its own writer thread and exact control of transactions and pragmas, which is less code and
/// fewer moving parts than a database toolkit with its own queues and pools.
///
/// - Appends return at once; the writer completes them in append order after their commit (or at once: an append
///   that would take the pending samples beyond `maxPending` gets `.overloaded`, one after `close` `.closed`, both
///   on the caller's thread).
/// - A failing commit (disk full, I/O error, file removed) is rolled back and retried with backoff, 100 ms doubling
///   to 2 s, on a fresh connection, keeping the batch and everything queued behind it; `health` turns
///   `.unavailable` and back to `.available` with the first commit that succeeds, each change reported to
///   `onHealthChange` (on the writer thread).
/// - WAL checkpoints run on a thread of their own (`RecordCheckpointer`), so commits never wait for one.
/// - Point reads use a read-only connection of their own behind a lock; each cursor opens another. WAL lets them
///   read while the writer commits.
public final class SQLiteRecordStore: RecordStore {
    /// The record's file.
    public let path: String
    /// `PRAGMA synchronous` as SQLite reports it on the writer's connection after opening (1 NORMAL, 2 FULL).
    public let synchronousPragma: Int64
    /// `PRAGMA journal_mode` as SQLite reports it on the writer's connection after opening ("wal").
    public let journalMode: String

    private let queue: WriteQueue
    private let status: RecordStoreStatus
    private let reader: Mutex<RecordReader?>
    private let checkpointer: RecordCheckpointer
    /// Signalled once by the writer thread when it has finished.
    private let writerDone = DispatchSemaphore(value: 0)

    /// Opens (or creates) the record in `dataDirectory` and starts the writer thread.
    /// Throws `.cannotOpen("<path>: <reason>")` for a directory that cannot be created, a file that is not an
    /// HRHub record (another `application_id`, not SQLite at all, corrupt header) or of a newer or unknown schema.
    ///
    /// - Parameters:
    ///   - dataDirectory: where `record.sqlite3` lives (`--data-dir`); created if missing.
    ///   - sync: how durable a commit is before its completion (`--sync`).
    ///   - maxPending: samples appended and not yet completed beyond which an append is refused (`.overloaded`).
    ///   - maxBatchSamples: samples per transaction at most (whole appends: a larger append is one transaction).
    ///   - maxCommitDelay: how long a trickle's first sample may wait for company before its commit starts.
    ///   - onHealthChange: called on the writer thread each time `health` changes (the hub logs and publishes it).
    public init(
        dataDirectory: String,
        sync: SyncMode = .normal,
        maxPending: Int = 1_000_000,
        maxBatchSamples: Int = 4096,
        maxCommitDelay: Duration = .milliseconds(2),
        onHealthChange: @escaping @Sendable (RecordStoreHealth) -> Void = { _ in }
    ) throws(RecordStoreError) {
        path = (dataDirectory as NSString).appendingPathComponent(RecordDatabase.fileName)
        let connection = try RecordDatabase.openWriter(path: path, sync: sync)
        do {
            synchronousPragma = try connection.integer("PRAGMA synchronous") ?? -1
            journalMode = try connection.texts("PRAGMA journal_mode").first ?? ""
        } catch {
            throw .cannotOpen("\(path): \(error.message)")
        }
        reader = Mutex(try RecordReader(path: path))
        let checkpointer = RecordCheckpointer(path: path)
        self.checkpointer = checkpointer
        queue = WriteQueue(maxPending: maxPending, maxBatchSamples: maxBatchSamples, maxDelay: maxCommitDelay)
        status = RecordStoreStatus(onHealthChange: onHealthChange)
        let writer: RecordWriter
        do {
            writer = try RecordWriter(
                connection: connection, path: path, sync: sync, queue: queue, status: status,
                checkpointer: checkpointer)
        } catch {
            checkpointer.stop()
            throw .cannotOpen("\(path): \(error.message)")
        }
        let done = writerDone
        let thread = Thread {
            writer.run()
            done.signal()
        }
        thread.name = "hrhub.record"
        thread.start()
    }

    deinit {
        // Without `close`, the writer still commits what is queued, then ends by itself.
        _ = queue.close(deadline: .now)
        checkpointer.stop()
    }

    public func append(_ samples: [RecordedSample], completion: @escaping @Sendable (AppendResult) -> Void) {
        do {
            try queue.push(.append(samples, completion))
        } catch {
            completion(.failure(error == .overloaded ? .overloaded : .closed))
        }
    }

    public func appendProfile(_ profile: RecordedProfile) {
        try? queue.push(.profile(profile))
    }

    public func deleteClasses(receivedBefore cutoffMs: Int64, completion: @escaping @Sendable (Int) -> Void) {
        do {
            try queue.push(.deleteClasses(before: cutoffMs, completion))
        } catch {
            completion(0)
        }
    }

    public func recentSeqs(classID: String, participant: String, limit: Int) throws(RecordStoreError) -> [UInt32] {
        try reader.withLock { reader throws(RecordStoreError) in
            guard let reader else { throw closedForReads }
            return try reader.recentSeqs(classID: classID, participant: participant, limit: limit)
        }
    }

    public func hasRecord(classID: String) throws(RecordStoreError) -> Bool {
        try reader.withLock { reader throws(RecordStoreError) in
            guard let reader else { throw closedForReads }
            return try reader.hasRecord(classID: classID)
        }
    }

    public func profiles(classID: String) throws(RecordStoreError) -> [RecordedProfile] {
        try reader.withLock { reader throws(RecordStoreError) in
            guard let reader else { throw closedForReads }
            return try reader.profiles(classID: classID)
        }
    }

    public func classIDs() throws(RecordStoreError) -> [String] {
        try reader.withLock { reader throws(RecordStoreError) in
            guard let reader else { throw closedForReads }
            return try reader.classIDs()
        }
    }

    public func profile(classID: String, participant: String) throws(RecordStoreError) -> RecordedProfile? {
        try reader.withLock { reader throws(RecordStoreError) in
            guard let reader else { throw closedForReads }
            return try reader.profile(classID: classID, participant: participant).map {
                RecordedProfile(classID: classID, participant: participant, profile: $0)
            }
        }
    }

    public func read(classID: String, participant: String?) throws(RecordStoreError) -> any RecordCursor {
        try SQLiteRecordCursor(path: path, classID: classID, participant: participant)
    }

    public var health: RecordStoreHealth { status.health }

    /// What the store has done so far (thread-safe; for metrics).
    public var counters: RecordStoreCounters {
        var counters = status.counters
        counters.pendingSamples = queue.pendingSamples
        return counters
    }

    /// Commits what is queued (retrying a failing commit until `timeoutMs` has passed; what is still uncommitted
    /// then completes with `.closed`), waits for the writer thread to end, and closes the connections. Must not be
    /// called from a completion (that runs on the writer thread, which `close` waits for). A second call returns
    /// at once.
    public func close(timeoutMs: Int) {
        // Readers and the checkpointer first, before the writer may end: the writer's connection, closed last, then
        // checkpoints the WAL into the file and removes it (SQLite does so only when no other connection is open).
        reader.withLock { $0 = nil }
        checkpointer.stop()
        guard queue.close(deadline: .now + .milliseconds(max(0, timeoutMs))) else { return }
        writerDone.wait()
    }

    private var closedForReads: RecordStoreError { .readFailed("\(path): the store is closed") }
}
