import DequeModule
import HRProtocol

/// Why an accepted sample is written, and who hears about its commit.
struct RecordWrite {
    enum Kind: Equatable {
        /// Accepted on a socket and relayed live (or named late): the record is its second home.
        case live
        /// Too old for the live path and not known to be a duplicate: recorded if new, then named late to viewers.
        case backfill
        /// From an offline upload: recorded if new, never relayed live.
        case upload(UploadID)
    }

    let kind: Kind
    let seq: UInt32
    /// The connection that sent it (live and backfill): acked, or told `duplicate`, after the commit.
    let client: Client?
    let classID: String
    let participant: String
}

/// A batch handed to the store and not yet reported back.
struct InFlightBatch {
    let id: UInt64
    let writes: [RecordWrite]
    /// The samples, index for index with `writes`: those the store reports new go to the standings.
    let samples: [RecordedSample]
}

/// An upload's progress towards its HTTP answer.
struct UploadProgress {
    var remaining: Int
    var accepted = 0
    var duplicates = 0
    var failed = false
    var highestSeq: UInt32?
}

/// The record's side of the relay (docs/PROTOCOL.md, "The class record"): what to write, when a device may be
/// acked, durable dedupe beyond the in-memory window, backfills and uploads. Pure like the rest of the relay:
/// the hub takes `RecordBatch`es, writes them and reports each outcome back with `recordCommitted`.
extension Relay {
    /// Whether the relay keeps a record (a `RecordIndex` was given).
    public var isRecording: Bool { record != nil }

    /// The samples and profiles accepted since the last call, as one batch to append; nil when there is nothing.
    public func takeRecordBatch() -> RecordBatch? {
        guard !pendingRecord.isEmpty || !pendingProfiles.isEmpty else { return nil }
        nextBatchID += 1
        let batch = RecordBatch(id: nextBatchID, samples: pendingRecord, profiles: pendingProfiles)
        inFlight.append(InFlightBatch(id: nextBatchID, writes: pendingWrites, samples: pendingRecord))
        // Fresh arrays, not `removeAll(keepingCapacity:)`: the batch and `inFlight` still hold these buffers, so
        // keeping the capacity would allocate a copy as large as the largest batch so far for every batch taken,
        // and each batch in flight would hold one (heaptrack, 10,000 publishers at 1 Hz: ≈ 360 bytes per connection).
        pendingRecord = []
        pendingWrites = []
        pendingProfiles = []
        return batch
    }

    /// Batches handed to the store and not yet reported back.
    public var recordBatchesInFlight: Int { inFlight.count }

    /// The store's outcome for batch `id` (batches normally complete in the order they were taken; a refusal may
    /// overtake a batch still being written, and is handled wherever it comes): `inserted[i]` says
    /// whether sample i was new to the record; nil means the store refused the whole batch (overloaded or
    /// closed), so none of it was recorded. Sends acks, `duplicate` errors for backfills the record already
    /// held, `late` gaps for new backfills and uploads, and answers uploads whose last sample this was.
    public func recordCommitted(_ id: UInt64, inserted: [Bool]?, now: Int64) {
        guard let index = inFlight.firstIndex(where: { $0.id == id }) else { return }  // reported once only
        let first = inFlight.remove(at: index)
        var touched: [ClientID: (client: Client, committedBelowAck: Bool)] = [:]
        var lateRuns = LateRuns()
        for (index, write) in first.writes.enumerated() {
            let rider = rooms[write.classID]?.participants[write.participant]
            if let client = write.client {
                client.ack.finished(write.seq, recorded: inserted != nil)
                let belowAck = client.ack.lastAcked.map { write.seq <= $0 } ?? false
                let old = touched[client.id]?.committedBelowAck ?? false
                touched[client.id] = (client, old || belowAck)
            }
            guard let inserted else {
                counters.recordFailed += 1
                // Not recorded: a resend must be accepted again.
                rider?.accepted.remove(write.seq)
                if case .upload(let upload) = write.kind { uploads[upload]?.failed = true }
                finishUploadIfDone(write, now: now)
                continue
            }
            let isNew = inserted[index]
            if write.client != nil { counters.ackDelay.record(now - first.samples[index].rts) }
            if isNew {
                counters.recorded += 1
                standingsRecorded(first.samples[index], now: now)
            } else {
                counters.recordDuplicates += 1
            }
            switch write.kind {
            case .live:
                break  // already relayed (or named late); a duplicate here was recorded first by an upload
            case .backfill:
                if isNew {
                    counters.backfilled += 1
                    lateRuns.add(write)
                } else if let client = write.client, clients[client.id] === client, !client.closing {
                    counters.duplicates += 1
                    rider?.bucket.refund()
                    reject(client.id, ProtocolError(.duplicate, "seq \(write.seq) was already recorded", seq: write.seq), now: now)
                }
            case .upload(let upload):
                if isNew {
                    uploads[upload]?.accepted += 1
                    rider?.accepted.insert(write.seq)
                    lateRuns.add(write)
                } else {
                    uploads[upload]?.duplicates += 1
                }
            }
            finishUploadIfDone(write, now: now)
        }
        for run in lateRuns.runs {
            guard let room = rooms[run.classID] else { continue }
            broadcast(
                .gap(Gap(p: run.participant, fromSeq: run.from, toSeq: run.to, count: run.count, reason: .late)),
                in: room, now: now)
        }
        for (client, committedBelowAck) in touched.values where clients[client.id] === client && !client.closing {
            sendAck(to: client, repeating: committedBelowAck, now: now)
        }
    }

    /// Acks `client` as far as it may be acked now. An ack promises that every rejected seq below it was named in
    /// an error: errors still held to be coalesced keep the ack below their seqs until they go out (then
    /// `flushRefusals` calls this again). With `repeating`, the last N goes again when it cannot grow.
    func sendAck(to client: Client, repeating: Bool = false, now: Int64) {
        guard isRecording, client.participant != nil else { return }
        if let n = client.ack.ackable(heldFrom: client.refusals.lowestHeldSeq),
            client.ack.lastAcked.map({ n > $0 }) ?? true
        {
            client.ack.lastAcked = n
            counters.acks += 1
            send(.ack(seq: n), to: client, now: now)
        } else if repeating, let n = client.ack.lastAcked {
            counters.acks += 1
            send(.ack(seq: n), to: client, now: now)
        }
    }

    /// An offline upload of `participant`'s samples into `classID` (already validated, all or nothing). Samples
    /// the relay knows to be recorded count as duplicates at once; the rest go to the record, never live. The
    /// relay reports `.uploadCommitted` once every sample's fate is known. Not charged to the rate limit.
    /// `recordedProfile` gives the hrmax for zones when the participant is not in memory.
    public func upload(
        _ id: UploadID, classID: String, participant: String, samples: [Sample], recordedProfile: Profile?,
        now: Int64
    ) {
        let rider = rooms[classID]?.participants[participant]
        if let rider { seedFromRecord(rider, classID: classID) }
        let hrmax = rider?.profile.hrmax ?? recordedProfile?.hrmax
        var progress = UploadProgress(remaining: 0)
        for sample in samples {
            progress.highestSeq = max(progress.highestSeq ?? sample.seq, sample.seq)
            if let rider, !rider.accepted.isBelowWindow(sample.seq), rider.accepted.contains(sample.seq) {
                progress.duplicates += 1
                continue
            }
            progress.remaining += 1
            appendRecord(
                sample, classID: classID, participant: participant, hrmax: hrmax, kind: .upload(id), client: nil,
                now: now)
        }
        uploads[id] = progress
        if progress.remaining == 0 { finishUpload(id) }
    }

    /// Whether the relay has `participant` of `classID` in memory (then it knows its profile and window).
    public func isRemembered(classID: String, participant: String) -> Bool {
        rooms[classID]?.participants[participant] != nil
    }

    /// The highest seq accepted for `participant` of `classID` while in memory (`welcome.last_seq`), or nil.
    public func lastSeq(classID: String, participant: String) -> UInt32? {
        rooms[classID]?.participants[participant]?.accepted.highest
    }

    // MARK: - Internals

    /// Queues an accepted sample for the next batch.
    func appendRecord(
        _ sample: Sample, classID: String, participant: String, hrmax: Int?, kind: RecordWrite.Kind,
        client: Client?, now: Int64
    ) {
        let zone = Zones.pct(bpm: sample.bpm, hrmax: hrmax).map { UInt8(Zones.zone(pct: $0, table: config.zones)) }
        pendingRecord.append(
            RecordedSample(classID: classID, participant: participant, sample: sample, rts: now, zone: zone))
        pendingWrites.append(
            RecordWrite(kind: kind, seq: sample.seq, client: client, classID: classID, participant: participant))
        client?.ack.outstanding.append(sample.seq)
    }

    /// Seeds a participant from the record now, on the relay's thread (an upload, answered after its commit anyway).
    func seedFromRecord(_ rider: Participant, classID: String) {
        guard !rider.seeded, let record else { return }
        let found = record.recorded(classID: classID, participant: rider.id, limit: Int(SeqWindow.width))
        seed(rider, seqs: found.seqs, profile: found.profile)
    }

    private func finishUploadIfDone(_ write: RecordWrite, now: Int64) {
        guard case .upload(let id) = write.kind, var progress = uploads[id] else { return }
        progress.remaining -= 1
        uploads[id] = progress
        if progress.remaining == 0 { finishUpload(id) }
    }

    private func finishUpload(_ id: UploadID) {
        guard let progress = uploads.removeValue(forKey: id) else { return }
        if progress.failed {
            effects.append(.uploadFailed(id))
        } else {
            effects.append(
                .uploadCommitted(
                    id, accepted: progress.accepted, duplicates: progress.duplicates, highestSeq: progress.highestSeq))
        }
    }
}

/// Consecutive seqs of one participant merged into one `late` gap each.
private struct LateRuns {
    struct Run {
        let classID: String
        let participant: String
        let from: UInt32
        var to: UInt32
        var count: Int
    }

    private(set) var runs: [Run] = []

    mutating func add(_ write: RecordWrite) {
        if var last = runs.last, last.classID == write.classID, last.participant == write.participant,
            last.to != .max, write.seq == last.to + 1
        {
            last.to = write.seq
            last.count += 1
            runs[runs.count - 1] = last
        } else {
            runs.append(Run(classID: write.classID, participant: write.participant, from: write.seq, to: write.seq, count: 1))
        }
    }
}
