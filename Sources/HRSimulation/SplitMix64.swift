/// A small, fast, seedable pseudo-random number generator (Steele, Lea and Flood's SplitMix64).
///
/// Everything in HRSimulation draws its randomness from this generator, so a simulation is a pure function of
/// its seed: the same seed gives the same riders, the same heart-rate traces and the same samples on every run and
/// every platform. It is not cryptographically secure; it is meant for simulations and tests.
///
/// ```swift
/// var rng = SplitMix64(seed: 42)
/// let roll = Int.random(in: 1...6, using: &rng)
/// ```
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    /// The golden-ratio increment added to the state on every draw.
    static let increment: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// The generator's whole state: the next output is `SplitMix64.mix(state &+ 0x9E3779B97F4A7C15)`.
    public private(set) var state: UInt64

    /// Creates a generator whose output is entirely determined by `seed`.
    public init(seed: UInt64) {
        self.state = seed
    }

    /// Creates the generator for one independent stream of a seed, such as one device of a simulated class.
    ///
    /// Different `stream` values of the same seed give unrelated sequences, so a class of simulated devices can be
    /// derived from one seed without the devices sharing (or depending on the order of) their draws.
    public init(seed: UInt64, stream: UInt64) {
        self.state = Self.mix(seed ^ Self.mix(stream &+ Self.increment))
    }

    /// Returns the next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= Self.increment
        return Self.mix(state)
    }

    /// Returns a new generator seeded from this one's next output, for handing randomness to a sub-component.
    public mutating func split() -> SplitMix64 {
        SplitMix64(seed: next())
    }

    /// The SplitMix64 output function: a bijective 64-bit mixer (also handy for hashing seeds).
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// Draws used by the simulation, written out here (rather than using the standard library's `random(in:using:)`)
// so that the traces cannot change when the standard library changes how it maps bits to values.
extension RandomNumberGenerator {
    /// A uniform double in [0, 1) with 53 random bits.
    mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A uniform integer in [0, bound), `bound > 0` (multiply-high; the bias is below 2^-32 for small bounds).
    mutating func nextIndex(below bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// A uniform integer in `range`.
    mutating func nextInt64(in range: ClosedRange<Int64>) -> Int64 {
        let width = UInt64(bitPattern: range.upperBound &- range.lowerBound) &+ 1
        if width == 0 { return Int64(bitPattern: next()) }  // the full Int64 range
        return range.lowerBound &+ Int64(bitPattern: next().multipliedFullWidth(by: width).high)
    }

    /// A standard normal draw (mean 0, standard deviation 1), by the Box–Muller transform.
    mutating func nextGaussian() -> Double {
        let u1 = 1.0 - nextUnit()  // (0, 1]: log is finite
        let u2 = nextUnit()
        return (-2.0 * Math.log(u1)).squareRoot() * Math.cos(2.0 * Double.pi * u2)
    }
}
