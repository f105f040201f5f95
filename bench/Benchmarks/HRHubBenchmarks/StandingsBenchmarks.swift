import Benchmark
import HRProtocol
import HRStandings

/// HRStandings at class scale (issue 15): what one second of a class costs the standings, and one `board` tick.
///
/// - `Standings.apply.*`: one second of samples, every rider's next sample recorded (`ClassStandings.record`: the
///   tally, then the rider's move in the ranking). Riders change zone every 20 to 60 s, so ranks keep moving.
/// - `Standings.board.*`: one tick: `board(at:live:)`, the shared `top(10)` part, and the `me`/`near` suffix of each
///   of N participants (N = 0: only viewers). `live` is a dictionary lookup, as the relay's would be.
/// Classes are warmed with 2 minutes of riding before the measurement (in the first, warm-up, iteration).
func registerStandingsBenchmarks() {
    let big = StandingsFixture(classes: 1, riders: 20_000)
    Benchmark("Standings.apply.20000riders.1s", configuration: .init(thresholds: Tolerances.standard(mallocSlack: 50)))
    { benchmark in
        ThreadCPU.measure(benchmark) { blackHole(big.rideOneSecond()) }
    }
    for participants in [0, 1_000, 20_000] {
        Benchmark(
            "Standings.board.20000riders.top10.\(participants)participants",
            configuration: .init(thresholds: Tolerances.standard(mallocSlack: 50))
        ) { benchmark in
            ThreadCPU.measure(benchmark) { blackHole(big.boardTick(participants: participants)) }
        }
    }
    let studio = StandingsFixture(classes: 2_000, riders: 50)
    Benchmark(
        "Standings.apply.2000classes.50riders.1s",
        configuration: .init(thresholds: Tolerances.standard(mallocSlack: 500))
    ) { benchmark in
        ThreadCPU.measure(benchmark) { blackHole(studio.rideOneSecond()) }
    }
    Benchmark(
        "Standings.board.2000classes.50riders.top10.50participants",
        configuration: .init(thresholds: Tolerances.standard(mallocSlack: 500))
    ) { benchmark in
        ThreadCPU.measure(benchmark) { blackHole(studio.boardTick(participants: 50)) }
    }
}

/// `classes` classes of `riders` riders at 1 Hz, every sample with a zone.
final class StandingsFixture {
    let ids: [String]
    private var classes: [ClassStandings] = []
    private var live: [String: LiveReading] = [:]
    private var second: Int64 = 0
    private let classCount: Int

    init(classes: Int, riders: Int) {
        classCount = classes
        ids = (0..<riders).map { "rider-\($0)" }
    }

    /// Rider `index`'s zone at `second`: a fixed pattern per rider, changing every 20 to 60 s.
    private func zone(_ index: Int, at second: Int64) -> UInt8 {
        let period = Int64(20 + index % 41)
        return UInt8(1 + (Int64(index) &* 7 &+ second / period) % 5)
    }

    private func warmIfNeeded() {
        guard classes.isEmpty else { return }
        classes = Array(repeating: ClassStandings(), count: classCount)
        for _ in 0..<120 {
            _ = rideOneSecond()
        }
    }

    /// Every rider of every class records their next sample (1 s after the last). Returns the samples recorded.
    func rideOneSecond() -> Int {
        warmIfNeeded()
        second += 1
        let ts = Fixtures.startMs + second * 1_000
        var recorded = 0
        for classIndex in classes.indices {
            for (index, id) in ids.enumerated() {
                let zone = zone(index &+ classIndex, at: second)
                let sample = Sample(seq: UInt32(second), ts: ts + Int64(index % 97), bpm: 100 + zone * 15)
                if classes[classIndex].record(participant: id, sample: sample, zone: zone) { recorded += 1 }
                if classIndex == 0 { live[id] = (bpm: sample.bpm, zone: Int(zone)) }
            }
        }
        return recorded
    }

    /// One tick of every class: the shared top 10, and `me`/`near` for the first `participants` riders. Returns the
    /// bytes built (one copy of each part).
    func boardTick(participants: Int) -> Int {
        warmIfNeeded()
        let live = self.live
        var bytes = 0
        for standings in classes {
            var tick = standings.board(at: Fixtures.startMs + second * 1_000) { live[$0] }
            bytes += tick.top(10).bytes.count
            for id in ids.prefix(participants) {
                bytes += tick.suffix(for: id)?.bytes.count ?? 0
            }
        }
        return bytes
    }
}
