/// How durable a commit is before its completion runs (`--sync`).
public enum SyncMode: Sendable, Equatable {
    /// `PRAGMA synchronous=NORMAL` in WAL mode: a commit survives a crash of the process (kill -9), not
    /// necessarily a power cut. The default.
    case normal
    /// `PRAGMA synchronous=FULL`: the WAL is fsynced on every commit, so a commit also survives a power cut.
    case full

    /// The value of `PRAGMA synchronous` for this mode (1 NORMAL, 2 FULL).
    var pragmaValue: Int64 {
        switch self {
        case .normal: 1
        case .full: 2
        }
    }
}
