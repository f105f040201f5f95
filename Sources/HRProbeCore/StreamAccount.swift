import HRProtocol

/// Delivery accounting of one (viewer, participant) stream: every sample the viewer was owed is delivered,
/// explained by a `gap`, or missing.
///
/// A sliding window of the newest `windowSize` seqs holds two bits per seq, delivered and explained. A seq that
/// leaves the window with neither bit is counted `unexplained` (a gap may name a seq out of order, so a hole is
/// judged only when it leaves the window or at `finish`). Seqs are unwrapped into 64 bits relative to the
/// newest one, so a 32-bit wrap is harmless. No allocation after `init`.
///
/// `measuredFrom` (the participant's first seq inside the measured window, nil before it starts) decides what
/// the fate counts include; anomalies are counted always.
public struct StreamAccount {
    /// Seqs the window remembers.
    public static let windowSize: Int64 = 512
    private static let words = Int(windowSize / 64)

    /// What a delivery was.
    public enum Delivery: Equatable {
        /// Received for the first time, above every seq before it.
        case inOrder
        /// Received for the first time, after a higher seq.
        case reordered
        /// Received before.
        case duplicate
        /// Named in a gap before; counted as delivered and as a contradiction.
        case afterGap
        /// Below the window: it was already counted as lost.
        case outsideWindow
    }

    public private(set) var counts = StreamCounts()
    public private(set) var jitter = InterarrivalJitter()
    /// The first unexplained seq seen, for the report.
    public private(set) var firstUnexplained: UInt32?

    private var deliveredBits: [UInt64]
    private var explainedBits: [UInt64]
    /// Lowest seq the stream is owed (unwrapped); nil until the stream starts.
    private var base: Int64?
    /// Highest seq seen or owed so far (unwrapped) and its raw value.
    private var highest: Int64 = 0
    private var highestRaw: UInt32 = 0

    /// A stream owed every seq from `expectFrom` (the viewer was listening before the participant's first sample),
    /// or, with nil, from whatever it observes first.
    public init(expectFrom: UInt32? = nil) {
        deliveredBits = Array(repeating: 0, count: Self.words)
        explainedBits = Array(repeating: 0, count: Self.words)
        if let expectFrom { start(at: expectFrom) }
    }

    /// Whether the stream has started (owes something).
    public var isStarted: Bool { base != nil }

    /// The newest seq delivered or explained, or owed next minus one; nil before the stream starts.
    public var newestSeq: UInt32? { base == nil ? nil : highestRaw }

    /// Records a relayed sample of this stream; `transitUs` (arrival − intended send time) feeds the jitter.
    @discardableResult
    public mutating func deliver(seq: UInt32, transitUs: Int64, measuredFrom: UInt32?) -> Delivery {
        if base == nil { start(at: seq) }
        let s = unwrap(seq)
        let from = measuredFrom.map(unwrap) ?? .max
        let outcome: Delivery
        if s > highest {
            advance(to: s, measuredFrom: from)
            outcome = .inOrder
        } else if s <= highest - Self.windowSize {
            counts.outsideWindow += 1
            return .outsideWindow
        } else if s < base! {
            // Older than where the stream began: the seqs between become owed too (they are in the window).
            base = s
            outcome = .reordered
        } else if bit(deliveredBits, s) {
            counts.duplicates += 1
            return .duplicate
        } else if bit(explainedBits, s) {
            counts.contradictions += 1
            outcome = .afterGap
        } else {
            outcome = .reordered
        }
        if outcome == .reordered { counts.reordered += 1 }
        set(&deliveredBits, s)
        if s >= from { counts.delivered += 1 }
        jitter.add(transitUs: transitUs)
        return outcome
    }

    /// Records a `gap` naming `fromSeq...toSeq` of this stream.
    public mutating func gap(fromSeq: UInt32, toSeq: UInt32, count: Int, reason: GapReason, measuredFrom: UInt32?) {
        if base == nil { start(at: fromSeq) }
        let f = unwrap(fromSeq)
        let t = unwrap(toSeq)
        guard t >= f else {
            counts.gapCountMismatches += 1
            return
        }
        if t - f + 1 != Int64(count) { counts.gapCountMismatches += 1 }
        let from = measuredFrom.map(unwrap) ?? .max
        if t > highest { advance(to: t, measuredFrom: from) }
        var newlyMeasured = 0
        var q = max(f, highest - Self.windowSize + 1, base!)
        while q <= t {
            if bit(deliveredBits, q) {
                counts.contradictions += 1
            } else if bit(explainedBits, q) {
                counts.doubleGaps += 1
            } else {
                set(&explainedBits, q)
                if q >= from { newlyMeasured += 1 }
            }
            q += 1
        }
        switch reason {
        case .backpressure: counts.backpressure += newlyMeasured
        case .late: counts.late += newlyMeasured
        case .conflated: counts.conflated += newlyMeasured
        }
    }

    /// The run is over and `lastSeq` (when known) was the participant's last published seq. Holes at or below the
    /// newest seq observed are `unexplained` (the hub moved past them without a gap); owed seqs above it are
    /// `pendingAtEnd` (they never arrived before the run ended, and may still have been on their way).
    public mutating func finish(lastSeq: UInt32?, measuredFrom: UInt32?) {
        guard let base else { return }
        let from = measuredFrom.map(unwrap) ?? .max
        var q = max(base, highest - Self.windowSize + 1)
        while q <= highest {
            if !bit(deliveredBits, q) && !bit(explainedBits, q) && q >= from { noteUnexplained(q) }
            q += 1
        }
        if let lastSeq {
            let last = unwrap(lastSeq)
            let first = max(highest + 1, from, base)
            if last >= first { counts.pendingAtEnd += Int(last - first + 1) }
        }
        self.base = nil
    }

    /// The viewer's connection closed: holes still open are counted `lostAtClose`, and the stream starts afresh
    /// on its next observation.
    public mutating func close(measuredFrom: UInt32?) {
        guard let base else { return }
        let from = measuredFrom.map(unwrap) ?? .max
        var q = max(base, highest - Self.windowSize + 1)
        while q <= highest {
            if !bit(deliveredBits, q) && !bit(explainedBits, q) && q >= from { counts.lostAtClose += 1 }
            q += 1
        }
        self.base = nil
        jitter.restart()
    }

    // MARK: - Window

    private mutating func start(at seq: UInt32) {
        for i in 0..<Self.words {
            deliveredBits[i] = 0
            explainedBits[i] = 0
        }
        highestRaw = seq &- 1
        highest = Int64(seq) - 1
        base = Int64(seq)
    }

    /// `seq` as a 64-bit number near `highest`.
    private func unwrap(_ seq: UInt32) -> Int64 {
        highest + Int64(Int32(bitPattern: seq &- highestRaw))
    }

    /// Moves the top of the window to `s` (> highest): seqs that leave the window unaccounted are unexplained.
    private mutating func advance(to s: Int64, measuredFrom from: Int64) {
        let w = Self.windowSize
        let lowest = base!
        // Seqs in the window now that will have left it: (highest − w, s − w].
        var q = max(highest - w + 1, lowest)
        let leaveThrough = s - w
        while q <= leaveThrough && q <= highest {
            if !bit(deliveredBits, q) && !bit(explainedBits, q) && q >= from { noteUnexplained(q) }
            q += 1
        }
        // Seqs above highest that never even enter the window: (highest, s − w].
        if leaveThrough > highest {
            let first = max(highest + 1, from, lowest)
            if leaveThrough >= first {
                counts.unexplained += Int(leaveThrough - first + 1)
                if firstUnexplained == nil { firstUnexplained = UInt32(truncatingIfNeeded: first) }
            }
        }
        // Clear the slots of the seqs entering the window.
        q = max(highest + 1, s - w + 1)
        while q <= s {
            clear(&deliveredBits, q)
            clear(&explainedBits, q)
            q += 1
        }
        highest = s
        highestRaw = UInt32(truncatingIfNeeded: s)
    }

    private mutating func noteUnexplained(_ q: Int64) {
        counts.unexplained += 1
        if firstUnexplained == nil { firstUnexplained = UInt32(truncatingIfNeeded: q) }
    }

    private func bit(_ bits: [UInt64], _ s: Int64) -> Bool {
        let slot = Int(UInt64(bitPattern: s) % UInt64(Self.windowSize))
        return bits[slot >> 6] & (1 << UInt64(slot & 63)) != 0
    }

    private func set(_ bits: inout [UInt64], _ s: Int64) {
        let slot = Int(UInt64(bitPattern: s) % UInt64(Self.windowSize))
        bits[slot >> 6] |= 1 << UInt64(slot & 63)
    }

    private func clear(_ bits: inout [UInt64], _ s: Int64) {
        let slot = Int(UInt64(bitPattern: s) % UInt64(Self.windowSize))
        bits[slot >> 6] &= ~(1 << UInt64(slot & 63))
    }
}
