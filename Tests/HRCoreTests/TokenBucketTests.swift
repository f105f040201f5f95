import HRCore
import Testing

@Suite struct TokenBucketTests {
    @Test func startsFullAndEmptiesToTheToken() {
        let bucket = Bucket(rate: 10, capacity: 600)
        #expect(bucket.tokens == 600)
        for _ in 0..<600 { #expect(bucket.take(now: 0)) }
        #expect(!bucket.take(now: 0))
        #expect(bucket.tokens == 0)
    }

    @Test func refillsAtTheRate() {
        let bucket = Bucket(rate: 10, capacity: 3)
        for _ in 0..<3 { #expect(bucket.take(now: 1_000)) }
        #expect(!bucket.take(now: 1_099), "0.99 of a token")
        #expect(bucket.take(now: 1_100))
        #expect(!bucket.take(now: 1_100))
        #expect(bucket.take(now: 1_300))
        #expect(bucket.take(now: 1_300), "two tokens in 200 ms")
        #expect(!bucket.take(now: 1_300))
    }

    @Test func refillIsCappedAtTheCapacity() {
        let bucket = Bucket(rate: 10, capacity: 3)
        #expect(bucket.take(now: 0))
        #expect(bucket.take(now: 3_600_000))
        #expect(bucket.tokens == 2, "an hour idle refills to 3, not 36 000")
        #expect(bucket.take(now: 3_600_000))
        #expect(bucket.take(now: 3_600_000))
        #expect(!bucket.take(now: 3_600_000))
    }

    @Test func failedTakesDoNotLoseRefill() {
        let bucket = Bucket(rate: 1, capacity: 1)
        #expect(bucket.take(now: 0))
        for now in stride(from: Int64(100), to: 1_000, by: 100) { #expect(!bucket.take(now: now)) }
        // 1 ms past the second: ten refills of 0.1 add up to a hair under 1.0 in floating point.
        #expect(bucket.take(now: 1_001), "nine failed takes on the way still add up to a token")
    }

    @Test func timeGoingBackwardsAddsNothing() {
        let bucket = Bucket(rate: 1, capacity: 2)
        #expect(bucket.take(now: 10_000))
        #expect(bucket.take(now: 10_000))
        #expect(!bucket.take(now: 5_000))
        #expect(!bucket.take(now: 10_999), "no credit for the backwards step")
        #expect(bucket.take(now: 11_000))
    }

    @Test func fractionalRates() {
        let bucket = Bucket(rate: 0.5, capacity: 30)
        for _ in 0..<30 { #expect(bucket.take(now: 0)) }
        #expect(!bucket.take(now: 1_999))
        #expect(bucket.take(now: 2_000))
    }
}

/// A bucket behind a reference, so `#expect(bucket.take(now:))` can call the mutating method.
private final class Bucket {
    private var bucket: TokenBucket

    init(rate: Double, capacity: Double) { bucket = TokenBucket(rate: rate, capacity: capacity) }

    var tokens: Double { bucket.tokens }

    func take(now: Int64) -> Bool { bucket.take(now: now) }
}
