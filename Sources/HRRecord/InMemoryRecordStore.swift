import HRProtocol
import Synchronization

/// A deterministic `RecordStore` for tests: the same semantics as `SQLiteRecordStore`, kept in memory, with commits
/// the test controls.
///
/// - Commits run on the thread that triggers them, never on a thread of the store's own: inside `append` (and
///   `appendProfile`, `deleteClasses`) while `holdCommits` is false, or in `releaseCommits()`. Completions are
///   called there, in append order, after the store's lock is released.
/// - `holdCommits = true` queues everything until `releaseCommits()`.
/// - `failCommits = true` makes every commit fail: nothing queued is completed, `health` turns `.unavailable`, and
///   the next commit after `failCommits = false` (the next append or `releaseCommits()`) brings it back.
public final class InMemoryRecordStore: RecordStore {
    private struct State {
        var queued: [WriteOperation] = []
        var pending = 0
        var samples: [String: [String: [UInt32: RecordedSample]]] = [:]
        var newestRTS: [String: Int64] = [:]
        var profiles: [String: [String: RecordedProfile]] = [:]
        var holdCommits = false
        var failCommits = false
        var closed = false
        var health = RecordStoreHealth.available
        var counters = RecordStoreCounters()
    }

    /// The reason `health` gives while `failCommits` is set.
    public static let simulatedFailure = "simulated commit failure"

    private let state = Mutex(State())
    private let maxPending: Int
    private let onHealthChange: @Sendable (RecordStoreHealth) -> Void

    /// An empty store; `maxPending` and `onHealthChange` as in `SQLiteRecordStore`.
    public init(
        maxPending: Int = 1_000_000, onHealthChange: @escaping @Sendable (RecordStoreHealth) -> Void = { _ in }
    ) {
        self.maxPending = maxPending
        self.onHealthChange = onHealthChange
    }

    /// While true, writes queue up until `releaseCommits()`.
    public var holdCommits: Bool {
        get { state.withLock { $0.holdCommits } }
        set { state.withLock { $0.holdCommits = newValue } }
    }

    /// While true, every commit fails and keeps what it was given.
    public var failCommits: Bool {
        get { state.withLock { $0.failCommits } }
        set { state.withLock { $0.failCommits = newValue } }
    }

    /// Commits everything queued now (one batch), on the calling thread, and calls the completions.
    public func releaseCommits() {
        commit(force: true)
    }

    /// What the store has done so far.
    public var counters: RecordStoreCounters {
        state.withLock { state in
            var counters = state.counters
            counters.pendingSamples = state.pending
            return counters
        }
    }

    public var health: RecordStoreHealth { state.withLock { $0.health } }

    public func append(_ samples: [RecordedSample], completion: @escaping @Sendable (AppendResult) -> Void) {
        let refusal: RecordStoreError? = state.withLock { state in
            if state.closed { return .closed }
            if !samples.isEmpty && state.pending + samples.count > maxPending { return .overloaded }
            state.pending += samples.count
            state.queued.append(.append(samples, completion))
            return nil
        }
        if let refusal { return completion(.failure(refusal)) }
        commit(force: false)
    }

    public func appendProfile(_ profile: RecordedProfile) {
        let queued = state.withLock { state in
            guard !state.closed else { return false }
            state.queued.append(.profile(profile))
            return true
        }
        if queued { commit(force: false) }
    }

    public func deleteClasses(receivedBefore cutoffMs: Int64, completion: @escaping @Sendable (Int) -> Void) {
        let queued = state.withLock { state in
            guard !state.closed else { return false }
            state.queued.append(.deleteClasses(before: cutoffMs, completion))
            return true
        }
        if queued { commit(force: false) } else { completion(0) }
    }

    public func recentSeqs(classID: String, participant: String, limit: Int) throws(RecordStoreError) -> [UInt32] {
        state.withLock { state in
            let seqs = state.samples[classID]?[participant]?.keys.sorted(by: >) ?? []
            return Array(seqs.prefix(max(0, limit)))
        }
    }

    public func hasRecord(classID: String) throws(RecordStoreError) -> Bool {
        state.withLock { $0.newestRTS[classID] != nil }
    }

    public func read(classID: String, participant: String?) throws(RecordStoreError) -> any RecordCursor {
        let rows = state.withLock { state -> [RecordedSample] in
            let byParticipant = state.samples[classID] ?? [:]
            let names = participant.map { [$0] } ?? byParticipant.keys.sorted(by: Self.byteOrder)
            return names.flatMap { name in
                (byParticipant[name] ?? [:]).values.sorted { $0.sample.seq < $1.sample.seq }
            }
        }
        return InMemoryRecordCursor(rows)
    }

    public func profiles(classID: String) throws(RecordStoreError) -> [RecordedProfile] {
        state.withLock { state in
            (state.profiles[classID] ?? [:]).values.sorted { Self.byteOrder($0.participant, $1.participant) }
        }
    }

    public func classIDs() throws(RecordStoreError) -> [String] {
        state.withLock { $0.newestRTS.keys.sorted(by: Self.byteOrder) }
    }

    public func profile(classID: String, participant: String) throws(RecordStoreError) -> RecordedProfile? {
        state.withLock { $0.profiles[classID]?[participant] }
    }

    /// Commits what is queued unless `failCommits` is set; then completes the rest with `.closed`.
    public func close(timeoutMs: Int) {
        commit(force: true)
        let rest = state.withLock { state -> [WriteOperation] in
            state.closed = true
            defer {
                state.queued = []
                state.pending = 0
            }
            return state.queued
        }
        for operation in rest { operation.fail(.closed) }
    }

    /// One commit of everything queued (unless held and not forced).
    private func commit(force: Bool) {
        let (completions, healthChange) = state.withLock { state -> ([() -> Void], RecordStoreHealth?) in
            guard !state.queued.isEmpty, force || !state.holdCommits, !state.closed else { return ([], nil) }
            guard !state.failCommits else {
                state.counters.failedCommits += 1
                let failing = RecordStoreHealth.unavailable(reason: Self.simulatedFailure)
                defer { state.health = failing }
                return ([], state.health == failing ? nil : failing)
            }
            let batch = state.queued
            state.queued = []
            var completions: [() -> Void] = []
            for operation in batch {
                switch operation {
                case .append(let samples, let completion):
                    let results = samples.map { Self.insert($0, into: &state) }
                    state.pending -= samples.count
                    completions.append { completion(.success(results)) }
                case .profile(let profile):
                    state.profiles[profile.classID, default: [:]][profile.participant] = profile
                case .deleteClasses(let cutoff, let completion):
                    let expired = state.newestRTS.filter { $0.value < cutoff }.keys
                    for classID in expired {
                        state.newestRTS[classID] = nil
                        state.samples[classID] = nil
                        state.profiles[classID] = nil
                    }
                    let count = expired.count
                    completions.append { completion(count) }
                }
            }
            state.counters.commitBatches += 1
            defer { state.health = .available }
            return (completions, state.health == .available ? nil : .available)
        }
        if let healthChange { onHealthChange(healthChange) }
        for completion in completions { completion() }
    }

    private static func insert(_ sample: RecordedSample, into state: inout State) -> Bool {
        let seq = sample.sample.seq
        guard state.samples[sample.classID]?[sample.participant]?[seq] == nil else {
            state.counters.duplicates += 1
            return false
        }
        state.samples[sample.classID, default: [:]][sample.participant, default: [:]][seq] = sample
        state.newestRTS[sample.classID] = max(state.newestRTS[sample.classID] ?? .min, sample.rts)
        state.counters.committedSamples += 1
        return true
    }

    /// Byte order of the UTF-8 ids, as SQLite's BINARY collation sorts them.
    private static func byteOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}

/// A cursor over a snapshot of rows.
final class InMemoryRecordCursor: RecordCursor {
    private var rows: ArraySlice<RecordedSample>

    init(_ rows: [RecordedSample]) {
        self.rows = rows[...]
    }

    func next(max: Int) throws(RecordStoreError) -> [RecordedSample] {
        let chunk = rows.prefix(Swift.max(0, max))
        rows = rows.dropFirst(chunk.count)
        return Array(chunk)
    }
}
