/// Which recent sequence numbers of one device have been accepted: the highest, and a bitmap of the 128
/// below it (the anti-replay window of IPsec and DTLS). Tells a duplicate from a never-seen older seq.
public struct SeqWindow: Sendable, Equatable {
    /// Width of the window below and including `highest`.
    public static let width: UInt32 = 128

    /// The highest seq accepted, or nil before the first.
    public private(set) var highest: UInt32?
    /// Bit i set: `highest − i` was accepted (bit 0 is `highest` itself).
    private var bits: UInt128 = 0

    public init() {}

    /// Whether `seq` was accepted before. Seqs older than the window count as seen: too old to be useful.
    public func contains(_ seq: UInt32) -> Bool {
        guard let highest else { return false }
        if seq > highest { return false }
        let distance = highest - seq
        if distance >= Self.width { return true }
        return bits & (1 << UInt128(distance)) != 0
    }

    /// Whether `seq` lies below the window: older than the 128 seqs it tracks, so the window cannot tell a
    /// duplicate from a never-seen seq (with the record on, the store answers for those).
    public func isBelowWindow(_ seq: UInt32) -> Bool {
        guard let highest else { return false }
        return seq < highest && highest - seq >= Self.width
    }

    /// Starts the window from seqs already accepted elsewhere (the record, after a restart), in any order.
    public mutating func seed(_ seqs: [UInt32]) {
        for seq in seqs { insert(seq) }
    }

    /// Forgets `seq` (a write the record could not take, so a resend must be accepted again). The top stays:
    /// `highest` is a high-water mark of what was accepted, not a claim that it was kept.
    public mutating func remove(_ seq: UInt32) {
        guard let top = highest, seq <= top, top - seq < Self.width else { return }
        bits &= ~(1 << UInt128(top - seq))
    }

    /// Records `seq` as accepted.
    public mutating func insert(_ seq: UInt32) {
        guard let top = highest else {
            highest = seq
            bits = 1
            return
        }
        if seq > top {
            let shift = seq - top
            bits = shift >= Self.width ? 1 : (bits << UInt128(shift)) | 1
            highest = seq
        } else if top - seq < Self.width {
            bits |= 1 << UInt128(top - seq)
        }
    }
}
