import Foundation

/// The summary a person reads after a run: what ran, the lag percentiles, where samples went, the probe's own
/// health and the SLO verdict. Plain text, 120 columns at most.
enum SummaryTable {
    static func render(_ report: RunReport) -> String {
        let c = report.config
        var out = ""
        func line(_ text: String = "") { out += text + "\n" }

        var what = "hrprobe run · \(c.hub) · \(c.classes) class\(c.classes == 1 ? "" : "es") × ("
        what += "\(c.publishersPerClass) publishers + \(c.viewersPerClass) viewers"
        if c.participantsPerClass > 0 { what += " + \(c.participantsPerClass) rider apps" }
        what += ") · \(format(c.rateHz)) Hz · \(c.phase) phase · mode \(c.mode)\(c.binary ? " · binary" : "")"
        line(what)
        var window = "measured \(format(c.durationS)) s after \(format(c.warmupS)) s warm-up · role \(c.role)"
        if let budget = report.budgetMs { window += " · hub budget \(budget) ms" }
        if c.slowViewers > 0 { window += " · slow viewers \(ServiceLevelObjective.percent(c.slowViewers))" }
        if let storm = c.reconnectStorm { window += " · reconnect storm \(storm)" }
        if let ramp = c.ramp { window += " · ramp \(ramp)" }
        if report.interrupted { window += " · INTERRUPTED" }
        line(window)
        line()

        line(
            pad("lag (ms)", 34) + pad("count", 9, right: true)
                + ["p50", "p90", "p99", "p99.9", "p99.99", "max"]
                .map { pad($0, 10, right: true) }.joined())
        let l = report.lagMs
        let rows: [(String, RunReport.Percentiles)] = [
            ("end-to-end (due → delivered)", l.endToEnd),
            ("  uncorrected (written → delivered)", l.uncorrected),
            ("  fan-out (due → last viewer)", l.fanOut),
            ("  probe send lag (due → written)", l.probeSend),
            ("  publisher → hub (written → rts)", l.publisherToHub),
            ("  hub → viewer (rts → delivered)", l.hubToViewer),
            ("slow viewers (due → delivered)", l.slowViewers),
            ("ack (written → ack covering it)", l.ack),
        ]
        for (name, p) in rows where p.count > 0 || name.hasPrefix("end") {
            line(
                pad(name, 34) + pad("\(p.count)", 9, right: true)
                    + [p.p50, p.p90, p.p99, p.p99_9, p.p99_99, p.max].map { pad(ms($0), 10, right: true) }.joined())
        }
        if let b = report.boards {
            for (name, p) in [
                ("board staleness (written → board)", b.stalenessMs),
                ("  own screen (written → board)", b.ownStalenessMs),
            ] where p.count > 0 || name.hasPrefix("board") {
                line(
                    pad(name, 34) + pad("\(p.count)", 9, right: true)
                        + [p.p50, p.p90, p.p99, p.p99_9, p.p99_99, p.max].map { pad(ms($0), 10, right: true) }.joined())
            }
        }
        if l.endToEnd.negative > 0 {
            line("  \(l.endToEnd.negative) lags were negative (clock error across machines) and counted as 0")
        }
        line()

        if let b = report.boards {
            line(
                "boards · \(b.received) received on \(b.screens) screens · \(b.bytes) bytes"
                    + " · \(format(b.bytesPerScreenPerS)) B per screen per second")
            line()
        }
        let d = report.delivery
        let s = d.streams
        var fates = "delivery · sent \(d.samplesSent)"
        if d.samplesResent > 0 { fates += " (+\(d.samplesResent) resent)" }
        fates += " · owed to viewers \(s.expected) · delivered \(s.delivered)"
        fates += " · lost \(s.lost) (\(ServiceLevelObjective.percent(d.lossFraction)) incl. slow viewers)"
        line(fates)
        line(
            "  explained by gaps: backpressure \(s.backpressure) · late \(s.late) · conflated \(s.conflated)"
                + " · lost at close \(s.lostAtClose) · not arrived by the end \(s.pendingAtEnd)")
        line(
            "  order: duplicates \(s.duplicates) · reordered \(s.reordered) · contradictions \(s.contradictions)"
                + " · double gaps \(s.doubleGaps) · gap count mismatches \(s.gapCountMismatches)")
        if report.drainTimedOut {
            line("  the drain timed out: some viewers were still owed samples when the run ended (--drain)")
        }
        let j = l.streamJitter
        line(
            "  jitter (RFC 3550, per stream, ms): p50 \(ms(j.p50)) · p99 \(ms(j.p99)) · max \(ms(j.max))"
                + " over \(j.count) streams")
        let slow = d.slowViewerStreams
        if slow.expected > 0 {
            line(
                "  slow viewers: owed \(slow.expected) · delivered \(slow.delivered) · backpressure"
                    + " \(slow.backpressure) · late \(slow.late) · lost at close \(slow.lostAtClose)"
                    + " · not arrived by the end \(slow.pendingAtEnd)"
                    + " · unexplained \(slow.unexplained)")
        }
        if d.unexplained > 0 {
            line()
            line("!! UNEXPLAINED LOSS: \(d.unexplained) samples were neither delivered nor named in a gap (a hub bug)")
            for e in d.unexplainedExamples.prefix(5) {
                line(
                    "!!   class \(e.classID) viewer \(e.viewer) participant \(e.participant) first missing seq \(e.seq)"
                )
            }
        }
        if d.foreignSamples > 0 || d.malformedFrames > 0 {
            line("  foreign samples \(d.foreignSamples) · malformed frames \(d.malformedFrames)")
        }
        if let r = report.record {
            line(
                "record · \(r.riders.count) riders · captured \(r.captured) · recorded once \(r.recorded)"
                    + " · missing \(r.missing) · recorded twice \(r.recordDuplicates)"
                    + " · left in devices \(r.stillBuffered) · uploads \(r.uploads)"
                    + (r.deadLinks > 0 ? " · silent links dropped \(r.deadLinks)" : ""))
            line(
                "  per viewer (measured window): delivered \(r.delivered) · gapped \(r.gapped)"
                    + " · neither \(r.unaccounted) · twice \(r.twice)")
            if !r.uploadFailures.isEmpty {
                line(
                    "  failed uploads: "
                        + r.uploadFailures.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }
                        .joined(separator: " · "))
            }
            if r.problems.isEmpty {
                line("  every captured sample is in the record exactly once; every viewer had each live or in a gap")
            } else {
                line("!! RECORD: \(r.problems.count) problems")
                for problem in r.problems.prefix(5) { line("!!   \(problem)") }
            }
        }
        line()

        let n = report.connections
        var conns = "connections · planned \(n.planned) · open at start \(n.openAtStart) · peak \(n.peakOpen)"
        conns += " · connect failures \(n.connectFailures) · reconnects \(n.reconnects)"
        conns += " · connected in \(String(format: "%.2f", n.connectS)) s"
        line(conns)
        switch n.sourceAddresses.count {
        case 0: break
        case 1: line("  from 1 source address (\(n.sourceAddresses[0]))")
        default:
            line(
                "  from \(n.sourceAddresses.count) source addresses (\(n.sourceAddresses.first!) … "
                    + "\(n.sourceAddresses.last!), round robin)")
        }
        if !n.unexpectedCloses.isEmpty {
            line(
                "  closed by the hub: "
                    + n.unexpectedCloses.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }
                    .joined(separator: " · "))
        }
        if !n.hubErrors.isEmpty {
            line(
                "  hub errors: "
                    + n.hubErrors.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }
                    .joined(separator: " · "))
        }
        if let error = n.firstConnectError { line("  first connect error: \(error)") }
        let k = report.clock
        if let offset = k.offsetMs, let bound = k.errorBoundMs {
            line("hub clock · offset \(ms(offset)) ms ± \(ms(bound)) ms (best of \(k.pongs) pings)")
        }
        let p = report.probe
        line(
            "probe · cpu \(format(p.cpuPercent))% of one core (user \(format(p.cpuUserS)) s, sys \(format(p.cpuSystemS))"
                + " s over \(format(p.wallS)) s) · waited for a cpu \(format(p.cpuWaitPercent))%"
                + " · max RSS \(format(p.maxRssMib)) MiB")
        if p.demandPercent > 80 {
            line(
                "  WARNING: the probe used or waited for \(format(p.demandPercent))% of a core"
                    + (p.cpuWaitPercent > p.cpuPercent / 2 ? " (other processes had the CPUs)" : "")
                    + "; it is near saturation and its lag is suspect")
        }
        if let w = report.window {
            var text = "window · \(format(w.seconds)) s · delivered \(w.delivered) (\(format(w.deliveredPerS))/s)"
            text += " · probe cpu \(format(w.probeCpuPercent))% (+ \(format(w.probeCpuWaitPercent))% waiting)"
            if let sv = w.server {
                text += " · server cpu \(format(sv.cpuPercent))% (+ \(format(sv.cpuWaitPercent))% waiting)"
                if let per = sv.cpuUsPerDelivery { text += " = \(String(format: "%.3f", per)) µs per delivery" }
                text += " · server RSS \(format(sv.rssEndMib)) MiB"
                if let perConnection = sv.rssPerConnectionKib {
                    text += " (\(String(format: "%.2f", perConnection)) KiB per connection over \(sv.connectionsAtEnd))"
                }
            }
            line(text)
        }
        if report.perClass.count > 1 {
            let worst = report.perClass.max { $0.p99 < $1.p99 }!
            let best = report.perClass.min { $0.p99 < $1.p99 }!
            line("classes · p99 from \(ms(best.p99)) ms (\(best.id)) to \(ms(worst.p99)) ms (\(worst.id))")
        }
        if !report.slo.objectives.isEmpty || !report.slo.breaches.isEmpty {
            line()
            if report.slo.passed {
                line("SLO PASS · " + report.slo.objectives.joined(separator: ", "))
            } else {
                for breach in report.slo.breaches { line("SLO BREACH · \(breach)") }
            }
        }
        return out
    }

    /// Milliseconds with three significant digits or so.
    static func ms(_ value: Double) -> String {
        if value >= 100 { return String(format: "%.0f", value) }
        if value >= 10 { return String(format: "%.1f", value) }
        return String(format: "%.2f", value)
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }

    private static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let count = text.count
        guard count < width else { return right ? " " + text : text + " " }
        let spaces = String(repeating: " ", count: width - count)
        return right ? spaces + text : text + spaces
    }
}
