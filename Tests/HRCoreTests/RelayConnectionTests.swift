import HRCore
import HRProtocol
import Testing

/// Connecting, welcome, snapshot, presence, takeover and shutdown.
@Suite struct RelayConnectionTests {
    @Test func publisherWelcomeHasParticipantAndLastSeqButNoMode() throws {
        let hub = RelayHarness()
        let pub = hub.publisher("ann")
        let frames = hub.frames(pub)
        #expect(frames.count == 1)
        let messages = try #require(frames.first).messages()
        #expect(messages.count == 1, "a publisher gets welcome only, no snapshot")
        let welcome = try #require(messages.first?.welcome)
        #expect(welcome.classID == "spin")
        #expect(welcome.role == .publisher)
        #expect(welcome.participant == "ann")
        #expect(welcome.mode == nil)
        #expect(welcome.budgetMs == 800)
        #expect(welcome.ht == hub.now)
        #expect(welcome.lastSeq == nil)
        #expect(frames[0].text.contains(#""last_seq":null"#), "an unknown last_seq is an explicit null")
    }

    @Test func viewerWelcomeHasModeAndNoParticipantOrLastSeq() throws {
        let hub = RelayHarness()
        let view = hub.viewer(mode: .latest)
        let frames = hub.frames(view)
        let messages = frames.flatMap { $0.messages() }
        #expect(messages.count == 2)
        let welcome = try #require(messages.first?.welcome)
        #expect(welcome.role == .viewer)
        #expect(welcome.participant == nil)
        #expect(welcome.mode == .latest)
        #expect(welcome.lastSeq == nil)
        #expect(!frames[0].text.contains("last_seq"), "viewers get no last_seq field at all")
        #expect(!frames[0].text.contains(#""participant""#))
        #expect(messages[1].snapshot == [])
    }

    @Test func participantWelcomeHasParticipantModeAndLastSeq() throws {
        let hub = RelayHarness()
        let rider = hub.open(.participant, "bob", mode: .all)
        let frames = hub.frames(rider)
        let messages = frames.flatMap { $0.messages() }
        let welcome = try #require(messages.first?.welcome)
        #expect(welcome.role == .participant)
        #expect(welcome.participant == "bob")
        #expect(welcome.mode == .all)
        #expect(frames[0].text.contains(#""last_seq":null"#))
        let snapshot = try #require(messages.dropFirst().first?.snapshot)
        #expect(snapshot.map(\.p) == ["bob"], "a participant sees itself in its snapshot")
    }

    @Test func lastSeqAfterReconnectIsTheHighestAccepted() throws {
        let hub = RelayHarness()
        let pub = hub.publisher("ann")
        for seq: UInt32 in [10, 11, 14, 12] { hub.hr(pub, seq: seq) }
        hub.close(pub)
        let again = hub.publisher("ann")
        let welcome = try #require(hub.messages(again).first?.welcome)
        #expect(welcome.lastSeq == 14)
    }

    @Test func snapshotListsPresentParticipantsWithProfileAndLast() throws {
        let hub = RelayHarness()
        let ann = hub.publisher("ann")
        hub.hello(ann, name: "Ann", hrmax: 200)
        hub.hr(ann, seq: 1, bpm: 150)
        hub.advance(100)
        hub.hr(ann, seq: 2, bpm: 151)
        let bob = hub.publisher("bob")
        let gone = hub.publisher("cat")
        hub.hr(gone, seq: 5)
        hub.close(gone)

        let view = hub.viewer()
        let messages = hub.messages(view)
        let snapshot = try #require(messages.dropFirst().first?.snapshot)
        #expect(snapshot.map(\.p) == ["ann", "bob"], "present participants only, sorted by id")
        #expect(snapshot[0].profile == Profile(name: "Ann", hrmax: 200))
        let last = try #require(snapshot[0].last)
        #expect(last.sample.seq == 2)
        #expect(last.sample.bpm == 151)
        #expect(last.rts == hub.now)
        #expect(last.pct == 76)
        #expect(last.zone == 3)
        #expect(snapshot[1].profile == Profile())
        #expect(snapshot[1].last == nil)
        _ = bob
    }

    @Test func joinOnConnectAndAgainOnHelloWithMergedProfile() throws {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let pub = hub.publisher("ann")
        #expect(hub.messages(view) == [.join(p: "ann", profile: Profile())])

        hub.hello(pub, name: "Ann", hrmax: 190)
        #expect(hub.messages(view) == [.join(p: "ann", profile: Profile(name: "Ann", hrmax: 190))])

        hub.hello(pub, hrrest: 50)
        #expect(hub.messages(view) == [.join(p: "ann", profile: Profile(name: "Ann", hrmax: 190, hrrest: 50))])

        hub.hello(pub, name: "Annie")
        #expect(hub.messages(view) == [.join(p: "ann", profile: Profile(name: "Annie", hrmax: 190, hrrest: 50))])
        #expect(hub.messages(pub).count == 1, "the publisher itself only got its welcome")
    }

    @Test func profileSurvivesReconnect() {
        let hub = RelayHarness()
        let pub = hub.publisher("ann")
        hub.hello(pub, name: "Ann", hrmax: 190)
        hub.close(pub)
        let view = hub.quietViewer()
        _ = hub.publisher("ann")
        #expect(hub.messages(view) == [.join(p: "ann", profile: Profile(name: "Ann", hrmax: 190))])
    }

    @Test func leaveClosedWhenThePublisherCloses() {
        let hub = RelayHarness()
        let pub = hub.publisher("ann")
        let view = hub.quietViewer()
        hub.close(pub)
        #expect(hub.messages(view) == [.leave(p: "ann", reason: .closed)])
        #expect(hub.takeEffects().allSatisfy { if case .close = $0 { false } else { true } })
    }

    /// A sample the jitter buffer still held when the rider's socket closed goes out before the `leave`, and
    /// nothing of theirs comes after it (a screen would show a rider who left as live again).
    @Test(arguments: [0, 100] as [Int64])
    func samplesHeldWhenThePublisherClosesGoOutBeforeTheLeave(tickMs: Int64) {
        let hub = RelayHarness {
            $0.jitterBuffer = true
            $0.tickMs = tickMs
        }
        let pub = hub.publisher("ann")
        let view = hub.quietViewer()
        hub.hr(pub, seq: 1)
        hub.advance(10)
        hub.hr(pub, seq: 2)
        hub.close(pub)
        var messages: [HubMessage] = []
        for _ in 0..<50 {  // 5 s of ticks: everything held would have come due
            hub.advance(100)
            hub.tick()
            messages += hub.messages(view)
        }
        #expect(messages.seqs(of: "ann") == [1, 2])
        #expect(messages.last == .leave(p: "ann", reason: .closed), "\(messages)")
    }

    @Test func takeoverClosesTheOlderConnectionWithoutPresenceMessages() throws {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let old = hub.publisher("ann")
        hub.hr(old, seq: 1)
        _ = hub.messages(view)
        _ = hub.takeEffects()

        let new = hub.publisher("ann")
        #expect(hub.takeEffects().contains(.close(old, .replaced, flushFirst: false)))
        #expect(hub.counters.takeovers == 1)
        #expect(hub.messages(view).isEmpty, "a takeover is neither a leave nor a join")
        let welcome = try #require(hub.messages(new).first?.welcome)
        #expect(welcome.lastSeq == 1)

        // The old socket's samples in flight are ignored; the new one publishes.
        hub.hr(old, seq: 2)
        #expect(hub.messages(view).isEmpty)
        hub.hr(new, seq: 2)
        #expect(hub.messages(view).seqs(of: "ann") == [2])

        // The old socket finally goes: no leave, the participant is still here.
        hub.close(old)
        #expect(hub.messages(view).isEmpty)
        let late = hub.viewer()
        #expect(hub.messages(late).dropFirst().first?.snapshot?.map(\.p) == ["ann"])

        hub.close(new)
        #expect(hub.messages(view) == [.leave(p: "ann", reason: .closed)])
    }

    @Test func takeoverAcrossRolesOfTheSameParticipant() {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let app = hub.open(.participant, "ann")
        _ = hub.messages(view)
        _ = hub.takeEffects()
        let strap = hub.publisher("ann")
        #expect(hub.takeEffects().contains(.close(app, .replaced, flushFirst: false)))
        hub.hr(strap, seq: 1)
        #expect(hub.messages(view).seqs(of: "ann") == [1])
        #expect(hub.messages(app).samples.isEmpty, "the replaced connection is sent nothing more")
    }

    @Test func openWithUnparseableRequestClosesWithBadRequest() {
        let relay = Relay()
        let bad: [(String, String?)] = [
            ("/v1/classes/spin/ws", nil),
            ("/v1/classes/spin/ws", "role=dancer"),
            ("/v1/classes/spin/ws", "role=publisher"),
            ("/v1/classes/spin/ws", "role=viewer&participant=ann"),
            ("/v1/classes/sp!n/ws", "role=viewer"),
            ("/v2/classes/spin/ws", "role=viewer"),
            ("/v1/classes/spin/ws", "role=viewer&mode=sometimes"),
        ]
        for (index, (path, query)) in bad.enumerated() {
            let id = ClientID(UInt64(index + 1))
            relay.open(id, path: path, query: query, format: .json, now: 0)
            #expect(relay.takeEffects() == [.close(id, .badRequest, flushFirst: false)], "\(path)?\(query ?? "")")
            #expect(relay.nextFrame(id, now: 0) == nil)
        }
        #expect(relay.connectionCount == 0)
        #expect(relay.classCount == 0)
        #expect(CloseCode.badRequest.rawValue == 4000)
    }

    @Test func openWithAPathAndQuery() throws {
        let relay = Relay()
        relay.open(ClientID(1), path: "/v1/classes/spin/ws", query: "role=viewer&mode=latest", format: .json, now: 5)
        #expect(relay.takeEffects() == [.write(ClientID(1))])
        let frame = try #require(relay.nextFrame(ClientID(1), now: 5))
        #expect(frame.kind == .text)
        let welcome = try #require(try HubFrameDecoder.decodeJSON(frame.buffer.payload).first?.welcome)
        #expect(welcome.mode == .latest)
        #expect(welcome.classID == "spin")
    }

    @Test func writeEffectOncePerBurstUntilTheQueueIsFoundEmpty() {
        let hub = RelayHarness()
        let view = hub.viewer()
        let pub = hub.publisher("ann")
        #expect(hub.takeEffects().filter { $0 == .write(view) }.count == 1)
        hub.hr(pub, seq: 1)
        hub.hr(pub, seq: 2)
        #expect(!hub.takeEffects().contains(.write(view)), "a write is already requested")
        _ = hub.frames(view)
        hub.hr(pub, seq: 3)
        #expect(hub.takeEffects().contains(.write(view)), "asked again once nextFrame found nothing")
    }

    @Test func closeAllClosesEveryRealClientAfterFlushing() {
        let hub = RelayHarness()
        let view = hub.viewer()
        let pub = hub.publisher("ann")
        let other = hub.open(.participant, "bob", classID: "yoga")
        let demo = hub.open(.publisher, "robot", isVirtual: true)
        _ = hub.takeEffects()
        hub.relay.closeAll(now: hub.now)
        let effects = hub.takeEffects()
        #expect(effects.count == 3)
        for id in [view, pub, other] {
            #expect(effects.contains(.close(id, .goingAway, flushFirst: true)))
        }
        #expect(!effects.contains { if case .close(demo, _, _) = $0 { true } else { false } })
        // Idempotent: nobody is asked to close twice.
        hub.relay.closeAll(now: hub.now)
        #expect(hub.takeEffects().isEmpty)
    }

    @Test func closeAllSkipsConnectionsAlreadyClosing() {
        let hub = RelayHarness()
        let old = hub.publisher("ann")
        let new = hub.publisher("ann")
        _ = hub.takeEffects()
        hub.relay.closeAll(now: hub.now)
        #expect(hub.takeEffects() == [.close(new, .goingAway, flushFirst: true)])
        _ = old
    }

    @Test func virtualClientsAreNeverWrittenTo() {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let demo = hub.open(.publisher, "robot", isVirtual: true)
        let demoViewer = hub.open(.participant, "robot2", isVirtual: true)
        hub.hello(demo, name: "Robot", hrmax: 180)
        hub.hr(demo, seq: 1)
        hub.send(demo, .ping(id: .number(1), ct: 5))
        hub.hr(demo, seq: 1)  // a duplicate: the error goes nowhere
        let effects = hub.takeEffects()
        #expect(!effects.contains(.write(demo)))
        #expect(!effects.contains(.write(demoViewer)))
        #expect(hub.frames(demo).isEmpty)
        #expect(hub.frames(demoViewer).isEmpty)
        // Everyone else sees the demo riders like real ones.
        let messages = hub.messages(view)
        #expect(messages.contains(.join(p: "robot", profile: Profile())))
        #expect(messages.contains(.join(p: "robot2", profile: Profile())))
        #expect(messages.seqs(of: "robot") == [1])
        #expect(hub.relay.connectionCount == 3)
    }

    @Test func closingAViewerInTheMiddleKeepsTheOthersServed() {
        let hub = RelayHarness()
        let views = (0..<4).map { _ in hub.quietViewer() }
        let pub = hub.publisher("ann")
        hub.close(views[1])
        hub.hr(pub, seq: 1)
        for view in [views[0], views[2], views[3]] {
            #expect(hub.messages(view).seqs(of: "ann") == [1])
        }
        #expect(hub.frames(views[1]).isEmpty)
        hub.close(views[3])
        hub.close(views[0])
        hub.hr(pub, seq: 2)
        #expect(hub.messages(views[2]).seqs(of: "ann") == [2])
        #expect(hub.relay.classSummaries().first?.viewers == 1)
    }

    @Test func classesAreSeparate() {
        let hub = RelayHarness()
        let spinView = hub.quietViewer()
        let yogaView = hub.open(.viewer, classID: "yoga")
        _ = hub.messages(yogaView)
        let spin = hub.publisher("ann")
        let yoga = hub.open(.publisher, "ann", classID: "yoga")
        #expect(!hub.takeEffects().contains { if case .close = $0 { true } else { false } }, "no takeover")
        hub.hr(spin, seq: 1)
        hub.hr(yoga, seq: 9)
        #expect(hub.messages(spinView).seqs(of: "ann") == [1])
        #expect(hub.messages(yogaView).seqs(of: "ann") == [9])
        #expect(hub.relay.classCount == 2)
    }

    @Test func pingIsAnsweredAtOnceForAnyRole() {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let pub = hub.publisher("ann")
        _ = hub.messages(pub)
        hub.send(pub, .ping(id: .string("x"), ct: 42))
        hub.send(view, .ping(id: .number(7), ct: nil))
        #expect(hub.messages(pub) == [.pong(id: .string("x"), ct: 42, ht: hub.now)])
        #expect(hub.messages(view).last == .pong(id: .number(7), ct: nil, ht: hub.now))
    }
}
