import Testing

@testable import HRProbe

/// NTP-style offset from ping/pong with a minimum-RTT filter.
@Suite struct HubClockEstimatorTests {
    @Test func theShortestRoundTripWins() throws {
        var clock = HubClockEstimator(window: 8)
        // The hub clock is about 3,998 s ahead. A pair whose pong waited on the way back would skew the offset.
        clock.add(sentUs: 1_000_000, hubMs: 3_000_100, receivedUs: 1_300_000)
        clock.add(sentUs: 2_000_000, hubMs: 4_000_001, receivedUs: 2_002_000)
        clock.add(sentUs: 3_000_000, hubMs: 5_000_400, receivedUs: 3_900_000)
        let best = try #require(clock.best)
        #expect(best.rttUs == 2_000)
        // ht 4,000,001 ms is taken at its middle (+500 µs); the pair's midpoint is 2,001,000 µs.
        let offset = try #require(clock.offsetUs)
        #expect(offset == Int64(3_998_000_500))
        #expect(clock.errorBoundUs == 1_500)
    }

    @Test func oldPairsLeaveTheWindow() {
        var clock = HubClockEstimator(window: 2)
        clock.add(sentUs: 0, hubMs: 10, receivedUs: 100)
        clock.add(sentUs: 1_000, hubMs: 11, receivedUs: 3_000)
        clock.add(sentUs: 5_000, hubMs: 15, receivedUs: 8_000)
        #expect(clock.best?.rttUs == 2_000)
        #expect(clock.count == 3)
    }

    @Test func negativeRoundTripsAreIgnoredAndNothingMeansNil() {
        var clock = HubClockEstimator()
        #expect(clock.offsetUs == nil && clock.errorBoundUs == nil)
        clock.add(sentUs: 10, hubMs: 1, receivedUs: 5)
        #expect(clock.offsetUs == nil)
    }
}
