import Foundation
import LWSTransport
import Testing

@testable import HRProbe
@testable import HRProbeCore

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The shapes of what a run writes: the hgrm text, the SVG plot, the JSON report and the summary table.
@Suite struct ReportOutputTests {
    static func distribution(_ values: ClosedRange<Int64>) -> LagDistribution {
        var d = LagDistribution()
        for value in values { d.record(value * 10) }
        return d
    }

    static func plan() -> RunPlan {
        RunPlan(
            hub: WebSocketURL("ws://127.0.0.1:9/")!, classIDs: ["t-0", "t-1"], publishers: 3, viewers: 2,
            participants: 0, rate: 1, durationUs: 10_000_000, warmupUs: 1_000_000, mode: .all,
            binary: false, phase: .random, seed: 1, slowViewerFraction: 0, storm: nil, ramp: nil, role: .both,
            sourceAddresses: [])
    }

    static func result() -> RunResult {
        var result = RunResult()
        result.lag = distribution(1...20_000)
        result.uncorrected = distribution(1...10_000)
        result.fanOut = distribution(100...5_000)
        result.counts.delivered = 120
        result.counts.late = 3
        result.classes = [RunResult.ClassResult(id: "t-0"), RunResult.ClassResult(id: "t-1")]
        result.classes[0].lag.record(1_000)
        result.classes[1].lag.record(9_000)
        result.wallUs = 12_000_000
        result.cpu = ProcessResources.Usage(userUs: 600_000, systemUs: 600_000, maxRSSKiB: 40_960)
        return result
    }

    @Test func hgrmIsHdrHistogramsPercentileText() {
        let text = HgrmWriter.render(Self.distribution(1...1_000))
        let lines = text.split(separator: "\n")
        #expect(lines.first?.contains("Value") == true && lines.first?.contains("1/(1-Percentile)") == true)
        #expect(lines.last?.hasPrefix("#[Buckets") == true)
        let max = lines.first { $0.hasPrefix("#[Max") } ?? ""
        #expect(max.contains(" 10.0"), "values in ms: \(max)")
    }

    @Test func svgIsADocumentWithSeriesAndTheSLO() throws {
        let plot = SpectrumPlot(
            title: "a <b> & c",
            series: [.init(name: "end-to-end", distribution: Self.distribution(1...20_000), style: .primary)],
            objectives: [(99, 100_000), (99.9, 150_000)])
        let svg = plot.render()
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.hasSuffix("</svg>\n"))
        #expect(svg.contains("a &lt;b&gt; &amp; c"))
        #expect(svg.components(separatedBy: "<circle").count - 1 == 2, "one marker per objective")
        #expect(svg.contains("SLO p99.9 ≤ 150 ms"))
        #expect(svg.contains("99.99%"), "an axis reaching past the highest objective")
        #expect(svg.contains("stroke=\"#1f5fbf\""))
        // Well-formed XML, as far as Foundation's parser can tell.
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
    }

    @Test func theJSONReportHasSnakeCaseSectionsAndTheGate() throws {
        let slo = try ServiceLevelObjective(parsing: "p99=150ms")
        let report = RunReport(plan: Self.plan(), result: Self.result(), objectives: slo)
        let json = try report.json()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        for key in ["config", "lag_ms", "delivery", "connections", "clock", "probe", "per_class", "slo"] {
            #expect(object[key] != nil, "key \(key) in \(object.keys.sorted())")
        }
        let lag = try #require((object["lag_ms"] as? [String: Any])?["end_to_end"] as? [String: Any])
        #expect(abs((lag["p99"] as? Double ?? 0) - 198) < 0.5, "HdrHistogram keeps three significant digits")
        #expect(lag["count"] as? Int == 20_000)
        #expect(
            Set(lag.keys) == ["count", "p50", "p90", "p99", "p99.9", "p99.99", "max", "mean", "negative"],
            "percentiles spelled as the SLOs and the table spell them")
        let gate = try #require(object["slo"] as? [String: Any])
        #expect(gate["passed"] as? Bool == false)
        #expect((gate["breaches"] as? [String])?.first?.hasPrefix("p99 = 198") == true)
        let delivery = try #require(object["delivery"] as? [String: Any])
        #expect(delivery["unexplained"] as? Int == 0)
        #expect(delivery["expected"] as? Int == 123)
        #expect((object["per_class"] as? [[String: Any]])?.count == 2)
    }

    @Test func theTableNamesEveryRowAndTheVerdict() throws {
        var result = Self.result()
        result.counts.unexplained = 2
        result.unexplainedExamples = [.init(classID: "t-1", viewer: 0, participant: "r2", seq: 44)]
        let report = RunReport(
            plan: Self.plan(), result: result, objectives: try ServiceLevelObjective(parsing: "p99=1s"))
        let table = SummaryTable.render(report)
        #expect(table.contains("end-to-end (due → delivered)"))
        #expect(table.contains("uncorrected"))
        #expect(table.contains("UNEXPLAINED LOSS: 2 samples"))
        #expect(table.contains("participant r2 first missing seq 44"))
        #expect(table.contains("SLO BREACH · unexplained loss = 2 samples > 0"))
        #expect(table.contains("cpu 10% of one core"))
        #expect(table.split(separator: "\n").allSatisfy { $0.count <= 120 })
    }
}

/// The leaderboard's part of the report: board staleness and bytes per screen, in the JSON and the table.
@Suite struct BoardReportTests {
    @Test func boardGoesOnViewingURLsOnly() throws {
        let plan = try RunCommand.parse(["ws://127.0.0.1:9/", "--board", "0", "--participants", "1"]).makePlan()
        #expect(plan.path(classIndex: 0, role: .viewer, rider: nil).hasSuffix("role=viewer&board=0"))
        #expect(plan.path(classIndex: 0, role: .participant, rider: 1).hasSuffix("&board=0"))
        #expect(!plan.path(classIndex: 0, role: .publisher, rider: 0).contains("board"))
        #expect(try !RunCommand.parse(["ws://127.0.0.1:9/"]).makePlan().path(classIndex: 0, role: .viewer, rider: nil)
            .contains("board"), "without --board, the hub's default")
        for bad in ["101", "1000"] {
            #expect(DeviceModelFlagTests.refusal(["--board", bad])?.contains("--board must be 0 to 100") == true)
        }
    }

    @Test func boardsAreReportedWhenScreensGotThem() throws {
        let plain = RunReport(plan: ReportOutputTests.plan(), result: ReportOutputTests.result(), objectives: nil)
        #expect(plain.boards == nil, "no board arrived: no section")
        #expect(!SummaryTable.render(plain).contains("board staleness"))

        var result = ReportOutputTests.result()
        result.boardStaleness = ReportOutputTests.distribution(1...1_000)  // 10 µs … 10 ms
        result.boardsReceived = 40
        result.boardBytes = 28_000
        result.boardScreens = [3, 4]
        let report = RunReport(plan: ReportOutputTests.plan(), result: result, objectives: nil)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(try report.json().utf8)) as? [String: Any])
        let boards = try #require(object["boards"] as? [String: Any])
        #expect(boards["received"] as? Int == 40)
        #expect(boards["screens"] as? Int == 2)
        #expect(boards["bytes_per_screen_per_s"] as? Double == 1_400, "28,000 bytes / 2 screens / 10 s")
        let staleness = try #require(boards["staleness_ms"] as? [String: Any])
        #expect(staleness["count"] as? Int == 1_000)
        #expect(abs((staleness["p50"] as? Double ?? 0) - 5) < 0.05)
        let table = SummaryTable.render(report)
        #expect(table.contains("board staleness (written → board)"))
        #expect(table.contains("boards · 40 received on 2 screens · 28000 bytes · 1400 B per screen per second"))
        #expect(table.split(separator: "\n").allSatisfy { $0.count <= 120 })
    }
}

/// `--device-model firmware`'s part of the report: the record section, the ack row, and the breach.
@Suite struct RecordReportTests {
    static func ledger(recorded seqs: [UInt32]) -> RiderLedger {
        var ledger = RiderLedger(
            classID: "t-0", participant: "r0", firstSeq: 1, captured: 3, capturedInWindow: 2, stillBuffered: 0)
        for seq in seqs { ledger.recorded(seq) }
        var counts = StreamCounts()
        counts.delivered = 1
        counts.late = 1
        ledger.viewers = [RiderLedger.ViewerShare(owed: 2, counts: counts)]
        return ledger
    }

    @Test func aCompleteRecordPassesAndIsSaidSo() throws {
        var result = ReportOutputTests.result()
        result.ledgers = [Self.ledger(recorded: [1, 2, 3])]
        result.ack.record(4_000)
        let report = RunReport(plan: ReportOutputTests.plan(), result: result, objectives: nil)
        #expect(report.slo.passed)
        #expect(report.record?.recorded == 3 && report.record?.gapped == 1 && report.record?.problems == [])
        let table = SummaryTable.render(report)
        #expect(table.contains("ack (written → ack covering it)"))
        #expect(table.contains("every captured sample is in the record exactly once"))
        let json = try report.json()
        #expect(json.contains("\"ack\" : {") && json.contains("\"record_duplicates\" : 0"))
    }

    @Test func aMissingOrDoubleRecordedSampleBreachesWithoutAnSLO() {
        var result = ReportOutputTests.result()
        result.ledgers = [Self.ledger(recorded: [1, 1])]
        let report = RunReport(plan: ReportOutputTests.plan(), result: result, objectives: nil)
        #expect(!report.slo.passed)
        #expect(report.slo.breaches.count == 1)
        #expect(report.slo.breaches.first?.contains("not in the record") == true)
        let table = SummaryTable.render(report)
        #expect(table.contains("!! RECORD: 2 problems"))
        #expect(table.contains("SLO BREACH · record: 2 problems"))
    }

    @Test func aRecordThatCannotBeReadBreaches() {
        var result = ReportOutputTests.result()
        result.ledgers = [Self.ledger(recorded: [1, 2, 3])]
        result.recordFailure = "GET /v1/classes/t-0/record: HTTP 500"
        let report = RunReport(plan: ReportOutputTests.plan(), result: result, objectives: nil)
        #expect(!report.slo.passed)
        #expect(report.record?.problems.first == "GET /v1/classes/t-0/record: HTTP 500")
    }
}

/// `--device-model`: the one model there is, and only where the record can be checked.
@Suite struct DeviceModelFlagTests {
    static func refusal(_ arguments: [String]) -> String? {
        do {
            _ = try RunCommand.parse(["ws://127.0.0.1:9/"] + arguments).makePlan()
            return nil
        } catch {
            return RunCommand.message(for: error)
        }
    }

    @Test func firmwareGoesIntoThePlan() throws {
        #expect(try RunCommand.parse(["ws://127.0.0.1:9/", "--device-model", "firmware"]).makePlan().firmware)
        #expect(try !RunCommand.parse(["ws://127.0.0.1:9/"]).makePlan().firmware)
    }

    @Test func anUnknownModelIsRefusedByName() {
        #expect(
            Self.refusal(["--device-model", "phone"])?.contains("--device-model must be firmware, not 'phone'") == true)
    }

    @Test func aPeerTargetOrASplitRoleIsRefused() {
        let peer = Self.refusal(["--device-model", "firmware", "--target", "nats"])
        #expect(peer?.contains("--device-model firmware needs the hub's record") == true)
        let split = Self.refusal(["--device-model", "firmware", "--role", "publish", "--run-id", "x"])
        #expect(split?.contains("--device-model firmware needs the hub's record") == true)
    }
}
