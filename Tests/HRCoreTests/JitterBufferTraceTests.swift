import Foundation
import HRProtocol
import Testing

@testable import HRCore

/// The jitter buffer replayed on delay traces recorded in the fault lab (tests/faults, docs/ROBUSTNESS.md):
/// each row is a sample as the hub saw it (`ts` from the device, `rts` when it arrived), so the replay gives the
/// release times the hub would choose, with no clock and no network.
@Suite struct JitterBufferTraceTests {
    struct Row {
        var participant: String
        var seq: UInt32
        var ts: Int64
        /// When the hub received it; nil for a sample the screen got a `late` gap for (it reached the hub beyond
        /// the budget; exactly when is not known at the screen, and any time beyond it replays the same).
        var rts: Int64?
        /// The arrival the replay uses: `rts`, or a second after capture for a late one (never before the
        /// sample before it: see `replay`).
        var arrival: Int64 { rts ?? ts + 1_000 }
    }

    struct Outcome {
        /// Per sample, rts − ts (network) and release − ts (lag at the hub's door), ms.
        var network: [Int64] = []
        var lag: [Int64] = []
        /// Released older than the 800 ms budget: the hub names these in a `late` gap instead of sending them.
        var late = 0
        var releasedInOrder = true

        func percentile(_ values: [Int64], _ q: Double) -> Int64 {
            let sorted = values.sorted()
            return sorted[max(1, Int((Double(sorted.count) * q / 100).rounded(.up))) - 1]
        }
        var networkSpread: Int64 { percentile(network, 99) - percentile(network, 50) }
        var lagSpread: Int64 { percentile(lag, 99) - percentile(lag, 50) }
        var medianAdded: Int64 { percentile(lag, 50) - percentile(network, 50) }
        var worstOverNetwork: Int64 { lag.max()! - network.max()! }
    }

    static func load(_ name: String) throws -> [Row] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../tests/data/\(name)").standardized
        let text = try String(contentsOf: url, encoding: .utf8)
        return text.split(separator: "\n").dropFirst().map { line in
            let f = line.split(separator: ",")
            return Row(
                participant: String(f[0]), seq: UInt32(f[1])!, ts: Int64(f[2])!, rts: f.count > 3 ? Int64(f[3]) : nil)
        }
    }

    /// Replays every participant's rows in arrival order, as `Relay.receive` feeds the buffer.
    static func replay(_ rows: [Row], settings: JitterBuffer.Settings = .init()) -> Outcome {
        var outcome = Outcome()
        for participant in Set(rows.map(\.participant)).sorted() {
            // One TCP connection delivers in order: a late sample's assumed arrival is not before its predecessor's.
            var mine = rows.filter { $0.participant == participant }.sorted { $0.seq < $1.seq }
            for i in mine.indices.dropFirst() where mine[i].rts == nil {
                mine[i].rts = max(mine[i].arrival, mine[i - 1].arrival)
            }
            var buffer = JitterBuffer(settings: settings)
            var clock = ClockOffsetEstimator()
            var released: [UInt32] = []
            func drain(until now: Int64) {
                while let next = buffer.nextReleaseMs, next <= now {
                    for held in buffer.releaseDue(now: next) {
                        released.append(held.sample.seq)
                        if held.releaseMs - (held.sample.ts + clock.offset) > 800 {
                            outcome.late += 1
                            continue
                        }
                        outcome.lag.append(held.releaseMs - held.sample.ts)
                        outcome.network.append(held.arrivalMs - held.sample.ts)
                    }
                }
            }
            for row in mine {
                drain(until: row.arrival)
                clock.observe(ts: row.ts, arrivalMs: row.arrival)
                buffer.insert(
                    Sample(seq: row.seq, ts: row.ts, bpm: 120), arrivalMs: row.arrival, offsetMs: clock.offset)
                drain(until: row.arrival)
            }
            drain(until: .max)
            outcome.releasedInOrder = outcome.releasedInOrder && released == mine.map(\.seq).sorted()
        }
        return outcome
    }

    @Test func burstyWiFiTheBufferAddsLittleAtTheMedianAndNothingAtTheWorst() throws {
        // Five riders behind the delay proxy's bursty profile (50–90 ms, bursts of 150–400 ms), 60 s each.
        let outcome = Self.replay(try Self.load("jitter-bursty.csv"))
        #expect(outcome.lag.count == 300)
        #expect(outcome.releasedInOrder)
        #expect(outcome.medianAdded <= 60)
        #expect(outcome.worstOverNetwork <= 20)
        #expect(outcome.lagSpread * 10 <= outcome.networkSpread * 9)
        // No buffer can go below the network's p99, so what it cuts off the spread it adds at the median.
        #expect(outcome.lagSpread + outcome.medianAdded >= outcome.networkSpread)
        // The estimator it replaced (mean + 4 deviations) added 119 ms at the median on this trace.
        #expect(outcome.medianAdded < 119)
    }

    @Test func halfThePacketsLostTheBufferNoLongerSitsAtTheCap() throws {
        // One rider on a link dropping 50 % of packets both ways for 70 s: TCP retransmissions stall it for up to
        // 2 s; 16 of its 70 samples reached the hub beyond the budget (the screen got `late` gaps for them).
        let outcome = Self.replay(try Self.load("jitter-loss50.csv"))
        #expect(outcome.lag.count == 54)
        #expect(outcome.late == 16)
        #expect(outcome.releasedInOrder)
        #expect(outcome.medianAdded <= 60)
        #expect(outcome.worstOverNetwork <= 20)
        // The old estimator (mean + 4 deviations) sat at its 400 ms cap here: lag p50 400 ms against a network
        // p50 of 1 ms (the lab run with it: p50 401 ms).
        #expect(outcome.percentile(outcome.lag, 50) < 100)
    }

    @Test func turnedOffTheBufferAddsNothing() throws {
        let outcome = Self.replay(try Self.load("jitter-bursty.csv"), settings: .init(enabled: false))
        #expect(outcome.lag == outcome.network)
    }
}
