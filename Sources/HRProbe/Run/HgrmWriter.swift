import HRProbeCore

/// `--hgrm`: the lag distribution as HdrHistogram's percentile distribution text (values in milliseconds), the
/// format HdrHistogram's plotter and most tooling around it read.
enum HgrmWriter {
    static func render(_ distribution: LagDistribution) -> String {
        var text = ""
        distribution.histogram.outputPercentileDistribution(
            to: &text, outputValueUnitScalingRatio: 1_000, percentileTicksPerHalfDistance: 5)
        return text
    }
}
