import HRProtocol
import HRStandings

/// A small seeded generator (SplitMix64), so random tests are repeatable.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A recorded sample with the fields standings read.
func recorded(_ p: String, seq: UInt32, ts: Int64, bpm: UInt8 = 120, zone: UInt8? = 1) -> RecordedSample {
    RecordedSample(classID: "c", participant: p, sample: Sample(seq: seq, ts: ts, bpm: bpm), rts: ts, zone: zone)
}

/// The formula written the obvious way, over all of a rider's samples at once: sort by seq, then each sample with a
/// zone earns its capped interval since the previous one × the multiplier. Returns (units, zone ms).
func referenceUnits(_ samples: [RecordedSample], points: ZonePoints = .standard) -> (Int64, [Int64]) {
    let sorted = samples.sorted { $0.sample.seq < $1.sample.seq }
    var units: Int64 = 0
    var zoneMs: [Int64] = [0, 0, 0, 0, 0]
    for (previous, sample) in zip(sorted, sorted.dropFirst()) {
        guard let zone = sample.zone, (1...5).contains(zone) else { continue }
        let interval = min(max(sample.sample.ts - previous.sample.ts, 0), 5_000)
        units += interval * points.multipliers[Int(zone) - 1]
        zoneMs[Int(zone) - 1] += interval
    }
    return (units, zoneMs)
}

/// A random ride for `riders` riders: seqs 1...n with random holes, ts mostly 1 s apart with jitter, long gaps and
/// steps backwards, zones nil or 1...5, bpm 0 now and then.
func randomRide(riders: Int, samples: ClosedRange<Int>, using random: inout SeededGenerator) -> [RecordedSample] {
    var result: [RecordedSample] = []
    for index in 0..<riders {
        let p = "r\(index)"
        var ts: Int64 = 1_700_000_000_000 + Int64.random(in: 0..<1_000, using: &random)
        var seq: UInt32 = UInt32.random(in: 0..<3, using: &random)
        for _ in 0..<Int.random(in: samples, using: &random) {
            seq += Int.random(in: 0..<10, using: &random) == 0 ? UInt32.random(in: 2...4, using: &random) : 1
            switch Int.random(in: 0..<20, using: &random) {
            case 0: ts += Int64.random(in: 5_000...20_000, using: &random)
            case 1: ts -= Int64.random(in: 1...3_000, using: &random)
            default: ts += Int64.random(in: 700...1_300, using: &random)
            }
            let bpm: UInt8 =
                Int.random(in: 0..<15, using: &random) == 0 ? 0 : UInt8.random(in: 60...190, using: &random)
            let zone: UInt8? =
                bpm == 0 || Int.random(in: 0..<10, using: &random) == 0
                ? nil : UInt8.random(in: 1...5, using: &random)
            result.append(recorded(p, seq: seq, ts: ts, bpm: bpm, zone: zone))
        }
    }
    return result
}

/// Riders sorted the obvious way: units descending, then id ascending in byte order.
func referenceRanking(_ standings: ClassStandings, ids: [String]) -> [String] {
    ids.sorted { a, b in
        let ua = standings.tally(of: a)!.units
        let ub = standings.tally(of: b)!.units
        return ua != ub ? ua > ub : a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}
