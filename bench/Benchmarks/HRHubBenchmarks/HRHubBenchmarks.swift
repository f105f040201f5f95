import Benchmark

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// HRHub's micro-benchmarks: the hot paths one sample takes through the hub, without sockets.
// `bench/micro` runs them and checks them against the committed p90 thresholds (bench/Thresholds/);
// MICRO.md describes each one and what its numbers mean.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, ThreadCPU.metric, .mallocCountTotal],
        warmupIterations: 10,
        maxDuration: .seconds(2),
        maxIterations: 1_000_000,
        thresholds: Tolerances.standard
    )
    registerCodecBenchmarks()
    registerEncodingBenchmarks()
    registerCoreBenchmarks()
    registerFanOutBenchmarks()
    registerTickBenchmarks()
    registerProbeBenchmarks()
    registerStandingsBenchmarks()
}

/// How far a run's p90 may stray from the committed p90 before `thresholds check` calls it a change.
///
/// Every measured metric needs an entry: one without falls back to the tool's `strict` (0 %). The gate is on CPU
/// time and mallocs, not on wall clock: on a shared 2-core machine the wall clock's p90 measures the neighbours
/// (the same code's p90 moved by +249 % between two runs a minute apart), while the thread's CPU time leaves out
/// the time it waited for a core. It still moves with what the other core does to caches and memory (+54…60 % on
/// the codec benchmarks between two runs of the same code), so it is allowed 100 %: the gate catches a 2× slowdown,
/// not 10 % (compare baselines on a quiet machine, or count instructions with callgrind, for that; see MICRO.md).
/// Wall clock and throughput are measured and reported, not gated. Malloc counts do not move between runs: an
/// absolute band, since a relative one cannot see 0 becoming 1.
enum Tolerances {
    // Computed, not stored: BenchmarkThresholds is not Sendable, so a stored static would not pass Swift 6 checking.
    static var cpu: BenchmarkThresholds { BenchmarkThresholds(relative: [.p90: 100.0]) }
    static var reportOnly: BenchmarkThresholds { BenchmarkThresholds(relative: [:], absolute: [:]) }

    /// Allows `perIteration` mallocs more (or fewer) than the committed p90, counted per outer iteration: for a
    /// `.kilo` benchmark that is per 1,000 operations, so 100 means 0.1 malloc per operation.
    static func mallocs(_ perIteration: Int) -> BenchmarkThresholds {
        BenchmarkThresholds(absolute: [.p90: perIteration])
    }

    static func standard(mallocSlack: Int) -> [BenchmarkMetric: BenchmarkThresholds] {
        [
            .wallClock: reportOnly,
            .throughput: reportOnly,
            ThreadCPU.metric: cpu,
            .mallocCountTotal: mallocs(mallocSlack),
        ]
    }

    static var standard: [BenchmarkMetric: BenchmarkThresholds] { standard(mallocSlack: 0) }
}

/// The benchmark thread's own CPU time (CLOCK_THREAD_CPUTIME_ID), in ns: what the work cost, without the time the
/// thread spent waiting for a core. Shown per operation (divided by the scaling factor) like wall clock.
enum ThreadCPU {
    static var metric: BenchmarkMetric { .custom("threadCPUns") }

    static func nanoseconds() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return Int(now.tv_sec) * 1_000_000_000 + Int(now.tv_nsec)
    }

    /// Runs `body` (one measured iteration) and records its thread CPU time.
    static func measure<T>(_ benchmark: Benchmark, _ body: () throws -> T) rethrows -> T {
        let start = nanoseconds()
        defer { benchmark.measurement(metric, nanoseconds() - start) }
        return try body()
    }
}
