import HRCore
import Testing

@Suite struct ClockOffsetEstimatorTests {
    @Test func zeroBeforeAnyObservation() {
        #expect(ClockOffsetEstimator().offset == 0)
    }

    @Test func minimumOverTheWindow() {
        var clock = ClockOffsetEstimator(windowMs: 60_000)
        clock.observe(ts: 1_000, arrivalMs: 1_080)
        #expect(clock.offset == 80)
        clock.observe(ts: 2_000, arrivalMs: 2_030)
        #expect(clock.offset == 30)
        clock.observe(ts: 3_000, arrivalMs: 3_500)
        #expect(clock.offset == 30, "a slow sample does not raise the estimate")
        clock.observe(ts: 4_000, arrivalMs: 4_031)
        #expect(clock.offset == 30)
    }

    @Test(arguments: [Int64(3_600_000), -3_600_000, 0])
    func clocksOffByAnHour(skew: Int64) {
        // The device's clock reads `hub time + skew`; the network takes 40…90 ms.
        var clock = ClockOffsetEstimator()
        let delays: [Int64] = [90, 55, 40, 70, 61]
        for (index, delay) in delays.enumerated() {
            let hubCapture = 1_700_000_000_000 + Int64(index) * 1_000
            clock.observe(ts: hubCapture + skew, arrivalMs: hubCapture + delay)
        }
        #expect(clock.offset == 40 - skew)
        // So the capture time on the hub's clock is off by the fastest delay only, whatever the skew.
        let ts = 1_700_000_010_000 + skew
        #expect(ts + clock.offset == 1_700_000_010_040)
    }

    @Test func oldMinimaExpireWithTheWindow() {
        var clock = ClockOffsetEstimator(windowMs: 10_000)
        clock.observe(ts: 0, arrivalMs: 10)  // offset 10 at t=10
        clock.observe(ts: 5_000, arrivalMs: 5_050)  // 50
        clock.observe(ts: 9_000, arrivalMs: 9_100)  // 100
        #expect(clock.offset == 10)
        clock.observe(ts: 10_000, arrivalMs: 10_009)  // 9: a new minimum
        #expect(clock.offset == 9)
        clock.observe(ts: 19_809, arrivalMs: 20_009)  // 200 at t=20 009: the 9 is exactly 10 000 ms old…
        #expect(clock.offset == 9, "…and still inside")
        clock.observe(ts: 19_810, arrivalMs: 20_010)
        #expect(clock.offset == 200)
    }

    @Test func expiryFallsBackToTheNextSmallestStillInTheWindow() {
        var clock = ClockOffsetEstimator(windowMs: 10_000)
        clock.observe(ts: 0, arrivalMs: 20)  // 20 at t=20
        clock.observe(ts: 4_000, arrivalMs: 4_060)  // 60 at t=4 060
        clock.observe(ts: 8_000, arrivalMs: 8_040)  // 40 at t=8 040: drops the 60
        clock.observe(ts: 9_925, arrivalMs: 10_015)  // 90 at t=10 015
        #expect(clock.offset == 20)
        clock.observe(ts: 12_000, arrivalMs: 12_100)  // 100 at t=12 100: the 20 from t=20 expired
        #expect(clock.offset == 40)
        clock.observe(ts: 19_000, arrivalMs: 19_300)  // 300 at t=19 300: the 40 from t=8 040 expired
        #expect(clock.offset == 90)
    }
}
