import Benchmark
import HRCore
import HRProtocol

/// The class tick inside HRCore, no sockets: every rider of one class sent one sample during the last 100 ms,
/// then the tick runs (`Relay.tick`: release what is due, build the tick's frame once per wire format and mode)
/// and every viewer's WRITEABLE callback takes its frame (`nextFrame`, `hasPendingWrite`), as Hub.serverNextFrame
/// does. Only the tick and the writes are measured (thread CPU), not the samples' `receive`. One operation = one
/// tick: riders × viewers deliveries in one frame per viewer.
func registerTickBenchmarks() {
    // A studio class (50 rider apps viewing too), a big class, a live-streamed class on 20 screens.
    for (riders, viewers) in [(50, 50), (500, 50), (5_000, 20)] {
        let fixture = TickFixture(riders: riders, viewers: viewers)
        Benchmark(
            "Tick.frame.\(riders)riders.\(viewers)viewers",
            configuration: .init(
                scalingFactor: .one, thresholds: Tolerances.standard(mallocSlack: max(4, riders / 100)))
        ) { benchmark in
            for _ in benchmark.scaledIterations {
                fixture.receiveOneRound()
                ThreadCPU.measure(benchmark) { blackHole(fixture.tickAndWrite()) }
            }
        }
    }
}

/// A relay ticking every 100 ms with `riders` publishing riders and `viewers` JSON viewers in one class.
final class TickFixture {
    let relay: Relay
    let publishers: [ClientID]
    let viewers: [ClientID]
    private var seq: UInt32 = 0
    private var now: Int64 = Fixtures.startMs

    init(riders: Int, viewers: Int) {
        var config = RelayConfig()
        config.tickMs = 100
        config.jitterBuffer = false
        config.frameHeadroom = 16
        config.maxParticipantsPerClass = riders + viewers
        config.queueLimits = .init(maxMessages: 100_000, maxBytes: 64 << 20)
        relay = Relay(config: config)
        publishers = (0..<riders).map { ClientID(UInt64(1 + $0)) }
        self.viewers = (0..<viewers).map { ClientID(UInt64(1_000_000 + $0)) }
        for (index, publisher) in publishers.enumerated() {
            relay.open(
                publisher, request: ConnectRequest(classID: "bench", role: .publisher, participant: "rider\(index)"),
                format: .json, now: now)
            relay.receive(publisher, .hello(Profile(name: "Rider \(index)", hrmax: 187)), now: now)
        }
        for viewer in self.viewers {
            relay.open(
                viewer, request: ConnectRequest(classID: "bench", role: .viewer, participant: nil), format: .json,
                now: now)
        }
        // Welcome, snapshot, joins and a first round through every viewer.
        receiveOneRound()
        _ = tickAndWrite()
    }

    /// One sample from every rider, spread over the 100 ms before the next tick (1 s after the last round).
    func receiveOneRound() {
        seq &+= 1
        let tick = now + 1000
        for (index, publisher) in publishers.enumerated() {
            let at = tick - 100 + Int64(index % 100)
            relay.receive(publisher, .hr(Sample(seq: seq, ts: at - Fixtures.deviceLagMs, bpm: 142, rr: [431])), now: at)
        }
        now = tick
    }

    /// The tick, then every viewer's frame. Returns the payload bytes written.
    func tickAndWrite() -> Int {
        relay.tick(now: now)
        return relay.writeRequestedFrames(now: now)
    }
}
