import HRProtocol

/// One entry of a store's ordered write queue.
enum WriteOperation: Sendable {
    /// Samples to record, and who to tell which were new.
    case append([RecordedSample], @Sendable (AppendResult) -> Void)
    /// A profile to upsert.
    case profile(RecordedProfile)
    /// Retention: delete the classes whose newest sample was received before the cutoff (Unix ms).
    case deleteClasses(before: Int64, @Sendable (Int) -> Void)

    /// How many samples it holds (what counts toward `maxPending` and the batch size).
    var sampleCount: Int {
        if case .append(let samples, _) = self { return samples.count }
        return 0
    }

    /// Completes it without writing: appends get `error`, deletions report 0 classes, profiles are dropped.
    func fail(_ error: RecordStoreError) {
        switch self {
        case .append(_, let completion): completion(.failure(error))
        case .deleteClasses(_, let completion): completion(0)
        case .profile: break
        }
    }
}
