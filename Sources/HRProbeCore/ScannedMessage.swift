import HRProtocol

/// One relayed `hr` or `gap` found by `HubFrameScanner`, as plain numbers and the byte range of its `p`.
///
/// A value type with no references, so scanning a frame allocates nothing.
public struct ScannedMessage: Equatable {
    /// Which message.
    public enum Kind: Equatable {
        /// A relayed sample: `seq`, `ts`, `rts` are set.
        case hr
        /// A gap: `fromSeq`, `toSeq`, `count`, `reason` are set.
        case gap
    }

    public var kind: Kind = .hr
    /// Where the participant id's bytes are in the frame (without quotes).
    public var p: Range<Int> = 0..<0
    public var seq: UInt32 = 0
    /// Capture time, Unix ms (the probe's intended send time).
    public var ts: Int64 = 0
    /// Hub receive time, Unix ms.
    public var rts: Int64 = 0
    public var fromSeq: UInt32 = 0
    public var toSeq: UInt32 = 0
    public var count: Int = 0
    public var reason: GapReason = .backpressure

    public init() {}
}
