import Foundation
import Testing

extension EndToEnd {
    /// One publisher, many viewers: every viewer gets every sample exactly once, in order.
    @Suite struct FanOutTests {
        static let viewerCount = 1_000
        static let sampleCount: UInt32 = 20
        /// Viewers are opened this many at a time, each batch fully welcomed before the next starts.
        static let batchSize = 100

        @Test func onePublisherToAThousandViewers() throws {
            let client = try TestClient.get()
            // Every viewer gets every sample: a budget no loaded machine can overrun.
            try HubProcess.with(["--budget-ms", "60000"]) { hub in
                var viewers: [Conn] = []
                viewers.reserveCapacity(Self.viewerCount)
                while viewers.count < Self.viewerCount {
                    let count = min(Self.batchSize, Self.viewerCount - viewers.count)
                    let batch = try client.connectAll(
                        port: hub.port, paths: Array(repeating: path("big", "viewer"), count: count),
                        timeout: .seconds(30))
                    for viewer in batch { try expectWelcome(viewer) }
                    viewers += batch
                }

                let publisher = try client.connect(port: hub.port, path: path("big", "publisher", participant: "lead"))
                try expectWelcome(publisher)
                publisher.sendText(hello(name: "Lead", hrmax: 190))
                for seq in 1...Self.sampleCount {
                    // Captured "now", a little apart, like a real (fast) device: the jitter buffer paces by ts.
                    publisher.send(WireSample(seq: seq, ts: nowMs(), bpm: UInt8(100 + seq)))
                    Thread.sleep(forTimeInterval: 0.05)
                }
                #expect(try publisher.sync().filter { $0.t == "error" } == [])

                // Every viewer: seqs 1...20, once each, in order; no gap, no close. One shared deadline bounds the
                // whole check; it guards against a hang, it does not measure speed.
                let deadline = ContinuousClock.now + .seconds(60)
                var failures: [String] = []
                for (index, viewer) in viewers.enumerated() {
                    var seqs: [Int64] = []
                    var problem: String?
                    do {
                        while seqs.last != Int64(Self.sampleCount), problem == nil {
                            let message = try viewer.nextMessage(timeout: max(.zero, deadline - ContinuousClock.now))
                            switch message.t {
                            case "hr" where message.p == "lead":
                                let seq = message.seq ?? -1
                                seqs.append(seq)
                                if message["bpm"] != .int(100 + seq) { problem = "seq \(seq): \(message)" }
                            case "gap":
                                problem = "\(message)"
                            default:
                                break
                            }
                        }
                    } catch {
                        problem = "\(error)"
                    }
                    if problem == nil, seqs != Array(1...Int64(Self.sampleCount)) { problem = "wrong seqs" }
                    if let problem { failures.append("viewer \(index): \(problem); seqs \(seqs)") }
                    if failures.count >= 10 { break }
                }
                #expect(failures.isEmpty, "\(failures.count)+ viewers failed; first: \(failures.prefix(10))")

                // Nothing extra arrived: a last barrier on a few viewers shows no duplicate after seq 20.
                for viewer in viewers.prefix(20) {
                    let extra = try viewer.sync().filter { $0.t == "hr" }
                    #expect(extra.isEmpty, "after seq \(Self.sampleCount): \(extra)")
                }
            }
        }
    }
}
