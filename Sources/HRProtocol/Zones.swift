/// Heart-rate zones from `pct` (% of hrmax), as relayed in `hr` messages.
public enum Zones {
    /// round(100 × bpm / hrmax) with halves rounded up, in integer arithmetic; nil when `hrmax` is unknown
    /// (or not positive) or `bpm` is 0 ("no reading" never gets a zone).
    public static func pct(bpm: UInt8, hrmax: Int?) -> Int? {
        guard let hrmax, hrmax > 0, bpm > 0 else { return nil }
        // round(x / y) for x, y > 0, halves up: floor((2x + y) / 2y).
        return (200 * Int(bpm) + hrmax) / (2 * hrmax)
    }

    /// The zone (1...5) of `pct` under `table` (by default 1: <60, 2: 60–69, 3: 70–79, 4: 80–89, 5: ≥90).
    public static func zone(pct: Int, table: ZoneTable = .standard) -> Int {
        table.zone(pct: pct)
    }
}

/// The lower bounds, in % of hrmax, of zones 2, 3, 4 and 5 (zone 1 is everything below the first).
public struct ZoneTable: Sendable, Equatable {
    /// Four strictly increasing lower bounds: of zones 2, 3, 4 and 5.
    public let lowerBounds: [Int]

    /// The documented default: zone 2 from 60 %, 3 from 70 %, 4 from 80 %, 5 from 90 %.
    public static let standard = ZoneTable(uncheckedLowerBounds: [60, 70, 80, 90])

    /// A table from the lower bounds of zones 2, 3, 4 and 5; nil unless there are exactly four, strictly increasing.
    public init?(lowerBounds: [Int]) {
        guard lowerBounds.count == 4, zip(lowerBounds, lowerBounds.dropFirst()).allSatisfy({ $0 < $1 }) else {
            return nil
        }
        self.lowerBounds = lowerBounds
    }

    private init(uncheckedLowerBounds: [Int]) {
        lowerBounds = uncheckedLowerBounds
    }

    /// The zone (1...5) of `pct`: 1 plus the number of lower bounds at or below it.
    public func zone(pct: Int) -> Int {
        var zone = 1
        for bound in lowerBounds where pct >= bound {
            zone += 1
        }
        return zone
    }
}
