import HRCore
import HRProtocol
import Testing

/// PROTOCOL.md: every sample a client misses while connected is either delivered or named in a `gap`.
///
/// A seeded random schedule of publishers (skipped seqs, retries of old seqs, duplicates, network delays,
/// takeovers and reconnects) and viewers of both modes and formats with small queues, some drained often and
/// some rarely. For every viewer and participant, each seq the relay accepted while the viewer was connected
/// is delivered exactly once in increasing order or named in a gap, never both, never neither, and counted
/// once: no gap's range holds a delivered seq, every missed seq lies in a gap's range, and the gaps' counts
/// add up to exactly the missed seqs.
@Suite struct AccountingInvariantTests {
    private struct Viewer {
        let id: ClientID
        let name: String
        /// Chance of draining at each step.
        let drainChance: Double
        /// Accepted seqs per participant while connected.
        var expected: [String: Set<UInt32>] = [:]
        var messages: [HubMessage] = []
    }

    private struct Publisher {
        let p: String
        var connection: ClientID
        var nextSeq: UInt32 = 1
        /// Seqs sent once, kept to be retried or duplicated later.
        var sent: [UInt32] = []
        /// Seqs skipped on purpose, some retried later (arriving late).
        var held: [UInt32] = []
    }

    /// With the jitter buffer on and off, and the class tick off and on (100 ms).
    @Test(arguments: [UInt64(1), 2, 3, 42, 1_234, 99_999], [(false, 0), (true, 0), (false, 100), (true, 100)])
    func everyMissedSampleIsNamedInExactlyOneGap(seed: UInt64, settings: (jitter: Bool, tickMs: Int64)) {
        let jitter = settings.jitter
        var rng = SplitMix64(seed: seed)
        let hub = RelayHarness {
            $0.jitterBuffer = jitter
            $0.tickMs = settings.tickMs
            $0.queueLimits = SendQueue.Limits(maxMessages: 6, maxBytes: 700)
            $0.slowConsumerMs = .max / 4
            $0.maxSampleRate = 5
            $0.frameTargetBytes = 400
        }
        var viewers: [Viewer] = []
        func addViewer(_ role: Role, _ p: String?, _ mode: DeliveryMode, _ format: WireFormat, drain: Double) {
            let id = hub.open(role, p, mode: mode, format: format)
            viewers.append(Viewer(id: id, name: "\(role) \(mode) \(format) \(drain)", drainChance: drain))
        }
        addViewer(.viewer, nil, .all, .json, drain: 0.9)
        addViewer(.viewer, nil, .all, .binary, drain: 0.05)
        addViewer(.viewer, nil, .latest, .json, drain: 0.1)
        addViewer(.viewer, nil, .latest, .binary, drain: 0.5)
        addViewer(.viewer, nil, .all, .json, drain: 0.02)
        addViewer(.participant, "rider", .all, .json, drain: 0.3)

        var publishers = ["ann", "bob", "cat"].map { Publisher(p: $0, connection: hub.publisher($0)) }
        var riderSeq: UInt32 = 1
        // Accepted seqs per participant, for viewers that connect later.
        func accepted(_ p: String, _ seq: UInt32) {
            for index in viewers.indices { viewers[index].expected[p, default: []].insert(seq) }
        }
        func send(_ connection: ClientID, _ p: String, _ seq: UInt32, delay: Int64) {
            let before = hub.counters.received
            hub.hr(connection, seq: seq, ts: hub.now - delay)
            if hub.counters.received > before { accepted(p, seq) }
        }
        func handleEffects() {
            for effect in hub.takeEffects() {
                if case .close(let id, let code, _) = effect {
                    #expect(code == .replaced, "only takeovers close anyone here")
                    hub.close(id)
                }
            }
        }

        for step in 0..<3_000 {
            hub.advance(Int64.random(in: 0...120, using: &rng))
            let delay =
                Bool.random(using: &rng)
                ? Int64.random(in: 0...60, using: &rng) : Int64.random(in: 0...1_500, using: &rng)
            let index = Int.random(in: 0..<publishers.count, using: &rng)
            let roll = Double.random(in: 0..<1, using: &rng)
            var pub = publishers[index]
            switch roll {
            case ..<0.70:  // the next seq, sometimes skipping one (held back) or a few (never sent)
                var seq = pub.nextSeq
                if Double.random(in: 0..<1, using: &rng) < 0.1 {
                    pub.held.append(seq)
                    seq += 1
                }
                if Double.random(in: 0..<1, using: &rng) < 0.05 { seq += UInt32.random(in: 1...3, using: &rng) }
                send(pub.connection, pub.p, seq, delay: delay)
                pub.sent.append(seq)
                pub.nextSeq = seq + 1
            case ..<0.78:  // a held-back seq comes late
                if !pub.held.isEmpty {
                    let seq = pub.held.remove(at: Int.random(in: 0..<pub.held.count, using: &rng))
                    send(pub.connection, pub.p, seq, delay: delay)
                }
            case ..<0.85:  // a duplicate
                if let seq = pub.sent.randomElement(using: &rng) { send(pub.connection, pub.p, seq, delay: delay) }
            case ..<0.88:  // the device reconnects: a takeover, or a clean close first
                if Bool.random(using: &rng) { hub.close(pub.connection) }
                pub.connection = hub.publisher(pub.p)
                _ = hub.messages(pub.connection)
            case ..<0.93:  // the rider's app publishes too
                send(viewers[5].id, "rider", riderSeq, delay: delay)
                riderSeq += UInt32.random(in: 1...2, using: &rng)
            case ..<0.935:  // a viewer joins late
                // (with jitter or the tick, a held sample may predate it)
                if viewers.count < 9 && !jitter && settings.tickMs == 0 {
                    let mode: DeliveryMode = Bool.random(using: &rng) ? .all : .latest
                    let format: WireFormat = Bool.random(using: &rng) ? .json : .binary
                    addViewer(.viewer, nil, mode, format, drain: Double.random(in: 0.01...0.9, using: &rng))
                }
            default:
                break
            }
            publishers[index] = pub
            hub.tick()
            handleEffects()
            for index in viewers.indices where Double.random(in: 0..<1, using: &rng) < viewers[index].drainChance {
                viewers[index].messages += hub.messages(viewers[index].id)
            }
            for pub in publishers where step % 50 == 0 { _ = hub.frames(pub.connection) }
        }
        // Let every held sample come out, then drain everyone.
        for _ in 0..<20 {
            hub.advance(100)
            hub.tick()
        }
        handleEffects()
        for index in viewers.indices { viewers[index].messages += hub.messages(viewers[index].id) }

        #expect(hub.counters.received > 1_000)
        #expect(hub.counters.droppedBackpressure > 0)
        #expect(hub.counters.droppedConflated > 0)
        #expect(hub.counters.droppedLate > 0)
        #expect(hub.counters.arrivedLate > 0)
        for viewer in viewers { check(viewer) }
    }

    private func check(_ viewer: Viewer) {
        var delivered: [String: [UInt32]] = [:]
        var gaps: [String: [Gap]] = [:]
        for message in viewer.messages {
            if let sample = message.sample { delivered[sample.p, default: []].append(sample.sample.seq) }
            if let gap = message.gap { gaps[gap.p, default: []].append(gap) }
        }
        let participants = Set(viewer.expected.keys).union(delivered.keys).union(gaps.keys)
        for p in participants.sorted() {
            let expected = viewer.expected[p] ?? []
            let seqs = delivered[p] ?? []
            let gaps = gaps[p] ?? []
            let where_ = "\(viewer.name), \(p)"
            #expect(zip(seqs, seqs.dropFirst()).allSatisfy { $0 < $1 }, "\(where_): order \(seqs)")
            let deliveredSet = Set(seqs)
            #expect(deliveredSet.isSubset(of: expected), "\(where_): delivered what was never accepted")
            for gap in gaps {
                #expect(gap.fromSeq <= gap.toSeq && gap.count >= 1, "\(where_): malformed \(gap)")
                let inside = seqs.filter { gap.fromSeq...gap.toSeq ~= $0 }
                #expect(inside.isEmpty, "\(where_): \(gap) spans delivered \(inside)")
                let missed = expected.filter { gap.fromSeq...gap.toSeq ~= $0 && !deliveredSet.contains($0) }
                #expect(gap.count <= missed.count, "\(where_): \(gap) counts more than \(missed.sorted())")
            }
            let missed = expected.subtracting(deliveredSet)
            let unaccounted = missed.filter { seq in !gaps.contains { $0.fromSeq...$0.toSeq ~= seq } }
            #expect(unaccounted.isEmpty, "\(where_): neither delivered nor in a gap: \(unaccounted.sorted())")
            // Counted exactly once: a gap's range may hold a seq that another gap counts (a seq not yet published
            // when the first gap was made, then accepted too late), but the counts add up to the missed seqs.
            #expect(gaps.map(\.count).reduce(0, +) == missed.count, "\(where_): counts vs missed \(missed.count)")
        }
    }
}
