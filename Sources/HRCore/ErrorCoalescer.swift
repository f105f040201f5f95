import HRProtocol

/// Coalesces one connection's repeated errors about refused samples (`rate_limited`, `duplicate`), so that a
/// device that floods or replays gets a few errors that name what was refused, not one error per sample.
///
/// Per code: the first refusal after a quiet `windowMs` is sent at once, as before. Refusals within `windowMs` of
/// the last error sent are held as a run of consecutive ascending seqs, sent as one error once the window has
/// passed (`flushDue`), with `seq` its first seq and `coalesced` its count and seq range. So a steady flood gets one
/// error per code per window. A coalesced error names exactly the seqs it refused: a refusal that does not extend
/// the held run (seq ≠ last + 1) sends the held run at once and starts a new one. Errors of other codes, and
/// errors without a seq, pass through untouched.
///
/// Pure and deterministic: the caller passes the time.
struct ErrorCoalescer {
    /// The codes coalesced: errors about samples a device may send many of in a row.
    static let codes: [ErrorCode] = [.rateLimited, .duplicate]

    let windowMs: Int64
    /// Per code (index in `codes`): when the last error of that code was sent, and the run held since. Both stay
    /// empty (no allocation) until the first refusal: every connection has a coalescer, few ever refuse anything.
    private var lastSentMs: [Int64?] = []
    private var held: [Held?] = []

    private struct Held {
        let first: ProtocolError
        var toSeq: UInt32
        var count: Int
        /// When the window of the error sent before it ends: the run goes out then.
        let dueMs: Int64

        var error: ProtocolError {
            guard count > 1, let from = first.seq else { return first }
            let message = "\(first.message) (and \(count - 1) more, through seq \(toSeq))"
            return ProtocolError(
                first.code, message, seq: from, coalesced: CoalescedRun(count: count, fromSeq: from, toSeq: toSeq))
        }
    }

    init(windowMs: Int64 = 100) {
        self.windowMs = windowMs
    }

    /// One error; returns what to send now (none while it is held, two when it breaks a held run).
    mutating func refuse(_ error: ProtocolError, now: Int64) -> [ProtocolError] {
        guard let seq = error.seq, let index = Self.codes.firstIndex(of: error.code) else { return [error] }
        if held.isEmpty {
            lastSentMs = Array(repeating: nil, count: Self.codes.count)
            held = Array(repeating: nil, count: Self.codes.count)
        }
        if var run = held[index] {
            if run.toSeq &+ 1 == seq && seq != 0 {
                run.toSeq = seq
                run.count += 1
                held[index] = run
                return []
            }
            // Not consecutive: the held run is complete; send it, and hold this one for the window that starts.
            held[index] = Held(first: error, toSeq: seq, count: 1, dueMs: now + windowMs)
            lastSentMs[index] = now
            return [run.error]
        }
        if let last = lastSentMs[index], now - last < windowMs {
            held[index] = Held(first: error, toSeq: seq, count: 1, dueMs: last + windowMs)
            return []
        }
        lastSentMs[index] = now
        return [error]
    }

    /// The lowest seq of the runs held and not sent yet (an `ack` may not cover it), or nil.
    var lowestHeldSeq: UInt32? {
        held.compactMap { $0?.first.seq }.min()
    }

    /// When a held run is next due (the earliest), or nil when nothing is held.
    var nextDueMs: Int64? {
        var due: Int64?
        for case let run? in held { due = min(due ?? run.dueMs, run.dueMs) }
        return due
    }

    /// The held runs whose window has passed, each as one error; their window restarts now.
    mutating func flushDue(now: Int64) -> [ProtocolError] {
        var out: [ProtocolError] = []
        for index in held.indices {
            guard let run = held[index], run.dueMs <= now else { continue }
            out.append(run.error)
            held[index] = nil
            lastSentMs[index] = now
        }
        return out
    }

    /// Every held run, due or not (the connection is about to close).
    mutating func flushAll(now: Int64) -> [ProtocolError] {
        var out: [ProtocolError] = []
        for index in held.indices {
            guard let run = held[index] else { continue }
            out.append(run.error)
            held[index] = nil
            lastSentMs[index] = now
        }
        return out
    }
}
