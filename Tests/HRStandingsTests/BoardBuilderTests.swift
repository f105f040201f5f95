import HRProtocol
import HRStandings
import Testing

/// A class's `BoardBuilder` across ticks: entries encoded again only when what they show changed, and the two ways
/// to a participant's `me`/`near` (ranking snapshot, single lookup) giving the same bytes and digest.
@Suite struct BoardBuilderTests {
    /// 30 riders `r0`…`r29`, each 2 samples, zone by index (so points and ranks differ).
    func standings() -> ClassStandings {
        var result = ClassStandings()
        for index in 0..<30 {
            for seq: UInt32 in 1...2 {
                result.record(recorded("r\(index)", seq: seq, ts: Int64(seq) * 1_000 + Int64(index), zone: UInt8(1 + index % 5)))
            }
        }
        return result
    }

    @Test func aTickWithNothingChangedEncodesNothingAndAChangedReadingOnlyItsRider() throws {
        let standings = standings()
        let builder = BoardBuilder()
        var bpm: [String: UInt8] = [:]
        for index in 0..<30 { bpm["r\(index)"] = 100 }
        var first = builder.tick(at: 1_000, standings: standings) { _, p in (bpm: bpm[p]!, zone: 2) }
        let top = first.top(10)
        var digests: [UInt64] = []
        for index in 0..<30 {
            let rider = try #require(first.riderIndex(of: "r\(index)"))
            digests.append(first.suffixDigest(rider: rider))
        }
        #expect(builder.entriesEncoded == 30, "each rider's entry once, however many boards list it")

        var second = builder.tick(at: 2_000, standings: standings) { _, p in (bpm: bpm[p]!, zone: 2) }
        #expect(second.top(10).digest == top.digest)
        #expect(second.top(10).bytes != top.bytes, "`at` moved")
        for index in 0..<30 {
            #expect(second.suffixDigest(rider: try #require(second.riderIndex(of: "r\(index)"))) == digests[index])
        }
        #expect(builder.entriesEncoded == 30, "nothing shown changed: nothing encoded again")

        let moved = try #require(standings.rank(of: "r7"))
        bpm["r7"] = 101
        var third = builder.tick(at: 3_000, standings: standings) { _, p in (bpm: bpm[p]!, zone: 2) }
        var changed: [Int] = []
        for index in 0..<30 {
            let rider = try #require(third.riderIndex(of: "r\(index)"))
            if third.suffixDigest(rider: rider) != digests[index] { changed.append(index) }
        }
        #expect(builder.entriesEncoded == 31, "only r7's entry")
        // Exactly the boards that list r7: its own and those of up to 2 ranks either side.
        let listing = (0..<30).filter { abs(standings.rank(of: "r\($0)")! - moved) <= 2 }
        #expect(changed == listing)
    }

    @Test func snapshotAndSingleSuffixesAreTheSame() throws {
        let standings = standings()
        let live: (Int32, String) -> LiveReading? = { rider, p in rider % 3 == 0 ? nil : (bpm: UInt8(p.utf8.count + 90), zone: 4) }
        var viaSnapshot = BoardBuilder().tick(at: 5, standings: standings, live: live)
        var single = BoardBuilder().tick(at: 5, standings: standings, live: live)
        for index in 0..<30 {
            let p = "r\(index)"
            let rider = try #require(viaSnapshot.riderIndex(of: p))
            let part = viaSnapshot.suffix(rider: rider)
            #expect(part == single.suffix(for: p))
            #expect(part.digest == viaSnapshot.suffixDigest(rider: rider))
            // And what the encoder writes for the whole message.
            let board = viaSnapshot.board(top: 3, for: p)
            let spliced = [UInt8(ascii: "[")] + viaSnapshot.top(3).bytes + part.bytes + [UInt8(ascii: "]")]
            #expect(spliced == HubFrameEncoder.frame([.board(board)]))
        }
    }
}
