/// A token bucket: `rate` tokens per second, holding at most `capacity`. Time is passed in (ms).
public struct TokenBucket: Sendable, Equatable {
    public let rate: Double
    public let capacity: Double
    public private(set) var tokens: Double
    private var updatedMs: Int64?

    /// A full bucket.
    public init(rate: Double, capacity: Double) {
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
    }

    /// Takes one token if there is one.
    public mutating func take(now: Int64) -> Bool {
        refill(now: now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Gives back a token taken for something that turned out not to count (a duplicate found later).
    public mutating func refund() {
        tokens = min(capacity, tokens + 1)
    }

    /// When the next token is there: `now` when one already is.
    public mutating func nextTokenMs(now: Int64) -> Int64 {
        refill(now: now)
        guard tokens < 1 else { return now }
        return now + Int64(((1 - tokens) * 1000 / rate).rounded(.up))
    }

    private mutating func refill(now: Int64) {
        if let updatedMs, now > updatedMs {
            tokens = min(capacity, tokens + Double(now - updatedMs) * rate / 1000)
        }
        updatedMs = max(updatedMs ?? now, now)
    }
}
