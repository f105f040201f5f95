import Glibc

/// The process's open-file limit (`RLIMIT_NOFILE`): the soft limit in force and the hard limit it may be raised to.
///
/// Every connection is a descriptor, and libwebsockets sizes its connection table from the soft limit when a
/// context is created: a server or client that serves many connections raises it first (`raiseToHard()`).
public struct OpenFileLimit: Equatable, Sendable {
    /// The limit in force.
    public var soft: Int
    /// The most an unprivileged process may raise `soft` to.
    public var hard: Int

    /// A limit with these values (for planning and tests).
    public init(soft: Int, hard: Int) {
        self.soft = soft
        self.hard = hard
    }

    /// The limits in force now; 1,024 for both when they cannot be read.
    public static var current: OpenFileLimit {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            return OpenFileLimit(soft: 1_024, hard: 1_024)
        }
        return OpenFileLimit(soft: Int(clamping: limit.rlim_cur), hard: Int(clamping: limit.rlim_max))
    }

    /// Raises the soft limit to the hard limit and returns the limits now in force (unchanged when the system
    /// refuses). Call it before creating a context.
    @discardableResult
    public static func raiseToHard() -> OpenFileLimit {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return current }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised)
        }
        return current
    }
}
