/// One line of `GET /v1/classes/{classId}/leaderboard`.
public struct LeaderboardRow: Sendable, Equatable {
    /// Participant id.
    public var p: String
    /// The rider's display name (`hello`), when known.
    public var name: String?
    /// 1-based rank.
    public var rank: Int
    /// Points in tenths, rounded half away from zero.
    public var pointsTenths: Int64

    /// Creates a row.
    public init(p: String, name: String?, rank: Int, pointsTenths: Int64) {
        self.p = p
        self.name = name
        self.rank = rank
        self.pointsTenths = pointsTenths
    }
}

/// One rider of `GET /v1/classes/{classId}/summary`: the whole ride in numbers.
public struct RiderSummary: Sendable, Equatable {
    /// Participant id.
    public var p: String
    /// The rider's display name (`hello`), when known.
    public var name: String?
    /// Recorded samples.
    public var samples: Int
    /// Smallest and largest `ts` of the recorded samples.
    public var firstTs: Int64
    public var lastTs: Int64
    /// Mean of the non-zero bpm, rounded half away from zero; 0 when every sample had bpm 0 ("no reading").
    public var avgBpm: Int
    /// Largest bpm.
    public var maxBpm: Int
    /// Seconds in zones 1...5 (the capped intervals that earn points), in tenths, rounded half away from zero.
    public var zoneTenths: [Int64]
    /// Points in tenths, rounded half away from zero.
    public var pointsTenths: Int64
    /// 1-based rank.
    public var rank: Int

    /// Creates a summary line.
    public init(
        p: String, name: String?, samples: Int, firstTs: Int64, lastTs: Int64, avgBpm: Int, maxBpm: Int,
        zoneTenths: [Int64], pointsTenths: Int64, rank: Int
    ) {
        self.p = p
        self.name = name
        self.samples = samples
        self.firstTs = firstTs
        self.lastTs = lastTs
        self.avgBpm = avgBpm
        self.maxBpm = maxBpm
        self.zoneTenths = zoneTenths
        self.pointsTenths = pointsTenths
        self.rank = rank
    }
}

/// The JSON bodies of the standings endpoints (PROTOCOL.md, "Standings: the live leaderboard"). Fields in the order
/// of the protocol; `name` only when known; points and zone seconds with exactly one decimal.
public enum StandingsJSON {
    /// `{"at":…,"n":…,"entries":[{"p","name"?,"rank","points"}…]}`.
    public static func leaderboard(at: Int64, n: Int, entries: [LeaderboardRow]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(48 + 64 * entries.count)
        out.appendLiteral(#"{"at":"#)
        out.appendDecimal(at)
        out.appendLiteral(#","n":"#)
        out.appendDecimal(n)
        out.appendLiteral(#","entries":["#)
        for (index, row) in entries.enumerated() {
            if index > 0 { out.append(0x2C) }
            out.appendLiteral(#"{"p":"#)
            out.appendJSONString(row.p)
            out.appendName(row.name)
            out.appendLiteral(#","rank":"#)
            out.appendDecimal(row.rank)
            out.appendLiteral(#","points":"#)
            out.appendTenths(row.pointsTenths)
            out.append(0x7D)
        }
        out.appendLiteral("]}")
        return out
    }

    /// `[{"p","name"?,"samples","first_ts","last_ts","avg_bpm","max_bpm","zone_seconds":[z1…z5],"points","rank"}…]`,
    /// in the order given (the caller sorts by rank).
    public static func summary(_ riders: [RiderSummary]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(2 + 200 * riders.count)
        out.append(0x5B)
        for (index, rider) in riders.enumerated() {
            if index > 0 { out.append(0x2C) }
            out.appendLiteral(#"{"p":"#)
            out.appendJSONString(rider.p)
            out.appendName(rider.name)
            out.appendLiteral(#","samples":"#)
            out.appendDecimal(rider.samples)
            out.appendLiteral(#","first_ts":"#)
            out.appendDecimal(rider.firstTs)
            out.appendLiteral(#","last_ts":"#)
            out.appendDecimal(rider.lastTs)
            out.appendLiteral(#","avg_bpm":"#)
            out.appendDecimal(rider.avgBpm)
            out.appendLiteral(#","max_bpm":"#)
            out.appendDecimal(rider.maxBpm)
            out.appendLiteral(#","zone_seconds":["#)
            for (zone, tenths) in rider.zoneTenths.enumerated() {
                if zone > 0 { out.append(0x2C) }
                out.appendTenths(tenths)
            }
            out.appendLiteral(#"],"points":"#)
            out.appendTenths(rider.pointsTenths)
            out.appendLiteral(#","rank":"#)
            out.appendDecimal(rider.rank)
            out.append(0x7D)
        }
        out.append(0x5D)
        return out
    }
}

extension Array where Element == UInt8 {
    /// `,"name":"…"` when `name` is known.
    fileprivate mutating func appendName(_ name: String?) {
        if let name {
            appendLiteral(#","name":"#)
            appendJSONString(name)
        }
    }
}
