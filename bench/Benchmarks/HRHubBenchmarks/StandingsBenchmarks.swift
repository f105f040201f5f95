import Benchmark
import HRProtocol
import HRStandings

/// HRStandings at class scale (issue 15): what one second of a class costs the standings, and one `board` tick.
///
/// - `Standings.apply.*`: one second of samples, every rider's next sample recorded (`ClassStandings.record`: the
///   tally, then the rider's move in the ranking). Riders change zone every 20 to 60 s, so ranks keep moving.
/// - `Standings.board.*`: one tick as the relay runs it, right after a second of riding (not measured), so every
///   rider's points, rank or bpm may have changed: a tick from the class's `BoardBuilder`, the shared `top(10)`
///   part, and for each of N participants the digest of its `me`/`near` and, when it differs from the one it was
///   last sent, its bytes (N = 0: only viewers). `live` is an array lookup by rider index, as the relay's is.
///   `…2000of20000participants` is one turn of a class served in turns (the relay's `boardConnectionsPerTick`,
///   2,000): 2,000 of the 20,000 participants, the next 2,000 in the next turn, a second of riding every 10 turns.
/// Classes are warmed with 2 minutes of riding before the measurement (in the first, warm-up, iteration).
func registerStandingsBenchmarks() {
    let big = StandingsFixture(classes: 1, riders: 20_000)
    Benchmark("Standings.apply.20000riders.1s", configuration: .init(thresholds: Tolerances.standard(mallocSlack: 50)))
    { benchmark in
        ThreadCPU.measure(benchmark) { blackHole(big.rideOneSecond()) }
    }
    // How many entries a tick encodes again depends on the second ridden (an entry's buffer grows when a rank gains a
    // digit), so the malloc counts move from run to run by up to about a participant each.
    for participants in [0, 1_000, 20_000] {
        Benchmark(
            "Standings.board.20000riders.top10.\(participants)participants",
            configuration: .init(thresholds: Tolerances.standard(mallocSlack: 100 + participants))
        ) { benchmark in
            big.rideOneSecond()
            benchmark.startMeasurement()
            ThreadCPU.measure(benchmark) { blackHole(big.boardTick(participants: 0..<participants)) }
            benchmark.stopMeasurement()
        }
    }
    Benchmark(
        "Standings.board.20000riders.top10.2000of20000participants",
        configuration: .init(thresholds: Tolerances.standard(mallocSlack: 50))
    ) { benchmark in
        let turn = big.nextTurn()
        if turn % 10 == 0 { big.rideOneSecond() }
        let first = (turn % 10) * 2_000
        benchmark.startMeasurement()
        ThreadCPU.measure(benchmark) { blackHole(big.boardTick(participants: first..<first + 2_000)) }
        benchmark.stopMeasurement()
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
        studio.rideOneSecond()
        benchmark.startMeasurement()
        ThreadCPU.measure(benchmark) { blackHole(studio.boardTick(participants: 0..<50)) }
        benchmark.stopMeasurement()
    }
}

/// `classes` classes of `riders` riders at 1 Hz, every sample with a zone.
final class StandingsFixture {
    let ids: [String]
    private var classes: [ClassStandings] = []
    /// Per class, as the relay keeps them: the board builder, and per rider (by index in `ids`) its rider index
    /// and the digest of the `me`/`near` it was last sent.
    private var builders: [BoardBuilder] = []
    private var riderIndex: [[Int32]] = []
    private var sentDigest: [[UInt64]] = []
    /// Newest live reading per rider index (every class rides the same pattern shifted; class 0's is shown).
    private var live: [LiveReading] = []
    private var second: Int64 = 0
    private let classCount: Int
    private var turns = 0

    init(classes: Int, riders: Int) {
        classCount = classes
        ids = (0..<riders).map { "rider-\($0)" }
    }

    /// 0, 1, 2, … one per call (the turn benchmark's turns).
    func nextTurn() -> Int {
        defer { turns += 1 }
        return turns
    }

    /// Rider `index`'s zone at `second`: a fixed pattern per rider, changing every 20 to 60 s.
    private func zone(_ index: Int, at second: Int64) -> UInt8 {
        let period = Int64(20 + index % 41)
        return UInt8(1 + (Int64(index) &* 7 &+ second / period) % 5)
    }

    private func warmIfNeeded() {
        guard classes.isEmpty else { return }
        classes = Array(repeating: ClassStandings(), count: classCount)
        builders = (0..<classCount).map { _ in BoardBuilder() }
        riderIndex = Array(repeating: Array(repeating: -1, count: ids.count), count: classCount)
        sentDigest = Array(repeating: Array(repeating: 0, count: ids.count), count: classCount)
        live = Array(repeating: (bpm: 0, zone: nil), count: ids.count)
        for _ in 0..<120 {
            _ = rideOneSecond()
        }
    }

    /// Every rider of every class records their next sample (1 s after the last). Returns the samples recorded.
    @discardableResult
    func rideOneSecond() -> Int {
        warmIfNeeded()
        second += 1
        let ts = Fixtures.startMs + second * 1_000
        var recorded = 0
        for classIndex in classes.indices {
            for (index, id) in ids.enumerated() {
                let zone = zone(index &+ classIndex, at: second)
                // bpm moves within the zone every second, as a heart rate does.
                let bpm = 100 + zone * 15 + UInt8(truncatingIfNeeded: (second &+ Int64(index)) % 7)
                let sample = Sample(seq: UInt32(second), ts: ts + Int64(index % 97), bpm: bpm)
                if classes[classIndex].record(participant: id, sample: sample, zone: zone) { recorded += 1 }
                if classIndex == 0 { live[index] = (bpm: bpm, zone: Int(zone)) }
            }
        }
        return recorded
    }

    /// One tick of every class, as the relay runs it: the shared top 10, and for the riders `participants` (indices
    /// in `ids`) the digest of their `me`/`near` and, when changed, its bytes. Returns the bytes built.
    func boardTick(participants: Range<Int>) -> Int {
        warmIfNeeded()
        let live = self.live
        var bytes = 0
        for classIndex in classes.indices {
            var tick = builders[classIndex].tick(at: Fixtures.startMs + second * 1_000, standings: classes[classIndex]) {
                rider, _ in live[Int(rider)]
            }
            bytes += tick.top(10).bytes.count
            for index in participants {
                var rider = riderIndex[classIndex][index]
                if rider < 0 {
                    rider = tick.riderIndex(of: ids[index]) ?? -1
                    riderIndex[classIndex][index] = rider
                }
                let digest = tick.suffixDigest(rider: rider)
                guard digest != sentDigest[classIndex][index] else { continue }
                sentDigest[classIndex][index] = digest
                bytes += tick.suffix(rider: rider).bytes.count
            }
        }
        return bytes
    }
}
