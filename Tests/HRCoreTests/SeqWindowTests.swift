import HRCore
import Testing

@Suite struct SeqWindowTests {
    @Test func emptyWindowHasSeenNothing() {
        let window = SeqWindow()
        #expect(window.highest == nil)
        #expect(!window.contains(0))
        #expect(!window.contains(UInt32.max))
    }

    @Test func tellsDuplicatesFromNeverSeenOlderSeqs() {
        var window = SeqWindow()
        for seq: UInt32 in [10, 11, 13] { window.insert(seq) }
        #expect(window.highest == 13)
        for seq: UInt32 in [10, 11, 13] { #expect(window.contains(seq)) }
        for seq: UInt32 in [9, 12, 14, 1_000] { #expect(!window.contains(seq)) }
        window.insert(12)
        #expect(window.contains(12))
        #expect(window.highest == 13, "an older seq does not move the top")
        window.insert(12)
        #expect(window.contains(12))
    }

    @Test func windowEdge() {
        var window = SeqWindow()
        window.insert(1_000)
        let edge = 1_000 - SeqWindow.width + 1  // the oldest seq the window still tracks
        #expect(!window.contains(edge))
        window.insert(edge)
        #expect(window.contains(edge))
        #expect(!window.contains(edge + 1))
        // One below the window: counted as seen (too old to relay), and inserting it changes nothing.
        #expect(window.contains(edge - 1))
        window.insert(edge - 1)
        #expect(window.highest == 1_000)
        #expect(!window.contains(edge + 1))
    }

    @Test func slidingKeepsBitsThatStayInside() {
        var window = SeqWindow()
        window.insert(100)
        window.insert(90)
        window.insert(100 + SeqWindow.width - 1)  // 100 is now at the far edge
        #expect(window.contains(100))
        #expect(!window.contains(101))
        #expect(window.contains(90), "slid out of the window: too old")
        window.insert(100 + SeqWindow.width)  // and now 100 slid out too
        #expect(window.contains(100))
        #expect(!window.contains(101))
    }

    @Test(arguments: [UInt32(128), 129, 1_000, 4_000_000_000])
    func bigJumpsResetTheBitmap(jump: UInt32) {
        var window = SeqWindow()
        for seq: UInt32 in 1...5 { window.insert(seq) }
        window.insert(5 + jump)
        #expect(window.highest == 5 + jump)
        #expect(window.contains(5 + jump))
        #expect(!window.contains(5 + jump - 1))
        #expect(!window.contains(5 + jump - 2))
        #expect(window.contains(5), "older than the window")
    }

    @Test func jumpJustInsideTheWindowKeepsTheOldTop() {
        var window = SeqWindow()
        window.insert(5)
        window.insert(5 + SeqWindow.width - 1)
        #expect(window.contains(5))
        #expect(!window.contains(6))
    }

    @Test func seqZeroAndMax() {
        var window = SeqWindow()
        window.insert(0)
        #expect(window.contains(0))
        #expect(!window.contains(1))
        window.insert(UInt32.max)
        #expect(window.highest == UInt32.max)
        #expect(window.contains(UInt32.max))
        #expect(!window.contains(UInt32.max - 1))
    }

    @Test func equalWindowsForEqualHistories() {
        var a = SeqWindow()
        var b = SeqWindow()
        for seq: UInt32 in [3, 1, 2] { a.insert(seq) }
        for seq: UInt32 in [1, 2, 3, 2] { b.insert(seq) }
        #expect(a == b)
    }
}
