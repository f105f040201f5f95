import HRProtocol

/// A simulated heart-rate device (strap, watch or bike) worn by one `Rider`: it turns the rider's heart rate into
/// the `Sample`s a real device would send.
///
/// Samples come at a fixed cadence (`Configuration.sampleIntervalMs`). Each has the next `seq` (one more than the
/// previous), `ts` = capture time, `bpm` = the rider's heart rate rounded, the RR intervals of the heartbeats
/// since the previous sample (at most 16, the newest kept, as a Bluetooth strap does), `contact` true and,
/// optionally, the energy expended so far. Now and then the strap loses skin contact for a few seconds; its
/// samples then say `bpm` 0, `contact` false and carry no RR intervals.
///
/// Like everything in HRSimulation it is pure: time is passed in and randomness comes from the seed.
///
/// ```swift
/// var device = DeviceSimulator(participantID: "anna", seed: 7, startMs: now)
/// let hello = device.profile
/// let due = device.samples(through: now + 5_000)  // six samples: at now, now + 1 s, ... now + 5 s
/// ```
public struct DeviceSimulator: Sendable {
    /// How a simulated device behaves.
    public struct Configuration: Sendable, Equatable {
        /// Time between two samples, ms. Default 1000 (1 Hz, as Bluetooth straps notify).
        public var sampleIntervalMs: Int64
        /// Probability, per sample taken after a sample with contact, that the strap loses skin contact.
        /// Default 0.001 (at 1 Hz, about once every 17 minutes).
        public var contactLossProbability: Double
        /// How long a contact loss lasts, ms, drawn uniformly from this range. Default 2...8 s.
        public var contactLossDurationMs: ClosedRange<Int64>
        /// Whether samples carry RR intervals. Default true.
        public var reportsRR: Bool
        /// Whether samples carry `ee`, the energy expended since the device started, in kJ. Default false.
        public var reportsEnergy: Bool
        /// Beat-to-beat variability of RR intervals: the standard deviation as a fraction of the mean interval.
        /// Default 0.015.
        public var rrVariability: Double

        /// A configuration; every parameter has the default documented on its property.
        public init(
            sampleIntervalMs: Int64 = 1_000,
            contactLossProbability: Double = 0.001,
            contactLossDurationMs: ClosedRange<Int64> = 2_000...8_000,
            reportsRR: Bool = true,
            reportsEnergy: Bool = false,
            rrVariability: Double = 0.015
        ) {
            precondition(sampleIntervalMs > 0, "the sample interval must be positive")
            precondition(contactLossDurationMs.lowerBound >= 0, "a contact loss cannot last a negative time")
            self.sampleIntervalMs = sampleIntervalMs
            self.contactLossProbability = contactLossProbability
            self.contactLossDurationMs = contactLossDurationMs
            self.reportsRR = reportsRR
            self.reportsEnergy = reportsEnergy
            self.rrVariability = rrVariability
        }
    }

    /// The most RR intervals one sample carries (the protocol's limit).
    public static let maxRRPerSample = 16
    /// Amplitude of the respiratory modulation of RR intervals at rest (fraction of the interval).
    static let respiratoryAmplitude = 0.02
    /// Breathing period for the respiratory modulation, ms.
    static let breathPeriodMs = 4_000.0

    /// The participant id the device publishes as.
    public let participantID: String
    /// How the device behaves.
    public let configuration: Configuration
    /// The rider wearing the device (its model state advances as samples are taken).
    public private(set) var rider: Rider
    /// The `seq` of the next sample.
    public private(set) var nextSeq: UInt32
    /// When the next sample is due on the regular cadence, Unix ms.
    public private(set) var nextSampleMs: Int64
    /// Energy expended since the device started, kJ (counted only while in contact).
    public private(set) var energyKJ: Double = 0
    /// A recorded trace to replay instead of the rider model: when set, each sample's `bpm` and RR intervals come
    /// from it (`TraceReplay.reading(at:)`); cadence, seqs and contact losses stay the device's own.
    public var replay: TraceReplay?

    private var rng: SplitMix64
    /// Time of the last sample taken, Unix ms (the device's start before the first one).
    private var lastSampleMs: Int64
    /// The rider's heart rate (without jitter) at `lastSampleMs`, to interpolate beat times.
    private var lastHeartRate: Double
    /// When the next heartbeat happens, Unix ms (fractional).
    private var nextBeatMs: Double
    /// The RR interval ending at `nextBeatMs`, ms.
    private var nextBeatIntervalMs: Double
    /// While skin contact is lost: when it comes back, Unix ms.
    private var contactLostUntilMs: Int64?

    /// A device worn by `rider`, taking its first sample at the rider's `startMs`.
    /// - Parameters:
    ///   - firstSeq: The first sample's `seq`; by default derived from `seed` (below 1,000,000).
    ///   - seed: Seeds the device's own randomness (RR variability, contact losses).
    public init(
        participantID: String, rider: Rider, configuration: Configuration = Configuration(), firstSeq: UInt32? = nil,
        seed: UInt64
    ) {
        self.participantID = participantID
        self.configuration = configuration
        self.rider = rider
        var rng = SplitMix64(seed: seed, stream: 0x4445_5649)  // "DEVI"
        let derivedSeq = UInt32(rng.next() % 1_000_000)
        self.nextSeq = firstSeq ?? derivedSeq
        self.nextSampleMs = rider.timeMs
        self.lastSampleMs = rider.timeMs
        self.lastHeartRate = rider.heartRate
        let interval = 60_000 / rider.heartRate
        self.nextBeatMs = Double(rider.timeMs) + interval * rng.nextUnit()
        self.nextBeatIntervalMs = interval
        self.rng = rng
    }

    /// A device worn by a random rider (see `Rider.init(seed:workout:startMs:name:)`), all derived from `seed`.
    public init(
        participantID: String, seed: UInt64, workout: Workout = .standard, startMs: Int64, name: String? = nil,
        configuration: Configuration = Configuration(), firstSeq: UInt32? = nil
    ) {
        let rider = Rider(seed: seed, workout: workout, startMs: startMs, name: name)
        self.init(
            participantID: participantID, rider: rider, configuration: configuration, firstSeq: firstSeq, seed: seed)
    }

    /// The profile to send in `hello`.
    public var profile: Profile {
        rider.traits.profile
    }

    /// Takes the sample due next on the regular cadence (at `nextSampleMs`) and schedules the one after.
    public mutating func next() -> Sample {
        sample(at: nextSampleMs)
    }

    /// Takes every sample due on the regular cadence up to and including `timeMs`, in order.
    public mutating func samples(through timeMs: Int64) -> [Sample] {
        var due: [Sample] = []
        while nextSampleMs <= timeMs {
            due.append(next())
        }
        return due
    }

    /// Takes one sample at `timeMs`, off the regular cadence if need be (the cadence goes on from there).
    ///
    /// Time never goes back: a `timeMs` earlier than the previous sample is taken as the previous sample's time.
    public mutating func sample(at timeMs: Int64) -> Sample {
        let now = max(timeMs, lastSampleMs)
        var reading = rider.sample(at: now)
        var heartRate = rider.heartRate
        var beats = beatIntervals(through: now, heartRate: heartRate)
        if replay != nil {
            let replayed = replay!.reading(at: now)
            (reading, heartRate, beats) = (replayed.bpm, replayed.bpm, replayed.intervalsMs.map(Double.init))
        }
        let elapsedMs = now - lastSampleMs
        lastSampleMs = now
        lastHeartRate = heartRate
        nextSampleMs = now + configuration.sampleIntervalMs

        let seq = nextSeq
        nextSeq &+= 1

        // Contact: an ongoing loss ends on time (this sample has contact again); otherwise, if the previous sample
        // had contact, a loss may start now. The draw is made either way, so the stream of draws stays regular.
        let hadContact = contactLostUntilMs == nil
        if let until = contactLostUntilMs, now >= until {
            contactLostUntilMs = nil
        }
        let lossDraw = rng.nextUnit()
        if hadContact && lossDraw < configuration.contactLossProbability {
            contactLostUntilMs = now + rng.nextInt64(in: configuration.contactLossDurationMs)
        }
        guard contactLostUntilMs == nil else {
            return Sample(seq: seq, ts: now, bpm: 0, rr: [], contact: false, ee: reportedEnergy)
        }

        energyKJ += Self.energyRateKJPerMinute(heartRate: heartRate, traits: rider.traits) * Double(elapsedMs) / 60_000
        let rr = configuration.reportsRR ? beats.suffix(Self.maxRRPerSample).map(Self.rrUnits) : []
        let bpm = UInt8(min(max(reading.rounded(), 25), 250))
        return Sample(seq: seq, ts: now, bpm: bpm, rr: rr, contact: true, ee: reportedEnergy)
    }

    /// The `ee` field: whole kJ expended so far, when the device reports energy.
    private var reportedEnergy: UInt16? {
        configuration.reportsEnergy ? UInt16(min(energyKJ.rounded(.down), 65_535)) : nil
    }

    /// The RR intervals (ms) of the heartbeats after the previous sample up to and including `timeMs`.
    ///
    /// Each beat's interval is 60,000 / HR, with HR interpolated linearly between the previous sample and this one,
    /// modulated by breathing (more at low intensity) and varied by a little noise.
    private mutating func beatIntervals(through timeMs: Int64, heartRate: Double) -> [Double] {
        var intervals: [Double] = []
        let from = Double(lastSampleMs)
        let span = Double(timeMs) - from
        let relaxed = max(0, 1 - rider.intensity)
        while nextBeatMs <= Double(timeMs) {
            intervals.append(nextBeatIntervalMs)
            let fraction = span > 0 ? (nextBeatMs - from) / span : 1
            let rate = lastHeartRate + (heartRate - lastHeartRate) * fraction
            let breathing =
                Self.respiratoryAmplitude * relaxed
                * Math.sin(2 * Double.pi * nextBeatMs / Self.breathPeriodMs)
            let noise = configuration.rrVariability * rng.nextGaussian()
            let interval = 60_000 / rate * (1 + breathing + noise)
            nextBeatIntervalMs = min(max(interval, 240), 2_400)  // 25...250 bpm
            nextBeatMs += nextBeatIntervalMs
        }
        return intervals
    }

    /// An RR interval in ms as the protocol carries it: 1/1024 s units, 1...65535.
    private static func rrUnits(_ intervalMs: Double) -> UInt16 {
        UInt16(min(max((intervalMs * 1.024).rounded(), 1), 65_535))
    }

    /// Energy expenditure from heart rate (Keytel et al. 2005, the formula without VO2max, male coefficients),
    /// kJ per minute, never negative.
    static func energyRateKJPerMinute(heartRate: Double, traits: RiderTraits) -> Double {
        max(0, -55.0969 + 0.6309 * heartRate + 0.1988 * traits.weightKg + 0.2017 * Double(traits.age))
    }
}

extension DeviceSimulator {
    /// A simulated class of `count` devices, all derived from `seed`: riders with distinct first names (numbered
    /// once the name list runs out) and participant ids made from them (`anna`, `ben`, …, `anna-2`), all following
    /// `workout` from `startMs`.
    public static func group(
        count: Int, seed: UInt64, workout: Workout = .standard, startMs: Int64,
        configuration: Configuration = Configuration()
    ) -> [DeviceSimulator] {
        var rng = SplitMix64(seed: seed, stream: 0x4752_4F55)  // "GROU"
        var names = RiderTraits.firstNames
        // Fisher–Yates with the simulation's own draws, so the order cannot change with the standard library.
        for index in stride(from: names.count - 1, to: 0, by: -1) {
            names.swapAt(index, rng.nextIndex(below: index + 1))
        }
        return (0..<count).map { index in
            let round = index / names.count
            let base = names[index % names.count]
            let name = round == 0 ? base : "\(base) \(round + 1)"
            let id = round == 0 ? base.lowercased() : "\(base.lowercased())-\(round + 1)"
            var deviceRNG = SplitMix64(seed: seed, stream: UInt64(index))
            let deviceSeed = deviceRNG.next()
            return DeviceSimulator(
                participantID: id, seed: deviceSeed, workout: workout, startMs: startMs, name: name,
                configuration: configuration)
        }
    }
}
