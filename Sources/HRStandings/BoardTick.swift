import HRProtocol

/// The `board` messages of one class for one tick, built lazily and shared.
///
/// A `board` frame for a connection is `[` + `top(n).bytes` + (`suffix(for: p)?.bytes` or `}`) + `]`: the top part
/// is encoded once per `board` value and shared by every connection with that value; only a ranked participant's
/// `me`/`near` suffix is their own, spliced from entries each encoded once per tick. Each part carries a digest of
/// its content (without `at`): send a connection a board only when its top digest or its suffix digest differs from
/// the last one it was sent.
///
/// A tick shares the standings' storage: drop it before recording more samples, or the next `record` copies the
/// standings.
public struct BoardTick {
    /// Hub time of the tick, Unix ms.
    public let at: Int64
    /// How many riders are ranked.
    public let n: Int
    private let standings: ClassStandings
    private let live: (String) -> LiveReading?
    private var tops: [Int: BoardPart] = [:]
    /// Made on the first `suffix` call: rider indices in rank order, each rider's 0-based rank, and per rank the
    /// encoded entry (a range of `entryBytes`, `-1` until encoded) and its digest.
    private var ranking: [Int32] = []
    private var rankOf: [Int32] = []
    private var entryStart: [Int32] = []
    private var entryEnd: [Int32] = []
    private var entryDigest: [UInt64] = []
    private var entryBytes: [UInt8] = []
    private var scratch: [ArraySlice<UInt8>] = []

    init(at: Int64, standings: ClassStandings, live: @escaping (String) -> LiveReading?) {
        self.at = at
        n = standings.count
        self.standings = standings
        self.live = live
    }

    /// The shared part for connections with `board` = `count` (1...100): `{"t":"board","at","n","top":[…]`, an
    /// object left open.
    public mutating func top(_ count: Int) -> BoardPart {
        if let part = tops[count] { return part }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(48 + 72 * max(0, min(count, n)))
        HubFrameEncoder.appendBoardPrefix(at: at, n: n, top: standings.top(count).map(withLive), to: &bytes)
        // The digest leaves `at` out: it starts at the comma before "n" (the digits of `at` hold no comma).
        let from = bytes[16...].firstIndex(of: UInt8(ascii: ",")) ?? 0
        let part = BoardPart(bytes: bytes, digest: BoardPart.digest(bytes[from...]))
        tops[count] = part
        return part
    }

    /// The closing part for participant `p`: `,"me":{…},"near":[…]}`; nil when `p` is not ranked (then close the
    /// object with `}`).
    public mutating func suffix(for participant: String) -> BoardPart? {
        guard let rider = standings.riderIndex(of: participant) else { return nil }
        if ranking.isEmpty {
            prepareRanking()
        }
        let rank = Int(rankOf[Int(rider)])
        let listed = max(0, rank - 2)..<min(n, rank + 3)
        for other in listed where entryStart[other] < 0 {
            encodeEntry(rank: other)
        }
        // Slices of `entryBytes` are taken only now, after the last append (a live slice would make an append copy).
        var digest = BoardPart.fnvOffset
        scratch.removeAll(keepingCapacity: true)
        for other in listed {
            digest = BoardPart.combine(digest, entryDigest[other])
            if other != rank {
                scratch.append(entryBytes[Int(entryStart[other])..<Int(entryEnd[other])])
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32 + Int(entryEnd[rank] - entryStart[rank]) * (listed.count + 1))
        HubFrameEncoder.appendBoardSuffix(
            encodedMe: entryBytes[Int(entryStart[rank])..<Int(entryEnd[rank])], encodedNear: scratch, to: &bytes)
        scratch.removeAll(keepingCapacity: true)
        return BoardPart(bytes: bytes, digest: digest)
    }

    /// The whole message for one connection, as `HubMessage.board` (for tests and tools; the relay splices parts).
    public func board(top count: Int, for participant: String?) -> Board {
        var board = Board(at: at, n: n, top: standings.top(count).map(withLive))
        if let participant, let near = standings.near(participant) {
            board.me = withLive(near.me)
            board.near = near.near.map(withLive)
        }
        return board
    }

    private mutating func prepareRanking() {
        ranking = standings.ranking()
        rankOf = Array(repeating: 0, count: ranking.count)
        for (rank, index) in ranking.enumerated() {
            rankOf[Int(index)] = Int32(rank)
        }
        entryStart = Array(repeating: -1, count: n)
        entryEnd = Array(repeating: -1, count: n)
        entryDigest = Array(repeating: 0, count: n)
        entryBytes.reserveCapacity(72 * min(n, 4_096))
    }

    private mutating func encodeEntry(rank: Int) {
        // No method of `self` is called here: each such call copied the whole tick (measured).
        var entry = standings.entry(ranking[rank], rank: rank + 1)
        if let reading = live(entry.p) {
            entry.bpm = reading.bpm
            entry.zone = reading.zone
        }
        let start = entryBytes.count
        HubFrameEncoder.appendBoardEntry(entry, to: &entryBytes)
        entryStart[rank] = Int32(start)
        entryEnd[rank] = Int32(entryBytes.count)
        entryDigest[rank] = BoardPart.digest(entryBytes[start...])
    }

    private func withLive(_ entry: BoardEntry) -> BoardEntry {
        guard let reading = live(entry.p) else { return entry }
        var entry = entry
        entry.bpm = reading.bpm
        entry.zone = reading.zone
        return entry
    }
}

/// Encoded bytes of part of a `board` message and a digest of what it shows.
public struct BoardPart: Sendable, Equatable {
    /// The JSON bytes.
    public let bytes: [UInt8]
    /// A 64-bit hash of the content: equal content, equal digest; a different digest means the content changed.
    public let digest: UInt64

    static let fnvOffset: UInt64 = 0xcbf2_9ce4_8422_2325

    /// FNV-1a over `bytes`.
    static func digest(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var hash = fnvOffset
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// An ordered combination of digests (SplitMix64's finaliser over the running hash and the next digest).
    static func combine(_ hash: UInt64, _ next: UInt64) -> UInt64 {
        var z = (hash ^ next) &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
