import Foundation
import HRProtocol
import Testing

@testable import HRSimulation

/// Reading a recorded trace, replaying it with a shift, and the committed trace from a real recording.
@Suite struct HeartRateTraceTests {
    static let small = "t_ms,rr_ms,bpm\n1000,1000,60\n1500,500,120\n2000,500,120\n3000,1000,60\n"

    @Test func readsBeatsAndIgnoresOtherColumns() throws {
        let trace = try HeartRateTrace(csv: Self.small)
        #expect(trace.beats.map(\.timeMs) == [1000, 1500, 2000, 3000])
        #expect(trace.beats.map(\.intervalMs) == [1000, 500, 500, 1000])
        #expect(trace.durationMs == 3000)
    }

    @Test(arguments: [
        ("", "empty"),
        ("time,rr\n1,1000\n", "t_ms and rr_ms"),
        ("t_ms,rr_ms\n1000,abc\n", "line 2: expected whole numbers"),
        ("t_ms,rr_ms\n1000,100\n", "line 2: rr_ms 100 is outside"),
        ("t_ms,rr_ms\n1000,1000\n900,1000\n", "line 3: t_ms 900 does not come after 1000"),
        ("t_ms,rr_ms\n1000,1000\n", "at least two beats"),
    ])
    func badTracesAreRefusedWithTheLineAndTheReason(text: String, reason: String) {
        #expect {
            try HeartRateTrace(csv: text)
        } throws: { error in
            String(describing: error).contains(reason)
        }
    }

    @Test func replayGivesTheBeatsSinceTheLastReadingAndWrapsAround() throws {
        var replay = TraceReplay(trace: try HeartRateTrace(csv: Self.small), startMs: 10_000, shiftMs: 1_200)
        // At 10 s the trace is at 1.2 s: the newest beat is the one at 1 s (60 bpm), no intervals yet.
        let first = replay.reading(at: 10_000)
        #expect(first.bpm == 60 && first.intervalsMs.isEmpty)
        // One second later (trace 2.2 s): the beats at 1.5 s and 2 s, 120 bpm.
        let second = replay.reading(at: 11_000)
        #expect(second.intervalsMs == [500, 500] && second.bpm == 120)
        // Trace 3.2 s is 0.2 s into the next pass: the beat at 3 s.
        let third = replay.reading(at: 12_000)
        #expect(third.intervalsMs == [1000] && third.bpm == 60)
        // No beat between readings: the last beat's rate.
        let fourth = replay.reading(at: 12_300)
        #expect(fourth.intervalsMs.isEmpty && fourth.bpm == 60)
    }

    @Test func aDeviceReplayingATraceSendsItsRatesAndIntervals() throws {
        let trace = try HeartRateTrace(csv: Self.small)
        var device = DeviceSimulator(
            participantID: "ana", seed: 1, startMs: 0,
            configuration: .init(contactLossProbability: 0))
        device.replay = TraceReplay(trace: trace, startMs: 0, shiftMs: 1_200)
        let samples = device.samples(through: 2_000)
        #expect(samples.map(\.bpm) == [60, 120, 60])
        // RR in 1/1024 s: 500 ms is 512.
        #expect(samples[1].rr == [512, 512])
        #expect(samples.map(\.seq) == [samples[0].seq, samples[0].seq + 1, samples[0].seq + 2])
    }

    @Test func theCommittedRecordingIsARealBeatSeries() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../tests/data/ppg-trace.csv").standardized
        let trace = try HeartRateTrace(csv: try String(contentsOf: url, encoding: .utf8))
        #expect(trace.beats.count == 1_030)
        #expect(trace.durationMs > 10 * 60_000)
        // Two riders shifted apart read different rates at the same moment.
        var a = TraceReplay(trace: trace, startMs: 0, shiftMs: 0)
        var b = TraceReplay(trace: trace, startMs: 0, shiftMs: 300_000)
        let ratesA = (1...60).map { a.reading(at: Int64($0) * 1000).bpm.rounded() }
        let ratesB = (1...60).map { b.reading(at: Int64($0) * 1000).bpm.rounded() }
        #expect(ratesA != ratesB)
        #expect(ratesA.allSatisfy { (25...250).contains($0) })
    }
}
