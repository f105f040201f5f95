/// How many points a minute in each zone earns (`--zone-points`, default 1,2,4,8,8 for zones 1 to 5).
public struct ZonePoints: Sendable, Equatable {
    /// The multipliers of zones 1...5, each 0...1000.
    public let multipliers: [Int64]

    /// The documented default: 1, 2, 4, 8, 8.
    public static let standard = ZonePoints(unchecked: [1, 2, 4, 8, 8])

    /// The allowed multiplier values.
    public static let allowed: ClosedRange<Int> = 0...1000

    /// Multipliers for zones 1...5; nil unless there are exactly five, each within `allowed`.
    public init?(_ multipliers: [Int]) {
        guard multipliers.count == 5, multipliers.allSatisfy(Self.allowed.contains) else { return nil }
        self.multipliers = multipliers.map(Int64.init)
    }

    /// Parses the command-line form `1,2,4,8,8`; nil for anything else (spaces around a value are allowed).
    public init?(parsing text: String) {
        var values: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = part.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed()
            guard !trimmed.isEmpty, trimmed.count <= 4, trimmed.allSatisfy({ $0.isASCII && $0.isNumber }),
                let value = Int(String(trimmed))
            else { return nil }
            values.append(value)
        }
        self.init(values)
    }

    private init(unchecked: [Int64]) {
        multipliers = unchecked
    }

    /// The multiplier of `zone` (1...5); 0 for anything else, so a sample without a zone earns nothing.
    @inline(__always)
    func multiplier(zone: UInt8) -> Int64 {
        zone >= 1 && zone <= 5 ? multipliers[Int(zone) - 1] : 0
    }
}
