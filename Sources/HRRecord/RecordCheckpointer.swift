import Foundation

/// Copies the WAL back into the record's file on a thread of its own, every `interval`, so that the writer's
/// commits never stop for a checkpoint: the writer's connection has automatic checkpoints off. A PASSIVE checkpoint
/// runs beside the writer (it takes no lock a commit waits for); once it has copied every frame and no reader needs
/// them, the writer's next commit starts the WAL over from its beginning, so the file stays small.
///
/// A failed checkpoint (disk full, file gone) is tried again on the next tick with a fresh connection; the
/// writer reports the store's health, not this.
///
/// `@unchecked Sendable`: `stopping` is read and written only while `condition` is locked; `connection` is used
/// only on the checkpointer's thread.
final class RecordCheckpointer: @unchecked Sendable {
    private let path: String
    private let interval: TimeInterval
    private let condition = NSCondition()
    private var stopping = false
    private var connection: SQLiteConnection?
    private let done = DispatchSemaphore(value: 0)

    /// Starts the thread.
    init(path: String, interval: Duration = .milliseconds(200)) {
        self.path = path
        self.interval = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        let thread = Thread { [self] in run() }
        thread.name = "hrhub.checkpoint"
        thread.start()
    }

    /// Ends the thread and closes its connection (before the writer's, whose close does the last checkpoint).
    func stop() {
        condition.lock()
        let first = !stopping
        stopping = true
        condition.broadcast()
        condition.unlock()
        if first { done.wait() }
    }

    private func run() {
        while waitForTick() {
            checkpoint()
        }
        connection = nil
        done.signal()
    }

    /// Waits one interval; false once stopping.
    private func waitForTick() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let end = Date(timeIntervalSinceNow: interval)
        while !stopping && condition.wait(until: end) {}
        return !stopping
    }

    private func checkpoint() {
        do {
            if connection == nil || connection?.fileHasMoved() == true {
                connection = try SQLiteConnection(path: path, readOnly: false, create: false)
            }
            try connection?.execute("PRAGMA wal_checkpoint(PASSIVE)")
        } catch {
            connection = nil
        }
    }
}
