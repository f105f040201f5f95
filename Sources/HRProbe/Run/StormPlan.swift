import ArgumentParser

/// `--reconnect-storm AT:FRACTION`: at AT into the measured window, that share of the publishers drop their
/// connection at once (no close handshake, like a gym's Wi-Fi going down) and reconnect with jittered
/// exponential backoff, resending what the hub has not acknowledged (everything after `welcome.last_seq`).
struct StormPlan: Equatable {
    /// When, µs after the measured window starts.
    var atUs: Int64
    /// Share of publishers that drop, 0…1.
    var fraction: Double

    /// Parses `AT:FRACTION` (`10s:30%` or `10s:0.3`).
    init(parsing text: String) throws {
        let pieces = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard pieces.count == 2 else {
            throw ValidationError("--reconnect-storm: '\(text)' is not AT:FRACTION; e.g. --reconnect-storm 10s:30%")
        }
        atUs = try DurationText.microseconds(pieces[0], option: "--reconnect-storm")
        let isPercent = pieces[1].hasSuffix("%")
        guard let number = Double(isPercent ? String(pieces[1].dropLast()) : pieces[1]), number > 0 else {
            throw ValidationError("--reconnect-storm: '\(pieces[1])' is not a share; write 30% or 0.3")
        }
        fraction = isPercent ? number / 100 : number
        guard fraction <= 1 else { throw ValidationError("--reconnect-storm: the share cannot exceed 100%") }
    }

    /// The backoff before reconnect attempt `attempt` (0 first), µs: "equal jitter" over an exponential base of
    /// 250 ms doubling to at most 8 s, so a storm's publishers do not all come back in the same millisecond.
    static func backoffUs(attempt: Int, unit: Double) -> Int64 {
        let cap = Double(min(250_000 << min(attempt, 5), 8_000_000))
        return Int64(cap / 2 + cap / 2 * unit)
    }
}
