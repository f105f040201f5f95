import ArgumentParser
import Foundation

/// The `--slo` gate: limits on end-to-end lag percentiles, the maximum, and loss, e.g.
/// `p99=250ms,p99.9=800ms,loss=0.1%`.
///
/// Forms: `pNN[.N…]=DURATION` (a percentile of the corrected end-to-end lag), `max=DURATION`, `loss=N%` or
/// `loss=FRACTION` (lost samples, conflation excluded, over samples owed), `unexplained=N` (samples lost with no
/// `gap`; any is a hub bug, so `unexplained=0` is always part of a gate that has other objectives, unless given
/// explicitly with a higher limit).
struct ServiceLevelObjective: Equatable {
    /// What one objective limits.
    enum Metric: Equatable {
        /// The lag at this percentile (0 < p < 100).
        case percentile(Double)
        /// The largest lag.
        case max
        /// Lost / owed.
        case loss
        /// Samples lost without a gap.
        case unexplained
    }

    /// One limit.
    struct Objective: Equatable {
        var metric: Metric
        /// µs for lag metrics, a fraction for loss, a count for unexplained.
        var limit: Double
        /// As the user wrote it, e.g. `p99=250ms`.
        var text: String
    }

    /// A measured value that went over its limit.
    struct Breach: Equatable {
        var objective: Objective
        /// The measured value, in the objective's unit.
        var measured: Double
        /// One line for people: `p99 = 312ms > 250ms`.
        var description: String
    }

    /// What the run measured, for `evaluate`.
    struct Measured {
        /// Lag at a percentile, µs.
        var percentileUs: (Double) -> Int64
        var maxUs: Int64
        var lossFraction: Double
        var unexplained: Int
    }

    private(set) var objectives: [Objective]

    /// Parses `text`; throws a `ValidationError` naming the part that is wrong and the forms allowed.
    init(parsing text: String) throws {
        let forms = "use e.g. --slo p99=250ms,p99.9=800ms,max=2s,loss=0.1%,unexplained=0"
        var objectives: [Objective] = []
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            let pieces = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pieces.count == 2, !pieces[1].isEmpty else {
                throw ValidationError("--slo: '\(part)' is not NAME=LIMIT; \(forms)")
            }
            let name = pieces[0].lowercased()
            let value = pieces[1]
            let metric: Metric
            let limit: Double
            switch name {
            case "max":
                metric = .max
                limit = Double(try Self.lag(value, part: part))
            case "loss":
                metric = .loss
                limit = try Self.fraction(value, part: part)
            case "unexplained":
                guard let count = Int(value), count >= 0 else {
                    throw ValidationError("--slo: '\(part)': unexplained takes a count of samples, e.g. unexplained=0")
                }
                metric = .unexplained
                limit = Double(count)
            default:
                guard name.hasPrefix("p"), let p = Double(name.dropFirst()), p > 0, p < 100 else {
                    throw ValidationError(
                        "--slo: unknown objective '\(pieces[0])'; use pNN (a percentile below 100), max, loss or "
                            + "unexplained; \(forms)")
                }
                metric = .percentile(p)
                limit = Double(try Self.lag(value, part: part))
            }
            if objectives.contains(where: { $0.metric == metric }) {
                throw ValidationError("--slo: '\(pieces[0])' is given twice")
            }
            objectives.append(Objective(metric: metric, limit: limit, text: part))
        }
        guard !objectives.isEmpty else { throw ValidationError("--slo is empty; \(forms)") }
        if !objectives.contains(where: { $0.metric == .unexplained }) {
            objectives.append(Objective(metric: .unexplained, limit: 0, text: "unexplained=0"))
        }
        self.objectives = objectives
    }

    /// The percentile objectives, lowest percentile first, as (percentile, limit µs): for the plot.
    var percentileLimits: [(percentile: Double, limitUs: Int64)] {
        objectives.compactMap { objective in
            if case .percentile(let p) = objective.metric { return (p, Int64(objective.limit)) }
            return nil
        }.sorted { $0.percentile < $1.percentile }
    }

    /// The objectives `measured` breaks, in the order they were given.
    func evaluate(_ measured: Measured) -> [Breach] {
        objectives.compactMap { objective in
            let value: Double
            let shown: String
            let limitShown: String
            switch objective.metric {
            case .percentile(let p):
                value = Double(measured.percentileUs(p))
                shown = "\(Self.percentileName(p)) = \(DurationText.describe(microseconds: Int64(value)))"
                limitShown = DurationText.describe(microseconds: Int64(objective.limit))
            case .max:
                value = Double(measured.maxUs)
                shown = "max = \(DurationText.describe(microseconds: Int64(value)))"
                limitShown = DurationText.describe(microseconds: Int64(objective.limit))
            case .loss:
                value = measured.lossFraction
                shown = "loss = \(Self.percent(value))"
                limitShown = Self.percent(objective.limit)
            case .unexplained:
                value = Double(measured.unexplained)
                shown = "unexplained loss = \(measured.unexplained) samples"
                limitShown = "\(Int(objective.limit))"
            }
            guard value > objective.limit else { return nil }
            return Breach(objective: objective, measured: value, description: "\(shown) > \(limitShown)")
        }
    }

    /// `p99`, `p99.9`.
    static func percentileName(_ p: Double) -> String {
        p == p.rounded() ? "p\(Int(p))" : "p\(p)"
    }

    /// A fraction as a percentage with up to four decimals: `0.1%`.
    static func percent(_ fraction: Double) -> String {
        var text = String(format: "%.4f", fraction * 100)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text + "%"
    }

    private static func lag(_ value: String, part: String) throws -> Int64 {
        guard value.last?.isLetter == true else {
            throw ValidationError("--slo: '\(part)': give the lag a unit, e.g. 250ms, 1s or 800us")
        }
        return try DurationText.microseconds(value, option: "--slo \(part)")
    }

    private static func fraction(_ value: String, part: String) throws -> Double {
        let isPercent = value.hasSuffix("%")
        guard let number = Double(isPercent ? String(value.dropLast()) : value), number >= 0 else {
            throw ValidationError("--slo: '\(part)': loss is a percentage (0.1%) or a fraction (0.001)")
        }
        let fraction = isPercent ? number / 100 : number
        guard fraction <= 1 else { throw ValidationError("--slo: '\(part)': loss cannot exceed 100%") }
        return fraction
    }
}
