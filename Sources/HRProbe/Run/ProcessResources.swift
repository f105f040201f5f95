import Foundation

/// The probe's own use of the machine (so a saturated probe is visible) and its file-descriptor limit.
enum ProcessResources {
    /// CPU time used so far and the peak resident set.
    struct Usage: Equatable {
        var userUs: Int64
        var systemUs: Int64
        var maxRSSKiB: Int64
    }

    /// `getrusage(RUSAGE_SELF)`.
    static func usage() -> Usage {
        var raw = rusage()
        getrusage(RUSAGE_SELF.rawValue, &raw)
        return Usage(
            userUs: Int64(raw.ru_utime.tv_sec) * 1_000_000 + Int64(raw.ru_utime.tv_usec),
            systemUs: Int64(raw.ru_stime.tv_sec) * 1_000_000 + Int64(raw.ru_stime.tv_usec),
            maxRSSKiB: Int64(raw.ru_maxrss))
    }

    /// Raises the soft `RLIMIT_NOFILE` to the hard limit (each connection is a descriptor; libwebsockets sizes
    /// its tables from this limit when the context is created). Returns the soft limit now in force.
    @discardableResult
    static func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }
}
