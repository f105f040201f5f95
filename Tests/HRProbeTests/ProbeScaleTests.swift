import Testing

@testable import HRProbe

/// Scale: the open-file limit checked before a run, and source addresses spread when ports run short.
@Suite struct ProbeScaleTests {
    @Test func aPlanThatFitsTheOpenFileLimitPasses() {
        let limit = ProcessResources.OpenFileLimit(soft: 20_000, hard: 20_000)
        #expect(ProcessResources.descriptorShortfall(connections: 19_900, limit: limit) == nil)
        #expect(ProcessResources.descriptorShortfall(connections: 20_000 - 32, limit: limit) == nil)
    }

    @Test func aPlanPastTheOpenFileLimitNamesBothNumbers() throws {
        let limit = ProcessResources.OpenFileLimit(soft: 20_000, hard: 20_000)
        let text = try #require(ProcessResources.descriptorShortfall(connections: 20_000, limit: limit))
        #expect(text.contains("20000 connections need 20032 file descriptors"), "\(text)")
        #expect(text.contains("limit (RLIMIT_NOFILE) is 20000 (the hard limit"), "\(text)")
        #expect(text.contains("at most 19968 connections"), "\(text)")
        let unraised = ProcessResources.OpenFileLimit(soft: 1_024, hard: 4_096)
        let why = try #require(ProcessResources.descriptorShortfall(connections: 2_000, limit: unraised))
        #expect(why.contains("could not be raised to the hard limit 4096"), "\(why)")
    }

    @Test func loopbackConnectionsSpreadOnlyWhenOneAddressRunsShortOfPorts() {
        let ports = 60_999 - 32_768 + 1  // Linux's default range: 28,232, 7/8 of it 24,703 per address
        #expect(RunPlan.automaticSourceAddresses(connections: 19_900, host: "127.0.0.1", ephemeralPorts: ports) == [])
        #expect(
            RunPlan.automaticSourceAddresses(connections: 24_704, host: "127.0.0.1", ephemeralPorts: ports)
                == ["127.0.0.1", "127.0.0.2"])
        let many = RunPlan.automaticSourceAddresses(connections: 100_000, host: "127.0.0.1", ephemeralPorts: ports)
        #expect(many.count == 5 && many.last == "127.0.0.5")
        // A narrow range spreads sooner; a hub elsewhere never gets loopback sources.
        #expect(
            RunPlan.automaticSourceAddresses(connections: 2_000, host: "127.0.0.1", ephemeralPorts: 1_000)
                == ["127.0.0.1", "127.0.0.2", "127.0.0.3"])
        #expect(RunPlan.automaticSourceAddresses(connections: 100_000, host: "10.0.0.5", ephemeralPorts: ports) == [])
    }

    @Test func givenSourceAddressesGoIntoThePlanAndTheReport() throws {
        let plan = try RunCommand.parse([
            "ws://127.0.0.1:9/", "--publishers", "3", "--source-addresses", "127.0.0.2, 127.0.0.3",
        ]).makePlan()
        #expect(plan.sourceAddresses == ["127.0.0.2", "127.0.0.3"])
        let report = RunReport(plan: plan, result: RunResult(), objectives: nil)
        #expect(report.connections.sourceAddresses == ["127.0.0.2", "127.0.0.3"])
        #expect(SummaryTable.render(report).contains("from 2 source addresses (127.0.0.2 … 127.0.0.3"))
    }
}

/// The probe's own CPU: what it used and what it waited for, in the JSON and the table.
@Suite struct ProbeCPUTests {
    static func report(cpuUs: Int64, waitUs: Int64) throws -> RunReport {
        let plan = try RunCommand.parse(["ws://127.0.0.1:9/"]).makePlan()
        var result = RunResult()
        result.wallUs = 10_000_000
        result.cpu = ProcessResources.Usage(userUs: cpuUs, systemUs: 0, maxRSSKiB: 1_024, waitUs: waitUs)
        return RunReport(plan: plan, result: result, objectives: nil)
    }

    @Test func aStarvedProbeIsFlaggedThoughItsOwnCPUUseIsModest() throws {
        let report = try Self.report(cpuUs: 4_000_000, waitUs: 5_000_000)
        #expect(report.probe.cpuPercent == 40)
        #expect(report.probe.cpuWaitPercent == 50)
        let json = try report.json()
        #expect(json.contains("\"cpu_percent\" : 40") && json.contains("\"cpu_wait_percent\" : 50"), "\(json)")
        let table = SummaryTable.render(report)
        #expect(table.contains("waited for a cpu 50%"), "\(table)")
        #expect(table.contains("WARNING: the probe used or waited for 90% of a core (other processes had the CPUs)"))
    }

    @Test func anIdleProbeIsNotFlagged() throws {
        let table = SummaryTable.render(try Self.report(cpuUs: 1_000_000, waitUs: 500_000))
        #expect(table.contains("probe · cpu 10% of one core"), "\(table)")
        #expect(!table.contains("WARNING"), "\(table)")
    }

    @Test func theRunQueueWaitOfThisProcessIsReadable() {
        // Linux with schedstats (every Debian kernel): the test process has waited some µs, never a negative time.
        let wait = ProcessResources.runQueueWaitUs(process: "self")
        #expect(wait.map { $0 >= 0 } == true)
    }
}
