import HRCore
import HRProtocol
import Testing

/// `RelayConfig.maxFrameRate`: samples that come faster than a connection's frame rate share frames; slower
/// streams and control messages are never held back.
@Suite struct FrameRateTests {
    /// What a transport that writes at once on every `.write` effect saw for one viewer.
    struct Delivery {
        var frames = 0
        /// Per delivered sample: its seq and how long after its arrival at the hub it went into a frame.
        var samples: [(seq: UInt32, waitedMs: Int64)] = []
    }

    /// A publisher sends one sample every `everyMs` for `count` samples; the hub's clock moves 1 ms at a time,
    /// `tick` runs whenever the relay asked for it, and every `.write` effect for the viewer is written at once.
    func run(
        everyMs: Int64, count: Int, configure: @escaping (inout RelayConfig) -> Void
    ) -> Delivery {
        let hub = RelayHarness(configure: configure)
        let view = hub.quietViewer()
        let pub = hub.publisher("ann")
        _ = hub.frames(view)  // the join
        _ = hub.takeEffects()
        hub.advance(1_000)  // the join's frame took a frame slot: start with a full burst allowance
        var arrival: [UInt32: Int64] = [:]
        var delivery = Delivery()
        var seq: UInt32 = 0
        let start = hub.now
        let end = start + everyMs * Int64(count) + 50
        while hub.now <= end {
            if Int(seq) < count && hub.now >= start + Int64(seq) * everyMs {
                seq += 1
                arrival[seq] = hub.now
                hub.hr(pub, seq: seq)
            }
            if hub.relay.nextWakeMs <= hub.now { hub.tick() }
            if hub.takeEffects().contains(.write(view)) {
                for frame in hub.frames(view) {
                    let samples = frame.messages().samples
                    if !samples.isEmpty { delivery.frames += 1 }
                    for sample in samples {
                        delivery.samples.append((sample.sample.seq, hub.now - arrival[sample.sample.seq]!))
                    }
                }
            }
            hub.advance(1)
        }
        return delivery
    }

    @Test func samplesFasterThanTheFrameRateShareFrames() {
        // 200 samples/s against 100 frames/s for 2 s.
        let delivery = run(everyMs: 5, count: 400) {
            $0.maxFrameRate = 100
            $0.frameBurst = 4
        }
        #expect(delivery.samples.map(\.seq) == Array(1...400), "every sample once, in order")
        #expect(delivery.frames <= 2 * 100 + 4 + 1, "at most the frame rate (plus the burst)")
        #expect(delivery.frames >= 190, "frames are not held back further than the rate asks")
        #expect(delivery.samples.allSatisfy { $0.waitedMs <= 10 }, "a sample waits at most one frame interval")
    }

    @Test func aStreamBelowTheFrameRateIsNeverHeldBack() {
        let delivery = run(everyMs: 50, count: 40) { $0.maxFrameRate = 100 }
        #expect(delivery.samples.map(\.seq) == Array(1...40))
        #expect(delivery.frames == 40)
        #expect(delivery.samples.allSatisfy { $0.waitedMs == 0 })
    }

    @Test func aShortBurstWithinTheBurstAllowanceIsNotHeldBack() {
        // Four samples 1 ms apart, then quiet: a class whose straps happen to fire together.
        let delivery = run(everyMs: 1, count: 4) {
            $0.maxFrameRate = 100
            $0.frameBurst = 4
        }
        #expect(delivery.samples.map(\.seq) == [1, 2, 3, 4])
        #expect(delivery.samples.allSatisfy { $0.waitedMs == 0 })
    }

    @Test func zeroMeansNoLimit() {
        let delivery = run(everyMs: 2, count: 200) { $0.maxFrameRate = 0 }
        #expect(delivery.frames == 200, "one frame per sample, as fast as they come")
        #expect(delivery.samples.allSatisfy { $0.waitedMs == 0 })
    }

    /// A viewer at 10 frames/s with no burst that was just sent a frame (the join and sample 1), and sample 2
    /// arriving 1 ms later: its write is held for the next frame slot.
    func viewerWithAHeldSample() -> (hub: RelayHarness, view: ClientID) {
        let hub = RelayHarness {
            $0.maxFrameRate = 10
            $0.frameBurst = 1
        }
        let view = hub.quietViewer()
        let pub = hub.publisher("ann")
        hub.hr(pub, seq: 1)
        _ = hub.frames(view)  // the join and sample 1: the one frame the burst allows
        _ = hub.takeEffects()
        hub.advance(1)
        hub.hr(pub, seq: 2)
        return (hub, view)
    }

    @Test func controlMessagesAreNotHeldBack() {
        let (hub, view) = viewerWithAHeldSample()
        #expect(!hub.takeEffects().contains(.write(view)), "the sample waits for the next frame slot")
        hub.send(view, .ping(id: .number(7), ct: nil))
        #expect(hub.takeEffects().contains(.write(view)), "a pong goes out at once")
        let messages = hub.messages(view)
        #expect(messages.contains { if case .pong = $0 { true } else { false } })
        #expect(messages.seqs(of: "ann") == [2], "the held sample rides along in the same frame")
        hub.advance(200)
        hub.tick()
        #expect(!hub.takeEffects().contains(.write(view)), "nothing left: the held write is not asked for")
    }

    @Test func aHeldWriteForAViewerThatLeftIsDropped() {
        let (hub, view) = viewerWithAHeldSample()
        #expect(!hub.takeEffects().contains(.write(view)), "the sample waits for the next frame slot")
        hub.close(view)
        _ = hub.takeEffects()
        hub.advance(200)
        hub.tick()
        #expect(!hub.takeEffects().contains(.write(view)))
    }
}
