import HRProtocol

/// The `board` messages of one class for one tick, built lazily and shared.
///
/// A `board` frame for a connection is `[` + `top(n).bytes` + (`suffix(…)?.bytes` or `}`) + `]`: the top part is
/// encoded once per `board` value and shared by every connection with that value; only a ranked participant's
/// `me`/`near` suffix is their own, spliced from entries each encoded once (and again only when what they show
/// changed: `BoardBuilder`). Each part carries a digest of its content (without `at`): send a connection a board
/// only when its top digest or its suffix digest differs from the last one it was sent; `suffixDigest(rider:)`
/// gives the suffix's digest without building it.
///
/// A tick shares the standings' storage: drop it before recording more samples, or the next `record` copies the
/// standings.
public struct BoardTick {
    /// Hub time of the tick, Unix ms.
    public let at: Int64
    /// How many riders are ranked.
    public let n: Int
    private let standings: ClassStandings
    private let builder: BoardBuilder
    private let live: (Int32, String) -> LiveReading?

    init(at: Int64, standings: ClassStandings, builder: BoardBuilder, live: @escaping (Int32, String) -> LiveReading?) {
        self.at = at
        n = standings.count
        self.standings = standings
        self.builder = builder
        self.live = live
    }

    /// The shared part for connections with `board` = `count` (1...100): `{"t":"board","at","n","top":[…]`, an
    /// object left open.
    public mutating func top(_ count: Int) -> BoardPart {
        builder.top(count, at: at, standings: standings, live: live)
    }

    /// The rider index of `participant` in these standings (stable for the standings' life: cache it), nil when
    /// not ranked.
    public func riderIndex(of participant: String) -> Int32? {
        standings.riderIndex(of: participant)
    }

    /// The digest of rider `rider`'s `me`/`near` part, without building its bytes. The first call of a tick takes
    /// a ranking snapshot (O(riders)); then each is O(1) plus the entries it lists that are new to the tick.
    public mutating func suffixDigest(rider: Int32) -> UInt64 {
        builder.suffixDigest(rider: rider, standings: standings, live: live)
    }

    /// The closing part for rider `rider` (ranked): `,"me":{…},"near":[…]}`, from the ranking snapshot.
    public mutating func suffix(rider: Int32) -> BoardPart {
        builder.suffix(rider: rider, standings: standings, live: live)
    }

    /// The closing part for participant `p`: `,"me":{…},"near":[…]}`; nil when `p` is not ranked (then close the
    /// object with `}`). Takes no ranking snapshot (O(log riders)): for one connection's board, and for tests.
    public mutating func suffix(for participant: String) -> BoardPart? {
        guard let rider = standings.riderIndex(of: participant) else { return nil }
        return builder.singleSuffix(rider: rider, standings: standings, live: live)
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

    private func withLive(_ entry: BoardEntry) -> BoardEntry {
        guard let rider = standings.riderIndex(of: entry.p), let reading = live(rider, entry.p) else { return entry }
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
