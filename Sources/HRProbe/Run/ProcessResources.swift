import Foundation
import LWSTransport

/// The probe's own use of the machine (so a saturated probe is visible) and its file-descriptor limit.
enum ProcessResources {
    /// CPU time used so far, the peak resident set, and the time spent waiting for a CPU.
    struct Usage: Equatable {
        var userUs: Int64
        var systemUs: Int64
        var maxRSSKiB: Int64
        /// Time its threads were ready to run but waited for a CPU (other processes had them), µs; 0 when unknown.
        /// A probe starved this way falls behind while its own CPU use looks modest.
        var waitUs: Int64 = 0
    }

    /// `getrusage(RUSAGE_SELF)`, and the run-queue wait from /proc.
    static func usage() -> Usage {
        var raw = rusage()
        getrusage(RUSAGE_SELF.rawValue, &raw)
        return Usage(
            userUs: Int64(raw.ru_utime.tv_sec) * 1_000_000 + Int64(raw.ru_utime.tv_usec),
            systemUs: Int64(raw.ru_stime.tv_sec) * 1_000_000 + Int64(raw.ru_stime.tv_usec),
            maxRSSKiB: Int64(raw.ru_maxrss), waitUs: runQueueWaitUs(process: "self") ?? 0)
    }

    /// How long the threads of a process (`self` or a pid) waited on a run queue, µs: the sum of the second field
    /// of each `/proc/P/task/T/schedstat` (ns, Linux with schedstats). Threads that already exited are not counted.
    static func runQueueWaitUs(process: String) -> Int64? {
        let directory = "/proc/\(process)/task"
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return nil }
        var totalNs: Int64 = 0
        var found = false
        for task in tasks {
            guard let text = try? String(contentsOfFile: "\(directory)/\(task)/schedstat", encoding: .utf8) else {
                continue
            }
            let fields = text.split(separator: " ")
            guard fields.count >= 2, let waitNs = Int64(fields[1]) else { continue }
            totalNs += waitNs
            found = true
        }
        return found ? totalNs / 1_000 : nil
    }

    /// The open-file limit (`RLIMIT_NOFILE`), shared with the hub (LWSTransport).
    typealias OpenFileLimit = LWSTransport.OpenFileLimit

    /// Raises the soft `RLIMIT_NOFILE` to the hard limit (each connection is a descriptor; libwebsockets sizes
    /// its tables from this limit when the context is created, so call it before). Returns the limits now in force.
    @discardableResult
    static func raiseOpenFileLimit() -> OpenFileLimit { OpenFileLimit.raiseToHard() }

    /// Descriptors the probe holds besides its connections: stdin, stdout and stderr, the event loop (epoll) and
    /// lws's cancel pipe, the report files and /proc reads, and a few connections closing while their replacement
    /// opens (`--reconnect-storm`). Measured: 12 besides the sockets during a 19,900-connection run.
    static let reservedDescriptors = 32

    /// Why `connections` cannot all be open under `limit`, naming both numbers; nil when they fit. A probe past the
    /// limit would fail connections one by one in the middle of a run (lws refuses a socket above its table).
    static func descriptorShortfall(connections: Int, limit: OpenFileLimit) -> String? {
        let needed = connections + reservedDescriptors
        guard needed > limit.soft else { return nil }
        var text = "\(connections) connections need \(needed) file descriptors (\(reservedDescriptors) for the probe "
        text += "itself), but the open-file limit (RLIMIT_NOFILE) is \(limit.soft)"
        if limit.hard > limit.soft {
            text += " and could not be raised to the hard limit \(limit.hard)"
        } else {
            text += " (the hard limit; only root can raise it)"
        }
        let fits = max(0, limit.soft - reservedDescriptors)
        text += ". Plan at most \(fits) connections per probe, or run several probes"
        return text
    }

    /// Ephemeral ports the kernel hands out for outgoing connections (`/proc/sys/net/ipv4/ip_local_port_range`),
    /// or Linux's default range (32768–60999) when it cannot be read.
    static func ephemeralPortCount() -> Int {
        let fallback = 60_999 - 32_768 + 1
        guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)
        else { return fallback }
        let bounds = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }
        guard bounds.count == 2, bounds[1] >= bounds[0] else { return fallback }
        return bounds[1] - bounds[0] + 1
    }

    /// Another process's CPU time and resident set, from Linux's /proc (for `--server-pid`).
    struct ProcessSample: Equatable {
        /// utime + stime, µs (the kernel counts in clock ticks, usually 10 ms).
        var cpuUs: Int64
        /// VmRSS, KiB.
        var rssKiB: Int64
        /// Time its threads waited for a CPU, µs (see `Usage.waitUs`); 0 when unknown.
        var waitUs: Int64 = 0
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
        return ProcessSample(
            cpuUs: (utime + stime) * 1_000_000 / ticks, rssKiB: rss, waitUs: runQueueWaitUs(process: "\(pid)") ?? 0)
    }
}
