/// One rider's line on a leaderboard (`board` messages, PROTOCOL.md "Standings: the live leaderboard").
public struct BoardEntry: Sendable, Equatable {
    /// Participant id.
    public var p: String
    /// 1-based rank: points descending, ties by participant id ascending (byte order).
    public var rank: Int
    /// Points in tenths, already rounded half away from zero (`points` on the wire is this / 10, one decimal).
    public var pointsTenths: Int64
    /// The rider's newest live sample's bpm, when the hub has one to show.
    public var bpm: UInt8?
    /// The zone (1...5) of that sample, when it has one.
    public var zone: Int?

    /// Creates an entry.
    public init(p: String, rank: Int, pointsTenths: Int64, bpm: UInt8? = nil, zone: Int? = nil) {
        self.p = p
        self.rank = rank
        self.pointsTenths = pointsTenths
        self.bpm = bpm
        self.zone = zone
    }
}

/// The content of a `board` message: the first ranks for everyone, plus `me` and `near` for a participant.
public struct Board: Sendable, Equatable {
    /// Hub time the standings were read at, Unix ms.
    public var at: Int64
    /// How many riders are ranked.
    public var n: Int
    /// The first ranks, in rank order.
    public var top: [BoardEntry]
    /// The viewing participant's own entry, once they are ranked (then `near` is written too).
    public var me: BoardEntry?
    /// Up to 2 riders above and 2 below `me`, in rank order (without `me`).
    public var near: [BoardEntry]

    /// Creates a board; `me` and `near` default to absent (a viewer's board).
    public init(at: Int64, n: Int, top: [BoardEntry], me: BoardEntry? = nil, near: [BoardEntry] = []) {
        self.at = at
        self.n = n
        self.top = top
        self.me = me
        self.near = near
    }
}
