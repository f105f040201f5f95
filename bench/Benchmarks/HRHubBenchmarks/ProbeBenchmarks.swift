import Benchmark
import HRProbeCore
import HRProtocol

/// `hrprobe run`'s receive path without sockets: every frame one publisher's round of samples makes, as each of
/// 1,000 viewers receives it, through `HubFrameScanner` and the accounting `LoadSession.relayed` does per sample
/// for a normal viewer of a `--role both` run (participant id → rider index, the (viewer, rider) stream's
/// `StreamAccount.deliver`, the lag histograms: end to end, the progress line's, the class's, hub → viewer,
/// uncorrected, publisher → hub, and the fan-out when the last viewer has the sample).
///
/// One iteration = one round: 1,000 frames of `samplesPerFrame` samples each (1,000 × samplesPerFrame deliveries).
/// The round's frame is encoded once before the measured part (the hub sends the same bytes to every viewer), so
/// the CPU time is the probe's alone; report it per delivery by dividing by 1,000 × samplesPerFrame.
func registerProbeBenchmarks() {
    for samplesPerFrame in [1, 10] {
        for binary in [false, true] {
            let fixture = ProbeReceiveFixture(viewers: 1000, samplesPerFrame: samplesPerFrame, binary: binary)
            Benchmark(
                "Probe.receive.\(samplesPerFrame)perFrame.1000viewers.\(binary ? "binary" : "JSON")",
                configuration: .init(thresholds: Tolerances.standard(mallocSlack: 4))
            ) { benchmark in
                fixture.nextRound()
                ThreadCPU.measure(benchmark) { blackHole(fixture.receiveRound()) }
            }
        }
    }
}

/// One class of `samplesPerFrame` riders (`r0`, `r1`, …, one sample each per round) and `viewers` viewers, with
/// the probe's per-stream state for every (viewer, rider) pair.
final class ProbeReceiveFixture {
    let viewers: Int
    let riders: Int
    let binary: Bool
    /// The round's frame, as every viewer receives it.
    private(set) var frame: [UInt8] = []
    private var round: UInt32 = 0
    private var nowUs: Int64 = Fixtures.startMs * 1_000

    /// The receive-side state `LoadSession` keeps: streams (viewer slot × rider), per rider the newest seq seen, when
    /// each seq was written (the uncorrected lag) and how many viewers still owe it (the fan-out), and the histograms.
    private var streams: [StreamAccount]
    private var lastObserved: [UInt32?]
    private var fanRemaining: [Int]
    private var lag = LagDistribution()
    private var recentLag = LagDistribution(digits: .two)
    private var classLag = LagDistribution(digits: .two)
    private var egress = LagDistribution()
    private var uncorrected = LagDistribution()
    private var ingress = LagDistribution()
    private var fanOut = LagDistribution()
    private var received = 0
    private var foreign = 0

    init(viewers: Int, samplesPerFrame: Int, binary: Bool) {
        self.viewers = viewers
        self.riders = samplesPerFrame
        self.binary = binary
        streams = Array(repeating: StreamAccount(expectFrom: 1), count: viewers * samplesPerFrame)
        lastObserved = Array(repeating: nil, count: samplesPerFrame)
        fanRemaining = Array(repeating: 0, count: samplesPerFrame)
        // Warm every stream and histogram bucket the measurement will touch.
        for _ in 0..<3 {
            nextRound()
            _ = receiveRound()
        }
    }

    /// Makes the next round's frame: every rider's next seq, due 5 ms apart, relayed 2 ms after it was due and
    /// received 5 ms after that.
    func nextRound() {
        round &+= 1
        nowUs += 5_000
        var messages: [HubMessage] = []
        frame.removeAll(keepingCapacity: true)
        for r in 0..<riders {
            let dueMs = nowUs / 1_000 - 7
            let relayed = RelayedSample(
                p: "r\(r)", sample: Sample(seq: round, ts: dueMs, bpm: 142, rr: [431]), rts: dueMs + 2, pct: 76,
                zone: 3)
            if binary { HubFrameEncoder.appendBinary(relayed, to: &frame) } else { messages.append(.hr(relayed)) }
        }
        if !binary { frame = HubFrameEncoder.frame(messages) }
        for r in 0..<riders { fanRemaining[r] = viewers }
    }

    /// Every viewer receives the round's frame. Returns the samples accounted.
    func receiveRound() -> Int {
        let before = received
        frame.withUnsafeBytes { bytes in
            for slot in 0..<viewers {
                if binary {
                    _ = HubFrameScanner.scanBinary(bytes) { relayed($0, slot: slot, in: bytes) }
                } else {
                    _ = HubFrameScanner.scanJSON(bytes) { message in
                        if message.kind == .hr { relayed(message, slot: slot, in: bytes) }
                    }
                }
            }
        }
        return received - before
    }

    /// What `LoadSession.relayed` does with one sample for a normal viewer.
    private func relayed(_ m: ScannedMessage, slot: Int, in bytes: UnsafeRawBufferPointer) {
        guard let r = ParticipantNumbering.index(in: bytes, m.p), r < riders else {
            foreign += 1
            return
        }
        let s = slot * riders + r
        received += 1
        let intendedUs = m.ts * 1_000
        let lagUs = nowUs - intendedUs
        if lastObserved[r].map({ Int32(bitPattern: m.seq &- $0) > 0 }) ?? true { lastObserved[r] = m.seq }
        let outcome = streams[s].deliver(seq: m.seq, transitUs: lagUs, measuredFrom: 1)
        guard outcome != .duplicate && outcome != .outsideWindow else { return }
        lag.record(lagUs)
        recentLag.record(lagUs)
        classLag.record(lagUs)
        egress.record(nowUs - (m.rts * 1_000 + 500))
        uncorrected.record(lagUs - 300)
        ingress.record(m.rts * 1_000 + 500 - (intendedUs + 300))
        fanRemaining[r] -= 1
        if fanRemaining[r] == 0 { fanOut.record(lagUs) }
    }
}
