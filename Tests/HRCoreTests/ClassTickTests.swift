import HRCore
import HRProtocol
import Testing

/// `RelayConfig.tickMs`: each class releases what is due on a fixed grid of the hub clock; on a tick every viewer
/// gets one frame, the same bytes for every viewer with nothing else pending.
@Suite struct ClassTickTests {
    /// A hub ticking every 100 ms, its clock on a grid point, with the publishers' joins already out.
    private func tickingHub(
        publishers: [String] = ["ann", "bob"], configure: (inout RelayConfig) -> Void = { _ in }
    ) -> (RelayHarness, [ClientID]) {
        let hub = RelayHarness {
            $0.tickMs = 100
            $0.housekeepingMs = 1_000_000  // so that `nextWakeMs` is the tick's
            configure(&$0)
        }
        #expect(hub.now % 100 == 0)
        let pubs = publishers.map { hub.publisher($0) }
        return (hub, pubs)
    }

    /// Moves the clock to the next grid point and runs the relay's timer there.
    private func nextTick(_ hub: RelayHarness) {
        hub.advance(100 - hub.now % 100)
        hub.tick()
    }

    /// One frame as the relay handed it: its buffer (to compare) and a copy of its payload (a viewer's own frame
    /// lives in a buffer the next call reuses).
    private struct Raw {
        let buffer: FrameBuffer
        let payload: [UInt8]

        func messages() throws -> [HubMessage] { try HubFrameDecoder.decodeJSON(payload) }
    }

    /// Every frame pending for a viewer, undecoded, straight from the relay.
    private func rawFrames(_ hub: RelayHarness, _ id: ClientID) -> [Raw] {
        var frames: [Raw] = []
        while let frame = hub.relay.nextFrame(id, now: hub.now), frames.count < 100 {
            frames.append(Raw(buffer: frame.buffer, payload: frame.buffer.payload))
        }
        return frames
    }

    /// A tick that carries more than the queue's bounds reaches a viewer whole whether it gets the shared frame
    /// or, having a pong pending, its own queue: the bounds are how far behind a viewer may fall, not a tick's size.
    @Test func aTickLargerThanTheQueueBoundsReachesEveryViewerWhole() {
        let riders = (0..<20).map { "r\($0)" }
        let (hub, pubs) = tickingHub(publishers: riders) { $0.queueLimits = SendQueue.Limits(maxMessages: 8) }
        let shared = hub.quietViewer()
        let own = hub.quietViewer()
        nextTick(hub)
        _ = hub.frames(shared)
        _ = hub.frames(own)
        hub.advance(10)
        for pub in pubs { hub.hr(pub, seq: 1) }
        hub.send(own, .ping(id: .string("p"), ct: 1))  // held for the tick: `own` takes the queue's path
        nextTick(hub)
        #expect(hub.messages(shared).samples.count == 20)
        let messages = hub.messages(own)
        #expect(messages.samples.count == 20)
        #expect(messages.gaps.isEmpty)
        #expect(hub.counters.droppedBackpressure == 0)
    }

    /// A viewer that pinged gets the tick's shared messages and its pong in one frame; a shared frame it could not
    /// take before its oldest sample went over the budget comes back through its queue, the pong still behind it.
    @Test func aPongHeldForTheTickGoesInOneFrameBehindTheSharedMessages() throws {
        let (hub, pubs) = tickingHub()
        let pinged = hub.quietViewer()
        let other = hub.quietViewer()
        nextTick(hub)
        _ = hub.frames(pinged)
        _ = hub.frames(other)
        hub.advance(10)
        hub.hr(pubs[0], seq: 1)
        hub.send(pinged, .ping(id: .string("p"), ct: nil))
        let before = hub.counters
        nextTick(hub)
        let frames = hub.frames(pinged)
        #expect(frames.count == 1)
        let messages = frames.flatMap { $0.messages() }
        #expect(messages.seqs(of: "ann") == [1])
        #expect(messages.last == .pong(id: .string("p"), ct: nil, ht: hub.now - 90))
        #expect(hub.messages(other).seqs(of: "ann") == [1])
        #expect(hub.counters.sharedFramesWithExtras == before.sharedFramesWithExtras + 1)

        // Too late for the budget: the samples are named late (at the end of the frame that found them late, as a
        // queue names them), the pong still in the same frame.
        hub.advance(10)
        hub.hr(pubs[1], seq: 1)
        hub.send(pinged, .ping(id: .string("q"), ct: nil))
        nextTick(hub)
        hub.advance(hub.config.budgetMs + 1)
        let late = hub.messages(pinged)
        #expect(late.seqs(of: "bob").isEmpty)
        #expect(late.gaps.map(\.reason) == [.late])
        #expect(late.contains(.pong(id: .string("q"), ct: nil, ht: hub.now - hub.config.budgetMs - 1 - 90)))
        #expect(late.count == 2)
    }

    @Test func everyViewerGetsOneFrameATickWithTheSameBytes() throws {
        let (hub, pubs) = tickingHub()
        let views = (0..<3).map { _ in hub.quietViewer() }
        nextTick(hub)
        for view in views { _ = hub.frames(view) }
        _ = hub.takeEffects()

        hub.advance(10)
        hub.hr(pubs[0], seq: 1)
        hub.advance(30)
        hub.hr(pubs[1], seq: 1)
        hub.advance(20)
        hub.hr(pubs[0], seq: 2)
        #expect(hub.takeEffects().isEmpty, "nothing is written between ticks")
        #expect(hub.relay.nextWakeMs == hub.now + 40, "the next grid point")
        hub.advance(39)
        hub.tick()
        #expect(hub.takeEffects().isEmpty, "nor a millisecond before the tick")
        for view in views { #expect(hub.frames(view).isEmpty) }

        hub.advance(1)
        hub.tick()
        #expect(hub.takeEffects() == views.map { .write($0) }, "one write per viewer")
        let frames = views.map { rawFrames(hub, $0) }
        for frame in frames { #expect(frame.count == 1, "one frame per viewer") }
        let first = try #require(frames[0].first)
        for frame in frames.dropFirst() {
            #expect(frame.first?.buffer === first.buffer, "the same bytes, built once")
        }
        let messages = try first.messages()
        #expect(messages.seqs(of: "ann") == [1, 2])
        #expect(messages.seqs(of: "bob") == [1])
        #expect(hub.counters.delivered == 9, "counted per viewer")
    }

    @Test func theTickIsOnTheGridWhateverTheTrafficAndNeverRunsTwice() {
        let (hub, pubs) = tickingHub()
        let view = hub.quietViewer()
        nextTick(hub)
        _ = hub.frames(view)
        let grid = hub.now
        hub.hr(pubs[0], seq: 1)  // arrives on a grid point whose tick already ran: the next one
        #expect(hub.relay.nextWakeMs == grid + 100)
        hub.tick()
        #expect(hub.frames(view).isEmpty)
        hub.advance(100)
        hub.tick()
        #expect(hub.messages(view).seqs(of: "ann") == [1])
        // The timer fires late: the tick runs then, and the next one is still on the grid.
        hub.advance(30)
        hub.hr(pubs[0], seq: 2)
        hub.advance(95)
        hub.tick()
        #expect(hub.messages(view).seqs(of: "ann") == [2])
        hub.hr(pubs[0], seq: 3)
        #expect(hub.relay.nextWakeMs == grid + 300)
    }

    @Test func aPublisherIsAnsweredAtOnceAViewerAfterTheTick() {
        let (hub, pubs) = tickingHub()
        let view = hub.quietViewer()
        nextTick(hub)
        _ = hub.frames(view)
        hub.advance(10)
        hub.hr(pubs[0], seq: 1)
        hub.send(pubs[0], .ping(id: .string("d"), ct: nil))
        #expect(hub.messages(pubs[0]).last == .pong(id: .string("d"), ct: nil, ht: hub.now), "a device's pong at once")
        let late = hub.publisher("cat")  // its join waits for the tick with the samples
        _ = hub.messages(late)
        hub.send(view, .ping(id: .string("v"), ct: nil))
        let pingedAt = hub.now
        #expect(hub.frames(view).isEmpty, "the viewer's pong waits for the tick")
        nextTick(hub)
        let messages = hub.messages(view)
        #expect(messages.seqs(of: "ann") == [1])
        #expect(messages.contains { if case .join(p: "cat", _) = $0 { true } else { false } })
        #expect(messages.last == .pong(id: .string("v"), ct: nil, ht: pingedAt), "after all the tick brought")
    }

    @Test func aViewerWithSomethingPendingGetsItAllInOneFrameOfItsOwn() throws {
        let (hub, pubs) = tickingHub()
        let keeping = hub.quietViewer()
        let behind = hub.quietViewer()
        nextTick(hub)
        _ = hub.frames(keeping)
        _ = hub.frames(behind)
        hub.hr(pubs[0], seq: 1)
        nextTick(hub)
        _ = hub.frames(keeping)  // `behind` has not written its frame yet
        hub.hr(pubs[0], seq: 2)
        hub.hr(pubs[1], seq: 1)
        nextTick(hub)
        let kept = rawFrames(hub, keeping)
        let late = rawFrames(hub, behind)
        #expect(kept.count == 1)
        #expect(late.count == 2, "the last tick's frame, then one of its own with this tick's")
        #expect(late.first?.buffer !== kept.first?.buffer)
        let lateMessages = try late.flatMap { try $0.messages() }
        #expect(lateMessages.seqs(of: "ann") == [1, 2])
        #expect(lateMessages.seqs(of: "bob") == [1])
        #expect(try late[1].messages() == kept[0].messages(), "the same messages")
    }

    @Test func aSampleThatCannotMakeItsBudgetOnATickIsNamedLate() {
        let (hub, pubs) = tickingHub { $0.budgetMs = 800 }
        let view = hub.quietViewer()
        nextTick(hub)
        _ = hub.frames(view)
        hub.hr(pubs[0], seq: 1)  // on time: the hub learns the device's clock
        hub.hr(pubs[1], seq: 1)
        nextTick(hub)
        #expect(hub.messages(view).samples.count == 2)
        hub.advance(10)
        // Captured 750 ms ago: within budget now, past it at the next tick, and no tick comes in between.
        hub.hr(pubs[0], seq: 2, ts: hub.now - 750)
        hub.hr(pubs[1], seq: 2, ts: hub.now - 100)
        nextTick(hub)
        let messages = hub.messages(view)
        #expect(messages.gaps == [Gap(p: "ann", fromSeq: 2, toSeq: 2, count: 1, reason: .late)])
        #expect(messages.seqs(of: "bob") == [2])
        #expect(messages.seqs(of: "ann").isEmpty)
        #expect(hub.counters.arrivedLate == 1)
    }

    @Test func aFrameThatWaitedPastTheBudgetIsNotWrittenAsIs() {
        let (hub, pubs) = tickingHub { $0.budgetMs = 800 }
        let stalled = hub.quietViewer()
        nextTick(hub)
        _ = hub.frames(stalled)
        hub.hr(pubs[0], seq: 1)
        nextTick(hub)
        hub.hr(pubs[0], seq: 2)
        nextTick(hub)
        hub.advance(900)  // the socket was not writable for 900 ms
        let messages = hub.messages(stalled)
        #expect(messages.gaps == [Gap(p: "ann", fromSeq: 1, toSeq: 2, count: 2, reason: .late)])
        #expect(messages.samples.isEmpty)
        #expect(hub.counters.delivered == 0)
        #expect(hub.counters.droppedLate == 2)
    }

    @Test func latestModeConflatesWithinATickOnceForEveryViewer() throws {
        let (hub, pubs) = tickingHub()
        let views = [hub.quietViewer(mode: .latest), hub.quietViewer(mode: .latest)]
        let binary = hub.quietViewer(mode: .latest, format: .binary)
        nextTick(hub)
        for view in views + [binary] { _ = hub.frames(view) }
        hub.hr(pubs[0], seq: 1, rr: [500])
        hub.hr(pubs[1], seq: 1)
        hub.advance(40)
        hub.hr(pubs[0], seq: 2, rr: [510])
        nextTick(hub)
        let frames = views.map { rawFrames(hub, $0) }
        #expect(frames[0].count == 1 && frames[1].count == 1)
        #expect(frames[0].first?.buffer === frames[1].first?.buffer, "encoded once for the latest viewers")
        let messages = try #require(frames[0].first).messages()
        #expect(messages.gaps == [Gap(p: "ann", fromSeq: 1, toSeq: 1, count: 1, reason: .conflated)])
        #expect(messages.samples.map(\.sample.seq) == [2, 1])
        #expect(messages.samples.first?.sample.rr == [500, 510], "the replaced sample's RR intervals kept")
        // A binary frame carries no gap: the binary viewer gets the gap as text, then the samples.
        let binaryMessages = hub.messages(binary)
        #expect(binaryMessages.gaps.count == 1)
        #expect(binaryMessages.samples.map(\.sample.seq) == [2, 1])
        #expect(hub.counters.droppedConflated == 3)
    }

    @Test func aViewerThatArrivesBetweenTicksGetsWhatIsReleasedAfterIt() {
        let (hub, pubs) = tickingHub()
        let early = hub.quietViewer()
        nextTick(hub)
        _ = hub.frames(early)
        hub.hr(pubs[0], seq: 1)
        _ = hub.publisher("cat")  // its join is held for the tick
        hub.advance(10)
        let late = hub.viewer()
        #expect(hub.messages(late).compactMap(\.snapshot).first?.map(\.p) == ["ann", "bob", "cat"], "its snapshot has cat")
        hub.hr(pubs[0], seq: 2)
        nextTick(hub)
        let earlyMessages = hub.messages(early)
        let lateMessages = hub.messages(late)
        #expect(earlyMessages.seqs(of: "ann") == [1, 2])
        #expect(lateMessages.seqs(of: "ann") == [1, 2], "released on the tick, after it came")
        #expect(earlyMessages.filter(\.isPresence).count == 1)
        #expect(lateMessages.filter(\.isPresence).isEmpty, "not the join its snapshot already had")
    }

    @Test func aDrainSendsWhatWaitsForTheTickBeforeClosing() {
        let (hub, pubs) = tickingHub { $0.jitterBuffer = true }
        let view = hub.quietViewer()
        nextTick(hub)
        _ = hub.frames(view)
        hub.advance(10)
        hub.hr(pubs[0], seq: 1)
        hub.relay.closeAll(now: hub.now)
        #expect(hub.takeEffects().contains(.close(view, .goingAway, flushFirst: true)))
        #expect(hub.messages(view).seqs(of: "ann") == [1])
    }

    @Test func releasesFallOnTheGridWithinTheBudget() {
        typealias J = JitterBuffer
        #expect(J.tick(due: 1_130, arrivalMs: 1_010, deadlineMs: 1_900, tickMs: 100) == 1_200, "the first tick after due")
        #expect(J.tick(due: 1_200, arrivalMs: 1_010, deadlineMs: 1_900, tickMs: 100) == 1_200, "due on a tick: that tick")
        #expect(J.tick(due: 1_000, arrivalMs: 1_000, deadlineMs: 1_900, tickMs: 100) == 1_100, "after the arrival")
        #expect(J.tick(due: 1_270, arrivalMs: 1_010, deadlineMs: 1_250, tickMs: 100) == 1_200, "the last tick in budget")
        #expect(J.tick(due: 1_010, arrivalMs: 1_010, deadlineMs: 1_050, tickMs: 100) == 1_100, "none in budget: late")
        #expect(J.floor(-150, 100) == -200 && J.ceiling(-150, 100) == -100 && J.ceiling(300, 100) == 300)

        var buffer = JitterBuffer(settings: .init(tickMs: 100, budgetMs: 800))
        buffer.insert(Sample(seq: 1, ts: 1_000, bpm: 90), arrivalMs: 1_030, offsetMs: 0)
        #expect(buffer.nextReleaseMs == 1_100)
        #expect(buffer.releaseDue(now: 1_099).isEmpty)
        #expect(buffer.releaseDue(now: 1_100).map(\.sample.seq) == [1])
    }
}
