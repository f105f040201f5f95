import DequeModule
import Foundation

/// The ordered queue between the threads that append and a store's writer thread. Appends go in at once (or are
/// refused at once: overloaded, closed); the writer takes everything queued, up to a batch size, in order.
///
/// Group commit: when the writer finds the queue freshly non-empty it waits up to `maxDelay` from the first
/// operation's arrival (or until a full batch is queued) before taking a batch, so a trickle of single samples
/// still shares transactions (and WAL pages, and syncs). Operations that queued up during a commit are taken at once.
///
/// `@unchecked Sendable`: every stored `var` is read and written only while `condition` is locked.
final class WriteQueue: @unchecked Sendable {
    /// Why `push` refused an operation.
    enum Refusal: Error { case overloaded, closed }

    private let condition = NSCondition()
    private var operations: Deque<WriteOperation> = []
    /// Samples pushed and not yet completed (queued plus the batch the writer holds).
    private var pending = 0
    /// Set once by `close`: when the writer must give up retrying (nil while open).
    private var closeDeadline: ContinuousClock.Instant?
    /// When the oldest queued operation arrived, if the queue was empty before it (nil: take without waiting).
    private var firstArrival: ContinuousClock.Instant?
    private let maxPending: Int
    private let maxBatchSamples: Int
    private let maxDelay: Duration

    init(maxPending: Int, maxBatchSamples: Int, maxDelay: Duration) {
        self.maxPending = maxPending
        self.maxBatchSamples = max(1, maxBatchSamples)
        self.maxDelay = maxDelay
    }

    /// Queues `operation`, unless the store is closing or its samples would take `pending` beyond `maxPending`.
    func push(_ operation: WriteOperation) throws(Refusal) {
        condition.lock()
        defer { condition.unlock() }
        guard closeDeadline == nil else { throw .closed }
        let count = operation.sampleCount
        guard count == 0 || pending + count <= maxPending else { throw .overloaded }
        pending += count
        if operations.isEmpty {
            firstArrival = .now
            condition.signal()
        } else if pending >= maxBatchSamples {
            condition.signal()
        }
        operations.append(operation)
    }

    /// The next batch, in queue order: whole operations, at least one, until `maxBatchSamples` samples are taken.
    /// Waits while the queue is empty, then for the group-commit delay; nil once it is empty and the store is
    /// closing. Called only while the writer holds no batch (so `pending` counts queued samples only).
    func takeBatch() -> [WriteOperation]? {
        condition.lock()
        defer { condition.unlock() }
        while operations.isEmpty {
            if closeDeadline != nil { return nil }
            condition.wait()
        }
        while closeDeadline == nil, pending < maxBatchSamples, let first = firstArrival {
            let due = first + maxDelay
            let now = ContinuousClock.now
            if now >= due { break }
            _ = condition.wait(until: Date(timeIntervalSinceNow: Self.seconds(due - now)))
        }
        var batch: [WriteOperation] = []
        var samples = 0
        while let next = operations.first, batch.isEmpty || samples + next.sampleCount <= maxBatchSamples {
            batch.append(operations.removeFirst())
            samples += next.sampleCount
        }
        // What is left has waited for this batch already: the next batch takes it without delay.
        firstArrival = nil
        return batch
    }

    /// Takes every queued operation (the writer gives up on them at close); they stay pending until `completed`.
    func takeAll() -> [WriteOperation] {
        condition.lock()
        defer { condition.unlock() }
        let all = Array(operations)
        operations.removeAll()
        return all
    }

    /// Samples of a batch were completed (committed or failed): they no longer count as pending.
    func completed(samples: Int) {
        condition.lock()
        pending -= samples
        condition.unlock()
    }

    /// Samples pushed and not completed.
    var pendingSamples: Int {
        condition.lock()
        defer { condition.unlock() }
        return pending
    }

    /// Starts closing: no more pushes; the writer retries a failing commit until `deadline`. False when the queue
    /// was already closing.
    func close(deadline: ContinuousClock.Instant) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard closeDeadline == nil else { return false }
        closeDeadline = deadline
        condition.broadcast()
        return true
    }

    /// The writer's pause before a retry: returns at `until`, or at the close deadline if that comes first, or at
    /// once when `close` is called meanwhile. Returns whether the writer should give up (closing, deadline passed).
    func pauseBeforeRetry(until: ContinuousClock.Instant) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let start = closeDeadline
        while closeDeadline == start {
            let now = ContinuousClock.now
            let end = min(until, closeDeadline ?? until)
            if now >= end { break }
            _ = condition.wait(until: Date(timeIntervalSinceNow: Self.seconds(end - now)))
        }
        guard let deadline = closeDeadline else { return false }
        return ContinuousClock.now >= deadline
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
