import HRProtocol

/// Who a simulated rider is: name, body and the physiology that shapes their heart-rate trace.
///
/// `random(using:)` draws plausible values: age 20...65, maximum heart rate from age (Tanaka: 208 − 0.7 × age,
/// give or take a few beats, kept within 160...200), resting heart rate 45...75 (lower for fitter riders),
/// and time constants near 30 s (rising) and 60 s (falling; fitter riders recover faster).
public struct RiderTraits: Sendable, Equatable {
    /// Display name (a first name from `firstNames` by default).
    public var name: String
    /// Age in years.
    public var age: Int
    /// Body mass in kilograms, used for the energy estimate.
    public var weightKg: Double
    /// Maximum heart rate, bpm.
    public var hrmax: Int
    /// Resting heart rate, bpm.
    public var hrrest: Int
    /// Fitness from 0 (untrained) to 1 (athlete).
    public var fitness: Double
    /// Personal factor applied to the plan's intensity: how hard this rider actually goes (about 0.88...1.05).
    public var effort: Double
    /// Time constant of the heart-rate response when it rises, in seconds.
    public var riseTimeConstantS: Double
    /// Time constant of the heart-rate response when it falls, in seconds.
    public var fallTimeConstantS: Double

    /// A rider with the given traits. `hrmax` must exceed `hrrest`; the time constants must be positive.
    public init(
        name: String, age: Int, weightKg: Double, hrmax: Int, hrrest: Int, fitness: Double, effort: Double = 1,
        riseTimeConstantS: Double = 30, fallTimeConstantS: Double = 60
    ) {
        precondition(hrmax > hrrest, "hrmax must exceed hrrest")
        precondition(riseTimeConstantS > 0 && fallTimeConstantS > 0, "time constants must be positive")
        self.name = name
        self.age = age
        self.weightKg = weightKg
        self.hrmax = hrmax
        self.hrrest = hrrest
        self.fitness = fitness
        self.effort = effort
        self.riseTimeConstantS = riseTimeConstantS
        self.fallTimeConstantS = fallTimeConstantS
    }

    /// The profile a device sends in `hello`.
    public var profile: Profile {
        Profile(name: name, hrmax: hrmax, hrrest: hrrest)
    }

    /// Heart-rate reserve (hrmax − hrrest), bpm.
    public var reserve: Int { hrmax - hrrest }

    /// Draws a plausible rider from `rng`; `name` defaults to one drawn from `firstNames`.
    public static func random(using rng: inout some RandomNumberGenerator, name: String? = nil) -> RiderTraits {
        let age = 20 + rng.nextIndex(below: 46)  // 20...65
        let fitness = rng.nextUnit()
        let hrmax = 208 - 0.7 * Double(age) + 4 * rng.nextGaussian()
        let hrrest = 75 - 25 * fitness + 3 * rng.nextGaussian()
        let effort = 0.88 + 0.12 * rng.nextUnit() + 0.05 * fitness
        let weight = 55 + 40 * rng.nextUnit()
        let drawnName = firstNames[rng.nextIndex(below: firstNames.count)]
        return RiderTraits(
            name: name ?? drawnName,
            age: age,
            weightKg: (weight * 10).rounded() / 10,
            hrmax: Int(min(max(hrmax.rounded(), 160), 200)),
            hrrest: Int(min(max(hrrest.rounded(), 45), 75)),
            fitness: fitness,
            effort: effort,
            riseTimeConstantS: 30 * (1.15 - 0.3 * fitness),
            fallTimeConstantS: 60 * (1.2 - 0.4 * fitness))
    }

    /// Plausible first names (ASCII letters only, so they also make valid participant ids).
    public static let firstNames: [String] = [
        "Aisha", "Alex", "Amara", "Anna", "Ben", "Carla", "Chen", "Chloe", "Daniel", "David", "Elena", "Emma",
        "Farah", "Felix", "Grace", "Hana", "Hugo", "Ines", "Isaac", "Jack", "Jonas", "Julia", "Kai", "Kenji",
        "Laura", "Leo", "Lina", "Lucas", "Maya", "Marco", "Mia", "Nadia", "Noah", "Nora", "Olga", "Omar",
        "Paula", "Priya", "Rafael", "Rosa", "Sam", "Sara", "Sofia", "Tariq", "Tom", "Vera", "Yusuf", "Zoe",
    ]
}
