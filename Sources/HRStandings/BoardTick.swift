import HRProtocol

/// The `board` messages of one class for one tick, built lazily and shared.
///
/// A `board` frame for a connection is `[` + `top(n).bytes` + (`suffix(for: p)?.bytes` or `}`) + `]`: the top part
/// is encoded once per `board` value and shared by every connection with that value; only a ranked participant's
/// `me`/`near` suffix is their own. Each part carries a digest of its content (without `at`): a connection is sent a
/// board only when its top digest or its suffix digest differs from the last one it was sent.
public struct BoardTick {
    /// Hub time of the tick, Unix ms.
    public let at: Int64
    /// How many riders are ranked.
    public let n: Int
    private let standings: ClassStandings
    private let live: (String) -> LiveReading?
    private var tops: [Int: BoardPart] = [:]
    /// Rider indices in rank order and each rider's 0-based rank, made on the first `suffix` call.
    private var ranking: [Int32] = []
    private var rankOf: [Int32] = []

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
        bytes.reserveCapacity(48 + 72 * min(count, n))
        HubFrameEncoder.appendBoardPrefix(
            at: at, n: n, top: standings.top(count).map(withLive), to: &bytes)
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
            ranking = standings.ranking()
            rankOf = Array(repeating: 0, count: ranking.count)
            for (rank, index) in ranking.enumerated() {
                rankOf[Int(index)] = Int32(rank)
            }
        }
        let rank = Int(rankOf[Int(rider)])
        let me = withLive(standings.entry(rider, rank: rank + 1))
        var near: [BoardEntry] = []
        near.reserveCapacity(4)
        for other in max(0, rank - 2)..<min(ranking.count, rank + 3) where other != rank {
            near.append(withLive(standings.entry(ranking[other], rank: other + 1)))
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(400)
        HubFrameEncoder.appendBoardSuffix(me: me, near: near, to: &bytes)
        return BoardPart(bytes: bytes, digest: BoardPart.digest(bytes[...]))
    }

    /// The whole message for one connection, as `HubMessage.board` (for tests and tools; the relay splices parts).
    public mutating func board(top count: Int, for participant: String?) -> Board {
        var board = Board(at: at, n: n, top: standings.top(count).map(withLive))
        if let participant, let near = standings.near(participant) {
            board.me = withLive(near.me)
            board.near = near.near.map(withLive)
        }
        return board
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
    /// FNV-1a (64-bit) of the content: equal content, equal digest; a different digest means the content changed.
    public let digest: UInt64

    static func digest(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
