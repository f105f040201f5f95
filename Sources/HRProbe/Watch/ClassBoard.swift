import HRProtocol

/// What `hrprobe watch` knows about one class, built from the hub's messages. Plain state: every method takes
/// the local time (Unix ms) as a parameter and does no I/O, so it is trivially testable.
///
/// Times: the hub stamps each relayed sample with `rts` (its receive time, on its clock). With the clock offset
/// learnt from `pong` (`ht` against the midpoint of the ping's round trip), the board converts local time to hub
/// time, so a rider's age (hub now − rts) and the relay lag of each sample (hub time at arrival − rts) do not
/// depend on the two machines' clocks agreeing.
struct ClassBoard {
    /// One rider on the board.
    struct Rider: Equatable {
        /// Participant id.
        var id: String
        /// From `hello` (`join`, `snapshot`).
        var profile = Profile()
        /// The newest sample, as relayed.
        var last: RelayedSample?
        /// Set by the hub's `stale`, cleared by `live` (or by a new sample).
        var staleByHub = false
    }

    /// A rider's state on the board.
    enum RiderState: String {
        /// Samples flow.
        case live
        /// No sample for `staleAfterMs` (or the hub said `stale`).
        case stale
        /// Present, but no sample yet.
        case waiting
    }

    /// The class id (from the URL until the hub's `welcome`).
    var classID: String
    /// Riders present, by id.
    private(set) var riders: [String: Rider] = [:]
    /// Rank and points by rider, from the newest `board` (its `top`, and `me`/`near` for a participant).
    private(set) var standings: [String: BoardEntry] = [:]
    /// How many riders the newest `board` says are ranked; nil before the first.
    private(set) var rankedCount: Int?
    /// Whether a `welcome` arrived.
    private(set) var welcomed = false
    /// Hub clock minus local clock, in ms, from the pong with the shortest round trip so far.
    private(set) var hubOffsetMs: Int64?
    private var bestRoundTripMs: Int64 = .max
    /// Relay lags (ms) of the samples received since the last `takeLags()`.
    private var lags: [Int64] = []
    /// A rider with no sample for this long is shown as stale (the hub's default `stale_after_ms`).
    let staleAfterMs: Int64

    /// Creates an empty board for `classID`.
    init(classID: String, staleAfterMs: Int64 = 3_000) {
        self.classID = classID
        self.staleAfterMs = staleAfterMs
    }

    /// Local time converted to the hub's clock (the offset is 0 until a pong arrived).
    func hubTime(local now: Int64) -> Int64 { now + (hubOffsetMs ?? 0) }

    /// Applies one message from a text frame.
    mutating func apply(_ message: HubMessage, now: Int64) {
        switch message {
        case .welcome(let welcome):
            classID = welcome.classID
            welcomed = true
        case .snapshot(let entries):
            riders = [:]
            for entry in entries {
                riders[entry.p] = Rider(id: entry.p, profile: entry.profile, last: entry.last)
            }
        case .join(let p, let profile):
            riders[p, default: Rider(id: p)].profile = profile
        case .leave(let p, _):
            riders[p] = nil
        case .hr(let sample):
            apply(sample, now: now)
        case .stale(let p, _):
            riders[p]?.staleByHub = true
        case .live(let p, _):
            riders[p]?.staleByHub = false
        case .pong(_, let ct, let ht):
            guard let ct else { return }
            let roundTrip = max(0, now - ct)
            if roundTrip <= bestRoundTripMs {
                bestRoundTripMs = roundTrip
                hubOffsetMs = ht - (ct + roundTrip / 2)
            }
        case .board(let board):
            standings = [:]
            for entry in board.top + board.near + (board.me.map { [$0] } ?? []) { standings[entry.p] = entry }
            rankedCount = board.n
        case .gap, .error, .ack:
            break
        }
    }

    /// Applies one relayed sample (from JSON or a binary frame). Binary samples carry no `pct`/`zone`: they are
    /// computed here from the rider's `hrmax`, the way the hub does.
    mutating func apply(_ sample: RelayedSample, now: Int64) {
        var sample = sample
        var rider = riders[sample.p] ?? Rider(id: sample.p)
        if sample.pct == nil, let pct = Zones.pct(bpm: sample.sample.bpm, hrmax: rider.profile.hrmax) {
            sample.pct = pct
            sample.zone = Zones.zone(pct: pct)
        }
        rider.last = sample
        rider.staleByHub = false
        riders[sample.p] = rider
        lags.append(max(0, hubTime(local: now) - sample.rts))
    }

    /// The riders: those the newest board ranks, by rank, then the others by id.
    var sortedRiders: [Rider] {
        riders.values.sorted {
            switch (standings[$0.id]?.rank, standings[$1.id]?.rank) {
            case let (a?, b?): a < b
            case (.some, nil): true
            case (nil, .some): false
            case (nil, nil): $0.id < $1.id
            }
        }
    }

    /// Seconds since `rider`'s last sample, on the hub's clock; nil before the first.
    func ageSeconds(of rider: Rider, now: Int64) -> Double? {
        guard let last = rider.last else { return nil }
        return Double(max(0, hubTime(local: now) - last.rts)) / 1000
    }

    /// `rider`'s state at `now`.
    func state(of rider: Rider, now: Int64) -> RiderState {
        guard let last = rider.last else { return .waiting }
        if rider.staleByHub || hubTime(local: now) - last.rts > staleAfterMs { return .stale }
        return .live
    }

    /// The relay lags since the previous call, as (median, max) in ms; nil when no sample arrived. Clears them.
    mutating func takeLags() -> (median: Int64, max: Int64)? {
        guard !lags.isEmpty else { return nil }
        let sorted = lags.sorted()
        lags.removeAll(keepingCapacity: true)
        return (sorted[sorted.count / 2], sorted[sorted.count - 1])
    }
}
