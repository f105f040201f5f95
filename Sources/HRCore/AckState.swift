import DequeModule

/// What one publishing connection has been told about the fate of its samples (`ack`, docs/PROTOCOL.md):
/// `ack N` promises that every sample this connection sent with a seq ≤ N is committed to the record or was
/// rejected with an `error` naming its seq. N never decreases.
struct AckState {
    /// Accepted seqs handed to the record and not committed yet, in the order they were appended (commits
    /// complete in that order, so the one to remove is nearly always the first).
    var outstanding = Deque<UInt32>()
    /// The highest seq this connection sent whose fate is settled or pending (accepted or rejected with an error).
    var highestSent: UInt32?
    /// The lowest seq this connection sent: an N below it would promise nothing.
    var lowestSent: UInt32?
    /// The last N sent; nil before the first ack.
    var lastAcked: UInt32?
    /// Seqs of this connection the record refused (overloaded, closed): no ack may reach them until a resend of
    /// the same seq is committed.
    var refused: Set<UInt32> = []

    mutating func sent(_ seq: UInt32) {
        highestSent = max(highestSent ?? seq, seq)
        lowestSent = min(lowestSent ?? seq, seq)
    }

    /// `seq`'s write is done: committed (`recorded`) or refused by the record.
    mutating func finished(_ seq: UInt32, recorded: Bool) {
        if recorded { refused.remove(seq) } else { refused.insert(seq) }
        if outstanding.first == seq {
            outstanding.removeFirst()
        } else if let index = outstanding.firstIndex(of: seq) {
            outstanding.remove(at: index)
        }
    }

    /// The N the connection may be acked now: below the lowest outstanding or blocked seq, at most the highest
    /// sent. Nil when nothing can be promised.
    /// `heldFrom`: the lowest seq of errors not yet sent (coalescing), which no ack may cover yet.
    func ackable(heldFrom: UInt32? = nil) -> UInt32? {
        guard var n = highestSent else { return nil }
        for limit in [outstanding.min(), refused.min(), heldFrom].compactMap({ $0 }) {
            guard limit > 0 else { return nil }
            n = min(n, limit - 1)
        }
        guard let lowestSent, n >= lowestSent else { return nil }
        return n
    }
}
