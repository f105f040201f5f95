import HRCore
import HRProtocol
import Testing

/// `tick`: stale and live, slow consumers, forgetting classes.
@Suite struct RelayTickTests {
    @Test func staleAfterSilenceSinceTheLastSampleThenLiveOnTheNext() {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let pub = hub.publisher("ann")
        hub.advance(100)
        hub.hr(pub, seq: 1)
        let lastSample = hub.now
        _ = hub.messages(view)

        hub.advance(2_999)
        hub.tick()
        #expect(hub.messages(view).isEmpty, "not yet: 2999 ms")
        hub.advance(1)
        hub.tick()
        #expect(hub.messages(view) == [.stale(p: "ann", since: lastSample)])
        hub.advance(5_000)
        hub.tick()
        #expect(hub.messages(view).isEmpty, "stale is said once")

        hub.hr(pub, seq: 2)
        let messages = hub.messages(view)
        #expect(messages.first == .live(p: "ann", since: hub.now), "live comes before the sample")
        #expect(messages.seqs(of: "ann") == [2])
        #expect(messages.count == 2)

        hub.advance(3_000)
        hub.tick()
        #expect(hub.messages(view) == [.stale(p: "ann", since: hub.now - 3_000)], "and stale again")
    }

    @Test func staleSinceTheConnectionWhenNoSampleEverCame() {
        let hub = RelayHarness { $0.staleAfterMs = 1_000 }
        let view = hub.quietViewer()
        let connectedAt = hub.now
        _ = hub.publisher("ann")
        _ = hub.messages(view)
        hub.advance(1_000)
        hub.tick()
        #expect(hub.messages(view) == [.stale(p: "ann", since: connectedAt)])
    }

    @Test func pingsAndHellosAreNotSamples() {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let pub = hub.publisher("ann")
        hub.hr(pub, seq: 1)
        let lastSample = hub.now
        for _ in 0..<3 {
            hub.advance(1_000)
            hub.send(pub, .ping(id: .number(1), ct: nil))
            hub.hello(pub, name: "Ann")
            hub.tick()
        }
        #expect(
            hub.messages(view).filter { if case .stale = $0 { true } else { false } } == [
                .stale(p: "ann", since: lastSample)
            ])
    }

    @Test func nobodyIsStaleAfterLeaving() {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let pub = hub.publisher("ann")
        hub.advance(3_000)
        hub.tick()
        hub.close(pub)
        _ = hub.messages(view)
        hub.advance(10_000)
        hub.tick()
        #expect(hub.messages(view).isEmpty)
        // Back again: a join, no live, and stale only after another silence.
        _ = hub.publisher("ann")
        #expect(hub.messages(view) == [.join(p: "ann", profile: Profile())])
        hub.advance(2_999)
        hub.tick()
        #expect(hub.messages(view).isEmpty)
    }

    @Test func staleIsPerParticipant() {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let ann = hub.publisher("ann")
        let bob = hub.publisher("bob")
        for seq: UInt32 in 1...4 {
            hub.advance(1_000)
            hub.hr(ann, seq: seq)
            hub.tick()
        }
        let stale = hub.messages(view).filter { if case .stale = $0 { true } else { false } }
        #expect(stale == [.stale(p: "bob", since: hub.now - 4_000)])
        _ = bob
    }

    private func slowHub() -> (RelayHarness, ClientID, ClientID) {
        let hub = RelayHarness {
            $0.queueLimits = SendQueue.Limits(maxMessages: 8, maxBytes: 1 << 20)
            $0.slowConsumerMs = 10_000
            $0.staleAfterMs = .max / 4
            $0.frameTargetBytes = 2  // one message a frame
        }
        let view = hub.quietViewer()
        let pub = hub.publisher("ann")
        _ = hub.messages(view)
        _ = hub.takeEffects()
        return (hub, view, pub)
    }

    @Test func queueOverflowingForTheLimitClosesTheSlowConsumer() {
        let (hub, view, pub) = slowHub()
        let fast = hub.quietViewer()
        var seq: UInt32 = 0
        func publish(_ n: Int) {
            for _ in 0..<n {
                seq += 1
                hub.hr(pub, seq: seq)
            }
        }
        publish(9)  // the 9th overflows
        let overflowAt = hub.now
        while hub.now + 500 < overflowAt + 9_999 {
            hub.advance(500)
            publish(1)
            _ = hub.frames(fast)
            hub.tick()
        }
        hub.advance(overflowAt + 9_999 - hub.now)
        hub.tick()
        #expect(!hub.takeEffects().contains { if case .close = $0 { true } else { false } })
        hub.advance(1)
        hub.tick()
        #expect(hub.takeEffects() == [.close(view, .slowConsumer, flushFirst: false)])
        #expect(hub.counters.slowConsumerCloses == 1)
        #expect(CloseCode.slowConsumer.rawValue == 4008)

        hub.advance(1_000)
        publish(1)
        hub.tick()
        #expect(!hub.takeEffects().contains { if case .close = $0 { true } else { false } }, "closed once")
        #expect(hub.counters.slowConsumerCloses == 1)
        #expect(hub.messages(fast).seqs(of: "ann") == [seq], "the fast viewer never noticed")
        hub.close(view)
        #expect(hub.relay.classSummaries().first?.viewers == 1)
    }

    @Test func drainingBelowHalfInBetweenRestartsTheClock() {
        let (hub, view, pub) = slowHub()
        var seq: UInt32 = 0
        func publish(_ n: Int) {
            for _ in 0..<n {
                seq += 1
                hub.hr(pub, seq: seq)
            }
        }
        publish(9)
        hub.advance(6_000)
        _ = hub.frames(view)  // caught up
        publish(9)  // overflowing again, since now
        hub.advance(4_000)
        hub.tick()
        #expect(closes(hub.takeEffects()).isEmpty, "10 s since the first overflow, but only 4 s of this one")
        hub.advance(5_999)
        hub.tick()
        #expect(closes(hub.takeEffects()).isEmpty)
        hub.advance(1)
        hub.tick()
        #expect(closes(hub.takeEffects()) == [.close(view, .slowConsumer, flushFirst: false)])
    }

    @Test func drainingOnlyAboveHalfDoesNotRestartTheClock() {
        let (hub, view, pub) = slowHub()
        var seq: UInt32 = 0
        func publish(_ n: Int) {
            for _ in 0..<n {
                seq += 1
                hub.hr(pub, seq: seq)
            }
        }
        publish(12)
        #expect(hub.counters.droppedBackpressure == 4)
        for _ in 0..<3 {  // one message a frame: the gap, then two samples; 6 of 8 left, above half
            #expect(hub.relay.nextFrame(view, now: hub.now) != nil)
        }
        hub.advance(10_000)
        hub.tick()
        #expect(closes(hub.takeEffects()) == [.close(view, .slowConsumer, flushFirst: false)])
    }

    @Test func classIsForgottenAfterTheLingerWithItsLastSeqs() throws {
        let hub = RelayHarness { $0.classLingerMs = 60_000 }
        let pub = hub.publisher("ann")
        let view = hub.viewer()
        hub.hr(pub, seq: 41)
        hub.close(pub)
        hub.advance(1_000)
        hub.close(view)
        #expect(hub.relay.classCount == 1)

        // Back within the linger: remembered.
        hub.advance(59_999)
        hub.tick()
        #expect(hub.relay.classCount == 1)
        let again = hub.publisher("ann")
        #expect(hub.messages(again).first?.welcome?.lastSeq == 41)
        hub.close(again)
        let leftAt = hub.now

        hub.advance(59_999)
        hub.tick()
        #expect(hub.relay.classCount == 1)
        hub.advance(1)
        hub.tick()
        #expect(hub.relay.classCount == 0)
        #expect(hub.now - leftAt == 60_000)

        let fresh = hub.publisher("ann")
        let frames = hub.frames(fresh)
        #expect(frames.first?.messages().first?.welcome?.lastSeq == nil)
        #expect(frames.first?.text.contains(#""last_seq":null"#) == true)
        let newViewer = hub.viewer()
        let snapshot = try #require(hub.messages(newViewer).dropFirst().first?.snapshot)
        #expect(snapshot == [SnapshotEntry(p: "ann", profile: Profile(), last: nil)])
    }

    @Test func aClassWithAConnectionIsNeverForgotten() {
        let hub = RelayHarness { $0.classLingerMs = 1_000 }
        let view = hub.viewer()
        hub.advance(100_000)
        hub.tick()
        #expect(hub.relay.classCount == 1)
        hub.close(view)
        hub.advance(1_000)
        hub.tick()
        #expect(hub.relay.classCount == 0)
    }
}

/// Only the close effects.
private func closes(_ effects: [RelayEffect]) -> [RelayEffect] {
    effects.filter { if case .close = $0 { true } else { false } }
}
