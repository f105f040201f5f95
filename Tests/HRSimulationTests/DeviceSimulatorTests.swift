import HRProtocol
import Testing

@testable import HRSimulation

@Suite struct DeviceSimulatorTests {
    static let start: Int64 = 1_700_000_000_000

    /// All samples of a device through `minutes` of its class.
    static func run(
        seed: UInt64, minutes: Int64 = 45, workout: Workout = .standard,
        configuration: DeviceSimulator.Configuration = .init()
    ) -> (DeviceSimulator, [Sample]) {
        var device = DeviceSimulator(
            participantID: "p\(seed)", seed: seed, workout: workout, startMs: start, configuration: configuration)
        let samples = device.samples(through: start + minutes * 60_000)
        return (device, samples)
    }

    @Test func sameSeedSameSamplesDifferentSeedDifferentSamples() {
        let config = DeviceSimulator.Configuration(contactLossProbability: 0.01, reportsEnergy: true)
        let (_, a) = Self.run(seed: 11, minutes: 10, configuration: config)
        let (_, b) = Self.run(seed: 11, minutes: 10, configuration: config)
        let (_, c) = Self.run(seed: 12, minutes: 10, configuration: config)
        #expect(a == b)
        #expect(a != c)
        #expect(a.map(\.bpm) != c.map(\.bpm))
        #expect(
            DeviceSimulator.group(count: 12, seed: 5, startMs: 0).map(\.profile)
                == DeviceSimulator.group(count: 12, seed: 5, startMs: 0).map(\.profile))
    }

    @Test func seqIncreasesByOneAndTsFollowsTheCadence() {
        let config = DeviceSimulator.Configuration(sampleIntervalMs: 250)
        var device = DeviceSimulator(
            participantID: "a", seed: 1, startMs: Self.start, configuration: config, firstSeq: 7)
        let samples = device.samples(through: Self.start + 60_000)
        #expect(samples.count == 241)
        #expect(samples.first?.seq == 7)
        #expect(samples.first?.ts == Self.start)
        for (previous, next) in zip(samples, samples.dropFirst()) {
            #expect(next.seq == previous.seq + 1)
            #expect(next.ts == previous.ts + 250)
        }
        #expect(device.nextSeq == 7 + 241)
        // Off-cadence samples keep the sequence going; time never goes back.
        let late = device.sample(at: Self.start + 60_600)
        #expect(late.seq == 248 && late.ts == Self.start + 60_600)
        let early = device.sample(at: Self.start)
        #expect(early.seq == 249 && early.ts == Self.start + 60_600)
        #expect(device.nextSampleMs == Self.start + 60_850)
    }

    @Test func firstSeqIsDerivedFromTheSeed() {
        let a = DeviceSimulator(participantID: "a", seed: 1, startMs: 0)
        let b = DeviceSimulator(participantID: "a", seed: 1, startMs: 0)
        let c = DeviceSimulator(participantID: "a", seed: 2, startMs: 0)
        #expect(a.nextSeq == b.nextSeq)
        #expect(a.nextSeq != c.nextSeq)
        #expect(a.nextSeq < 1_000_000)
    }

    @Test func bpmIsZeroOrWithinTheRidersRange() {
        let config = DeviceSimulator.Configuration(contactLossProbability: 0.005)
        for seed in UInt64(0)..<20 {
            let (device, samples) = Self.run(seed: seed, minutes: 50, configuration: config)
            let traits = device.rider.traits
            for sample in samples {
                if sample.contact == true {
                    #expect((25...250).contains(sample.bpm))
                    #expect(Int(sample.bpm) >= traits.hrrest - 5 && Int(sample.bpm) <= traits.hrmax + 5)
                } else {
                    #expect(sample.bpm == 0)
                    #expect(sample.contact == false)
                    #expect(sample.rr.isEmpty)
                }
            }
        }
    }

    @Test func rrIntervalsMatchTheHeartRate() {
        for seed in UInt64(0)..<10 {
            let (_, samples) = Self.run(seed: seed)
            var beats = 0
            for sample in samples where sample.contact == true {
                #expect(sample.rr.count <= DeviceSimulator.maxRRPerSample)
                #expect(sample.rr.allSatisfy { $0 >= 1 })
                guard !sample.rr.isEmpty else { continue }
                beats += sample.rr.count
                let meanRR = Double(sample.rr.reduce(0) { $0 + Int($1) }) / Double(sample.rr.count)
                let expected = 61_440 / Double(sample.bpm)
                #expect(
                    abs(meanRR - expected) / expected < 0.10, "seq \(sample.seq): rr \(sample.rr) bpm \(sample.bpm)")
            }
            // Over the class the beats add up to the time: sum of RR ≈ 45 minutes (minus contact losses).
            let mean =
                Double(samples.compactMap { $0.contact == true ? Int($0.bpm) : nil }.reduce(0, +))
                / Double(samples.filter { $0.contact == true }.count)
            #expect(abs(Double(beats) - mean * 45) / (mean * 45) < 0.05)
        }
    }

    @Test func beatsPerSampleFollowTheInterval() {
        // Five-second samples at a high heart rate: more beats than fit, so the newest 16 are kept.
        let plan = Workout(segments: [.init(kind: .work, durationMs: 3_600_000, intensity: 1)])
        let config = DeviceSimulator.Configuration(sampleIntervalMs: 8_000, contactLossProbability: 0)
        let (_, samples) = Self.run(seed: 4, minutes: 10, workout: plan, configuration: config)
        #expect(samples.allSatisfy { $0.rr.count <= 16 })
        #expect(samples.suffix(10).allSatisfy { $0.rr.count == 16 })
        // One-second samples carry about bpm / 60 beats each.
        let (_, second) = Self.run(seed: 4, minutes: 10, workout: plan, configuration: .init(contactLossProbability: 0))
        let lastMinute = second.suffix(60)
        let beats = lastMinute.reduce(0) { $0 + $1.rr.count }
        let bpm = Double(lastMinute.reduce(0) { $0 + Int($1.bpm) }) / 60
        #expect(abs(Double(beats) - bpm) <= 3)
    }

    @Test func contactLossHappensAtTheConfiguredRate() {
        let probability = 0.01
        let config = DeviceSimulator.Configuration(
            contactLossProbability: probability, contactLossDurationMs: 2_000...6_000)
        let plan = Workout.short(durationMs: 300_000)
        var device = DeviceSimulator(participantID: "a", seed: 99, workout: plan, startMs: 0, configuration: config)
        var chances = 0
        var losses = 0
        var lossSamples = 0
        var previousHadContact = true
        var longestLoss = 0
        var currentLoss = 0
        for _ in 0..<100_000 {
            let sample = device.next()
            if previousHadContact { chances += 1 }
            if sample.contact == false {
                if previousHadContact { losses += 1 }
                lossSamples += 1
                currentLoss += 1
                longestLoss = max(longestLoss, currentLoss)
            } else {
                currentLoss = 0
            }
            previousHadContact = sample.contact == true
        }
        // Each sample after one with contact starts a loss with the configured probability.
        let expected = Double(chances) * probability
        #expect(Double(losses) > expected * 0.85 && Double(losses) < expected * 1.15, "\(losses) vs \(expected)")
        // A loss lasts 2...6 s: 2...6 one-second samples without contact, about 4 on average.
        #expect(longestLoss >= 2 && longestLoss <= 6)
        let meanLength = Double(lossSamples) / Double(losses)
        #expect(meanLength > 3 && meanLength < 5)
    }

    @Test func contactLossCanBeTurnedOffAndIsRareByDefault() {
        let (_, none) = Self.run(seed: 2, configuration: .init(contactLossProbability: 0))
        #expect(none.allSatisfy { $0.contact == true && $0.bpm > 0 })
        let (_, defaults) = Self.run(seed: 2)
        #expect(defaults.filter { $0.contact == false }.count < defaults.count / 50)
    }

    @Test func energyAccumulatesWhenReported() {
        let (device, samples) = Self.run(seed: 6, configuration: .init(reportsEnergy: true))
        let energy = samples.compactMap(\.ee)
        #expect(energy.count == samples.count)
        #expect(zip(energy, energy.dropFirst()).allSatisfy { $0 <= $1 })
        // A 45-minute interval class costs roughly 1,000...4,000 kJ (about 250...950 kcal).
        #expect((1_000...4_000).contains(Int(energy.last!)))
        #expect(Int(device.energyKJ) == Int(energy.last!))
        let (_, plain) = Self.run(seed: 6, minutes: 5)
        #expect(plain.allSatisfy { $0.ee == nil })
    }

    @Test func heartRateRisesInWorkAndFallsInRecoveryOnTheShortPlan() {
        let plan = Workout.short(durationMs: 240_000)
        let config = DeviceSimulator.Configuration(contactLossProbability: 0)
        for seed in UInt64(20)..<30 {
            let (_, samples) = Self.run(seed: seed, minutes: 12, workout: plan, configuration: config)
            // Mean bpm over the first and the last third of each work or recovery segment of every pass.
            var early: [Int: [Double]] = [:]
            var late: [Int: [Double]] = [:]
            for sample in samples {
                let elapsed = (sample.ts - Self.start) % plan.durationMs
                let index = plan.segmentIndex(at: elapsed)
                let segment = plan.segments[index]
                let offset = elapsed - plan.startMs(ofSegment: index)
                let key = Int((sample.ts - Self.start) / plan.durationMs) * 100 + index
                if offset < segment.durationMs / 3 { early[key, default: []].append(Double(sample.bpm)) }
                if offset >= segment.durationMs * 2 / 3 { late[key, default: []].append(Double(sample.bpm)) }
            }
            func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }
            for key in early.keys.sorted() where late[key] != nil {
                let kind = plan.segments[key % 100].kind
                let change = mean(late[key]!) - mean(early[key]!)
                if kind == .work { #expect(change > 5, "work \(key), rider \(seed): \(change)") }
                if kind == .recovery { #expect(change < -3, "recovery \(key), rider \(seed): \(change)") }
            }
        }
    }

    @Test func groupHasDistinctNamesAndValidIds() {
        let devices = DeviceSimulator.group(count: 60, seed: 3, workout: .short(), startMs: Self.start)
        #expect(devices.count == 60)
        #expect(Set(devices.map(\.participantID)).count == 60)
        #expect(Set(devices.map(\.profile.name)).count == 60)
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
        for device in devices {
            #expect(!device.participantID.isEmpty && device.participantID.count <= 64)
            #expect(device.participantID.allSatisfy { allowed.contains($0) })
            #expect(device.rider.workout.repeats)
        }
        #expect(Set(devices.map(\.rider.traits.hrmax)).count > 5)
    }
}
