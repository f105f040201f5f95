import Benchmark
import HRCore
import HRProtocol

/// HRProtocol's four sample codecs, one sample per inner iteration.
func registerCodecBenchmarks() {
    // Client → hub, text: Foundation's JSONDecoder with the hand-written one-pass `init(from:)`.
    Benchmark(
        "Codec.decodeClientHR.JSON",
        configuration: .init(scalingFactor: .kilo, thresholds: Tolerances.standard(mallocSlack: 500))
    ) { benchmark in
        let frame = Fixtures.clientJSON
        benchmark.startMeasurement()
        ThreadCPU.measure(benchmark) {
            for _ in benchmark.scaledIterations {
                blackHole(try? ClientFrameDecoder.decodeJSON(frame))
            }
        }
    }

    // Client → hub, binary: the 16-byte header and one RR value.
    Benchmark(
        "Codec.decodeClientHR.binary",
        configuration: .init(scalingFactor: .kilo, thresholds: Tolerances.standard(mallocSlack: 100))
    ) { benchmark in
        let frame = Fixtures.clientBinary
        benchmark.startMeasurement()
        ThreadCPU.measure(benchmark) {
            for _ in benchmark.scaledIterations {
                blackHole(try? ClientFrameDecoder.decodeBinary(frame))
            }
        }
    }

    // Hub → client, text: one relayed `hr` object appended to a reused frame buffer (HubFrameEncoder.appendJSON).
    Benchmark(
        "Codec.encodeRelayedHR.JSON",
        configuration: .init(scalingFactor: .kilo, thresholds: Tolerances.standard(mallocSlack: 100))
    ) { benchmark in
        let message = HubMessage.hr(Fixtures.relayed())
        var out = Fixtures.buffer()
        benchmark.startMeasurement()
        ThreadCPU.measure(benchmark) {
            for _ in benchmark.scaledIterations {
                out.removeAll(keepingCapacity: true)
                HubFrameEncoder.appendJSON(message, to: &out)
                blackHole(out)
            }
        }
    }

    // Hub → client, binary layout (HubFrameEncoder.appendBinary).
    Benchmark(
        "Codec.encodeRelayedHR.binary",
        configuration: .init(scalingFactor: .kilo, thresholds: Tolerances.standard(mallocSlack: 100))
    ) { benchmark in
        let sample = Fixtures.relayed()
        var out = Fixtures.buffer()
        benchmark.startMeasurement()
        ThreadCPU.measure(benchmark) {
            for _ in benchmark.scaledIterations {
                out.removeAll(keepingCapacity: true)
                HubFrameEncoder.appendBinary(sample, to: &out)
                blackHole(out)
            }
        }
    }

    // What the relay really does once per released sample: a shared OutboundMessage (JSON encoded into its own array).
    Benchmark(
        "Codec.outboundMessage.JSON",
        configuration: .init(scalingFactor: .kilo, thresholds: Tolerances.standard(mallocSlack: 100))
    ) { benchmark in
        let sample = Fixtures.relayed()
        benchmark.startMeasurement()
        ThreadCPU.measure(benchmark) {
            for _ in benchmark.scaledIterations {
                blackHole(OutboundMessage(sample: sample, captureHubMs: Fixtures.startMs))
            }
        }
    }
}
