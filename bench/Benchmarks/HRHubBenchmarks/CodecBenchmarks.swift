import Benchmark
import HRCore
import HRProtocol

/// HRProtocol's four sample codecs, one sample per inner iteration.
func registerCodecBenchmarks() {
    // Client → hub, text: Foundation's JSONDecoder with the hand-written one-pass `init(from:)`.
    codecBenchmark("Codec.decodeClientHR.JSON", mallocSlack: 500, state: { Fixtures.clientJSON }) { frame in
        blackHole(try? ClientFrameDecoder.decodeJSON(frame))
    }

    // Client → hub, binary: the 16-byte header and one RR value.
    codecBenchmark("Codec.decodeClientHR.binary", state: { Fixtures.clientBinary }) { frame in
        blackHole(try? ClientFrameDecoder.decodeBinary(frame))
    }

    // Hub → client, text: one relayed `hr` object appended to a reused frame buffer (HubFrameEncoder.appendJSON).
    let message = HubMessage.hr(Fixtures.relayed())
    encodingBenchmark("Codec.encodeRelayedHR.JSON") { out in HubFrameEncoder.appendJSON(message, to: &out) }

    // Hub → client, binary layout (HubFrameEncoder.appendBinary).
    let sample = Fixtures.relayed()
    encodingBenchmark("Codec.encodeRelayedHR.binary") { out in HubFrameEncoder.appendBinary(sample, to: &out) }

    // What the relay really does once per released sample: a shared OutboundMessage (JSON encoded into its own array).
    codecBenchmark("Codec.outboundMessage.JSON", state: { Fixtures.relayed() }) { sample in
        blackHole(OutboundMessage(sample: sample, captureHubMs: Fixtures.startMs))
    }
}

/// Registers a `Codec.*` benchmark (1,000 operations per iteration, CPU and mallocs gated by
/// `Tolerances.standard(mallocSlack:)`): `makeState` runs before the measurement starts, then `operation` once per
/// inner iteration on what it made, timed on the thread's CPU clock.
func codecBenchmark<State>(
    _ name: String, mallocSlack: Int = 100, state makeState: @escaping () -> State,
    _ operation: @escaping (inout State) -> Void
) {
    Benchmark(
        name,
        configuration: .init(scalingFactor: .kilo, thresholds: Tolerances.standard(mallocSlack: mallocSlack))
    ) { benchmark in
        var state = makeState()
        benchmark.startMeasurement()
        ThreadCPU.measure(benchmark) {
            for _ in benchmark.scaledIterations {
                operation(&state)
            }
        }
    }
}

/// Registers a `Codec.*` benchmark that encodes one frame per inner iteration: `encode` appends it to a reused
/// buffer (Fixtures.buffer, emptied before each frame, so it never grows during the measurement).
func encodingBenchmark(_ name: String, _ encode: @escaping (inout [UInt8]) -> Void) {
    codecBenchmark(name, state: Fixtures.buffer) { out in
        out.removeAll(keepingCapacity: true)
        encode(&out)
        blackHole(out)
    }
}
