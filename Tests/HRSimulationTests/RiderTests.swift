import Testing

@testable import HRSimulation

@Suite struct RiderTests {
    static let start: Int64 = 1_700_000_000_000

    @Test func randomTraitsArePlausible() {
        for seed in UInt64(0)..<500 {
            var rng = SplitMix64(seed: seed)
            let traits = RiderTraits.random(using: &rng)
            #expect((160...200).contains(traits.hrmax))
            #expect((45...75).contains(traits.hrrest))
            #expect((20...65).contains(traits.age))
            #expect(traits.fitness >= 0 && traits.fitness <= 1)
            #expect(traits.effort > 0.85 && traits.effort <= 1.05)
            #expect(traits.riseTimeConstantS > 20 && traits.riseTimeConstantS < 40)
            #expect(traits.fallTimeConstantS > 40 && traits.fallTimeConstantS < 80)
            #expect(RiderTraits.firstNames.contains(traits.name))
            #expect(traits.profile.hrmax == traits.hrmax && traits.profile.hrrest == traits.hrrest)
        }
    }

    @Test func sameSeedSameTraceDifferentSeedDifferentTrace() {
        func trace(_ seed: UInt64) -> [Double] {
            var rider = Rider(seed: seed, startMs: Self.start)
            return stride(from: Self.start, to: Self.start + 600_000, by: 1_000).map { rider.sample(at: $0) }
        }
        #expect(trace(42) == trace(42))
        #expect(trace(42) != trace(43))
    }

    @Test func heartRateStaysWithinTheRidersRange() {
        for seed in UInt64(0)..<30 {
            var rider = Rider(seed: seed, startMs: Self.start)
            let low = Double(rider.traits.hrrest - 5)
            let high = Double(rider.traits.hrmax + 5)
            for time in stride(from: Self.start, through: Self.start + 50 * 60_000, by: 1_000) {
                let bpm = rider.sample(at: time)
                #expect(bpm >= low && bpm <= high && bpm >= 25 && bpm <= 250)
            }
        }
    }

    @Test func approachesTheTargetWithTheRisingAndFallingTimeConstants() {
        let traits = RiderTraits(name: "Test", age: 40, weightKg: 70, hrmax: 180, hrrest: 60, fitness: 0.5)
        let steps = Workout(segments: [
            .init(kind: .work, durationMs: 300_000, intensity: 1),
            .init(kind: .recovery, durationMs: 300_000, intensity: 0),
        ])
        var rider = Rider(traits: traits, workout: steps, startMs: 0, seed: 1)
        // Start: 20 % of the reserve above rest = 84. After one rising time constant (30 s), about 63 % of the
        // way to 180: 84 + 0.632 × 96 ≈ 145 (give or take the drift).
        rider.advance(to: 30_000)
        #expect(abs(rider.heartRate - 145) < 7)
        rider.advance(to: 300_000)
        #expect(abs(rider.heartRate - 180) < 5)
        // After one falling time constant (60 s): 180 − 0.632 × 120 ≈ 104.
        rider.advance(to: 360_000)
        #expect(abs(rider.heartRate - 104) < 7)
    }

    @Test func timeNeverGoesBack() {
        var rider = Rider(seed: 3, startMs: Self.start)
        rider.advance(to: Self.start + 60_000)
        let before = rider.heartRate
        rider.advance(to: Self.start + 1_000)
        #expect(rider.timeMs == Self.start + 60_000)
        #expect(rider.heartRate == before)
    }

    @Test func stepSizeDoesNotChangeTheKineticsMuch() {
        let traits = RiderTraits(name: "Test", age: 30, weightKg: 70, hrmax: 190, hrrest: 55, fitness: 0.5)
        var coarse = Rider(traits: traits, startMs: 0, seed: 8)
        var fine = Rider(traits: traits, startMs: 0, seed: 8)
        coarse.advance(to: 20 * 60_000)
        for time in stride(from: Int64(250), through: 20 * 60_000, by: 250) { fine.advance(to: time) }
        // Same kinetics; only the random drift differs (each is within a few bpm of the target path).
        #expect(abs(coarse.heartRate - fine.heartRate) < 12)
    }

    @Test func heartRateRisesDuringWorkAndFallsDuringRecovery() {
        let plan = Workout.standard
        for seed in UInt64(0)..<10 {
            var rider = Rider(seed: seed, workout: plan, startMs: Self.start)
            var workMeans: [Double] = []
            var recoveryMeans: [Double] = []
            for (index, segment) in plan.segments.enumerated()
            where segment.kind == .work || segment.kind == .recovery {
                let begin = Self.start + plan.startMs(ofSegment: index)
                let third = segment.durationMs / 3
                func meanOver(_ from: Int64, _ to: Int64) -> Double {
                    let values = stride(from: from, to: to, by: 1_000).map { rider.sample(at: $0) }
                    return values.reduce(0, +) / Double(values.count)
                }
                let early = meanOver(begin, begin + third)
                _ = meanOver(begin + third, begin + 2 * third)
                let late = meanOver(begin + 2 * third, begin + segment.durationMs)
                if segment.kind == .work {
                    #expect(late > early + 5, "work interval \(index) of rider \(seed)")
                    workMeans.append(late)
                } else {
                    #expect(late < early - 5, "recovery \(index) of rider \(seed)")
                    recoveryMeans.append(late)
                }
            }
            #expect(workMeans.min()! > recoveryMeans.max()!)
        }
    }
}
