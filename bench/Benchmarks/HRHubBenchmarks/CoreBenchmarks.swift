import Benchmark
import HRCore
import HRProtocol

/// HRCore's per-participant and per-connection structures, driven through their public API.
func registerCoreBenchmarks() {
    // One strap's stream at 1 Hz with Wi-Fi-like jitter (a repeating pattern of extra delays, up to 300 ms), so the
    // playout delay adapts and some samples are held: per inner iteration one `insert`, one `releaseDue` at
    // arrival (what the relay does on receive) and one a playout-delay later (what its timer does).
    Benchmark(
        "JitterBuffer.insertRelease",
        configuration: .init(scalingFactor: .kilo, thresholds: Tolerances.standard(mallocSlack: 100))
    ) { benchmark in
        let jitterMs: [Int64] = [0, 3, 40, 1, 7, 300, 2, 0, 12, 90, 5, 1, 0, 25, 4, 60]
        var buffer = JitterBuffer(settings: .init(enabled: true, maxDelayMs: 400))
        var seq: UInt32 = 0
        var released = 0
        benchmark.startMeasurement()
        ThreadCPU.measure(benchmark) {
            for i in benchmark.scaledIterations {
                seq &+= 1
                let ts = Fixtures.startMs + Int64(seq) * 1000
                let arrival = ts + Fixtures.deviceLagMs + jitterMs[i & 15]
                buffer.insert(Fixtures.sample(seq: seq, ts: ts), arrivalMs: arrival, offsetMs: Fixtures.deviceLagMs)
                released += buffer.releaseDue(now: arrival).count
                released += buffer.releaseDue(now: arrival + 450).count
            }
        }
        blackHole(released)
        blackHole(buffer)
    }

    // One connection's queue, per inner iteration: a second of a 10-rider class, 2 samples each (20 enqueues of
    // pre-encoded, shared OutboundMessages, as the relay fans them out), then drained like the transport does:
    // frames until `drain` returns nil. `all` sends 20 samples; `latest` conflates to 10 samples + 10 gaps
    // (the replaced sample's RR carried over).
    for mode in [DeliveryMode.all, .latest] {
        Benchmark(
            "SendQueue.enqueueDrain.\(mode.rawValue).20msgs",
            configuration: .init(scalingFactor: .kilo, thresholds: Tolerances.standard(mallocSlack: 100))
        ) { benchmark in
            let riders = (0..<10).map { "rider\($0)" }
            let now = Fixtures.startMs + 1000
            let messages = (1...2).flatMap { seq in
                riders.map { rider in
                    OutboundMessage(sample: Fixtures.relayed(rider, seq: UInt32(seq)), captureHubMs: now)
                }
            }
            var queue = SendQueue(mode: mode, format: .json, limits: .init())
            var counters = RelayCounters()
            var frame = Fixtures.buffer()
            var bytes = 0
            func round() {
                for message in messages {
                    queue.enqueue(message, now: now, counters: &counters)
                }
                while true {
                    frame.removeAll(keepingCapacity: true)
                    guard queue.drain(now: now, budgetMs: 800, targetBytes: 16 * 1024, into: &frame, counters: &counters)
                        != nil
                    else { break }
                    bytes += frame.count
                }
            }
            round()  // the queue's storage grows once, before the measurement
            benchmark.startMeasurement()
            ThreadCPU.measure(benchmark) {
                for _ in benchmark.scaledIterations { round() }
            }
            blackHole(bytes)
            blackHole(counters)
        }
    }
}
