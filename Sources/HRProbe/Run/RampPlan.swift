import ArgumentParser
import Foundation

/// `--ramp`: how the publishers come in, as stages `DURATION:LEVEL` (k6 style), e.g. `10s:25%,20s:100%`.
///
/// The level starts at 0 and moves linearly to each stage's LEVEL over its DURATION; a publisher starts sending
/// once the level reaches its share ((rank + 1) / publishers). Levels may only go up (publishers are not stopped
/// early); after the last stage the level stays where it is, so a ramp ending below 100% leaves some publishers
/// idle for the whole run. Without `--ramp` every publisher starts at once.
struct RampPlan: Equatable {
    /// One stage: reach `level` (0…1) `durationUs` after the previous stage ended.
    struct Stage: Equatable {
        var durationUs: Int64
        var level: Double
    }

    private(set) var stages: [Stage]

    /// Parses `text`; throws a `ValidationError` that shows the form.
    init(parsing text: String) throws {
        let form = "write stages as DURATION:LEVEL, e.g. --ramp 10s:25%,20s:100%"
        var stages: [Stage] = []
        var previous = 0.0
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let pieces = part.split(separator: ":", maxSplits: 1).map(String.init)
            guard pieces.count == 2 else { throw ValidationError("--ramp: '\(part)' is not DURATION:LEVEL; \(form)") }
            let duration = try DurationText.microseconds(pieces[0], option: "--ramp")
            let level = try Self.level(pieces[1], part: part)
            guard level >= previous else {
                throw ValidationError("--ramp: '\(part)' goes down from \(Int(previous * 100))%; ramps only go up")
            }
            stages.append(Stage(durationUs: duration, level: level))
            previous = level
        }
        guard !stages.isEmpty else { throw ValidationError("--ramp is empty; \(form)") }
        self.stages = stages
    }

    /// The level (0…1) `elapsedUs` after the ramp began.
    func level(atUs elapsedUs: Int64) -> Double {
        var start: Int64 = 0
        var from = 0.0
        for stage in stages {
            let end = start + stage.durationUs
            if elapsedUs < end {
                let t = stage.durationUs == 0 ? 1 : Double(elapsedUs - start) / Double(stage.durationUs)
                return from + (stage.level - from) * t
            }
            start = end
            from = stage.level
        }
        return from
    }

    /// When (µs after the ramp began) the publisher of `rank` among `count` starts; nil if the ramp never lets
    /// it in.
    func startUs(rank: Int, of count: Int) -> Int64? {
        let needed = Double(rank + 1) / Double(max(count, 1))
        var start: Int64 = 0
        var from = 0.0
        for stage in stages {
            if stage.level >= needed - 1e-12 {
                guard stage.level > from else { return start }
                let t = max(0, (needed - from) / (stage.level - from))
                return start + Int64((Double(stage.durationUs) * t).rounded(.up))
            }
            start += stage.durationUs
            from = stage.level
        }
        return nil
    }

    /// Total length of the stages, µs.
    var totalUs: Int64 { stages.reduce(0) { $0 + $1.durationUs } }

    private static func level(_ text: String, part: String) throws -> Double {
        let isPercent = text.hasSuffix("%")
        guard let number = Double(isPercent ? String(text.dropLast()) : text), number >= 0 else {
            throw ValidationError("--ramp: '\(part)': LEVEL is a percentage (50%) or a fraction (0.5)")
        }
        let level = isPercent ? number / 100 : number
        guard level <= 1 else { throw ValidationError("--ramp: '\(part)': LEVEL cannot exceed 100%") }
        return level
    }
}
