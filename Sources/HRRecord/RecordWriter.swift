import HRProtocol

/// The writer thread's side of `SQLiteRecordStore`: takes batches off the queue, commits each in one transaction,
/// completes them in order, and retries with backoff while commits fail.
///
/// `@unchecked Sendable`: it is handed to the writer thread once, at start, and used only there afterwards
/// (`connection` and `statements` are that thread's alone).
final class RecordWriter: @unchecked Sendable {
    private let path: String
    private let sync: SyncMode
    private let queue: WriteQueue
    private let status: RecordStoreStatus
    private let checkpointer: RecordCheckpointer
    /// The open connection and its statements; nil after a failure, reopened by the next attempt.
    private var statements: WriterStatements?

    init(
        connection: SQLiteConnection, path: String, sync: SyncMode, queue: WriteQueue,
        status: RecordStoreStatus, checkpointer: RecordCheckpointer
    ) throws(SQLiteError) {
        self.path = path
        self.sync = sync
        self.queue = queue
        self.status = status
        self.checkpointer = checkpointer
        statements = try WriterStatements(connection)
    }

    /// The writer thread's body: runs until the queue is closed and drained (or given up on).
    func run() {
        while let batch = queue.takeBatch() {
            guard commitWithRetry(batch) else {
                finish(batch + queue.takeAll(), with: .closed)
                break
            }
        }
        statements = nil
    }

    /// Commits `batch`, retrying with backoff (100 ms doubling to 2 s) until it succeeds (true) or the store is
    /// closing and its deadline has passed (false: the batch is not completed).
    private func commitWithRetry(_ batch: [WriteOperation]) -> Bool {
        var backoff = Duration.milliseconds(100)
        while true {
            do {
                let outcome = try commit(batch)
                let samples = batch.reduce(0) { $0 + $1.sampleCount }
                status.committed(new: outcome.new, duplicates: outcome.duplicates)
                checkpointer.committed(samples: samples)
                queue.completed(samples: samples)
                outcome.complete()
                return true
            } catch {
                statements?.rollback()
                // A fresh connection for the next attempt: after an I/O error or a removed file the old one is
                // not worth trusting.
                statements = nil
                status.failed(reason: error.reason)
            }
            if queue.pauseBeforeRetry(until: .now + backoff) { return false }
            backoff = min(backoff * 2, .seconds(2))
        }
    }

    /// One transaction for the whole batch.
    private func commit(_ batch: [WriteOperation]) throws(WriterFailure) -> BatchOutcome {
        let statements = try openStatements()
        do {
            if statements.connection.fileHasMoved() {
                throw WriterFailure(reason: "\(path): the file was removed or renamed")
            }
            try statements.begin()
            var outcome = BatchOutcome()
            var newestRTS: [String: Int64] = [:]
            for operation in batch {
                switch operation {
                case .append(let samples, let completion):
                    var results: [Bool] = []
                    results.reserveCapacity(samples.count)
                    for sample in samples {
                        let isNew = try statements.insert(sample)
                        results.append(isNew)
                        if isNew {
                            outcome.new += 1
                            newestRTS[sample.classID] = max(newestRTS[sample.classID] ?? .min, sample.rts)
                        } else {
                            outcome.duplicates += 1
                        }
                    }
                    outcome.completions.append { completion(.success(results)) }
                case .profile(let profile):
                    try statements.upsert(profile)
                case .deleteClasses(let cutoff, let completion):
                    try statements.touch(newestRTS)
                    newestRTS = [:]
                    let deleted = try statements.deleteClasses(before: cutoff)
                    outcome.completions.append { completion(deleted) }
                }
            }
            try statements.touch(newestRTS)
            try statements.commit()
            return outcome
        } catch let error as SQLiteError {
            throw WriterFailure(reason: "\(path): \(error.message)")
        } catch let error as WriterFailure {
            throw error
        } catch {
            throw WriterFailure(reason: "\(path): \(error)")
        }
    }

    private func openStatements() throws(WriterFailure) -> WriterStatements {
        if let statements { return statements }
        do {
            let connection = try RecordDatabase.openWriter(path: path, sync: sync)
            let opened = try WriterStatements(connection)
            statements = opened
            return opened
        } catch let error as RecordStoreError {
            if case .cannotOpen(let message) = error { throw WriterFailure(reason: message) }
            throw WriterFailure(reason: "\(path): \(error)")
        } catch {
            throw WriterFailure(reason: "\(path): \(error)")
        }
    }

    private func finish(_ operations: [WriteOperation], with error: RecordStoreError) {
        queue.completed(samples: operations.reduce(0) { $0 + $1.sampleCount })
        for operation in operations { operation.fail(error) }
    }
}

/// Why a commit attempt failed, as reported in `RecordStoreHealth.unavailable`.
struct WriterFailure: Error {
    var reason: String
}

/// What a committed batch did, and the completions to call, in append order.
struct BatchOutcome {
    var new = 0
    var duplicates = 0
    var completions: [() -> Void] = []

    func complete() {
        for completion in completions { completion() }
    }
}
