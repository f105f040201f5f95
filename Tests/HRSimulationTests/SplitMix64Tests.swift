import Testing

@testable import HRSimulation

@Suite struct SplitMix64Tests {
    @Test func matchesTheReferenceOutputForSeedZero() {
        var rng = SplitMix64(seed: 0)
        #expect(rng.next() == 0xE220_A839_7B1D_CDAF)
        #expect(rng.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(rng.next() == 0x06C4_5D18_8009_454F)
    }

    @Test func sameSeedSameSequenceDifferentSeedDifferentSequence() {
        var a = SplitMix64(seed: 123)
        var b = SplitMix64(seed: 123)
        var c = SplitMix64(seed: 124)
        let first = (0..<100).map { _ in a.next() }
        #expect(first == (0..<100).map { _ in b.next() })
        #expect(first != (0..<100).map { _ in c.next() })
    }

    @Test func streamsOfOneSeedDiffer() {
        var a = SplitMix64(seed: 9, stream: 0)
        var b = SplitMix64(seed: 9, stream: 1)
        #expect(a.next() != b.next())
    }

    @Test func drawsStayInRangeAndLookUniform() {
        var rng = SplitMix64(seed: 5)
        var sum = 0.0
        var sumOfSquares = 0.0
        let count = 20_000
        for _ in 0..<count {
            let unit = rng.nextUnit()
            #expect(unit >= 0 && unit < 1)
            let index = rng.nextIndex(below: 7)
            #expect((0..<7).contains(index))
            let value = rng.nextInt64(in: -3...3)
            #expect((-3...3).contains(value))
            let gaussian = rng.nextGaussian()
            sum += gaussian
            sumOfSquares += gaussian * gaussian
        }
        let mean = sum / Double(count)
        let variance = sumOfSquares / Double(count) - mean * mean
        #expect(abs(mean) < 0.05)
        #expect(abs(variance - 1) < 0.05)
    }

    @Test func worksWithTheStandardLibrary() {
        var rng = SplitMix64(seed: 1)
        let roll = Int.random(in: 1...6, using: &rng)
        #expect((1...6).contains(roll))
    }
}
