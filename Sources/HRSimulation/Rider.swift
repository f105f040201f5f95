/// A simulated rider following a class plan: a first-order heart-rate kinetics model plus noise.
///
/// The rider's heart rate approaches a target, hrrest + intensity × (hrmax − hrrest) × effort, where the
/// intensity comes from the `Workout` at the current time. The approach is exponential with the rider's rising
/// time constant (about 30 s) when the target is above the current rate and the falling one (about 60 s) when
/// below. On top of it sit a slow random drift (an Ornstein–Uhlenbeck process, standard deviation 1.5 bpm,
/// time constant 20 s) and, in each reading, a small beat-to-beat jitter (standard deviation 0.6 bpm).
///
/// The model is pure: time is passed in (Unix milliseconds), randomness comes from a seeded `SplitMix64`, and the
/// same seed and the same sequence of calls give the same values. Time never goes back: asking for an earlier
/// time than the last one leaves the state unchanged.
public struct Rider: Sendable {
    /// Largest integration step, in milliseconds; longer advances are split into steps of this size.
    static let maxStepMs: Int64 = 1_000
    /// Standard deviation of the slow drift, bpm.
    static let driftStandardDeviation = 1.5
    /// Time constant of the slow drift, seconds.
    static let driftTimeConstantS = 20.0
    /// Standard deviation of the beat-to-beat jitter added to each reading, bpm.
    static let jitterStandardDeviation = 0.6
    /// How far beyond hrrest...hrmax a reading may stray, bpm.
    static let margin = 3.0

    /// Who the rider is.
    public let traits: RiderTraits
    /// The class plan the rider follows.
    public let workout: Workout
    /// When the rider's class started, Unix milliseconds (elapsed time in the plan is measured from here).
    public let startMs: Int64
    /// The time the model has been advanced to, Unix milliseconds.
    public private(set) var timeMs: Int64

    /// The deterministic part of the heart rate (the kinetics), bpm.
    private var kinetic: Double
    /// The slow random drift added to it, bpm.
    private var drift: Double
    private var rng: SplitMix64

    /// A rider with the given traits, starting the class at `startMs`, with noise drawn from `seed`.
    ///
    /// The heart rate starts a little above rest (20 % of the reserve, scaled by effort): the rider walked in.
    public init(traits: RiderTraits, workout: Workout = .standard, startMs: Int64, seed: UInt64) {
        self.traits = traits
        self.workout = workout
        self.startMs = startMs
        self.timeMs = startMs
        self.kinetic = Double(traits.hrrest) + 0.2 * Double(traits.reserve) * traits.effort
        self.rng = SplitMix64(seed: seed, stream: 0x5249_4445)  // "RIDE"
        self.drift = Self.driftStandardDeviation * rng.nextGaussian()
    }

    /// A random rider (traits drawn by `RiderTraits.random(using:)`) wholly determined by `seed`.
    public init(seed: UInt64, workout: Workout = .standard, startMs: Int64, name: String? = nil) {
        var rng = SplitMix64(seed: seed, stream: 0x5452_4149)  // "TRAI"
        self.init(traits: .random(using: &rng, name: name), workout: workout, startMs: startMs, seed: seed)
    }

    /// The plan's intensity (fraction of heart-rate reserve) at the model's current time.
    public var intensity: Double {
        workout.intensity(at: timeMs - startMs)
    }

    /// The heart rate at the current time, bpm: kinetics plus drift, without the beat-to-beat jitter, kept within
    /// hrrest − 3 ... hrmax + 3.
    public var heartRate: Double {
        clamp(kinetic + drift)
    }

    /// Moves the model forward to `timeMs` (Unix milliseconds). Earlier times are ignored.
    public mutating func advance(to timeMs: Int64) {
        var now = self.timeMs
        while now < timeMs {
            let step = min(Self.maxStepMs, timeMs - now)
            let seconds = Double(step) / 1000
            // Exact solution of dHR/dt = (target − HR) / tau over one step, with the target taken mid-step.
            let goal = target(at: now + step / 2)
            let tau = goal >= kinetic ? traits.riseTimeConstantS : traits.fallTimeConstantS
            kinetic = goal + (kinetic - goal) * Math.exp(-seconds / tau)
            // Exact discretisation of the Ornstein–Uhlenbeck drift.
            let decay = Math.exp(-seconds / Self.driftTimeConstantS)
            let spread = Self.driftStandardDeviation * (1 - decay * decay).squareRoot()
            drift = drift * decay + spread * rng.nextGaussian()
            now += step
        }
        self.timeMs = max(self.timeMs, timeMs)
    }

    /// Advances to `timeMs` and returns one reading there: the heart rate plus beat-to-beat jitter, in bpm
    /// (not rounded), kept within hrrest − 3 ... hrmax + 3.
    public mutating func sample(at timeMs: Int64) -> Double {
        advance(to: timeMs)
        return clamp(kinetic + drift + Self.jitterStandardDeviation * rng.nextGaussian())
    }

    /// The target heart rate at `timeMs`, bpm.
    private func target(at timeMs: Int64) -> Double {
        let intensity = workout.intensity(at: timeMs - startMs)
        return Double(traits.hrrest) + intensity * Double(traits.reserve) * traits.effort
    }

    /// Keeps a rate within the rider's plausible range and the protocol's 25...250.
    private func clamp(_ bpm: Double) -> Double {
        let low = max(25, Double(traits.hrrest) - Self.margin)
        let high = min(250, Double(traits.hrmax) + Self.margin)
        return min(max(bpm, low), high)
    }
}
