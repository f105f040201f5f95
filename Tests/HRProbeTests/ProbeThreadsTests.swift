import HRProbeCore
import Logging
import Testing

@testable import HRProbe

/// `--threads`: the plan split into shares of whole classes, one sending start for every share, and the shares'
/// results added up.
@Suite struct ProbeThreadsTests {
    static func plan(_ arguments: [String]) throws -> RunPlan {
        try RunCommand.parse(["ws://127.0.0.1:9/", "--run-id", "t"] + arguments).makePlan()
    }

    @Test func sharesSplitTheClassesInOrderIntoConsecutiveRuns() throws {
        let plan = try Self.plan(["--classes", "5", "--participants", "3", "--publishers", "0"])
        let shares = plan.shares(2)
        #expect(shares.map(\.classIDs) == [["t-0", "t-1"], ["t-2", "t-3", "t-4"]])
        #expect(shares.map(\.firstClass) == [0, 2])
        #expect(shares.flatMap(\.classIDs) == plan.classIDs)
        #expect(shares.map(\.connectionCount).reduce(0, +) == plan.connectionCount)
        // Never more shares than classes; one share is the plan itself.
        #expect(plan.shares(9).count == 5 && plan.shares(9).allSatisfy { $0.classIDs.count == 1 })
        #expect(plan.shares(1).map(\.classIDs) == [plan.classIDs])
        #expect(plan.shares(0).map(\.classIDs) == [plan.classIDs])
    }

    @Test func onlyTheFirstShareSamplesTheRelay() throws {
        var plan = try Self.plan(["--classes", "3"])
        plan.serverPID = 42
        #expect(plan.shares(3).map(\.serverPID) == [42, nil, nil])
    }

    @Test func everyRiderRidesTheSameWhateverTheThreads() throws {
        // Phases, traces and slow screens come from seeded streams in rider order: a share draws what the riders
        // before it would have drawn, so the same rider is the same in a run on one thread or on three.
        let plan = try Self.plan([
            "--classes", "3", "--publishers", "2", "--participants", "1", "--viewers", "4", "--slow-viewers", "50%",
        ])
        let logger = Logger(label: "test")
        let startUs: Int64 = 1_800_000_000_000_000
        let whole = LoadSession(plan: plan, logger: logger, progress: nil)
        whole.beginSending(now: startUs - 500_000, startUs: startUs)
        var riders: [(origin: Int64, firstSeq: UInt32, bpm: UInt8)] = []
        var slow: [Bool] = []
        for share in plan.shares(3) {
            let session = LoadSession(plan: share, logger: logger, progress: nil)
            session.beginSending(now: startUs - 500_000, startUs: startUs)
            for var rider in session.riders {
                riders.append((rider.originUs, rider.firstSeq, rider.device!.sample(at: startUs / 1_000 + 5_000).bpm))
            }
            slow += session.connections.filter { $0.kind == .viewer }.map(\.slow)
        }
        let expected = whole.riders.map { rider in
            var rider = rider
            return (rider.originUs, rider.firstSeq, rider.device!.sample(at: startUs / 1_000 + 5_000).bpm)
        }
        #expect(riders.count == expected.count && riders.count == 9)
        #expect(riders.map(\.origin) == expected.map(\.0))
        #expect(riders.map(\.firstSeq) == expected.map(\.1))
        #expect(riders.map(\.bpm) == expected.map(\.2))
        #expect(Set(riders.map(\.origin)).count > 1, "random phases, not all the same")
        let wholeSlow = whole.connections.filter { $0.kind == .viewer }.map(\.slow)
        #expect(slow == wholeSlow && wholeSlow.contains(true) && wholeSlow.contains(false))
    }

    @Test func theStartComesOnlyOnceEverySessionArrived() {
        let start = SendingStart(sessions: 3)
        #expect(start.arrive(session: 0, nowUs: 10_000_000) == nil)
        #expect(start.arrive(session: 0, nowUs: 10_100_000) == nil, "arriving twice counts once")
        #expect(start.arrive(session: 2, nowUs: 10_200_000) == nil)
        #expect(start.startUs == nil)
        // The last arrival at 10.8 s: the next whole second at least 300 ms away is 12 s.
        #expect(start.arrive(session: 1, nowUs: 10_800_000) == 12_000_000)
        #expect(start.startUs == 12_000_000)
        #expect(start.arrive(session: 2, nowUs: 11_000_000) == 12_000_000, "fixed once")
        #expect(SendingStart.start(afterUs: 10_600_000) == 11_000_000)
        #expect(SendingStart.start(afterUs: 10_701_000) == 12_000_000)
    }

    @Test func mergedResultsAddUpAndKeepTheFirstSessionsWindow() {
        func result(lags: [Int64], classID: String, received: (Int, Int), delivered: Int) -> RunResult {
            var r = RunResult()
            for lag in lags {
                r.lag.record(lag)
                r.send.record(lag / 10)
            }
            r.classes = [RunResult.ClassResult(id: classID)]
            r.counts.delivered = delivered
            r.samplesReceived = received.1
            r.hubErrors = ["rate_limited": 1]
            r.boardScreens = [0, 1]
            let usage = ProcessResources.Usage(userUs: 0, systemUs: 0, maxRSSKiB: 0)
            r.window.start = .init(us: 1_000, received: received.0, probe: usage, server: nil)
            r.window.end = .init(us: 2_000 + Int64(received.1), received: received.1, probe: usage, server: nil)
            return r
        }
        var first = result(lags: [1_000, 2_000], classID: "a", received: (10, 110), delivered: 100)
        let second = result(lags: [3_000, 4_000, 500_000], classID: "b", received: (20, 220), delivered: 200)
        first.merge(second, connectionOffset: 2)
        #expect(first.lag.count == 5 && first.send.count == 5)
        #expect(first.lag.maxUs >= 499_000, "the second session's tail is in the merged distribution")
        #expect(first.classes.map(\.id) == ["a", "b"])
        #expect(first.counts.delivered == 300 && first.samplesReceived == 330)
        #expect(first.hubErrors == ["rate_limited": 2])
        #expect(first.boardScreens == [0, 1, 2, 3], "screens of other sessions are other connections")
        #expect(first.window.start?.received == 30 && first.window.end?.received == 330)
        #expect(first.window.end?.us == 2_110, "the window's times are the first session's")
    }
}
