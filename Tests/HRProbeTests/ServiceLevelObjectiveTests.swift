import ArgumentParser
import Testing

@testable import HRProbe

/// `--slo` parsing and evaluation.
@Suite struct ServiceLevelObjectiveTests {
    @Test func parsesPercentilesMaxLossAndAddsUnexplained() throws {
        let slo = try ServiceLevelObjective(parsing: "p99=250ms,p99.9=0.8s, max=2s,loss=0.1%")
        #expect(slo.objectives.map(\.metric) == [.percentile(99), .percentile(99.9), .max, .loss, .unexplained])
        #expect(slo.objectives.map(\.limit) == [250_000, 800_000, 2_000_000, 0.001, 0])
        #expect(slo.percentileLimits.map(\.limitUs) == [250_000, 800_000])
    }

    @Test func anExplicitUnexplainedLimitReplacesTheDefault() throws {
        let slo = try ServiceLevelObjective(parsing: "p50=1ms,unexplained=3,loss=0.002")
        #expect(slo.objectives.filter { $0.metric == .unexplained }.map(\.limit) == [3])
        #expect(slo.objectives.first { $0.metric == .loss }?.limit == 0.002)
    }

    @Test(arguments: [
        ("p99", "NAME=LIMIT"),
        ("p99=250", "unit"),
        ("p100=1s", "unknown objective"),
        ("latency=1s", "unknown objective"),
        ("loss=abc", "percentage"),
        ("loss=150%", "exceed"),
        ("p99=1s,p99=2s", "twice"),
        ("", "empty"),
        ("p99=fast", "duration"),
    ])
    func rejectsWithAMessageAPersonUnderstands(text: String, expected: String) {
        #expect {
            _ = try ServiceLevelObjective(parsing: text)
        } throws: { error in
            guard let error = error as? ValidationError else { return false }
            return error.message.contains(expected) && error.message.contains("--slo")
        }
    }

    @Test func evaluationNamesEachBreach() throws {
        let slo = try ServiceLevelObjective(parsing: "p99=100ms,p99.9=800ms,loss=0.1%")
        let measured = ServiceLevelObjective.Measured(
            percentileUs: { $0 >= 99.9 ? 900_000 : 50_000 }, maxUs: 1_000_000, lossFraction: 0.01, unexplained: 2)
        let breaches = slo.evaluate(measured)
        #expect(breaches.map(\.objective.text) == ["p99.9=800ms", "loss=0.1%", "unexplained=0"])
        #expect(breaches[0].description == "p99.9 = 900ms > 800ms")
        #expect(breaches[1].description == "loss = 1% > 0.1%")
    }

    @Test func aRunWithinEveryObjectivePasses() throws {
        let slo = try ServiceLevelObjective(parsing: "p99=100ms,max=1s,loss=0.1%")
        let measured = ServiceLevelObjective.Measured(
            percentileUs: { _ in 99_000 }, maxUs: 1_000_000, lossFraction: 0.001, unexplained: 0)
        #expect(slo.evaluate(measured).isEmpty)
    }

    @Test func durationsReadTheUsualUnits() throws {
        #expect(try DurationText.microseconds("30s", option: "--duration") == 30_000_000)
        #expect(try DurationText.microseconds("250ms", option: "--duration") == 250_000)
        #expect(try DurationText.microseconds("2m", option: "--duration") == 120_000_000)
        #expect(try DurationText.microseconds("1.5", option: "--duration") == 1_500_000)
        #expect(try DurationText.microseconds("800us", option: "--duration") == 800)
        #expect(throws: ValidationError.self) { try DurationText.microseconds("soon", option: "--duration") }
        #expect(DurationText.describe(microseconds: 1_250_000) == "1.25s")
        #expect(DurationText.describe(microseconds: 12_300) == "12.3ms")
    }

    @Test func rampAndStormPlansParseAndSchedule() throws {
        let ramp = try RampPlan(parsing: "10s:50%,10s:100%")
        #expect(ramp.level(atUs: 5_000_000) == 0.25)
        #expect(ramp.level(atUs: 15_000_000) == 0.75)
        #expect(ramp.startUs(rank: 0, of: 4) == 5_000_000)
        #expect(ramp.startUs(rank: 3, of: 4) == 20_000_000)
        #expect(try RampPlan(parsing: "10s:50%").startUs(rank: 3, of: 4) == nil)
        #expect(throws: ValidationError.self) { try RampPlan(parsing: "10s:50%,5s:20%") }
        let storm = try StormPlan(parsing: "10s:30%")
        #expect(storm.atUs == 10_000_000 && storm.fraction == 0.3)
        #expect(throws: ValidationError.self) { try StormPlan(parsing: "10s") }
        #expect((125_000...250_000).contains(StormPlan.backoffUs(attempt: 0, unit: 0.5)))
        #expect(StormPlan.backoffUs(attempt: 20, unit: 1) == 8_000_000)
    }
}
