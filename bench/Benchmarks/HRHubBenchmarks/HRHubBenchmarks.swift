import Benchmark

// HRHub's micro-benchmarks: the hot paths one sample takes through the hub, without sockets.
// `bench/micro` runs them and checks them against the committed p90 thresholds (bench/Thresholds/);
// MICRO.md describes each one and what its numbers mean.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 10,
        maxDuration: .seconds(2),
        maxIterations: 1_000_000,
        thresholds: Tolerances.standard
    )
    registerCodecBenchmarks()
    registerCoreBenchmarks()
    registerFanOutBenchmarks()
}

/// How far a run's p90 may stray from the committed p90 before `thresholds check` calls it a change.
///
/// Every measured metric needs an entry: one without falls back to the tool's `strict` (0 %). Time is noisy on a
/// shared 2-core machine, so it gets a wide relative band; instructions and malloc counts barely move between runs,
/// so they get tight ones. Malloc counts use an absolute band because a relative one cannot see 0 becoming 1.
enum Tolerances {
    // Computed, not stored: BenchmarkThresholds is not Sendable, so a stored static would not pass Swift 6 checking.
    static var time: BenchmarkThresholds { BenchmarkThresholds(relative: [.p90: 40.0]) }
    static var instructions: BenchmarkThresholds { BenchmarkThresholds(relative: [.p90: 10.0]) }

    /// `perIteration` mallocs more than the committed p90 (per outer iteration, i.e. per `scaledIterations` loop).
    static func mallocs(_ perIteration: Int) -> BenchmarkThresholds {
        BenchmarkThresholds(absolute: [.p90: perIteration])
    }

    static func standard(mallocSlack: Int) -> [BenchmarkMetric: BenchmarkThresholds] {
        [
            .wallClock: time,
            .throughput: time,
            .instructions: instructions,
            .mallocCountTotal: mallocs(mallocSlack),
        ]
    }

    static var standard: [BenchmarkMetric: BenchmarkThresholds] { standard(mallocSlack: 0) }
}
