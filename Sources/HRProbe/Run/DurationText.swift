import ArgumentParser
import Foundation

/// Durations as people type them on the command line: `30s`, `500ms`, `2m`, `1h`, `250us`; a bare number is
/// seconds. Fractions are fine (`1.5s`). Values are kept in microseconds, the probe's unit of time.
enum DurationText {
    /// Microseconds in `text`, or a `ValidationError` naming the option and the accepted forms.
    static func microseconds(_ text: String, option: String) throws -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(suffix: String, scale: Double)] = [
            ("us", 1), ("µs", 1), ("ms", 1_000), ("s", 1_000_000), ("m", 60_000_000), ("h", 3_600_000_000),
        ]
        var number = Substring(trimmed)
        var scale = 1_000_000.0
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            number = trimmed.dropLast(unit.suffix.count)
            scale = unit.scale
            break
        }
        guard let value = Double(number), value.isFinite, value >= 0 else {
            throw ValidationError("\(option): '\(text)' is not a duration; write e.g. 30s, 500ms, 2m or 250us")
        }
        return Int64((value * scale).rounded())
    }

    /// A short human form of a duration in microseconds: `850us`, `12.3ms`, `1.25s`.
    static func describe(microseconds us: Int64) -> String {
        if us < 1_000 { return "\(us)us" }
        if us < 1_000_000 { return "\(Self.trim(Double(us) / 1_000))ms" }
        return "\(Self.trim(Double(us) / 1_000_000))s"
    }

    /// Up to three significant decimals, no trailing zeros.
    private static func trim(_ value: Double) -> String {
        var text = String(format: value < 10 ? "%.2f" : value < 100 ? "%.1f" : "%.0f", value)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }
}
