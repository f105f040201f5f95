import DequeModule
import Foundation
import HRProtocol
import HRRecord

/// The class record in a JetStream stream (docs/CLUSTER.md, "The record in JetStream"): every hub of a cluster writes
/// and reads the same record, so `record`, `leaderboard` and `summary` answer the same everywhere and
/// `welcome.last_seq` reflects what any hub accepted.
///
/// - Each sample is one message on `hrhub.v1.record.{class}.{participant}` with `Nats-Msg-Id` =
///   `{class}/{participant}/{seq}`, published asynchronously (libnats keeps up to `maxInFlight` awaiting their
///   ack); an append completes, in append order, once the stream acked every sample of it (`PubAck`, its
///   `duplicate` flag saying whether the sample was already there).
/// - Dedupe: the stream drops a second copy of a Msg-Id within its duplicate window (`duplicateWindowMs`);
///   beyond it, this store knows each participant's highest seq in the stream (read at most `duplicateWindowMs / 2`
///   ago) and, for a seq at or below it, the participant's recorded seqs (one ordered read). Anything another hub
///   stored after that read is younger than the window, so the stream catches it.
/// - While the stream is unreachable (NATS down, no JetStream, publishes failing or timing out), appends go to
///   `spool` (the hub's local SQLite store) and complete once it committed them; a publish that failed goes there
///   too. When the stream is back, a flush thread republishes the spool (deduped as above) and empties it once
///   every sample of it is acked and nothing new was spooled meanwhile.
/// - Reads merge the stream and the spool (a spooled sample counts until it is flushed), deduped by key.
///
/// Threading: `append` and `appendProfile` only queue; the store's thread (`hrhub.jetstream`) routes, dedupes
/// and publishes; acks come on libnats' thread and only record the outcome; completions are called by the
/// store's thread (or the spool's, for refusals), in append order. Reads run on the caller's thread.
public final class JetStreamRecordStore: RecordStore, @unchecked Sendable {
    /// How the store uses the stream.
    public struct Options: Sendable {
        /// Stream replicas (`--nats-replicas`): 1, or 3 on a 3-node NATS cluster.
        public var replicas = 1
        /// Messages older than this many days leave the stream (`--retention-days`).
        public var retentionDays = 30
        /// The stream's duplicate window: longer than a device takes to reconnect elsewhere and resend.
        public var duplicateWindowMs: Int64 = 600_000
        /// How long a publish may wait for its ack before it counts as failed (and goes to the spool).
        public var publishTimeoutMs: Int64 = 2_000
        /// Publishes awaiting their ack at most; beyond, the store's thread waits for acks.
        public var maxInFlight = 65_536
        /// Samples appended and not completed beyond which an append is refused (`.overloaded`).
        public var maxPending = 1_000_000
        /// How often an unreachable stream is tried again.
        public var retryMs: Int64 = 500

        /// The defaults above.
        public init() {}
    }

    /// One append, completed when every sample's fate is known. Its mutable fields are only touched under the
    /// store's `lock`, hence `@unchecked Sendable`.
    private final class Entry: @unchecked Sendable {
        let samples: [RecordedSample]
        let completion: @Sendable (AppendResult) -> Void
        var results: [Bool]
        var remaining: Int
        var failure: RecordStoreError?

        init(_ samples: [RecordedSample], _ completion: @escaping @Sendable (AppendResult) -> Void) {
            self.samples = samples
            self.completion = completion
            results = Array(repeating: false, count: samples.count)
            remaining = samples.count
        }
    }

    /// What a publish in flight is for.
    private enum Target {
        case sample(Entry, Int)
        case flush
        case profile(RecordedProfile)
    }

    private struct InFlight {
        let target: Target
        let sentAt: ContinuousClock.Instant
    }

    private enum Work {
        case append(Entry)
        case profile(RecordedProfile)
    }

    /// Everything below is guarded by `lock`.
    private let lock = NSCondition()
    private var work: [Work] = []
    private var entries = Deque<Entry>()
    private var inFlight: [String: [InFlight]] = [:]
    private var inFlightCount = 0
    /// Publishes that failed: their samples go to the spool; so do profiles that failed, and profiles stored while
    /// the spool may hold an older one of the same participant.
    private var failedSamples: [(Entry, Int)] = []
    private var profilesToSpool: [RecordedProfile] = []
    private var streamUp = false
    private var pendingSamples = 0
    private var tally = RecordStoreCounters()
    private var stopping = false
    private var closed = false
    /// The spool may hold samples not in the stream; `spoolGeneration` counts spool appends; `spoolInFlight` the
    /// spool appends not completed yet.
    private var spoolDirty = true
    private var spoolGeneration: UInt64 = 0
    private var spoolInFlight = 0
    private var flushing = false
    private var flushOutstanding = 0
    private var flushFailed = false
    private var flushedSamples = 0
    /// Profiles handed to the spool so far (tests wait for it).
    private var spooledProfiles = 0
    /// A flush published samples the store thread's `known` does not include: it reads the stream afresh.
    private var knownStale = false

    /// Serialises spool submissions with the flush's "empty the spool" step (never held with `lock`).
    private let spoolSubmission = NSLock()

    private let options: Options
    private let jetStream: JetStream
    private let connection: NATSConnection
    /// The local store that keeps samples while the stream is unreachable.
    public let spool: any RecordStore
    private let log: @Sendable (String) -> Void
    private let profileIDPrefix = UUID().uuidString
    private var profileCounter: UInt64 = 0
    /// Store thread only: what the stream is known to hold per participant (see the type's doc).
    private var known: [String: KnownSeqs] = [:]
    private var lastPrune = ContinuousClock.now
    private let threadDone = DispatchSemaphore(value: 0)

    private struct KnownSeqs {
        var highest: UInt32?
        var seqs: Set<UInt32>?
        let readAt: ContinuousClock.Instant
    }

    /// Connects to `servers` (its own NATS connection, named `name`) and starts the store's thread, which creates
    /// or updates the stream as soon as NATS answers (until then appends go to `spool`). Returns at once.
    /// `log` gets one line per change of reachability and per flush (on the store's threads).
    public init(
        servers: [String], name: String, options: Options = Options(), spool: any RecordStore,
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) throws(NATSError) {
        self.options = options
        self.spool = spool
        self.log = log
        connection = try NATSConnection(servers: servers, name: name)
        let sink = AckSink()
        jetStream = try JetStream(
            connection: connection, stream: RecordSubjects.stream, maxInFlight: options.maxInFlight,
            stallMs: options.publishTimeoutMs, requestTimeoutMs: max(options.publishTimeoutMs, 1_000),
            onPublished: { id, outcome in sink.store?.published(id, outcome) })
        sink.store = self
        let thread = Thread { [self] in
            run()
            threadDone.signal()
        }
        thread.name = "hrhub.jetstream"
        thread.start()
    }

    /// Whether samples currently go to the stream (false: to the spool). For metrics and logs.
    public var isStreamReachable: Bool { locked { streamUp } }

    /// Samples the spool holds that may not be in the stream yet (0 once flushed), as far as this store knows.
    public var spoolNeedsFlush: Bool { locked { spoolDirty } }

    /// Samples republished from the spool into the stream so far (new to the stream).
    public var flushedFromSpool: Int { locked { flushedSamples } }

    /// Profiles handed to the spool so far.
    var profilesSpooled: Int { locked { spooledProfiles } }

    // MARK: - RecordStore: writes

    public func append(_ samples: [RecordedSample], completion: @escaping @Sendable (AppendResult) -> Void) {
        let refusal: RecordStoreError? = locked {
            if stopping || closed { return .closed }
            if !samples.isEmpty && pendingSamples + samples.count > options.maxPending { return .overloaded }
            pendingSamples += samples.count
            let entry = Entry(samples, completion)
            entries.append(entry)
            work.append(.append(entry))
            lock.signal()
            return nil
        }
        if let refusal { completion(.failure(refusal)) }
    }

    public func appendProfile(_ profile: RecordedProfile) {
        locked {
            guard !stopping, !closed else { return }
            work.append(.profile(profile))
            lock.signal()
        }
    }

    /// Retention is the stream's own (`MaxAge`, per message); the spool is emptied by each flush.
    public func deleteClasses(receivedBefore cutoffMs: Int64, completion: @escaping @Sendable (Int) -> Void) {
        completion(0)
    }

    public var health: RecordStoreHealth { isStreamReachable ? .available : spool.health }

    public var counters: RecordStoreCounters {
        locked {
            var counters = tally
            counters.pendingSamples = pendingSamples
            return counters
        }
    }

    /// Waits (at most `timeoutMs`) for every append to complete (publishes acked, or spooled and committed), then
    /// completes the rest with `.closed`, stops the thread and closes the spool and the NATS connection.
    public func close(timeoutMs: Int) {
        let deadline = Date().addingTimeInterval(Double(max(0, timeoutMs)) / 1000)
        let first: Bool = locked {
            guard !stopping else { return false }
            stopping = true
            lock.broadcast()
            while !entries.isEmpty || flushing, lock.wait(until: deadline) {}
            return true
        }
        guard first else { return }
        let rest: [Entry] = locked {
            closed = true
            lock.broadcast()
            // The flush thread sees `closed` within one wait and ends; nothing may use the context after this.
            while flushing { lock.wait() }
            defer { entries.removeAll() }
            return Array(entries)
        }
        for entry in rest { entry.completion(.failure(.closed)) }
        threadDone.wait()
        jetStream.close()
        connection.close()
        spool.close(timeoutMs: timeoutMs)
    }

    // MARK: - RecordStore: reads

    public func recentSeqs(classID: String, participant: String, limit: Int) throws(RecordStoreError) -> [UInt32] {
        guard limit > 0 else { return [] }
        var seqs = Set(try spool.recentSeqs(classID: classID, participant: participant, limit: limit))
        let subject = RecordSubjects.samples(classID: classID, participant: participant)
        // Degraded (the stream unreachable, or a read failing): the spool's answer alone; the store still refuses a
        // second copy of a key when the stream is back.
        if connection.isConnected {
            do {
                if limit == 1 {
                    if let last = try lastSeq(subject) { seqs.insert(last) }
                } else {
                    seqs.formUnion(try streamSeqs(subject))
                }
            } catch {}
        }
        return Array(seqs.sorted(by: >).prefix(limit))
    }

    public func hasRecord(classID: String) throws(RecordStoreError) -> Bool {
        if try spool.hasRecord(classID: classID) { return true }
        return try !stream { () throws(NATSError) in
            try jetStream.subjects(matching: RecordSubjects.classSamples(classID))
        }.isEmpty
    }

    public func read(classID: String, participant: String?) throws(RecordStoreError) -> any RecordCursor {
        let counts = try stream { () throws(NATSError) in
            try jetStream.subjects(
                matching: participant.map { RecordSubjects.samples(classID: classID, participant: $0) }
                    ?? RecordSubjects.classSamples(classID))
        }
        let participants = counts.compactMap { subject, count in count > 0 ? RecordSubjects.parse(subject) : nil }
            .map(\.participant).sorted(by: Self.byteOrder)
        let spoolCursor = try spool.read(classID: classID, participant: participant)
        return MergedRecordCursor(participants: participants, spool: spoolCursor) {
            [self] name throws(RecordStoreError) in
            let subject = RecordSubjects.samples(classID: classID, participant: name)
            return try stream { () throws(NATSError) in
                try readSamples(subject, classID: classID, participant: name, expected: counts[subject] ?? 1)
            }
        }
    }

    public func profiles(classID: String) throws(RecordStoreError) -> [RecordedProfile] {
        let filter = RecordSubjects.classProfiles(classID)
        let messages = try stream { () throws(NATSError) in
            let counts = try jetStream.subjects(matching: filter)
            return try jetStream.readAll(filter, expected: UInt64(counts.count), lastPerSubject: true)
        }
        var byParticipant: [String: RecordedProfile] = [:]
        for message in messages {
            guard let ids = RecordSubjects.parse(message.subject),
                let profile = try? ProfileMessage.decode(message.payload)
            else { continue }
            byParticipant[ids.participant] = RecordedProfile(
                classID: classID, participant: ids.participant, profile: profile)
        }
        for spooled in try spool.profiles(classID: classID) { byParticipant[spooled.participant] = spooled }
        return byParticipant.values.sorted { Self.byteOrder($0.participant, $1.participant) }
    }

    public func profile(classID: String, participant: String) throws(RecordStoreError) -> RecordedProfile? {
        if let spooled = try spool.profile(classID: classID, participant: participant) { return spooled }
        let payload = try stream { () throws(NATSError) in
            try jetStream.lastMessage(on: RecordSubjects.profile(classID: classID, participant: participant))
        }
        guard let payload, let profile = try? ProfileMessage.decode(payload) else { return nil }
        return RecordedProfile(classID: classID, participant: participant, profile: profile)
    }

    public func classIDs() throws(RecordStoreError) -> [String] {
        let subjects = try stream { () throws(NATSError) in
            try jetStream.subjects(matching: RecordSubjects.allSamples)
        }
        var ids = Set(subjects.keys.compactMap { RecordSubjects.parse($0)?.classID })
        ids.formUnion(try spool.classIDs())
        return ids.sorted(by: Self.byteOrder)
    }

    // MARK: - Stream reads (any thread)

    /// Runs a stream read; fails at once while NATS is unreachable (a request would only time out, and the hub's
    /// thread would wait for it).
    private func stream<T>(_ body: () throws(NATSError) -> T) throws(RecordStoreError) -> T {
        guard connection.isConnected else { throw .readFailed("the record stream is unreachable (no NATS)") }
        do {
            return try body()
        } catch {
            throw .readFailed("the record stream: \(error)")
        }
    }

    /// The highest seq the stream holds for a participant's subject: the `high` of its newest message (one request).
    private func lastSeq(_ subject: String) throws(NATSError) -> UInt32? {
        guard let payload = try jetStream.lastMessage(on: subject), let ids = RecordSubjects.parse(subject) else {
            return nil
        }
        return try? RecordMessage.decodeWithHigh(payload, classID: ids.classID, participant: ids.participant).high
    }

    /// Every seq the stream holds for a participant's subject.
    private func streamSeqs(_ subject: String) throws(NATSError) -> Set<UInt32> {
        guard let ids = RecordSubjects.parse(subject) else { return [] }
        let expected = try jetStream.subjects(matching: subject)[subject] ?? 0
        return Set(
            try readSamples(subject, classID: ids.classID, participant: ids.participant, expected: expected)
                .map(\.sample.seq))
    }

    /// A participant's samples in the stream, sorted by seq, one per seq.
    private func readSamples(
        _ subject: String, classID: String, participant: String, expected: UInt64
    ) throws(NATSError) -> [RecordedSample] {
        var bySeq: [UInt32: RecordedSample] = [:]
        for message in try jetStream.readAll(subject, expected: expected) {
            guard let sample = try? RecordMessage.decode(message.payload, classID: classID, participant: participant),
                bySeq[sample.sample.seq] == nil
            else { continue }
            bySeq[sample.sample.seq] = sample
        }
        return bySeq.values.sorted { $0.sample.seq < $1.sample.seq }
    }

    // MARK: - The store's thread

    private func run() {
        var nextProbe = ContinuousClock.now
        if !connection.isConnected {
            log("record stream: NATS unreachable, samples go to the local spool until it answers")
        }
        while true {
            let (batch, failed, lostProfiles, up, finished) = locked {
                () -> ([Work], [(Entry, Int)], [RecordedProfile], Bool, Bool) in
                if closed { return ([], [], [], false, true) }
                if work.isEmpty && failedSamples.isEmpty && profilesToSpool.isEmpty {
                    _ = lock.wait(until: Date().addingTimeInterval(0.1))
                }
                defer {
                    work.removeAll()
                    failedSamples.removeAll()
                    profilesToSpool.removeAll()
                }
                return (work, failedSamples, profilesToSpool, streamUp, false)
            }
            if finished { return }
            if !failed.isEmpty { toSpool(failed) }
            for profile in lostProfiles { spoolProfile(profile) }
            var streamOK = up && connection.isConnected
            if up && !streamOK { streamDown("NATS unreachable") }
            for item in batch {
                switch item {
                case .append(let entry):
                    if streamOK {
                        streamOK = publish(entry)
                    } else {
                        toSpool(entry.samples.indices.map { (entry, $0) })
                    }
                case .profile(let profile):
                    if streamOK { streamOK = publish(profile) } else { spoolProfile(profile) }
                }
            }
            expireStalePublishes()
            deliverCompleted()
            if !streamOK && connection.isConnected && ContinuousClock.now >= nextProbe {
                nextProbe = ContinuousClock.now + .milliseconds(options.retryMs)
                probe()
            }
            startFlushIfDue()
            pruneKnown()
        }
    }

    /// Publishes the samples of `entry` the stream does not hold yet; false when the stream failed (then what was
    /// not published is spooled).
    private func publish(_ entry: Entry) -> Bool {
        for index in entry.samples.indices {
            let sample = entry.samples[index]
            let high: UInt32?
            do {
                high = try mayBeNew(sample)
            } catch {
                streamDown("reading the record stream failed: \(error)")
                toSpool((index..<entry.samples.count).map { (entry, $0) })
                return false
            }
            guard let high else {
                locked {
                    entry.remaining -= 1
                    lock.signal()
                }
                continue
            }
            let id = RecordSubjects.messageID(
                classID: sample.classID, participant: sample.participant, seq: sample.sample.seq)
            let subject = RecordSubjects.samples(classID: sample.classID, participant: sample.participant)
            guard send(subject, RecordMessage.encode(sample, high: high), id: id, for: .sample(entry, index)) else {
                toSpool((index..<entry.samples.count).map { (entry, $0) })
                return false
            }
        }
        return true
    }

    private func publish(_ profile: RecordedProfile) -> Bool {
        profileCounter += 1
        let id = "\(profile.classID)/\(profile.participant)/profile/\(profileIDPrefix)/\(profileCounter)"
        let subject = RecordSubjects.profile(classID: profile.classID, participant: profile.participant)
        guard send(subject, ProfileMessage.encode(profile.profile), id: id, for: .profile(profile)) else {
            spoolProfile(profile)
            return false
        }
        return true
    }

    /// Registers and publishes one message; false (and marks the stream down) when libnats refused it.
    private func send(_ subject: String, _ payload: [UInt8], id: String, for target: Target) -> Bool {
        locked {
            inFlight[id, default: []].append(InFlight(target: target, sentAt: .now))
            inFlightCount += 1
        }
        do {
            try jetStream.publishAsync(subject, payload, messageID: id, timeoutMs: options.publishTimeoutMs)
            return true
        } catch {
            // No outcome will come for it: take it back.
            locked {
                if var list = inFlight[id], !list.isEmpty {
                    list.removeLast()
                    inFlight[id] = list.isEmpty ? nil : list
                    inFlightCount -= 1
                }
            }
            streamDown("publishing to the record stream failed: \(error)")
            return false
        }
    }

    /// Nil when the stream holds `sample` already; otherwise the participant's highest seq to carry with it (see the
    /// type's doc and `RecordMessage`). Throws when the stream cannot be read.
    private func mayBeNew(_ sample: RecordedSample) throws(NATSError) -> UInt32? {
        let key = sample.classID + "/" + sample.participant
        let subject = RecordSubjects.samples(classID: sample.classID, participant: sample.participant)
        let seq = sample.sample.seq
        let now = ContinuousClock.now
        var entry: KnownSeqs
        if let cached = known[key], now - cached.readAt < .milliseconds(options.duplicateWindowMs / 2) {
            entry = cached
        } else {
            entry = KnownSeqs(highest: try lastSeq(subject), seqs: nil, readAt: now)
        }
        defer { known[key] = entry }
        if let highest = entry.highest, seq <= highest {
            var seqs: Set<UInt32>
            if let cached = entry.seqs { seqs = cached } else { seqs = try streamSeqs(subject) }
            let inserted = seqs.insert(seq).inserted
            entry.seqs = seqs
            return inserted ? highest : nil
        }
        entry.highest = seq
        entry.seqs?.insert(seq)
        return seq
    }

    /// An outcome from libnats' ack thread.
    fileprivate func published(_ id: String, _ outcome: PublishOutcome) {
        locked {
            guard var list = inFlight[id], !list.isEmpty else { return }  // expired already, or not ours
            let item = list.removeFirst()
            inFlight[id] = list.isEmpty ? nil : list
            inFlightCount -= 1
            settle(item.target, outcome)
            lock.signal()
        }
    }

    /// Records an outcome. Under `lock`.
    private func settle(_ target: Target, _ outcome: PublishOutcome) {
        switch (target, outcome) {
        case (.sample(let entry, let index), .stored(let duplicate)):
            entry.results[index] = !duplicate
            entry.remaining -= 1
        case (.sample(let entry, let index), .failed(let reason)):
            tally.failedCommits += 1
            failedSamples.append((entry, index))
            markDown(reason)
        case (.flush, .stored(let duplicate)):
            flushOutstanding -= 1
            if !duplicate { flushedSamples += 1 }
        case (.flush, .failed(let reason)):
            flushOutstanding -= 1
            flushFailed = true
            markDown(reason)
        case (.profile(let profile), .stored):
            // The spool's copy must stay the newest: a flush republishes spooled profiles after this one.
            if spoolDirty { profilesToSpool.append(profile) }
        case (.profile(let profile), .failed(let reason)):
            profilesToSpool.append(profile)
            markDown(reason)
        }
    }

    /// Publishes without an outcome for much longer than their timeout count as failed (a late ack is ignored).
    private func expireStalePublishes() {
        let limit = Duration.milliseconds(options.publishTimeoutMs * 3)
        let now = ContinuousClock.now
        locked {
            guard inFlightCount > 0 else { return }
            for (id, list) in inFlight {
                let stale = list.filter { now - $0.sentAt > limit }
                guard !stale.isEmpty else { continue }
                let fresh = list.filter { now - $0.sentAt <= limit }
                inFlight[id] = fresh.isEmpty ? nil : fresh
                inFlightCount -= stale.count
                for item in stale { settle(item.target, .failed("no acknowledgment from the record stream")) }
            }
        }
    }

    /// Calls the completions of the appends at the head whose every sample is settled, in order.
    private func deliverCompleted() {
        let done: [Entry] = locked {
            var done: [Entry] = []
            while let head = entries.first, head.remaining == 0 {
                entries.removeFirst()
                pendingSamples -= head.samples.count
                if head.failure == nil {
                    let new = head.results.count { $0 }
                    tally.committedSamples += new
                    tally.duplicates += head.samples.count - new
                    tally.commitBatches += 1
                }
                done.append(head)
            }
            if !done.isEmpty { lock.broadcast() }  // `close` waits for the entries to drain
            return done
        }
        for entry in done {
            if let failure = entry.failure {
                entry.completion(.failure(failure))
            } else {
                entry.completion(.success(entry.results))
            }
        }
    }

    // MARK: - The spool

    /// Appends samples (of entries) to the spool; their entries learn the outcome from its completion.
    private func toSpool(_ items: [(Entry, Int)]) {
        guard !items.isEmpty else { return }
        let samples = items.map { $0.0.samples[$0.1] }
        spoolSubmission.lock()
        locked {
            spoolDirty = true
            spoolGeneration += 1
            spoolInFlight += 1
        }
        spool.append(samples) { [self] result in
            locked {
                for (position, (entry, index)) in items.enumerated() {
                    switch result {
                    case .success(let inserted): entry.results[index] = inserted[position]
                    case .failure(let error): entry.failure = error
                    }
                    entry.remaining -= 1
                }
                spoolInFlight -= 1
                lock.signal()
            }
        }
        spoolSubmission.unlock()
    }

    private func spoolProfile(_ profile: RecordedProfile) {
        spoolSubmission.lock()
        locked {
            spoolDirty = true
            spoolGeneration += 1
            spooledProfiles += 1
        }
        spool.appendProfile(profile)
        spoolSubmission.unlock()
    }

    /// Starts a flush of the spool into the stream when the stream is up, the spool may hold samples, and every
    /// spool append has completed (so a read of the spool sees all of them).
    private func startFlushIfDue() {
        let generation: UInt64? = locked {
            guard streamUp, spoolDirty, spoolInFlight == 0, !flushing, !stopping else { return nil }
            flushing = true
            flushFailed = false
            return spoolGeneration
        }
        guard let generation else { return }
        let thread = Thread { [self] in flush(generation: generation) }
        thread.name = "hrhub.spool-flush"
        thread.start()
    }

    /// Republishes every spooled sample the stream does not hold and every spooled profile; empties the spool when
    /// all were acked and nothing was spooled since `generation`.
    private func flush(generation: UInt64) {
        var sent = 0
        let flushedBefore = locked { flushedSamples }
        do {
            for classID in try spool.classIDs() {
                for profile in try spool.profiles(classID: classID) {
                    let id = "\(classID)/\(profile.participant)/profile/\(profileIDPrefix)/flush-\(generation)"
                    try flushSend(
                        RecordSubjects.profile(classID: classID, participant: profile.participant),
                        ProfileMessage.encode(profile.profile), id: id)
                }
                let cursor = try spool.read(classID: classID, participant: nil)
                var participant: String?
                var inStream: Set<UInt32> = []
                var high: UInt32 = 0
                while true {
                    let rows = try cursor.next(max: 4_096)
                    if rows.isEmpty { break }
                    for row in rows {
                        let subject = RecordSubjects.samples(classID: classID, participant: row.participant)
                        if row.participant != participant {
                            participant = row.participant
                            do {
                                inStream = try streamSeqs(subject)
                            } catch {
                                throw RecordStoreError.readFailed("\(error)")
                            }
                            high = inStream.max() ?? 0
                        }
                        guard inStream.insert(row.sample.seq).inserted else { continue }
                        high = max(high, row.sample.seq)
                        let id = RecordSubjects.messageID(
                            classID: classID, participant: row.participant, seq: row.sample.seq)
                        try flushSend(subject, RecordMessage.encode(row, high: high), id: id)
                        sent += 1
                    }
                }
            }
        } catch {
            locked {
                flushFailed = true
                flushing = false
            }
            log("spool flush stopped, to be retried: \(error)")
            return
        }
        // Wait for the acks (each comes, or times out, within the publish timeout; expiry catches the rest).
        let emptied: Bool = locked {
            while flushOutstanding > 0 && !closed { _ = lock.wait(until: Date().addingTimeInterval(0.1)) }
            return !flushFailed
        }
        var deleted = false
        if emptied {
            spoolSubmission.lock()
            deleted = locked {
                guard spoolGeneration == generation else { return false }
                spoolDirty = false
                return true
            }
            // Queued after every spool append made so far (all committed, see `startFlushIfDue`) and before any later
            // one (`spoolSubmission` is held): it removes exactly what was flushed.
            if deleted { spool.deleteClasses(receivedBefore: .max) { _ in } }
            spoolSubmission.unlock()
        }
        let newInStream = locked { flushedSamples } - flushedBefore
        locked {
            knownStale = true
            flushing = false
            lock.broadcast()
        }
        if sent > 0 || !emptied {
            log(
                emptied
                    ? "spool flushed into the record stream: \(sent) samples republished, \(newInStream) new to it"
                        + (deleted ? "" : " (more spooled meanwhile: flushing again)")
                    : "spool flush incomplete (the stream failed), to be retried")
        }
    }

    private func flushSend(_ subject: String, _ payload: [UInt8], id: String) throws(RecordStoreError) {
        let proceed: Bool = locked {
            // Keeps at most half the in-flight room for the flush, so live appends still get through.
            while flushOutstanding >= options.maxInFlight / 2 && !flushFailed && !closed {
                _ = lock.wait(until: Date().addingTimeInterval(0.1))
            }
            guard !flushFailed, !closed else { return false }
            flushOutstanding += 1
            inFlight[id, default: []].append(InFlight(target: .flush, sentAt: .now))
            inFlightCount += 1
            return true
        }
        guard proceed else { throw .readFailed("the record stream failed during the flush") }
        do {
            try jetStream.publishAsync(subject, payload, messageID: id, timeoutMs: options.publishTimeoutMs)
        } catch {
            locked {
                if var list = inFlight[id], !list.isEmpty {
                    list.removeLast()
                    inFlight[id] = list.isEmpty ? nil : list
                    inFlightCount -= 1
                    flushOutstanding -= 1
                }
                flushFailed = true
            }
            throw .readFailed("\(error)")
        }
    }

    // MARK: - Reachability

    /// Creates or updates the stream; on success samples go to it again (and the spool is flushed).
    private func probe() {
        let shape = StreamShape(
            name: RecordSubjects.stream, subjects: RecordSubjects.streamSubjects, replicas: options.replicas,
            maxAgeMs: Int64(options.retentionDays) * 86_400_000, duplicateWindowMs: options.duplicateWindowMs)
        do {
            try jetStream.ensureStream(shape)
        } catch {
            let first: Bool = locked {
                defer { lastProbeError = "\(error)" }
                return lastProbeError != "\(error)"
            }
            if first { log("record stream unavailable (samples go to the local spool): \(error)") }
            return
        }
        known.removeAll()
        locked {
            streamUp = true
            lastProbeError = nil
        }
        log(
            "record stream \(RecordSubjects.stream) ready (replicas \(options.replicas), retention "
                + "\(options.retentionDays) days, duplicate window \(options.duplicateWindowMs / 1000) s)")
    }

    private var lastProbeError: String?

    private func streamDown(_ reason: String) {
        locked { markDown(reason) }
    }

    /// Under `lock`.
    private func markDown(_ reason: String) {
        guard streamUp else { return }
        streamUp = false
        let log = self.log
        DispatchQueue.global().async { log("record stream unreachable, samples go to the local spool: \(reason)") }
    }

    private func pruneKnown() {
        if locked({ () -> Bool in
            defer { knownStale = false }
            return knownStale
        }) {
            known.removeAll()
        }
        let now = ContinuousClock.now
        let age = Duration.milliseconds(options.duplicateWindowMs / 2)
        guard now - lastPrune > age else { return }
        lastPrune = now
        known = known.filter { now - $0.value.readAt < age }
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Byte order of the UTF-8 ids, as the SQLite store sorts them.
    static func byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
}

/// Lets libnats' ack callback reach the store without retaining it (set right after the store is made).
private final class AckSink: @unchecked Sendable {
    /// Written once in the store's `init`, before any publish; read on libnats' ack thread after that.
    weak var store: JetStreamRecordStore?
}

/// The class's record sorted by participant (byte order) then seq: each participant's samples read from the stream
/// in turn, merged with the spool's cursor, a key present in both given once.
final class MergedRecordCursor: RecordCursor {
    private var participants: ArraySlice<String>
    private let readParticipant: (String) throws(RecordStoreError) -> [RecordedSample]
    private let spool: any RecordCursor
    private var fromStream: ArraySlice<RecordedSample> = []
    private var fromSpool: ArraySlice<RecordedSample> = []
    private var spoolDone = false

    init(
        participants: [String], spool: any RecordCursor,
        readParticipant: @escaping (String) throws(RecordStoreError) -> [RecordedSample]
    ) {
        self.participants = participants[...]
        self.spool = spool
        self.readParticipant = readParticipant
    }

    func next(max: Int) throws(RecordStoreError) -> [RecordedSample] {
        var out: [RecordedSample] = []
        while out.count < max {
            if fromStream.isEmpty, let name = participants.popFirst() {
                fromStream = try readParticipant(name)[...]
                continue
            }
            if fromSpool.isEmpty && !spoolDone {
                let rows = try spool.next(max: 1_024)
                if rows.isEmpty { spoolDone = true } else { fromSpool = rows[...] }
            }
            // Here `fromStream` is empty only when no stream participant is left, `fromSpool` only when the spool is
            // done.
            switch (fromStream.first, fromSpool.first) {
            case (nil, nil):
                return out
            case (let a?, nil):
                out.append(a)
                fromStream.removeFirst()
            case (nil, let b?):
                out.append(b)
                fromSpool.removeFirst()
            case (let a?, let b?):
                if Self.precedes(a, b) {
                    out.append(a)
                    fromStream.removeFirst()
                } else if Self.precedes(b, a) {
                    out.append(b)
                    fromSpool.removeFirst()
                } else {
                    out.append(a)
                    fromStream.removeFirst()
                    fromSpool.removeFirst()
                }
            }
        }
        return out
    }

    private static func precedes(_ a: RecordedSample, _ b: RecordedSample) -> Bool {
        if a.participant != b.participant { return JetStreamRecordStore.byteOrder(a.participant, b.participant) }
        return a.sample.seq < b.sample.seq
    }
}
