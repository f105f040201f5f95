import Foundation

/// The probe's clock: Unix time in microseconds (`CLOCK_REALTIME`), the clock sample `ts` values are written in.
enum ProbeClock {
    /// Now, µs since the Unix epoch.
    static func nowUs() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1_000
    }
}
