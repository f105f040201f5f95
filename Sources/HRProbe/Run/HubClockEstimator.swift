/// The hub's clock as seen from this probe, estimated NTP-style from `ping`/`pong` pairs.
///
/// Each pair gives t0 (ping sent, local µs), the hub's time `ht` (ms) and t3 (pong received, local µs).
/// The round trip is t3 − t0 and, assuming the hub stamped `ht` half-way, offset = hub − local
/// = ht − (t0 + t3) / 2. A short round trip bounds the error tightly, so the estimate uses the pair with the
/// smallest round trip among the most recent `window` (NTP's minimum-delay clock filter). The error bound is
/// half that round trip plus half a millisecond for `ht`'s whole-millisecond resolution.
struct HubClockEstimator: Equatable {
    /// One ping/pong pair.
    struct Measurement: Equatable {
        /// Round trip, µs.
        var rttUs: Int64
        /// Hub clock − local clock, µs.
        var offsetUs: Int64
    }

    /// How many recent pairs the minimum-RTT filter looks at.
    let window: Int
    private(set) var recent: [Measurement] = []
    /// Pairs seen in all.
    private(set) var count = 0

    init(window: Int = 16) {
        self.window = max(1, window)
    }

    /// Adds a pair. `hubMs` is the pong's `ht`. Pairs with a negative round trip (a clock step) are ignored.
    mutating func add(sentUs: Int64, hubMs: Int64, receivedUs: Int64) {
        let rtt = receivedUs - sentUs
        guard rtt >= 0 else { return }
        // ht is a whole millisecond; its true value lies in [ht, ht + 1) ms if the hub truncates, so take the middle.
        let hubUs = hubMs * 1_000 + 500
        let midpoint = sentUs + rtt / 2
        recent.append(Measurement(rttUs: rtt, offsetUs: hubUs - midpoint))
        if recent.count > window { recent.removeFirst(recent.count - window) }
        count += 1
    }

    /// The pair the estimate rests on: the smallest round trip in the window.
    var best: Measurement? {
        recent.min { $0.rttUs < $1.rttUs }
    }

    /// Hub clock − local clock, µs; nil before the first pong.
    var offsetUs: Int64? { best?.offsetUs }

    /// How far the true offset can be from `offsetUs`, µs: half the best round trip plus 500 µs.
    var errorBoundUs: Int64? { best.map { $0.rttUs / 2 + 500 } }
}
