import HRProtocol
import Testing

@testable import HRCore

@Suite struct ErrorCoalescerTests {
    let t0: Int64 = 1_700_000_000_000

    func limited(_ seq: UInt32) -> ProtocolError {
        ProtocolError(.rateLimited, "more than 5.0 samples per second", seq: seq)
    }

    @Test func theFirstGoesAtOnceAndRepeatsWithinTheWindowBecomeOneError() {
        var coalescer = ErrorCoalescer()
        #expect(coalescer.refuse(limited(301), now: t0) == [limited(301)])
        #expect(coalescer.nextDueMs == nil)
        for seq: UInt32 in 302...310 { #expect(coalescer.refuse(limited(seq), now: t0 + 10).isEmpty) }
        #expect(coalescer.nextDueMs == t0 + 100)
        #expect(coalescer.flushDue(now: t0 + 99).isEmpty)
        let sent = coalescer.flushDue(now: t0 + 100)
        #expect(
            sent == [
                ProtocolError(
                    .rateLimited, "more than 5.0 samples per second (and 8 more, through seq 310)", seq: 302,
                    coalesced: CoalescedRun(count: 9, fromSeq: 302, toSeq: 310))
            ])
        #expect(coalescer.nextDueMs == nil)
        // The window restarted when the run was sent.
        #expect(coalescer.refuse(limited(311), now: t0 + 199).isEmpty)
        #expect(coalescer.nextDueMs == t0 + 200)
        #expect(coalescer.flushDue(now: t0 + 200) == [limited(311)], "a run of one is a plain error")
    }

    @Test func aSteadyFloodGetsOneErrorPerWindowNamingEverySeqOnce() {
        var coalescer = ErrorCoalescer()
        var sent: [ProtocolError] = []
        for ms in 0..<1_000 {
            sent += coalescer.refuse(limited(UInt32(ms + 1)), now: t0 + Int64(ms))
            sent += coalescer.flushDue(now: t0 + Int64(ms))
        }
        sent += coalescer.flushAll(now: t0 + 1_000)
        #expect(sent.count == 11)  // at 0, 100, …, 900, and what was held at the end
        var next: UInt32 = 1
        for error in sent {
            let run = error.coalesced ?? CoalescedRun(count: 1, fromSeq: error.seq ?? 0, toSeq: error.seq ?? 0)
            #expect(error.seq == next && run.fromSeq == next, "seq is the first refused seq")
            #expect(run.count == Int(run.toSeq - run.fromSeq) + 1, "a run names exactly the seqs it refused")
            next = run.toSeq + 1
        }
        #expect(next == 1_001)
    }

    @Test func aSeqThatBreaksTheRunSendsTheHeldRunAtOnce() {
        var coalescer = ErrorCoalescer()
        _ = coalescer.refuse(limited(1), now: t0)
        _ = coalescer.refuse(limited(2), now: t0)
        _ = coalescer.refuse(limited(3), now: t0)
        let sent = coalescer.refuse(limited(7), now: t0 + 5)
        #expect(sent.map(\.coalesced) == [CoalescedRun(count: 2, fromSeq: 2, toSeq: 3)])
        #expect(coalescer.nextDueMs == t0 + 105, "7 is held for the window the sent run started")
        #expect(coalescer.flushDue(now: t0 + 105) == [limited(7)])
        // The same seq again does not extend a run either: each error keeps naming its seq.
        _ = coalescer.refuse(limited(9), now: t0 + 150)
        #expect(coalescer.refuse(limited(9), now: t0 + 150) == [limited(9)])
    }

    @Test func codesAreCoalescedApartAndOtherErrorsPassThrough() {
        var coalescer = ErrorCoalescer()
        let duplicate = ProtocolError(.duplicate, "seq 1 was already accepted", seq: 1)
        #expect(coalescer.refuse(limited(5), now: t0) == [limited(5)])
        #expect(coalescer.refuse(duplicate, now: t0) == [duplicate], "its own window")
        let bad = ProtocolError(.badJSON, "not json")
        #expect(coalescer.refuse(bad, now: t0) == [bad])
        #expect(coalescer.refuse(bad, now: t0) == [bad])
        let notAllowed = ProtocolError(.notAllowed, "a viewer cannot send hr", seq: 6)
        #expect(coalescer.refuse(notAllowed, now: t0) == [notAllowed])
        let noSeq = ProtocolError(.rateLimited, "no seq")
        #expect(coalescer.refuse(noSeq, now: t0) == [noSeq], "nothing to name a run by")
        #expect(coalescer.nextDueMs == nil)
    }

    @Test func flushAllSendsWhatIsHeldBeforeItIsDue() {
        var coalescer = ErrorCoalescer()
        _ = coalescer.refuse(limited(1), now: t0)
        _ = coalescer.refuse(limited(2), now: t0 + 1)
        _ = coalescer.refuse(ProtocolError(.duplicate, "seq 0 was already accepted", seq: 0), now: t0 + 1)
        _ = coalescer.refuse(ProtocolError(.duplicate, "seq 0 was already accepted", seq: 0), now: t0 + 2)
        #expect(coalescer.flushAll(now: t0 + 3).map(\.seq) == [2, 0])
        #expect(coalescer.nextDueMs == nil)
        #expect(coalescer.flushAll(now: t0 + 3).isEmpty)
    }
}
