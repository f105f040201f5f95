import HRProtocol

/// One message found by `HubFrameScanner` (a relayed `hr` or `gap`, a `board` or an `ack`), as plain numbers and
/// byte ranges into the frame.
///
/// A value type with no references, so scanning a frame allocates nothing.
public struct ScannedMessage: Equatable {
    /// Which message.
    public enum Kind: Equatable {
        /// A relayed sample: `seq`, `ts`, `rts` are set.
        case hr
        /// A gap: `fromSeq`, `toSeq`, `count`, `reason` are set.
        case gap
        /// A standings board: `at` and `span` are set (its entries are skipped, not read).
        case board
        /// The hub holds a rider's samples up to `seq`.
        case ack
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
    /// A board's build time, Unix ms.
    public var at: Int64 = 0
    /// Where the whole message object is in the frame, braces included.
    public var span: Range<Int> = 0..<0

    public init() {}
}
