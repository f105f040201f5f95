import HRProtocol

/// The standings of one class: every rider's tally and their rank, fed only with what the record committed as new
/// (live samples and backfills alike, in any order). Pure and deterministic: feeding the same recorded samples in
/// any order (a restart replaying the record, say) gives the same points, ranks and summaries.
///
/// Ranks are 1-based: points descending (exact values), ties by participant id ascending (byte order); every rider
/// with a recorded sample is ranked, 0 points included.
public struct ClassStandings: Sendable {
    /// The zone multipliers points are computed with.
    public let points: ZonePoints
    private var riderIndex: [String: Int32] = [:]
    private var tallies: [RiderTally] = []
    private var order = StandingsOrder()

    /// Empty standings.
    public init(points: ZonePoints = .standard) {
        self.points = points
    }

    /// How many riders are ranked.
    public var count: Int { order.count }

    /// Counts one newly recorded sample (the record's `classID` is not looked at: one `ClassStandings` per class).
    /// Returns false, changing nothing, when this (participant, seq) was already counted.
    @discardableResult
    public mutating func record(_ recorded: RecordedSample) -> Bool {
        record(participant: recorded.participant, sample: recorded.sample, zone: recorded.zone)
    }

    /// Counts one newly recorded sample of `participant` with the zone it was accepted with.
    /// Returns false, changing nothing, when this (participant, seq) was already counted.
    @discardableResult
    public mutating func record(participant: String, sample: Sample, zone: UInt8?) -> Bool {
        let rider: Int32
        if let known = riderIndex[participant] {
            rider = known
        } else {
            rider = order.add(id: participant)
            riderIndex[participant] = rider
            tallies.append(RiderTally())
        }
        guard tallies[Int(rider)].record(seq: sample.seq, ts: sample.ts, bpm: sample.bpm, zone: zone, points: points)
        else { return false }
        order.setUnits(tallies[Int(rider)].units, of: rider)
        return true
    }

    /// The tally of `participant`, nil when they have no recorded sample.
    public func tally(of participant: String) -> RiderTally? {
        riderIndex[participant].map { tallies[Int($0)] }
    }

    /// The 1-based rank of `participant`, nil when they have no recorded sample.
    public func rank(of participant: String) -> Int? {
        riderIndex[participant].map { order.rank(of: $0) + 1 }
    }

    /// Up to `limit` entries from 0-based position `offset` on, in rank order (no `bpm`/`zone`: those are live).
    public func page(offset: Int, limit: Int) -> [BoardEntry] {
        order.riders(from: offset, limit: limit).enumerated().map { position, rider in
            entry(rider, rank: offset + position + 1)
        }
    }

    /// The first `count` ranks.
    public func top(_ count: Int) -> [BoardEntry] {
        page(offset: 0, limit: count)
    }

    /// `participant`'s own entry and up to 2 riders above and 2 below, in rank order; nil when not ranked.
    public func near(_ participant: String) -> (me: BoardEntry, near: [BoardEntry])? {
        guard let rider = riderIndex[participant] else { return nil }
        let rank = order.rank(of: rider)
        let start = max(0, rank - 2)
        var near = page(offset: start, limit: rank + 3 - start)
        let me = near.remove(at: rank - start)
        return (me, near)
    }

    /// The standings for one `board` tick at hub time `at`, with a builder of its own (a relay keeps one
    /// `BoardBuilder` per class instead, so entries are encoded again only when they change). `live` gives a
    /// rider's newest live reading (bpm and zone), nil when there is none to show; it is asked only for the riders a
    /// board lists.
    public func board(at: Int64, live: @escaping (String) -> LiveReading?) -> BoardTick {
        BoardBuilder().tick(at: at, standings: self) { _, p in live(p) }
    }

    /// The body of `GET /v1/classes/{classId}/leaderboard`: one page of the standings, with `name` from `name`.
    public func leaderboard(at: Int64, query: LeaderboardQuery, name: (String) -> String?) -> [UInt8] {
        let rows = page(offset: query.offset, limit: query.limit).map {
            LeaderboardRow(p: $0.p, name: name($0.p), rank: $0.rank, pointsTenths: $0.pointsTenths)
        }
        return StandingsJSON.leaderboard(at: at, n: count, entries: rows)
    }

    /// Every rider's summary, in rank order.
    public func summaries(name: (String) -> String?) -> [RiderSummary] {
        order.all().enumerated().map { position, rider in
            let tally = tallies[Int(rider)]
            let id = order.ids[Int(rider)]
            return RiderSummary(
                p: id, name: name(id), samples: tally.samples, firstTs: tally.firstTs, lastTs: tally.lastTs,
                avgBpm: tally.avgBpm, maxBpm: Int(tally.maxBpm), zoneTenths: tally.zoneTenths,
                pointsTenths: tally.pointsTenths, rank: position + 1)
        }
    }

    /// The body of `GET /v1/classes/{classId}/summary`.
    public func summary(name: (String) -> String?) -> [UInt8] {
        StandingsJSON.summary(summaries(name: name))
    }

    /// Every ranked rider index, in rank order, into `ranking` (its storage reused).
    func fillRanking(_ ranking: inout [Int32]) { order.fill(&ranking) }

    /// The rider indices of the first `count` ranks.
    func topRiders(_ count: Int) -> [Int32] { order.riders(from: 0, limit: count) }

    /// The rider indices a `near` around `rider` lists, `rider` included, in rank order, and the 0-based rank of
    /// the first.
    func listed(around rider: Int32) -> (first: Int, riders: [Int32]) {
        let rank = order.rank(of: rider)
        let first = max(0, rank - 2)
        return (first, order.riders(from: first, limit: rank + 3 - first))
    }

    /// The id of rider index `rider`.
    func id(of rider: Int32) -> String { order.ids[Int(rider)] }

    /// The points of rider index `rider`, in tenths.
    func tenths(of rider: Int32) -> Int64 { RiderTally.tenths(units: order.units[Int(rider)]) }

    /// The entry of rider index `rider` at 1-based `rank`, without live fields.
    func entry(_ rider: Int32, rank: Int) -> BoardEntry {
        BoardEntry(
            p: order.ids[Int(rider)], rank: rank, pointsTenths: RiderTally.tenths(units: order.units[Int(rider)]))
    }

    /// The rider index of `participant` (dense, from 0, in order of first recorded sample; stable for the life of
    /// these standings), nil when not ranked.
    public func riderIndex(of participant: String) -> Int32? { riderIndex[participant] }
}

/// A rider's newest live reading as a board shows it.
public typealias LiveReading = (bpm: UInt8, zone: Int?)
