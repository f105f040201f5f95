import HRProtocol
import Testing

@testable import HRCore

/// The jitter buffer with a manual clock: every time below is a plain number of milliseconds.
@Suite struct JitterBufferTests {
    private func sample(_ seq: UInt32, ts: Int64) -> Sample { Sample(seq: seq, ts: ts, bpm: 120) }

    @Test func offReleasesOnArrivalWithZeroDelay() {
        var buffer = JitterBuffer(settings: .init(enabled: false, maxDelayMs: 400))
        buffer.insert(sample(1, ts: 0), arrivalMs: 350, offsetMs: 50)
        #expect(buffer.playoutDelayMs == 0)
        #expect(buffer.releaseDue(now: 350).map(\.sample.seq) == [1])
    }

    @Test func steadyNetworkNeedsNoDelay() {
        var buffer = JitterBuffer()
        for i in 0..<20 {
            let ts = Int64(i) * 1000
            buffer.insert(sample(UInt32(i), ts: ts), arrivalMs: ts + 30, offsetMs: 30)
            #expect(buffer.releaseDue(now: ts + 30).map(\.sample.seq) == [UInt32(i)])
        }
        #expect(buffer.playoutDelayMs == 0)
    }

    @Test func jitteryArrivalsGetADelayOfAtMostTheHeadroomAboveTheMedian() {
        var buffer = JitterBuffer(settings: .init(enabled: true, maxDelayMs: 400))
        for i in 0..<40 {
            let ts = Int64(i) * 1000
            let extra: Int64 = i % 2 == 0 ? 0 : 200
            buffer.insert(sample(UInt32(i), ts: ts), arrivalMs: ts + 20 + extra, offsetMs: 20)
            _ = buffer.releaseDue(now: ts + 999)
        }
        // Half the samples are 200 ms late: waiting for 95 % of them would add 185 ms to the other half, so the
        // delay stops at the median extra delay (0) + the 60 ms headroom − the 15 ms tolerance.
        #expect(buffer.playoutDelayMs == 45)
        // The next on-time sample now waits for its playout point instead of going out at once.
        let ts: Int64 = 40_000
        buffer.insert(sample(40, ts: ts), arrivalMs: ts + 20, offsetMs: 20)
        #expect(buffer.releaseDue(now: ts + 20).isEmpty)
        #expect(buffer.nextReleaseMs == ts + 20 + 45)
        #expect(buffer.releaseDue(now: ts + 20 + 45).map(\.sample.seq) == [40])
        #expect(buffer.nextReleaseMs == nil)
    }

    @Test func rareJitterIsWaitedForInFull() {
        // One sample in ten comes 50 ms late, within the headroom: the delay covers it, less the tolerance.
        var buffer = JitterBuffer(settings: .init(enabled: true, maxDelayMs: 400))
        for i in 0..<64 {
            let ts = Int64(i) * 1000
            buffer.insert(sample(UInt32(i), ts: ts), arrivalMs: ts + (i % 10 == 0 ? 50 : 0), offsetMs: 0)
            _ = buffer.releaseDue(now: ts + 999)
        }
        #expect(buffer.playoutDelayMs == 50 - 15)
    }

    @Test func aStallBeyondTheCapDoesNotHoldTheOnTimeSamplesAfterIt() {
        var buffer = JitterBuffer(settings: .init(enabled: true, maxDelayMs: 400))
        for i in 0..<20 {
            let ts = Int64(i) * 1000
            buffer.insert(sample(UInt32(i), ts: ts), arrivalMs: ts + 30, offsetMs: 30)
            _ = buffer.releaseDue(now: ts + 30)
        }
        // Wi-Fi stalls for three seconds: 20, 21 and 22 arrive together with 23, which is on time. No delay within
        // the cap could have covered the stall, so it does not count: 23 goes out at once (the old estimator held
        // the samples after a stall for up to its 400 ms cap).
        for i in 20...23 {
            buffer.insert(sample(UInt32(i), ts: Int64(i) * 1000), arrivalMs: 23_030, offsetMs: 30)
        }
        #expect(buffer.playoutDelayMs == 0)
        #expect(buffer.releaseDue(now: 23_030).map(\.sample.seq) == [20, 21, 22, 23])
    }

    @Test func theDelayStaysWithinTheCap() {
        var settings = JitterBuffer.Settings(enabled: true, maxDelayMs: 200)
        settings.headroomMs = 10_000
        var buffer = JitterBuffer(settings: settings)
        for i in 0..<40 {
            let ts = Int64(i) * 1000
            buffer.insert(sample(UInt32(i), ts: ts), arrivalMs: ts + (i % 2 == 0 ? 0 : 200), offsetMs: 0)
            #expect(buffer.playoutDelayMs <= 200)
            _ = buffer.releaseDue(now: ts + 999)
        }
        #expect(buffer.playoutDelayMs == 200 - 15)
    }

    @Test func reorderedArrivalsAreReleasedInSeqOrder() {
        var buffer = JitterBuffer(settings: .init(enabled: true, maxDelayMs: 400))
        // Prime a delay with some jitter so samples are held for a while.
        for i in 0..<10 {
            let ts = Int64(i) * 1000
            buffer.insert(sample(UInt32(i), ts: ts), arrivalMs: ts + (i % 2 == 0 ? 0 : 300), offsetMs: 0)
            _ = buffer.releaseDue(now: ts + 999)
        }
        let delay = buffer.playoutDelayMs
        #expect(delay > 0)
        // 11 overtakes 10 on the network; both arrive before 10's playout point.
        buffer.insert(sample(11, ts: 11_000), arrivalMs: 11_001, offsetMs: 0)
        buffer.insert(sample(10, ts: 10_000), arrivalMs: 11_002, offsetMs: 0)
        var released: [UInt32] = []
        var now: Int64 = 11_002
        while let next = buffer.nextReleaseMs {
            now = max(now, next)
            released += buffer.releaseDue(now: now).map(\.sample.seq)
        }
        #expect(released == [10, 11])
    }

    @Test func aMissingSeqIsNotWaitedForPastTheNextReleaseTime() {
        var buffer = JitterBuffer(settings: .init(enabled: true, maxDelayMs: 400))
        buffer.insert(sample(1, ts: 1000), arrivalMs: 1000, offsetMs: 0)
        #expect(buffer.releaseDue(now: 1000).map(\.sample.seq) == [1])
        // 2 never comes; 3 goes out at its own release time.
        buffer.insert(sample(3, ts: 3000), arrivalMs: 3000, offsetMs: 0)
        let due = buffer.nextReleaseMs!
        #expect(due <= 3000 + 400)
        #expect(buffer.releaseDue(now: due).map(\.sample.seq) == [3])
    }

    @Test(arguments: [Int64(-3_600_000), 0, 3_600_000])
    func deviceClockOffByAnHourIsJudgedTheSame(skew: Int64) {
        // The device clock reads `skew` ms off the hub's; the offset learnt absorbs it exactly.
        var buffer = JitterBuffer(settings: .init(enabled: true, maxDelayMs: 400))
        var estimator = ClockOffsetEstimator()
        var releases: [Int64] = []
        for i in 0..<20 {
            let hubCapture = 1_000_000 + Int64(i) * 1000
            let arrival = hubCapture + 40 + (i % 3 == 0 ? 150 : 0)
            let ts = hubCapture + skew
            estimator.observe(ts: ts, arrivalMs: arrival)
            buffer.insert(sample(UInt32(i), ts: ts), arrivalMs: arrival, offsetMs: estimator.offset)
            releases.append(buffer.nextReleaseMs! - hubCapture)
            _ = buffer.releaseDue(now: buffer.nextReleaseMs!)
        }
        // Same schedule relative to capture whatever the skew.
        #expect(releases == Self.referenceReleases)
    }

    private static let referenceReleases: [Int64] = {
        var buffer = JitterBuffer(settings: .init(enabled: true, maxDelayMs: 400))
        var estimator = ClockOffsetEstimator()
        var out: [Int64] = []
        for i in 0..<20 {
            let hubCapture = 1_000_000 + Int64(i) * 1000
            let arrival = hubCapture + 40 + (i % 3 == 0 ? 150 : 0)
            estimator.observe(ts: hubCapture, arrivalMs: arrival)
            buffer.insert(Sample(seq: UInt32(i), ts: hubCapture, bpm: 120), arrivalMs: arrival, offsetMs: estimator.offset)
            out.append(buffer.nextReleaseMs! - hubCapture)
            _ = buffer.releaseDue(now: buffer.nextReleaseMs!)
        }
        return out
    }()
}

/// The jitter buffer inside the relay: a viewer's view of a stall, a burst, resends and duplicates.
@Suite struct RelayJitterTests {
    private func frames(_ relay: Relay, _ id: ClientID, now: Int64) -> [HubMessage] {
        var all: [HubMessage] = []
        while let frame = relay.nextFrame(id, now: now) {
            all += (try? HubFrameDecoder.decodeJSON(frame.buffer.payload)) ?? []
        }
        return all
    }

    private func samples(_ messages: [HubMessage]) -> [UInt32] {
        messages.compactMap { if case .hr(let s) = $0 { s.sample.seq } else { nil } }
    }

    private func gaps(_ messages: [HubMessage]) -> [Gap] {
        messages.compactMap { if case .gap(let g) = $0 { g } else { nil } }
    }

    /// Runs the relay's timer until `end`, collecting what the viewer gets and when.
    private func run(
        _ relay: Relay, viewer: ClientID, from start: Int64, to end: Int64, into log: inout [(Int64, HubMessage)]
    ) {
        var now = start
        while now <= end {
            relay.tick(now: now)
            for message in frames(relay, viewer, now: now) { log.append((now, message)) }
            now = max(now + 1, min(relay.nextWakeMs, end + 1))
        }
    }

    /// With the class tick off and on: the tick adds at most one tick to when a sample goes out.
    @Test(arguments: [Int64(0), 50, 100])
    func burstAfterATwoSecondStallComesOutInOrderPacedAndLateOnesNamed(tickMs: Int64) {
        var config = RelayConfig()
        config.budgetMs = 800
        config.tickMs = tickMs
        let relay = Relay(config: config)
        let pub = ClientID(1)
        let viewer = ClientID(2)
        relay.open(viewer, request: ConnectRequest(classID: "c", role: .viewer, participant: nil), format: .json, now: 0)
        relay.open(pub, request: ConnectRequest(classID: "c", role: .publisher, participant: "a"), format: .json, now: 0)
        _ = frames(relay, viewer, now: 0)
        var log: [(Int64, HubMessage)] = []
        // Ten samples on time, 1 s apart, 30 ms on the network.
        for i in 0..<10 {
            let t = Int64(i) * 1000
            run(relay, viewer: viewer, from: t, to: t + 29, into: &log)
            relay.receive(pub, .hr(Sample(seq: UInt32(i), ts: t, bpm: 100)), now: t + 30)
        }
        // Wi-Fi stalls for two seconds: samples 10, 11, 12 (captured at 10 s, 11 s, 12 s) arrive together.
        run(relay, viewer: viewer, from: 9_030, to: 12_399, into: &log)
        for i in 10...12 {
            relay.receive(pub, .hr(Sample(seq: UInt32(i), ts: Int64(i) * 1000, bpm: 100)), now: 12_400)
        }
        run(relay, viewer: viewer, from: 12_400, to: 14_000, into: &log)
        let messages = log.map(\.1)
        let delivered = samples(messages)
        let late = gaps(messages).filter { $0.reason == .late }
        // Every seq delivered once in order, or named late: never both, never neither.
        #expect(delivered == delivered.sorted())
        #expect(Set(delivered).count == delivered.count)
        let named = Set(late.flatMap { Array($0.fromSeq...$0.toSeq) })
        #expect(named.isDisjoint(with: delivered))
        #expect(named.union(delivered) == Set(0...12))
        // Sample 10 is 2.4 s old at arrival: beyond the 800 ms budget, so it is named, not shown.
        #expect(named.contains(10))
        // Nothing goes out later than half the budget after its fastest-possible arrival (ts + 30 ms), plus at most
        // one tick; and with the tick, only on a tick.
        for (time, message) in log {
            if case .hr(let s) = message { #expect(time - (s.sample.ts + 30) <= 400 + tickMs) }
            if case .hr = message, tickMs > 0 { #expect(time % tickMs == 0) }
        }
    }

    @Test func reconnectResendingItsLastThirtySamplesCausesNoDuplicate() {
        let relay = Relay(config: RelayConfig())
        let viewer = ClientID(1)
        relay.open(viewer, request: ConnectRequest(classID: "c", role: .viewer, participant: nil), format: .json, now: 0)
        var log: [(Int64, HubMessage)] = []
        var pub = ClientID(2)
        relay.open(pub, request: ConnectRequest(classID: "c", role: .publisher, participant: "a"), format: .json, now: 0)
        for i in 1...40 {
            let t = Int64(i) * 1000
            relay.receive(pub, .hr(Sample(seq: UInt32(i), ts: t, bpm: 100)), now: t + 20)
            run(relay, viewer: viewer, from: t + 20, to: t + 999, into: &log)
        }
        // The device reconnects (takeover) and resends seqs 11...40 from its offline buffer, then goes on.
        pub = ClientID(3)
        relay.open(pub, request: ConnectRequest(classID: "c", role: .publisher, participant: "a"), format: .json, now: 41_400)
        var duplicates = 0
        for i in 11...40 {
            relay.receive(pub, .hr(Sample(seq: UInt32(i), ts: Int64(i) * 1000, bpm: 100)), now: 41_500)
        }
        relay.receive(pub, .hr(Sample(seq: 41, ts: 41_000, bpm: 100)), now: 41_520)
        run(relay, viewer: viewer, from: 41_520, to: 42_019, into: &log)
        relay.receive(pub, .hr(Sample(seq: 42, ts: 42_000, bpm: 100)), now: 42_020)
        while let frame = relay.nextFrame(pub, now: 42_020) {
            for case .error(let e) in (try? HubFrameDecoder.decodeJSON(frame.buffer.payload)) ?? []
            where e.code == .duplicate {
                duplicates += e.coalesced?.count ?? 1
            }
        }
        run(relay, viewer: viewer, from: 42_020, to: 44_000, into: &log)
        let delivered = samples(log.map(\.1))
        #expect(duplicates == 30)
        #expect(delivered == Array(1...42))
        #expect(relay.counters.duplicates == 30)
    }
}
