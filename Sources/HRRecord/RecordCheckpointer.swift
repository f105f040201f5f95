import Foundation

/// Copies the WAL back into the record's file on a thread of its own, so the writer's commits never stop for a
/// checkpoint (the writer's connection has automatic checkpoints off). A PASSIVE checkpoint runs beside the writer,
/// taking no lock a commit waits for. Once every frame is copied and no reader needs them, the writer's next commit
/// starts the WAL over from its beginning, so the file stays bounded (about 40 MiB).
///
/// It checkpoints every ~10,000 WAL pages (estimated from the commits the writer reports), ten times fewer than
/// SQLite's default: each restart of the WAL makes that next commit sync the WAL header (SQLite does so even with
/// `synchronous=NORMAL`), and on a busy disk one sync can stall commits for tens of milliseconds.
///
/// A failed checkpoint (disk full, file gone) is tried again at the next one with a fresh connection; the writer
/// reports the store's health, not this.
///
/// `@unchecked Sendable`: `stopping` and `pages` are read and written only while `condition` is locked;
/// `connection` is used only on the checkpointer's thread.
final class RecordCheckpointer: @unchecked Sendable {
    /// WAL pages (estimated) between checkpoints.
    static let pagesPerCheckpoint = 10_000

    private let path: String
    private let condition = NSCondition()
    private var stopping = false
    private var pages = 0
    private var connection: SQLiteConnection?
    private let done = DispatchSemaphore(value: 0)

    /// Starts the thread.
    init(path: String) {
        self.path = path
        let thread = Thread { [self] in run() }
        thread.name = "hrhub.checkpoint"
        thread.start()
    }

    /// The writer committed `samples` samples: about one page per commit plus one per 64 samples (a row is
    /// about 50 bytes in a 4 KiB page, with the B-tree's interior pages on top).
    func committed(samples: Int) {
        condition.lock()
        pages += 1 + samples / 64
        if pages >= Self.pagesPerCheckpoint { condition.signal() }
        condition.unlock()
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
        while waitForPages() {
            checkpoint()
        }
        connection = nil
        done.signal()
    }

    /// Waits until enough pages were written since the last checkpoint; false once stopping.
    private func waitForPages() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !stopping && pages < Self.pagesPerCheckpoint { condition.wait() }
        pages = 0
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
