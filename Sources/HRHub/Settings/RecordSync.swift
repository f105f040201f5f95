/// `--sync`: how durable a commit of the record is (see `HRRecord.SyncMode`).
enum RecordSync: String, CaseIterable, Sendable {
    /// WAL with synchronous=NORMAL: every commit survives a crash of the hub process.
    case normal
    /// synchronous=FULL: also survives a power cut, at an fsync per commit.
    case full
}
