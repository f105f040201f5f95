import Synchronization

/// A store's health and counters, written by its writer thread and read by anyone (metrics, `/healthz`).
final class RecordStoreStatus: Sendable {
    private let state = Mutex<(health: RecordStoreHealth, counters: RecordStoreCounters)>((.available, .init()))
    private let onHealthChange: @Sendable (RecordStoreHealth) -> Void

    init(onHealthChange: @escaping @Sendable (RecordStoreHealth) -> Void) {
        self.onHealthChange = onHealthChange
    }

    var health: RecordStoreHealth { state.withLock { $0.health } }

    /// The counters, with `pendingSamples` left for the caller to fill in.
    var counters: RecordStoreCounters { state.withLock { $0.counters } }

    /// A commit succeeded: counts it, and reports `.available` if the store was unavailable.
    func committed(new: Int, duplicates: Int) {
        let recovered = state.withLock { state in
            state.counters.committedSamples += new
            state.counters.duplicates += duplicates
            state.counters.commitBatches += 1
            defer { state.health = .available }
            return state.health != .available
        }
        if recovered { onHealthChange(.available) }
    }

    /// A commit failed: counts it, and reports the new reason when it differs from the last one reported.
    func failed(reason: String) {
        let health = RecordStoreHealth.unavailable(reason: reason)
        let changed = state.withLock { state in
            state.counters.failedCommits += 1
            defer { state.health = health }
            return state.health != health
        }
        if changed { onHealthChange(health) }
    }
}
