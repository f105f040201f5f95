import Foundation
import Testing

extension EndToEnd {
    /// `hrprobe run`, as a process against the real `hrhub`: short runs whose JSON report is checked for
    /// deliveries and for loss that the hub explained. No wall-clock timing is asserted.
    @Suite struct ProbeRunTests {
        /// Runs `hrprobe run` against `hub` with `arguments` and a JSON report; returns status, report and output.
        static func run(
            _ hub: HubProcess, _ arguments: [String]
        ) throws -> (status: Int32, report: [String: Any], stdout: String, stderr: String) {
            let file = FileManager.default.temporaryDirectory
                .appendingPathComponent("hrprobe-\(UUID().uuidString).json")
            defer { try? FileManager.default.removeItem(at: file) }
            let (status, stdout, stderr) = try WatchCommandTests.runProbe(
                ["run", hub.baseURL + "/", "--quiet", "--json", file.path] + arguments, timeout: .seconds(60))
            let data = (try? Data(contentsOf: file)) ?? Data()
            let report = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            return (status, report, stdout, stderr)
        }

        static func number(_ report: [String: Any], _ path: String...) -> Int? {
            var value: Any? = report
            for key in path { value = (value as? [String: Any])?[key] }
            return value as? Int
        }

        @Test(arguments: [false, true])
        func aShortRunDeliversWithoutUnexplainedLoss(binary: Bool) throws {
            try HubProcess.with { hub in
                let (status, report, stdout, stderr) = try Self.run(
                    hub,
                    [
                        "--classes", "2", "--publishers", "4", "--viewers", "2", "--participants", "1",
                        "--rate", "4", "--duration", "3s", "--warmup", "1s", "--slo", "p99=10m",
                    ] + (binary ? ["--binary"] : []))
                #expect(status == 0, "stdout: \(stdout)\nstderr: \(stderr)")
                let delivered = Self.number(report, "delivery", "streams", "delivered") ?? 0
                #expect(delivered > 0, "\(stdout)")
                #expect(Self.number(report, "delivery", "unexplained") == 0, "\(stdout)")
                #expect(Self.number(report, "delivery", "streams", "duplicates") == 0)
                #expect(Self.number(report, "lag_ms", "end_to_end", "count") == delivered)
                #expect(stdout.contains("end-to-end (due → delivered)"))
                #expect(stdout.contains("SLO PASS"))
            }
        }

        @Test func tinyQueuesAndSlowViewersLoseOnlyExplainedSamples() throws {
            try HubProcess.with(["--queue-max-messages", "4"]) { hub in
                let (status, report, stdout, stderr) = try Self.run(
                    hub,
                    [
                        "--classes", "1", "--publishers", "20", "--viewers", "4", "--slow-viewers", "50%",
                        "--rate", "5", "--phase", "aligned", "--duration", "5s", "--warmup", "1s",
                    ])
                #expect(status == 0, "stdout: \(stdout)\nstderr: \(stderr)")
                #expect(Self.number(report, "delivery", "unexplained") == 0, "\(stdout)")
                let slow = (report["delivery"] as? [String: Any])?["slow_viewer_streams"] as? [String: Any] ?? [:]
                let normal = (report["delivery"] as? [String: Any])?["streams"] as? [String: Any] ?? [:]
                let explained = [slow, normal].reduce(0) { total, counts in
                    total + (counts["backpressure"] as? Int ?? 0) + (counts["late"] as? Int ?? 0)
                }
                #expect(explained > 0, "slow readers behind four-message queues must lose samples:\n\(stdout)")
                for counts in [slow, normal] {
                    #expect(counts["contradictions"] as? Int == 0, "\(stdout)")
                    #expect(counts["duplicates"] as? Int == 0, "\(stdout)")
                }
            }
        }

        /// 400 Hz is a 2.5 ms period: the probe once rounded it to 3 ms and sent 333/s. Counts, not timing: every
        /// sample due in the window is sent, late or not (open loop).
        @Test func aRateOfNoWholeMillisecondsSendsExactlyThatMany() throws {
            try HubProcess.with(["--max-sample-rate", "2000"]) { hub in
                let (status, report, stdout, stderr) = try Self.run(
                    hub, ["--publishers", "2", "--viewers", "1", "--rate", "400", "--duration", "2s", "--warmup", "1s"])
                #expect(status == 0, "stdout: \(stdout)\nstderr: \(stderr)")
                #expect(Self.number(report, "delivery", "samples_sent") == 2 * 400 * 2, "\(stdout)")
                #expect(Self.number(report, "delivery", "unexplained") == 0, "\(stdout)")
                #expect((report["config"] as? [String: Any])?["interval_us"] as? Double == 2_500)
            }
        }

        @Test func threeThreadsRunEveryClassAndAddUpTheirAccounts() throws {
            try HubProcess.with { hub in
                let (status, report, stdout, stderr) = try Self.run(
                    hub,
                    [
                        "--threads", "3", "--classes", "4", "--publishers", "2", "--viewers", "1", "--participants",
                        "1", "--rate", "4", "--duration", "3s", "--warmup", "1s",
                    ])
                #expect(status == 0, "stdout: \(stdout)\nstderr: \(stderr)")
                // One sending start for every thread: each of the 12 riders sent exactly 4/s over the same 3 s window.
                #expect(Self.number(report, "delivery", "samples_sent") == 4 * 3 * 4 * 3, "\(stdout)")
                // Every stream of every share is accounted: 4 classes × 2 viewing connections × 3 riders owed 12 each.
                #expect(Self.number(report, "delivery", "expected") == 4 * 2 * 3 * 12, "\(stdout)")
                #expect(Self.number(report, "delivery", "lost") == 0, "\(stdout)")
                #expect(Self.number(report, "delivery", "unexplained") == 0, "\(stdout)")
                #expect(Self.number(report, "connections", "open_at_start") == 4 * 4, "\(stdout)")
                let classes = (report["per_class"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
                #expect(classes.count == 4 && Set(classes).count == 4, "\(report["per_class"] ?? "none")")
            }
        }

        @Test func anSLOBreachExitsWith1AndNamesIt() throws {
            try HubProcess.with { hub in
                let (status, report, stdout, _) = try Self.run(
                    hub, ["--publishers", "2", "--duration", "1s", "--warmup", "0s", "--slo", "p50=1us"])
                #expect(status == 1)
                #expect(stdout.contains("SLO BREACH · p50 = "), "\(stdout)")
                #expect((report["slo"] as? [String: Any])?["passed"] as? Bool == false)
            }
        }

        @Test(arguments: [
            (["run", "http://127.0.0.1:1/"], "not a ws:// or wss:// URL"),
            (["run", "ws://127.0.0.1:1/", "--slo", "p99=fast"], "--slo"),
            (["run", "ws://127.0.0.1:1/", "--mode", "sometimes"], "--mode must be all or latest"),
            (["run", "ws://127.0.0.1:1/", "--slow-viewers", "150%"], "--slow-viewers"),
            (["run", "ws://127.0.0.1:1/", "--role", "view"], "--run-id"),
            (["run", "ws://127.0.0.1:1/", "--reconnect-storm", "10s"], "AT:FRACTION"),
            (["run", "ws://127.0.0.1:1/", "--threads", "0"], "--threads must be at least 1"),
            (["run", "ws://127.0.0.1:1/", "--threads", "2", "--ramp", "1s:100%"], "--ramp runs on one thread"),
        ])
        func badFlagsExitWith2AndSayWhy(arguments: [String], expected: String) throws {
            let (status, _, stderr) = try WatchCommandTests.runProbe(arguments)
            #expect(status == 2)
            #expect(stderr.contains(expected), "stderr: \(stderr)")
        }

        /// More connections than the open-file limit allows: exit 2 before connecting, naming both numbers. The
        /// limit is lowered for the probe alone (`ulimit -n` in a shell that then runs it), so the test does not
        /// depend on the machine's limit.
        @Test func moreConnectionsThanTheOpenFileLimitExitWith2BeforeConnecting() throws {
            let port = try #require(WatchCommandTests.unusedPort())
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            // 2 classes × (40 publishers + 1 viewer) = 82 connections + 32 reserved = 114 > 100.
            process.arguments = [
                "-c", "ulimit -n 100 && exec \"$0\" \"$@\"", try Executables.probe().path,
                "run", "ws://127.0.0.1:\(port)/", "--classes", "2", "--publishers", "40", "--quiet",
            ]
            let err = Pipe()
            process.standardError = err
            process.standardOutput = FileHandle.nullDevice
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 2, "stderr: \(stderr)")
            #expect(stderr.contains("82 connections need 114 file descriptors"), "stderr: \(stderr)")
            #expect(stderr.contains("open-file limit (RLIMIT_NOFILE) is 100"), "stderr: \(stderr)")
            #expect(!stderr.contains("cannot connect"), "it must not try: \(stderr)")
        }

        @Test func aHubThatIsNotThereExitsWith2() throws {
            let port = try #require(WatchCommandTests.unusedPort())
            let (status, _, stderr) = try WatchCommandTests.runProbe(
                ["run", "ws://127.0.0.1:\(port)/", "--duration", "1s", "--quiet"])
            #expect(status == 2)
            #expect(stderr.contains("cannot connect"), "stderr: \(stderr)")
        }
    }
}
