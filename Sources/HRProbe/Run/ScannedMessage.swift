import HRProtocol

/// One relayed `hr` or `gap` found by `HubFrameScanner`, as plain numbers and the byte range of its `p`.
///
/// A value type with no references, so scanning a frame allocates nothing.
struct ScannedMessage: Equatable {
    /// Which message.
    enum Kind: Equatable {
        /// A relayed sample: `seq`, `ts`, `rts` are set.
        case hr
        /// A gap: `fromSeq`, `toSeq`, `count`, `reason` are set.
        case gap
    }

    var kind: Kind = .hr
    /// Where the participant id's bytes are in the frame (without quotes).
    var p: Range<Int> = 0..<0
    var seq: UInt32 = 0
    /// Capture time, Unix ms (the probe's intended send time).
    var ts: Int64 = 0
    /// Hub receive time, Unix ms.
    var rts: Int64 = 0
    var fromSeq: UInt32 = 0
    var toSeq: UInt32 = 0
    var count: Int = 0
    var reason: GapReason = .backpressure
}
