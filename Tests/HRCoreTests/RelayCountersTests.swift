import HRCore
import HRProtocol
import Testing

@Suite struct RelayCountersTests {
    @Test func everyOutcomeIsCounted() {
        let hub = RelayHarness {
            $0.maxSampleRate = 0.1  // a bucket of 6
            $0.queueLimits = SendQueue.Limits(maxMessages: 4, maxBytes: 1 << 20)
            $0.slowConsumerMs = 1_000
            $0.staleAfterMs = .max / 4
        }
        let fast = hub.quietViewer()
        let latest = hub.quietViewer(mode: .latest)
        let slow = hub.quietViewer()
        let pub = hub.publisher("ann")
        #expect(hub.counters == RelayCounters())

        var fastSeqs: [UInt32] = []
        func send(_ seq: UInt32) {
            hub.hr(pub, seq: seq)
            fastSeqs += hub.messages(fast).seqs(of: "ann")
        }
        send(1)
        send(3)
        send(2)  // accepted, but 3 went out: late for everyone
        send(3)  // duplicate
        hub.hr(slow, seq: 9)  // not allowed
        hub.relay.reject(pub, ProtocolError(.badJSON, "not JSON"), now: hub.now)
        send(4)
        send(5)
        send(6)  // the sixth token
        send(7)  // rate limited
        #expect(fastSeqs == [1, 3, 4, 5, 6])
        #expect(hub.messages(latest).seqs(of: "ann") == [6])

        hub.advance(1_000)
        hub.tick()  // the slow viewer overflowed at seq 4, a second ago
        #expect(hub.takeEffects().contains(.close(slow, .slowConsumer, flushFirst: false)))
        // Its queue kept only the newest samples, and they are older than the budget now: nothing but gaps,
        // whose counts add up to the six samples it missed.
        let slowMessages = hub.messages(slow)
        #expect(slowMessages.samples.isEmpty)
        #expect(slowMessages.gaps.map(\.count).reduce(0, +) == 6)

        _ = hub.publisher("ann")  // takes over

        var expected = RelayCounters()
        expected.received = 6  // 1, 3, 2, 4, 5, 6
        expected.delivered = 6  // five to the fast viewer, one to the latest one
        expected.duplicates = 1
        expected.rateLimited = 1
        expected.arrivedLate = 1
        // The slow viewer's queue (4 messages) held the join, the late gap for 2 and its own error too.
        expected.droppedBackpressure = 4  // 1, 3, 4 and 5 at the slow viewer
        expected.droppedLate = 1  // 6 at the slow viewer
        expected.droppedConflated = 4  // 1, 3, 4 and 5 at the latest viewer
        expected.errors = 4  // duplicate, not allowed, bad JSON, rate limited
        expected.slowConsumerCloses = 1
        expected.takeovers = 1
        // Every delivery is timed twice: residency and age (all 0 ms here: the harness's clock stood still).
        for _ in 0..<6 {
            expected.residency.record(0)
            expected.age.record(0)
        }
        #expect(hub.counters == expected)
    }

    @Test func deliveriesAreTimedForResidencyAndAge() {
        var histogram = LatencyHistogram()
        for ms: Int64 in [-3, 0, 1, 2, 3, 800, 801, 5_000] { histogram.record(ms) }
        // Buckets (le): 1, 2, 5, 10, 25, 50, 100, 250, 500, 800, 1000, 2500, +Inf.
        #expect(histogram.counts == [3, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1])
        #expect(histogram.total == 8)
        #expect(histogram.sumMs == 0 + 0 + 1 + 2 + 3 + 800 + 801 + 5_000)
    }

    @Test func sampleDeliveriesAddUpPerClient() {
        let hub = RelayHarness()
        let views = (0..<5).map { _ in hub.quietViewer() }
        let pub = hub.publisher("ann")
        for seq: UInt32 in 1...10 { hub.hr(pub, seq: seq) }
        for view in views { _ = hub.frames(view) }
        #expect(hub.counters.received == 10)
        #expect(hub.counters.delivered == 50)
    }

    @Test func aSampleAlreadyOlderThanTheBudgetWhenReleasedIsLateForEveryone() {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let pub = hub.publisher("ann")
        var messages: [HubMessage] = []
        hub.hr(pub, seq: 1, ts: hub.now - 50)  // the fastest so far: offset 50
        messages += hub.messages(view)
        hub.advance(1_000)
        hub.hr(pub, seq: 2, ts: hub.now - 50 - 801)  // 801 ms slower than the fastest
        messages += hub.messages(view)
        hub.advance(1_000)
        hub.hr(pub, seq: 3, ts: hub.now - 50 - 800)  // 800: just within the budget
        messages += hub.messages(view)
        #expect(messages.seqs(of: "ann") == [1, 3])
        #expect(messages.gaps == [Gap(p: "ann", fromSeq: 2, toSeq: 2, count: 1, reason: .late)])
        #expect(hub.counters.arrivedLate == 1)
        #expect(hub.counters.droppedLate == 0)
    }
}
