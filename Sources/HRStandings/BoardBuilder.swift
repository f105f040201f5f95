import HRProtocol

/// What one class's `board` ticks keep from one tick to the next, so a tick costs what changed: every rider's
/// encoded entry (`{"p":…,"rank":…,"points":…,"bpm":…,"zone":…}`) and its digest, encoded again only when its rank,
/// points (in tenths) or live reading changed; and the buffers of the ranking snapshot, reused.
///
/// One builder per class and per `ClassStandings` (rider indices are the standings'): make a new one when the
/// standings are replaced. `tick(at:standings:live:)` starts a tick; the `BoardTick` it returns holds the standings
/// for the tick only (drop it before recording more samples, or the next `record` copies the standings). Not
/// thread-safe; not `Sendable`.
public final class BoardBuilder {
    /// Ticks started; an entry checked during tick `tickNumber` is current for it.
    private var tickNumber: UInt32 = 0
    /// Rider indices in rank order and each rider's 0-based rank, valid while `snapshotTick == tickNumber`.
    private var ranking: [Int32] = []
    private var rankOf: [Int32] = []
    private var snapshotTick: UInt32 = 0
    /// The shared part per `board` value, this tick.
    private var tops: [Int: BoardPart] = [:]
    /// Per rider index: the tick its entry was last checked in, what the entry shows (rank, tenths, live bpm and
    /// zone as `liveKey`), its bytes and their digest.
    private var checkedTick: [UInt32] = []
    private var shownRank: [Int32] = []
    private var shownTenths: [Int64] = []
    private var shownLive: [Int32] = []
    private var entryDigest: [UInt64] = []
    private var entryBytes: [[UInt8]] = []
    /// Reused by `appendSuffix`; empty between calls (a slice kept would make the next re-encode copy).
    private var nearScratch: [ArraySlice<UInt8>] = []
    private var listedScratch: [Int32] = []

    /// Entries encoded (first time or again) since the builder was made: a measure of what ticks cost.
    public private(set) var entriesEncoded = 0

    /// A builder with nothing encoded yet.
    public init() {}

    /// Starts a tick at hub time `at` (Unix ms). `live` gives a rider's newest live reading (by rider index, as
    /// `BoardTick.riderIndex(of:)` gives it, and id); it is asked once per tick for each rider a board lists.
    public func tick(
        at: Int64, standings: ClassStandings, live: @escaping (Int32, String) -> LiveReading?
    ) -> BoardTick {
        tickNumber &+= 1
        tops.removeAll(keepingCapacity: true)
        let n = standings.count
        if checkedTick.count < n {
            let more = n - checkedTick.count
            checkedTick.append(contentsOf: repeatElement(0, count: more))
            shownRank.append(contentsOf: repeatElement(-1, count: more))
            shownTenths.append(contentsOf: repeatElement(0, count: more))
            shownLive.append(contentsOf: repeatElement(-1, count: more))
            entryDigest.append(contentsOf: repeatElement(0, count: more))
            entryBytes.append(contentsOf: repeatElement([], count: more))
        }
        return BoardTick(at: at, standings: standings, builder: self, live: live)
    }

    // MARK: - For BoardTick

    /// The shared part for `count`, built once per tick.
    func top(_ count: Int, at: Int64, standings: ClassStandings, live: (Int32, String) -> LiveReading?) -> BoardPart {
        if let part = tops[count] { return part }
        let riders = standings.topRiders(count)
        for (position, rider) in riders.enumerated() {
            checkEntry(rider, rank: position + 1, standings: standings, live: live)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(48 + riders.reduce(0) { $0 + entryBytes[Int($1)].count + 1 })
        HubFrameEncoder.appendBoardPrefix(at: at, n: standings.count, encodedTop: riders.map { entryBytes[Int($0)][...] },
            to: &bytes)
        // The digest leaves `at` out: it starts at the comma before "n" (the digits of `at` hold no comma).
        let from = bytes[16...].firstIndex(of: UInt8(ascii: ",")) ?? 0
        let part = BoardPart(bytes: bytes, digest: BoardPart.digest(bytes[from...]))
        tops[count] = part
        return part
    }

    /// The digest of rider `rider`'s `me`/`near` this tick, from the ranking snapshot (taken on the first call of a
    /// tick: O(riders), then O(1) per rider).
    func suffixDigest(rider: Int32, standings: ClassStandings, live: (Int32, String) -> LiveReading?) -> UInt64 {
        let listed = listedFromSnapshot(rider, standings: standings)
        var digest = BoardPart.fnvOffset
        for position in listed {
            let other = ranking[position]
            checkEntry(other, rank: position + 1, standings: standings, live: live)
            digest = BoardPart.combine(digest, entryDigest[Int(other)])
        }
        return digest
    }

    /// Rider `rider`'s `me`/`near` part this tick, from the ranking snapshot.
    func suffix(rider: Int32, standings: ClassStandings, live: (Int32, String) -> LiveReading?) -> BoardPart {
        let digest = suffixDigest(rider: rider, standings: standings, live: live)
        let listed = listedFromSnapshot(rider, standings: standings)
        listedScratch.removeAll(keepingCapacity: true)
        for position in listed { listedScratch.append(ranking[position]) }
        return BoardPart(bytes: appendSuffix(me: rider, listed: listedScratch), digest: digest)
    }

    /// Rider `rider`'s `me`/`near` part without a ranking snapshot (ranks from the ranking itself: O(log riders)), for
    /// a single connection's board. The same bytes and digest as `suffix(rider:…)`.
    func singleSuffix(rider: Int32, standings: ClassStandings, live: (Int32, String) -> LiveReading?) -> BoardPart {
        let (first, listed) = standings.listed(around: rider)
        var digest = BoardPart.fnvOffset
        for (offset, other) in listed.enumerated() {
            checkEntry(other, rank: first + offset + 1, standings: standings, live: live)
            digest = BoardPart.combine(digest, entryDigest[Int(other)])
        }
        return BoardPart(bytes: appendSuffix(me: rider, listed: listed), digest: digest)
    }

    // MARK: - Internals

    /// Positions (0-based ranks) `me`/`near` lists for `rider`: up to 2 above, the rider, up to 2 below.
    private func listedFromSnapshot(_ rider: Int32, standings: ClassStandings) -> Range<Int> {
        if snapshotTick != tickNumber {
            snapshotTick = tickNumber
            standings.fillRanking(&ranking)
            if rankOf.count < ranking.count {
                rankOf.append(contentsOf: repeatElement(0, count: ranking.count - rankOf.count))
            }
            for (rank, index) in ranking.enumerated() {
                rankOf[Int(index)] = Int32(rank)
            }
        }
        let rank = Int(rankOf[Int(rider)])
        return max(0, rank - 2)..<min(ranking.count, rank + 3)
    }

    /// `,"me":{…},"near":[…]}` from the entries of `me` and `listed` (rank order, `me` among them), checked this tick.
    private func appendSuffix(me: Int32, listed: [Int32]) -> [UInt8] {
        nearScratch.removeAll(keepingCapacity: true)
        var size = 32
        for other in listed {
            size += entryBytes[Int(other)].count + 1
            if other != me { nearScratch.append(entryBytes[Int(other)][...]) }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        HubFrameEncoder.appendBoardSuffix(encodedMe: entryBytes[Int(me)][...], encodedNear: nearScratch, to: &bytes)
        nearScratch.removeAll(keepingCapacity: true)
        return bytes
    }

    /// Makes rider `rider`'s entry current for this tick at 1-based `rank`: encoded again only when what it shows
    /// changed since it was last encoded.
    @inline(__always)
    private func checkEntry(
        _ rider: Int32, rank: Int, standings: ClassStandings, live: (Int32, String) -> LiveReading?
    ) {
        let index = Int(rider)
        guard checkedTick[index] != tickNumber else { return }
        checkedTick[index] = tickNumber
        let id = standings.id(of: rider)
        let tenths = standings.tenths(of: rider)
        let reading = live(rider, id)
        let liveKey = reading.map { Int32($0.bpm) << 8 | Int32(truncatingIfNeeded: $0.zone ?? 0) & 0xFF } ?? -1
        if shownRank[index] == Int32(rank), shownTenths[index] == tenths, shownLive[index] == liveKey { return }
        shownRank[index] = Int32(rank)
        shownTenths[index] = tenths
        shownLive[index] = liveKey
        let entry = BoardEntry(p: id, rank: rank, pointsTenths: tenths, bpm: reading?.bpm, zone: reading?.zone)
        entryBytes[index].removeAll(keepingCapacity: true)
        HubFrameEncoder.appendBoardEntry(entry, to: &entryBytes[index])
        entryDigest[index] = BoardPart.digest(entryBytes[index][...])
        entriesEncoded += 1
    }
}
