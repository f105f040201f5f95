/// The numeric bounds of protocol version 1, in one place (PROTOCOL.md, "Client to hub").
///
/// `ClientFrameDecoder` enforces them; other modules use them so that the same number is never written twice.
public enum Limits {
    /// Longest `name` in a `hello`, counted in Unicode scalars (so at most 256 UTF-8 bytes).
    public static let nameMaxLength = 64
    /// Allowed `hrmax` in a `hello`.
    public static let hrmax: ClosedRange<Int> = 100...240
    /// Allowed `hrrest` in a `hello`.
    public static let hrrest: ClosedRange<Int> = 25...120
    /// Allowed non-zero `bpm`; 0 ("no reading") is allowed too.
    public static let bpm: ClosedRange<UInt8> = 25...250
    /// Most RR values in one client sample.
    public static let rrMaxCount = 16
    /// Most RR values in one relayed sample after `mode=latest` merged replaced samples.
    public static let rrMaxMergedCount = 64
    /// Allowed RR value, in 1/1024 s.
    public static let rr: ClosedRange<UInt16> = 1...UInt16.max
    /// Longest class or participant id (see `Identifier`).
    public static let identifierMaxLength = 64
}
