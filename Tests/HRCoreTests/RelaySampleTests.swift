import HRCore
import HRProtocol
import Testing

/// Relaying samples: fields, shared encoding, batching, rejections, rate limit and late arrivals.
@Suite struct RelaySampleTests {
    @Test func relayedSampleCarriesHubReceiveTimeAndTheDeviceFields() throws {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let pub = hub.publisher("ann")
        _ = hub.messages(view)
        hub.advance(250)
        let sample = Sample(seq: 3, ts: hub.now - 40, bpm: 131, rr: [800, 810], contact: true, ee: 12)
        hub.send(pub, .hr(sample))
        let relayed = try #require(hub.messages(view).samples.first)
        #expect(relayed == RelayedSample(p: "ann", sample: sample, rts: hub.now))
        #expect(hub.messages(pub).samples.isEmpty, "a publisher is never sent samples")
    }

    @Test(arguments: [
        // (bpm, hrmax, pct, zone): round(100 × bpm / hrmax), halves up; zone 1 <60, 2 60–69, … 5 ≥90.
        (UInt8(119), 200, 60, 2),  // 59.5 → 60
        (UInt8(117), 200, 59, 1),  // 58.5 → 59
        (UInt8(139), 200, 70, 3),  // 69.5 → 70
        (UInt8(159), 200, 80, 4),  // 79.5 → 80
        (UInt8(179), 200, 90, 5),  // 89.5 → 90
        (UInt8(178), 200, 89, 4),
        (UInt8(25), 240, 10, 1),
        (UInt8(250), 100, 250, 5),
        (UInt8(1), 200, 1, 1),  // 0.5 → 1
    ])
    func pctAndZoneFromHrmax(bpm: UInt8, hrmax: Int, pct: Int, zone: Int) throws {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let pub = hub.publisher("ann")
        hub.hello(pub, hrmax: hrmax)
        hub.hr(pub, seq: 1, bpm: bpm)
        let relayed = try #require(hub.messages(view).samples.first)
        #expect(relayed.pct == pct)
        #expect(relayed.zone == zone)
    }

    @Test func noPctOrZoneWithoutHrmaxOrForBpmZero() throws {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let pub = hub.publisher("ann")
        hub.hr(pub, seq: 1, bpm: 150)
        hub.hello(pub, hrmax: 190)
        hub.hr(pub, seq: 2, bpm: 0)
        hub.hr(pub, seq: 3, bpm: 95)
        let frames = hub.frames(view)
        let samples = frames.flatMap { $0.messages() }.samples
        #expect(samples.map(\.sample.seq) == [1, 2, 3])
        #expect(samples[0].pct == nil && samples[0].zone == nil, "no hrmax yet")
        #expect(samples[1].pct == nil && samples[1].zone == nil, "bpm 0 is no reading")
        #expect(samples[1].sample.bpm == 0, "but it is relayed")
        #expect(samples[2].pct == 50 && samples[2].zone == 1)
        #expect(!frames.map(\.text).joined().contains(#""pct":0"#))
    }

    @Test func aSampleIsEncodedOnceAndSharedByEveryViewer() throws {
        let hub = RelayHarness()
        let views = (0..<3).map { _ in hub.quietViewer() }
        let binaries = (0..<2).map { _ in hub.quietViewer(format: .binary) }
        let latest = hub.quietViewer(mode: .latest)
        let pub = hub.publisher("ann")
        for view in views + binaries + [latest] { _ = hub.frames(view) }
        hub.hello(pub, hrmax: 190)
        for view in views + binaries + [latest] { _ = hub.frames(view) }

        hub.hr(pub, seq: 1, bpm: 140, rr: [700])
        let texts = (views + [latest]).map { hub.frames($0) }
        let bins = binaries.map { hub.frames($0) }
        for frames in texts {
            #expect(frames.count == 1)
            #expect(frames.first?.bytes == texts[0].first?.bytes, "identical bytes for every JSON viewer")
        }
        for frames in bins {
            #expect(frames.map(\.kind) == [.binary])
            #expect(frames.first?.bytes == bins[0].first?.bytes, "identical bytes for every binary viewer")
        }
        let expected = RelayedSample(
            p: "ann", sample: Sample(seq: 1, ts: hub.now, bpm: 140, rr: [700]), rts: hub.now, pct: 74, zone: 3)
        var json: [UInt8] = Array("[".utf8)
        HubFrameEncoder.appendJSON(.hr(expected), to: &json)
        json.append(UInt8(ascii: "]"))
        #expect(texts[0].first?.bytes == json)
        var binary: [UInt8] = []
        HubFrameEncoder.appendBinary(expected, to: &binary)
        #expect(bins[0].first?.bytes == binary)
    }

    @Test func outboundMessageCachesItsBinaryEncoding() {
        let message = outbound("ann", 1, captureHubMs: 10, rr: [1, 2])
        let first = message.binary
        #expect(!first.isEmpty)
        #expect(message.binary == first)
        #expect(message.isSample)
        let control = OutboundMessage(control: .leave(p: "ann", reason: .closed))
        #expect(!control.isSample)
        #expect(control.binary.isEmpty)
        #expect(String(decoding: control.json, as: UTF8.self) == #"{"t":"leave","p":"ann","reason":"closed"}"#)
    }

    @Test func oneFrameBatchesEveryPendingMessage() {
        let hub = RelayHarness()
        let view = hub.viewer()
        let pub = hub.publisher("ann")
        for seq: UInt32 in 1...5 {
            hub.hr(pub, seq: seq)
            hub.advance(10)
        }
        let frames = hub.frames(view)
        #expect(frames.count == 1)
        #expect(frames.first?.kind == .text)
        #expect(frames.first?.bytes.first == UInt8(ascii: "["))
        #expect(frames.first?.bytes.last == UInt8(ascii: "]"))
        let messages = frames.first?.messages() ?? []
        #expect(messages.count == 2 + 1 + 5, "welcome, snapshot, join and five samples")
        #expect(messages.first?.welcome != nil)
        #expect(messages.seqs(of: "ann") == [1, 2, 3, 4, 5])
    }

    @Test func viewerSendingHrOrHelloIsNotAllowed() throws {
        let hub = RelayHarness()
        let other = hub.quietViewer()
        let view = hub.quietViewer()
        hub.hr(view, seq: 42)
        hub.hello(view, name: "Eve")
        let errors = hub.messages(view).errors
        #expect(errors.map(\.code) == [.notAllowed, .notAllowed])
        #expect(errors[0].seq == 42)
        #expect(errors[1].seq == nil)
        #expect(hub.messages(other).isEmpty, "nothing reaches anyone else")
        #expect(hub.counters.errors == 2)
        #expect(hub.counters.received == 0)
        #expect(hub.relay.classSummaries().first?.participants == 0)
    }

    @Test func duplicateIsRejectedAndNotRelayedTwice() throws {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let pub = hub.publisher("ann")
        _ = hub.messages(pub)
        hub.hr(pub, seq: 5, bpm: 100)
        hub.hr(pub, seq: 5, bpm: 101)
        hub.hr(pub, seq: 6)
        hub.hr(pub, seq: 5)
        hub.advance(100)  // the second duplicate came within 100 ms of the first: held that long (ErrorCoalescer)
        hub.tick()
        let errors = hub.messages(pub).errors
        #expect(errors.map(\.code) == [.duplicate, .duplicate])
        #expect(errors.map(\.seq) == [5, 5])
        let samples = hub.messages(view).samples
        #expect(samples.map(\.sample.seq) == [5, 6])
        #expect(samples[0].sample.bpm == 100, "the first copy wins")
        #expect(hub.counters.duplicates == 2)
        #expect(hub.counters.received == 2)
    }

    @Test func duplicateAcrossReconnectIsRejected() {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let pub = hub.publisher("ann")
        for seq: UInt32 in 1...3 { hub.hr(pub, seq: seq) }
        hub.close(pub)
        let again = hub.publisher("ann")
        _ = hub.messages(again)
        for seq: UInt32 in 1...4 { hub.hr(again, seq: seq) }  // a device replaying its buffer
        #expect(hub.messages(again).errors == [ProtocolError(.duplicate, "seq 1 was already accepted", seq: 1)])
        hub.advance(100)  // seqs 2 and 3 came within 100 ms of the first error: one error names both
        hub.tick()
        #expect(hub.messages(again).errors.map(\.coalesced) == [CoalescedRun(count: 2, fromSeq: 2, toSeq: 3)])
        #expect(hub.messages(view).seqs(of: "ann") == [1, 2, 3, 4])
    }

    @Test func rateLimitHoldsAMinuteAndRefills() {
        let hub = RelayHarness { $0.maxSampleRate = 2 }
        let view = hub.quietViewer()
        let pub = hub.publisher("ann")
        _ = hub.messages(pub)
        // A full bucket: 60 s × 2/s = 120 samples at once (an offline buffer replayed).
        for seq: UInt32 in 1...120 { hub.hr(pub, seq: seq) }
        #expect(hub.messages(pub).errors.isEmpty)
        hub.hr(pub, seq: 121)
        let limited = hub.messages(pub).errors
        #expect(limited.map(\.code) == [.rateLimited])
        #expect(limited.first?.seq == 121)
        #expect(hub.counters.rateLimited == 1)

        // Duplicates are answered as duplicates, not rate_limited, and take no token.
        hub.hr(pub, seq: 120)
        #expect(hub.messages(pub).errors.map(\.code) == [.duplicate])

        // Half a second refills one token (2/s).
        hub.advance(499)
        hub.hr(pub, seq: 121)
        #expect(hub.messages(pub).errors.map(\.code) == [.rateLimited])
        hub.advance(1)
        hub.hr(pub, seq: 121)
        hub.hr(pub, seq: 122)
        hub.advance(100)  // within 100 ms of the last rate_limited: held that long
        hub.tick()
        #expect(hub.messages(pub).errors.map(\.code) == [.rateLimited], "one token only")
        #expect(hub.messages(view).seqs(of: "ann") == Array(1...121))

        // The rejected seq 122 is not remembered: once refilled it is accepted, not a duplicate.
        hub.advance(500)
        hub.hr(pub, seq: 122)
        #expect(hub.messages(pub).errors.isEmpty)
        #expect(hub.messages(view).seqs(of: "ann") == [122])
        #expect(hub.counters.rateLimited == 3)
        #expect(hub.counters.duplicates == 1)
    }

    @Test func duplicatesDoNotDrainTheBucket() {
        let hub = RelayHarness { $0.maxSampleRate = 1 }
        let pub = hub.publisher("ann")
        _ = hub.messages(pub)
        hub.hr(pub, seq: 1)
        for _ in 0..<500 { hub.hr(pub, seq: 1) }
        for seq: UInt32 in 2...60 { hub.hr(pub, seq: seq) }
        hub.advance(100)  // the last repeat is held for 100 ms (ErrorCoalescer); repeats of one seq are not merged
        hub.tick()
        let errors = hub.messages(pub).errors
        #expect(errors.count == 500)
        #expect(errors.allSatisfy { $0.code == .duplicate })
        hub.hr(pub, seq: 61)
        #expect(hub.messages(pub).errors.map(\.code) == [.rateLimited])
    }

    @Test func rateLimitIsPerParticipantAcrossConnections() {
        let hub = RelayHarness { $0.maxSampleRate = 1 }
        let first = hub.publisher("ann")
        for seq: UInt32 in 1...40 { hub.hr(first, seq: seq) }
        let second = hub.publisher("ann")  // takes over; same bucket
        _ = hub.messages(second)
        for seq: UInt32 in 41...61 { hub.hr(second, seq: seq) }
        #expect(hub.messages(second).errors.map(\.code) == [.rateLimited])
        let bob = hub.publisher("bob")
        _ = hub.messages(bob)
        hub.hr(bob, seq: 1)
        #expect(hub.messages(bob).errors.isEmpty, "another participant has its own bucket")
    }

    @Test func aRejectChangesNoState() throws {
        let hub = RelayHarness { $0.maxSampleRate = 1.0 / 60 }  // a bucket of one token
        let view = hub.quietViewer()
        let pub = hub.publisher("ann")
        hub.hr(pub, seq: 1)
        _ = hub.messages(view)
        let before = hub.counters

        hub.advance(5_000)
        hub.hr(pub, seq: 2)  // rate limited
        hub.hr(pub, seq: 1)  // duplicate
        hub.hr(view, seq: 3)  // not allowed
        #expect(hub.messages(view) == [.error(ProtocolError(.notAllowed, "a viewer cannot send hr", seq: 3))])
        #expect(hub.messages(pub).errors.map(\.code) == [.rateLimited, .duplicate])

        hub.advance(1_000)
        hub.tick()
        // The last activity is still seq 1's arrival, so stale counts from there.
        #expect(hub.messages(view) == [.stale(p: "ann", since: hub.now - 6_000)])
        var expected = before
        expected.rateLimited += 1
        expected.duplicates += 1
        expected.errors += 3
        #expect(hub.counters == expected)
        hub.close(pub)
        let again = hub.publisher("ann")
        #expect(hub.messages(again).first?.welcome?.lastSeq == 1)
    }

    @Test func helloFromViewerChangesNoProfile() throws {
        let hub = RelayHarness()
        let pub = hub.publisher("ann")
        hub.hello(pub, name: "Ann")
        let view = hub.quietViewer()
        hub.hello(view, name: "Eve", hrmax: 100)
        let late = hub.viewer()
        let snapshot = try #require(hub.messages(late).dropFirst().first?.snapshot)
        #expect(snapshot.first?.profile == Profile(name: "Ann"))
    }

    @Test func lowerSeqAfterAHigherOneWasReleasedIsLateForEveryViewer() {
        let hub = RelayHarness()
        let views = [hub.quietViewer(), hub.quietViewer(mode: .latest), hub.quietViewer(format: .binary)]
        let pub = hub.publisher("ann")
        var received = Array(repeating: [HubMessage](), count: views.count)
        // Seq 2 is the device's retry of a lost sample, too late: 3 went out.
        for seq: UInt32 in [1, 3, 2, 4] {
            hub.hr(pub, seq: seq)
            for (index, view) in views.enumerated() { received[index] += hub.messages(view) }
        }
        for messages in received {
            #expect(messages.seqs(of: "ann") == [1, 3, 4])
            #expect(messages.gaps == [Gap(p: "ann", fromSeq: 2, toSeq: 2, count: 1, reason: .late)])
        }
        #expect(hub.counters.arrivedLate == 1)
        #expect(hub.counters.received == 4)
        // It was accepted: the device is told it is a duplicate if it tries again.
        _ = hub.messages(pub)
        hub.hr(pub, seq: 2)
        #expect(hub.messages(pub).errors.map(\.code) == [.duplicate])
    }

    @Test func orderPerParticipantIsStrictlyIncreasingAtEveryViewer() {
        var rng = SplitMix64(seed: 7)
        let hub = RelayHarness()
        let views = [hub.quietViewer(), hub.quietViewer(format: .binary), hub.quietViewer(mode: .latest)]
        let pubs = ["ann", "bob"].map { hub.publisher($0) }
        var received: [[String: [UInt32]]] = Array(repeating: [:], count: views.count)
        for _ in 0..<400 {
            let index = Int.random(in: 0..<2, using: &rng)
            hub.hr(pubs[index], seq: UInt32.random(in: 1...300, using: &rng))
            hub.advance(Int64.random(in: 0...50, using: &rng))
            for (v, view) in views.enumerated() where Bool.random(using: &rng) {
                for sample in hub.messages(view).samples {
                    received[v][sample.p, default: []].append(sample.sample.seq)
                }
            }
        }
        for (v, view) in views.enumerated() {
            for sample in hub.messages(view).samples { received[v][sample.p, default: []].append(sample.sample.seq) }
            for (p, seqs) in received[v] {
                #expect(zip(seqs, seqs.dropFirst()).allSatisfy { $0 < $1 }, "viewer \(v), \(p): \(seqs)")
            }
        }
    }
}
