import Testing

@testable import HRProbe

/// The open-loop schedule: `--rate R` makes exactly R due times per second, whatever R's period in ms.
@Suite struct SampleScheduleTests {
    /// The plan `hrprobe run URL --rate R` resolves to.
    static func plan(rate: String) throws -> RunPlan {
        try RunCommand.parse(["ws://127.0.0.1:9/", "--rate", rate]).makePlan()
    }

    /// Due offsets of the first `seconds` seconds.
    static func dueTimes(_ schedule: SampleSchedule, seconds: Int64) -> [Int64] {
        var times: [Int64] = []
        var k: Int64 = 0
        while schedule.offsetUs(k) < seconds * 1_000_000 {
            times.append(schedule.offsetUs(k))
            k += 1
        }
        return times
    }

    @Test(arguments: [
        ("1", 1), ("3", 3), ("7", 7), ("333", 333), ("400", 400), ("999", 999), ("3000", 3000), ("10000", 10_000),
    ])
    func aRateSendsExactlyThatManySamplesPerSecond(rate: String, perSecond: Int64) throws {
        let schedule = try Self.plan(rate: rate).schedule
        // Every second of a long run, not just the first: nothing accumulates.
        for second: Int64 in [0, 1, 59, 3_599] {
            let from = second * 1_000_000
            #expect(schedule.count(fromUs: from, toUs: from + 1_000_000) == perSecond, "second \(second)")
        }
        #expect(Self.dueTimes(schedule, seconds: 1).count == Int(perSecond))
    }

    @Test func dueTimesAreRoundedToTheMicrosecondOnceNotAddedUp() throws {
        let times = Self.dueTimes(try Self.plan(rate: "400").schedule, seconds: 1)
        #expect(times.prefix(4) == [0, 2_500, 5_000, 7_500])
        #expect(times.last == 997_500)
        let thirds = Self.dueTimes(try Self.plan(rate: "3").schedule, seconds: 2)
        #expect(thirds == [0, 333_333, 666_667, 1_000_000, 1_333_333, 1_666_667])
    }

    @Test func indexesAroundAnInstant() {
        let schedule = SampleSchedule(rate: 400)
        #expect(schedule.firstIndex(atOrAfter: 0) == 0)
        #expect(schedule.firstIndex(atOrAfter: 2_500) == 1)
        #expect(schedule.firstIndex(atOrAfter: 2_501) == 2)
        #expect(schedule.lastIndex(atOrBefore: 2_499) == 0)
        #expect(schedule.lastIndex(atOrBefore: 2_500) == 1)
        #expect(schedule.lastIndex(atOrBefore: 10_000_000) == 4_000)
    }

    @Test func aRiderRecoversTheExactDueTimeFromASeq() {
        var rider = RiderState(classIndex: 0, indexInClass: 0)
        let schedule = SampleSchedule(rate: 3)
        rider.originUs = 1_000_000_000_000
        rider.firstIndex = 2
        rider.firstSeq = UInt32.max - 1  // wraps
        #expect(rider.dueUs(seq: 5, schedule) == nil, "no schedule before the device exists")
        rider.device = .init(participantID: "r0", seed: 1, startMs: 0)
        #expect(rider.dueUs(seq: UInt32.max - 1, schedule) == 1_000_000_666_667)
        #expect(rider.dueUs(seq: 1, schedule) == 1_000_001_666_667, "three slots after the first: index 5")
        #expect(rider.dueUs(seq: UInt32.max - 2, schedule) == nil, "before the first seq")
    }

    @Test(arguments: ["0", "-1", "10001", "nan"])
    func ratesOutOfRangeAreRejected(rate: String) {
        #expect(throws: (any Error).self) { try Self.plan(rate: rate) }
    }

    @Test func theReportGivesTheExactPeriod() throws {
        let plan = try Self.plan(rate: "400")
        let report = RunReport(plan: plan, result: RunResult(), objectives: nil)
        #expect(report.config.intervalMs == 2.5)
        #expect(report.config.intervalUs == 2_500)
        let third = RunReport(plan: try Self.plan(rate: "3"), result: RunResult(), objectives: nil)
        #expect(third.config.intervalMs == 333.333)
    }
}
