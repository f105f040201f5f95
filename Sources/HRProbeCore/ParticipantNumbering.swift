/// How the probe names its simulated riders: `r0`, `r1`, … within each class, publishers first, then rider
/// apps (participants). The number is the rider's index in the class, so a received id maps to its stream by
/// parsing digits, with no string made and no hash looked up.
public enum ParticipantNumbering {
    /// The participant id of rider `index`.
    public static func id(_ index: Int) -> String { "r\(index)" }

    /// The rider index in `bytes[range]` (`r` and decimal digits, no leading zeros), or nil for any other id
    /// (a rider that is not the probe's). Inlinable: it runs once per received sample, and a caller in another module
    /// should get it specialized for its byte type rather than the unspecialized generic (which allocated).
    @inlinable
    public static func index<Bytes: RandomAccessCollection>(
        in bytes: Bytes, _ range: Range<Int>
    ) -> Int? where Bytes.Element == UInt8, Bytes.Index == Int {
        guard range.count >= 2, range.count <= 10, bytes[range.lowerBound] == UInt8(ascii: "r") else { return nil }
        if range.count > 2 && bytes[range.lowerBound + 1] == UInt8(ascii: "0") { return nil }
        var value = 0
        for i in (range.lowerBound + 1)..<range.upperBound {
            let byte = bytes[i]
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }
}
