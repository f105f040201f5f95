import HRCore
import HRProtocol
import Testing

/// How the relay coalesces repeated `rate_limited` / `duplicate` errors and closes a flooding device.
@Suite struct RelayErrorCoalescingTests {
    @Test func aFloodGetsOneRateLimitedThenTheRestInOneErrorThenTheClose() {
        let hub = RelayHarness { $0.maxSampleRate = 1 }  // a bucket of 60
        let pub = hub.publisher("ann")
        _ = hub.messages(pub)
        _ = hub.takeEffects()
        for seq: UInt32 in 1...2_000 { hub.hr(pub, seq: seq) }  // all at one instant
        let errors = hub.messages(pub).errors
        // 1...60 accepted; 61 answered at once; 62...161 held, then sent with the 101st error (> maxErrors 100).
        #expect(errors.map(\.code) == [.rateLimited, .rateLimited])
        #expect(errors.map(\.seq) == [61, 62])
        #expect(errors.map(\.coalesced) == [nil, CoalescedRun(count: 100, fromSeq: 62, toSeq: 161)])
        #expect(hub.takeEffects() == [.write(pub), .close(pub, .tooMany, flushFirst: true)])
        #expect(hub.counters.rateLimited == 101, "the rest come after the close was asked for: ignored")
    }

    @Test func aHeldErrorIsSentWhenItsWindowEnds() {
        let hub = RelayHarness {
            $0.maxSampleRate = 1.0 / 60  // one token
            $0.housekeepingMs = 60_000
        }
        let pub = hub.publisher("ann")
        hub.tick()
        _ = hub.messages(pub)
        hub.hr(pub, seq: 1)
        hub.hr(pub, seq: 2)
        hub.advance(30)
        hub.hr(pub, seq: 3)
        #expect(hub.messages(pub).errors.map(\.seq) == [2])
        #expect(hub.relay.nextWakeMs == hub.now - 30 + 100, "the relay asks to be ticked when the window ends")
        hub.advance(69)
        hub.tick()
        #expect(hub.messages(pub).errors.isEmpty)
        hub.advance(1)
        hub.tick()
        let sent = hub.messages(pub).errors
        #expect(sent.map(\.code) == [.rateLimited] && sent.map(\.seq) == [3] && sent[0].coalesced == nil)
        #expect(hub.relay.nextWakeMs == hub.now - 100 + 60_000)
    }

    @Test func aDrainSendsTheHeldErrorsBeforeTheClose() {
        let hub = RelayHarness()
        let pub = hub.publisher("ann")
        hub.hr(pub, seq: 1)
        _ = hub.messages(pub)
        for _ in 0..<3 { hub.hr(pub, seq: 1) }  // a device replaying: 1 sent, 1 held
        hub.relay.closeAll(now: hub.now)
        #expect(hub.messages(pub).errors.map(\.seq) == [1, 1, 1])
    }
}
