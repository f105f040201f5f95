import HRCore
import HRProtocol
import Testing

/// A rider the relay has not read from the record yet (Relay+Admission.swift): the read runs off the relay's thread,
/// and the rider's connection is welcomed when it is back, with what it sent meanwhile handled then, in order.
@Suite struct RelayAdmissionTests {
    private func hub() -> (RelayHarness, FakeRecord) {
        let record = FakeRecord()
        record.preload("spin", "ann", seqs: 1...5)
        let hub = RelayHarness(record: record)
        hub.holdsRecordReads = true
        return (hub, record)
    }

    @Test func aConnectionIsWelcomedWhenItsReadIsBackAndWhatItSentMeanwhileFollows() throws {
        let (hub, record) = hub()
        let view = hub.quietViewer()
        let pub = hub.publisher("ann")
        hub.hello(pub, name: "Ann")
        hub.hr(pub, seq: 5)  // in the record: a duplicate
        hub.hr(pub, seq: 6)
        #expect(hub.heldRecordReads.map(\.participant) == ["ann"])
        #expect(record.lookups.isEmpty, "nothing read on the relay's thread")
        #expect(hub.messages(pub).isEmpty, "not welcomed yet")
        #expect(hub.messages(view).isEmpty, "not joined yet")
        #expect(hub.relay.connectionCount == 2)

        hub.answerRecordReads()
        let messages = hub.messages(pub)
        #expect(messages.first?.welcome?.lastSeq == 5)
        #expect(messages.errors.map(\.code) == [.duplicate])
        #expect(hub.counters.duplicates == 1)
        let seen = hub.messages(view)
        #expect(seen.first == .join(p: "ann", profile: Profile()))
        #expect(seen.contains(.join(p: "ann", profile: Profile(name: "Ann"))))
        #expect(seen.seqs(of: "ann") == [6])
    }

    @Test func twoConnectionsWaitingForOneReadAreAdmittedInOrderTheNewerTakingOver() throws {
        let (hub, _) = hub()
        let view = hub.quietViewer()
        let first = hub.publisher("ann")
        let second = hub.publisher("ann")
        #expect(hub.heldRecordReads.count == 1, "one read for both")
        hub.answerRecordReads()
        #expect(hub.takeEffects().contains(.close(first, .replaced, flushFirst: false)))
        #expect(hub.messages(second).first?.welcome?.lastSeq == 5)
        #expect(hub.messages(view).filter(\.isPresence) == [.join(p: "ann", profile: Profile())])
        #expect(hub.counters.takeovers == 1)
    }

    @Test func aConnectionClosedWhileWaitingLeavesNoTrace() {
        let (hub, _) = hub()
        let view = hub.quietViewer()
        _ = hub.takeEffects()
        let pub = hub.publisher("ann")
        hub.hr(pub, seq: 6)
        hub.close(pub)
        #expect(hub.relay.connectionCount == 1)
        hub.answerRecordReads()
        #expect(hub.messages(view).isEmpty, "neither join nor leave nor sample")
        #expect(hub.takeEffects().isEmpty)
        // The rider was read: a new connection is welcomed at once.
        let again = hub.publisher("ann")
        #expect(hub.heldRecordReads.isEmpty)
        #expect(hub.messages(again).first?.welcome?.lastSeq == 5)
    }

    @Test func tooManyMessagesWhileWaitingCloseTheConnectionWith4029() {
        let (hub, _) = hub()
        let view = hub.quietViewer()
        _ = hub.takeEffects()
        let pub = hub.publisher("ann")
        for seq in 0..<UInt32(Relay.pendingMessageLimit + 1) { hub.hr(pub, seq: 6 + seq) }
        #expect(hub.takeEffects() == [.close(pub, .tooMany, flushFirst: false)])
        hub.answerRecordReads()
        #expect(hub.messages(view).isEmpty, "never admitted")
        hub.close(pub)
        #expect(hub.relay.connectionCount == 1)
    }

    @Test func aDrainClosesConnectionsStillWaiting() {
        let (hub, _) = hub()
        let pub = hub.publisher("ann")
        hub.relay.closeAll(now: hub.now)
        #expect(hub.takeEffects().contains(.close(pub, .goingAway, flushFirst: true)))
        hub.answerRecordReads()
        #expect(hub.messages(pub).isEmpty, "never admitted")
    }

    @Test func viewersAndRidersAlreadyReadAreWelcomedAtOnce() {
        let (hub, record) = hub()
        let view = hub.viewer()
        #expect(hub.messages(view).first?.welcome != nil)
        hub.holdsRecordReads = false
        let pub = hub.publisher("ann")
        hub.close(pub)
        hub.holdsRecordReads = true
        let again = hub.publisher("ann")
        #expect(hub.messages(again).first?.welcome?.lastSeq == 5)
        #expect(record.lookups == ["ann"], "read once per rider")
    }
}
