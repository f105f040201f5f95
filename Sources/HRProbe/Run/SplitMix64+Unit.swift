import HRSimulation

extension SplitMix64 {
    /// A uniform draw in [0, 1) from the top 53 bits.
    mutating func unit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }
}
