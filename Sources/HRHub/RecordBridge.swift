import HRCore
import HRProtocol
import HRRecord
import Logging
import Synchronization

/// Joins the relay's record side to a `RecordStore`: hands each `RecordBatch` to the store, and brings the
/// store's completions (which come on the store's thread) back to the service thread in one posted job per
/// burst, where `Hub` reports them to the relay. Also answers the relay's synchronous lookups (`RecordIndex`).
///
/// Threading: `submit`, `takeCompleted`, `recorded` and `hasRecord` run on the service thread, `forEachRecorded` on
/// the standings reader's; the store's completion handler runs on the store's thread and touches only `completed`
/// (under its mutex) and `wake`.
final class RecordBridge: RecordIndex, Sendable {
    let store: any RecordStore
    private let logger: Logger
    /// Batches the store has finished and the relay has not heard of yet, in completion order.
    private let completed = Mutex<[(id: UInt64, inserted: [Bool]?)]>([])
    /// Posts a job to the service thread that reports completions (`whenCompleted`, set before the first batch).
    /// In a struct, not as a bare closure: a generic container holding a function type (`Mutex<(() -> Void)?>`)
    /// makes every `withLock` re-wrap the stored closure in two reabstraction thunks on write-back, so a closure
    /// read once per commit grew into a chain of hundreds of thousands of thunks and each call walked it all.
    private let wake = Mutex<WakeAction?>(nil)

    init(store: any RecordStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// What to call (on the store's thread) when completions are waiting: it should post a job to the service
    /// thread that calls `takeCompleted`.
    func whenCompleted(_ action: @escaping @Sendable () -> Void) {
        wake.withLock { $0 = WakeAction(call: action) }
    }

    /// Hands a batch to the store. Service thread; returns at once.
    func submit(_ batch: RecordBatch) {
        for profile in batch.profiles { store.appendProfile(profile) }
        let id = batch.id
        store.append(batch.samples) { [self] result in
            let inserted: [Bool]?
            switch result {
            case .success(let flags): inserted = flags
            case .failure: inserted = nil
            }
            // One wake-up per burst: only the completion that finds the list empty posts the job.
            let first = completed.withLock { list in
                list.append((id, inserted))
                return list.count == 1
            }
            if first { wake.withLock { $0 }?.call() }
        }
    }

    /// Every completion not yet reported, in order. Service thread.
    func takeCompleted() -> [(id: UInt64, inserted: [Bool]?)] {
        completed.withLock { list in
            defer { list.removeAll(keepingCapacity: true) }
            return list
        }
    }

    func hasRecord(classID: String) -> Bool {
        do {
            return try store.hasRecord(classID: classID)
        } catch {
            // A rebuild that finds nothing is harmless; missing the record's samples would not be.
            logger.error("record lookup failed", metadata: ["class": "\(classID)", "error": "\(error)"])
            return true
        }
    }

    /// Reads the class's record through a cursor of its own, 4,096 rows at a time. Any thread (`StandingsRebuilder`).
    /// A read that fails stops early (logged): the standings then miss what was not read.
    func forEachRecorded(classID: String, _ body: (RecordedSample) -> Void) {
        do {
            let cursor = try store.read(classID: classID, participant: nil)
            while true {
                let rows = try cursor.next(max: 4_096)
                if rows.isEmpty { return }
                for row in rows { body(row) }
            }
        } catch {
            logger.error("record read for standings failed", metadata: ["class": "\(classID)", "error": "\(error)"])
        }
    }

    func recorded(classID: String, participant: String, limit: Int) -> (seqs: [UInt32], profile: Profile?) {
        do {
            let seqs = try store.recentSeqs(classID: classID, participant: participant, limit: limit)
            let profile = try store.profile(classID: classID, participant: participant)?.profile
            return (seqs, profile)
        } catch {
            // The store still refuses a second copy of a key at commit; this only costs a late duplicate error.
            logger.error("record lookup failed", metadata: ["class": "\(classID)", "error": "\(error)"])
            return ([], nil)
        }
    }
}

/// A closure kept in a struct, so a generic container stores it at its natural abstraction (see `wake`).
struct WakeAction: Sendable {
    let call: @Sendable () -> Void
}
