import Benchmark
import HRCore
import HRProtocol

/// Samples fanned out to a class of 1,000 viewers inside HRCore, no sockets, with the class tick off (each sample
/// queued for every viewer when due; `TickBenchmarks` measures the tick): `Relay.receive(.hr)` (dedupe, rate
/// limit, clock offset, jitter buffer, encode once, enqueue to every viewer), then, as the hub does for each
/// `.write` effect, a WRITEABLE callback's work: `nextFrame` (a frame in the relay's reused buffer, with LWS_PRE
/// headroom), and `hasPendingWrite` to decide whether to ask for another write.
func registerFanOutBenchmarks() {
    // One sample, one frame per viewer: the unbatched worst case. One iteration = 1,000 deliveries.
    for format in [WireFormat.json, .binary] {
        let name = format == .json ? "JSON" : "binary"
        // Built once and kept: every iteration relays the next sample through the same warm relay.
        let fixture = FanOutFixture(riders: 1, viewers: 1000, format: format)
        Benchmark(
            "FanOut.1sample.1000viewers.\(name)",
            configuration: .init(thresholds: Tolerances.standard(mallocSlack: 4))
        ) { benchmark in
            ThreadCPU.measure(benchmark) { blackHole(fixture.relayOneRound()) }
        }
    }
    // Ten riders' samples arrive before the viewers' sockets are writable again (a busy hub): ten samples per
    // frame, the batched case the hub is built for. One iteration = 10,000 deliveries in 1,000 frames.
    let batched = FanOutFixture(riders: 10, viewers: 1000, format: .json)
    Benchmark(
        "FanOut.10samples.1000viewers.JSON.batched",
        configuration: .init(thresholds: Tolerances.standard(mallocSlack: 20))
    ) { benchmark in
        ThreadCPU.measure(benchmark) { blackHole(batched.relayOneRound()) }
    }
}

/// A relay with `riders` publishing riders and `viewers` viewers in one class, every queue drained.
final class FanOutFixture {
    static let lwsPre = 16
    let relay: Relay
    let publishers: [ClientID]
    private var seq: UInt32 = 0
    private var now: Int64 = Fixtures.startMs + Fixtures.deviceLagMs

    init(riders: Int, viewers: Int, format: WireFormat) {
        var config = RelayConfig()
        config.tickMs = 0
        config.frameHeadroom = Self.lwsPre
        relay = Relay(config: config)
        publishers = (0..<riders).map { ClientID(UInt64(1 + $0)) }
        for (index, publisher) in publishers.enumerated() {
            relay.open(
                publisher, request: ConnectRequest(classID: "bench", role: .publisher, participant: "rider\(index)"),
                format: .json, now: now)
            relay.receive(publisher, .hello(Profile(name: "Rider \(index)", hrmax: 187)), now: now)
        }
        for index in 0..<viewers {
            relay.open(
                ClientID(UInt64(100_000 + index)),
                request: ConnectRequest(classID: "bench", role: .viewer, participant: nil), format: format, now: now)
        }
        // Warm every queue: welcome, snapshot and a first round of samples through.
        _ = relayOneRound()
    }

    /// One sample from every rider, 1 s after the last, on a steady network (released on arrival), then every
    /// viewer written until its queue is empty. Returns the payload bytes written.
    func relayOneRound() -> Int {
        seq &+= 1
        now += 1000
        let sample = Sample(seq: seq, ts: now - Fixtures.deviceLagMs, bpm: 142, rr: [431])
        for publisher in publishers {
            relay.receive(publisher, .hr(sample), now: now)
        }
        let written = relay.writeRequestedFrames(now: now)
        for effect in relay.takeEffects() { blackHole(effect) }  // once per loop pass, as Hub.serverLoopPass
        return written
    }
}
