import Foundation
import HRProbeCore

/// `--svg`: a percentile-spectrum plot, hand-written SVG. Lag (ms, linear) against percentile on a 1/(1−p)
/// logarithmic axis, so the tail (99%, 99.9%, 99.99%) gets as much room as the median; the SLO is drawn as a
/// red staircase with a marker at each objective.
struct SpectrumPlot {
    /// How a series is drawn.
    enum Style {
        case primary, dashed, secondary, muted

        var stroke: String {
            switch self {
            case .primary: "#1f5fbf"
            case .dashed: "#7a7a7a"
            case .secondary: "#2e9e5b"
            case .muted: "#c07a1a"
            }
        }

        var attributes: String {
            switch self {
            case .primary: "stroke-width=\"2.5\""
            case .dashed: "stroke-width=\"1.5\" stroke-dasharray=\"6 4\""
            case .secondary: "stroke-width=\"1.5\""
            case .muted: "stroke-width=\"1.5\" stroke-dasharray=\"2 3\""
            }
        }
    }

    /// One line of the plot.
    struct Series {
        var name: String
        var distribution: LagDistribution
        var style: Style
    }

    var title: String
    var series: [Series]
    /// (percentile, limit µs), lowest percentile first.
    var objectives: [(percentile: Double, limitUs: Int64)]

    static let width = 960.0
    static let height = 560.0
    private static let left = 80.0
    private static let right = 30.0
    private static let top = 50.0
    private static let bottom = 70.0

    /// The whole SVG document.
    func render() -> String {
        let plotWidth = Self.width - Self.left - Self.right
        let plotHeight = Self.height - Self.top - Self.bottom
        let points = series.map { Self.points($0.distribution) }
        let maxCount = series.map(\.distribution.count).max() ?? 0
        // Decades of 1/(1−p) worth showing: enough for the largest series' count (p99.99 needs 10,000 values),
        // and one beyond the highest objective so its step is visible.
        let countDecades = Int(log10(Double(max(maxCount, 1))).rounded(.up))
        let objectiveDecades = objectives.map { Int((-log10(1 - $0.percentile / 100)).rounded(.up)) + 1 }.max() ?? 0
        let decades = Double(min(6, max(2, countDecades, objectiveDecades)))
        let values = points.flatMap { $0.map(\.ms) } + objectives.map { Double($0.limitUs) / 1_000 }
        let range = Self.logRange(values)

        func x(_ percentile: Double) -> Double {
            let p = min(percentile / 100, 1 - pow(10, -decades))
            return Self.left + min(log10(1 / (1 - p)) / decades, 1) * plotWidth
        }
        func y(_ ms: Double) -> Double {
            let fraction = (log10(max(ms, range.low)) - log10(range.low)) / (log10(range.high) - log10(range.low))
            return Self.top + plotHeight - min(max(fraction, 0), 1) * plotHeight
        }

        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(Self.width))" height="\(Int(Self.height))" \
            viewBox="0 0 \(Int(Self.width)) \(Int(Self.height))" font-family="Helvetica, Arial, sans-serif" \
            font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(Self.left)" y="28" font-size="15" font-weight="bold">\(Self.escape(title))</text>

            """
        // Grid and axes.
        for decade in 0...Int(decades) {
            let percentile = 100 * (1 - pow(10, -Double(decade)))
            let gx = x(percentile)
            svg += Self.line(gx, Self.top, gx, Self.top + plotHeight, stroke: "#e3e3e3")
            svg += Self.text(
                Self.percentileLabel(decade), x: gx, y: Self.top + plotHeight + 18, anchor: "middle")
        }
        var decade = range.low
        while decade <= range.high * 1.0001 {
            for step in [1.0, 2, 5] where decade * step <= range.high * 1.0001 {
                let gy = y(decade * step)
                svg += Self.line(Self.left, gy, Self.left + plotWidth, gy, stroke: step == 1 ? "#d0d0d0" : "#f0f0f0")
                svg += Self.text(Self.msLabel(decade * step), x: Self.left - 8, y: gy + 4, anchor: "end")
            }
            decade *= 10
        }
        svg += Self.line(Self.left, Self.top + plotHeight, Self.left + plotWidth, Self.top + plotHeight, stroke: "#444")
        svg += Self.line(Self.left, Self.top, Self.left, Self.top + plotHeight, stroke: "#444")
        svg += Self.text(
            "percentile (log scale of 1/(1−p))", x: Self.left + plotWidth / 2, y: Self.height - 22, anchor: "middle")
        svg += """
            <text x="22" y="\(Self.top + plotHeight / 2)" text-anchor="middle" \
            transform="rotate(-90 22 \(Self.top + plotHeight / 2))">lag (ms, log scale)</text>

            """
        // The SLO: a staircase (each objective holds from its percentile to the next one's), with markers.
        if !objectives.isEmpty {
            var path = ""
            for (i, objective) in objectives.enumerated() {
                let limit = Double(objective.limitUs) / 1_000
                let x0 = x(objective.percentile)
                let x1 = i + 1 < objectives.count ? x(objectives[i + 1].percentile) : Self.left + plotWidth
                path += "\(i == 0 ? "M" : "L")\(Self.f(x0)),\(Self.f(y(limit))) L\(Self.f(x1)),\(Self.f(y(limit))) "
            }
            svg +=
                "<path d=\"\(path)\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" "
                + "stroke-dasharray=\"8 4\"/>\n"
            for objective in objectives {
                let limit = Double(objective.limitUs) / 1_000
                let px = x(objective.percentile)
                let py = y(limit)
                svg += "<circle cx=\"\(Self.f(px))\" cy=\"\(Self.f(py))\" r=\"4\" fill=\"#d62728\"/>\n"
                let nearRight = px > Self.left + plotWidth * 0.75
                svg += Self.text(
                    "SLO \(ServiceLevelObjective.percentileName(objective.percentile)) ≤ \(Self.msLabel(limit)) ms",
                    x: nearRight ? px - 6 : px + 6, y: py - 6, anchor: nearRight ? "end" : "start", fill: "#d62728")
            }
        }
        // The series, as steps: each value holds until the next percentile. The first series is drawn last, on top.
        for (index, s) in series.enumerated().reversed() where !points[index].isEmpty {
            var path = ""
            var previousY: Double?
            for (i, point) in points[index].enumerated() {
                let px = x(point.percentile)
                let py = y(point.ms)
                if i == 0 {
                    path += "M\(Self.f(px)),\(Self.f(py))"
                } else {
                    if let previousY { path += " L\(Self.f(px)),\(Self.f(previousY))" }
                    path += " L\(Self.f(px)),\(Self.f(py))"
                }
                previousY = py
            }
            svg += "<path d=\"\(path)\" fill=\"none\" stroke=\"\(s.style.stroke)\" \(s.style.attributes)/>\n"
        }
        // Legend, top left inside the plot.
        var ly = Self.top + 16
        for s in series {
            let p99 = Double(s.distribution.valueUs(at: 99)) / 1_000
            let maximum = Double(s.distribution.maxUs) / 1_000
            svg +=
                "<line x1=\"\(Self.f(Self.left + 12))\" y1=\"\(Self.f(ly - 4))\" x2=\"\(Self.f(Self.left + 40))\" "
                + "y2=\"\(Self.f(ly - 4))\" stroke=\"\(s.style.stroke)\" \(s.style.attributes)/>\n"
            svg += Self.text(
                "\(s.name): p99 \(Self.msLabel(p99)) ms, max \(Self.msLabel(maximum)) ms, n=\(s.distribution.count)",
                x: Self.left + 46, y: ly, anchor: "start")
            ly += 18
        }
        svg += "</svg>\n"
        return svg
    }

    /// (percentile, ms) points of a distribution, HdrHistogram's percentile iteration (5 ticks per half).
    static func points(_ distribution: LagDistribution) -> [(percentile: Double, ms: Double)] {
        guard distribution.count > 0 else { return [] }
        return distribution.histogram.percentiles(ticksPerHalfDistance: 5).map {
            ($0.percentileLevelIteratedTo, Double($0.value) / 1_000)
        }
    }

    /// `0%`, `90%`, `99%`, `99.9%`, …
    static func percentileLabel(_ decade: Int) -> String {
        switch decade {
        case 0: "0%"
        case 1: "90%"
        case 2: "99%"
        default: "99." + String(repeating: "9", count: decade - 2) + "%"
        }
    }

    /// The y axis, ms: whole decades around `values` (at least 0.01 ms, at least one decade apart).
    static func logRange(_ values: [Double]) -> (low: Double, high: Double) {
        let positive = values.filter { $0 > 0 }
        let low = max(0.01, pow(10, floor(log10(positive.min() ?? 0.1))))
        var high = pow(10, (log10(max(positive.max() ?? 1, low) * 1.05)).rounded(.up))
        if high <= low { high = low * 10 }
        return (low, high)
    }

    static func msLabel(_ value: Double) -> String {
        value >= 10 || value == value.rounded() ? String(format: "%.0f", value) : String(format: "%.2g", value)
    }

    private static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    private static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String) -> String {
        "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"\(stroke)\"/>\n"
    }

    private static func text(_ content: String, x: Double, y: Double, anchor: String, fill: String = "#222")
        -> String
    {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\" fill=\"\(fill)\">\(escape(content))</text>\n"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
