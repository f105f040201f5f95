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

    /// Another process's CPU time and resident set, from Linux's /proc (for `--server-pid`).
    struct ProcessSample: Equatable {
        /// utime + stime, µs (the kernel counts in clock ticks, usually 10 ms).
        var cpuUs: Int64
        /// VmRSS, KiB.
        var rssKiB: Int64
    }

    /// Reads `/proc/PID/stat` (utime and stime, fields 14 and 15) and `/proc/PID/status` (VmRSS); nil when the
    /// process is gone or the files cannot be read.
    static func sample(pid: Int32) -> ProcessSample? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // After the command name in parentheses: field 3 (state) is at index 0, so utime is 11 and stime 12.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let utime = Int64(fields[11]), let stime = Int64(fields[12]) else { return nil }
        let ticks = Int64(max(1, sysconf(Int32(_SC_CLK_TCK))))
        var rss: Int64 = 0
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            rss = Int64(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        return ProcessSample(cpuUs: (utime + stime) * 1_000_000 / ticks, rssKiB: rss)
    }
}
