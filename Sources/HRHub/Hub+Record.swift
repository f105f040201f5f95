import HRAuth
import HRCore
import HRProtocol
import HRRecord
import LWSTransport

/// An upload waiting for its commit: the HTTP request to answer and where to read `last_seq`.
struct PendingUpload {
    let request: HTTPRequestID
    let classID: String
    let participant: String
}

/// The class record's side of the hub (docs/PROTOCOL.md, "The class record"): store completions back into the
/// relay, the upload endpoint, reading the record back, health and retention. Service thread, like all of `Hub`.
extension Hub {
    /// The store finished batches: report each to the relay, in order, and carry out what follows (acks, gaps,
    /// upload answers).
    func recordCompleted() {
        guard let record else { return }
        let now = HubClock.nowMs()
        for (id, inserted) in record.takeCompleted() {
            relay.recordCommitted(id, inserted: inserted, now: now)
        }
    }

    /// A connection waits for its rider's record read (`RelayEffect.readRecord`): on `riderReads`, since with the
    /// cluster's record it is a network request; the answer goes back to the relay on the service thread.
    func readRecord(classID: String, participant: String) {
        guard let record else { return }
        riderReads.async { [weak self] in
            let found = record.recorded(classID: classID, participant: participant, limit: Int(SeqWindow.width))
            guard let hub = self else { return }
            hub.server.post {
                hub.relay.recordRead(
                    classID: classID, participant: participant, seqs: found.seqs, profile: found.profile,
                    now: HubClock.nowMs())
            }
        }
    }

    /// `/healthz`'s answer while not draining: 503 `record unavailable` while the store cannot commit.
    var recordHealth: HTTPResponse? {
        guard let record, case .unavailable(let reason) = record.store.health else { return nil }
        return .text(503, "record unavailable: \(reason)")
    }

    // MARK: - POST /v1/classes/{classId}/participants/{participantId}/samples

    /// An offline upload: all or nothing, answered once every sample is committed (or known to be recorded).
    func upload(_ request: HTTPRequest, classID: String, participant: String) -> HTTPReply {
        guard let record else { return .response(.text(404, "the record is off on this hub (--record off)")) }
        let now = HubClock.nowMs()
        let bearer = bearer(request.head)
        let asPublisher = access.check(
            ConnectRequest(classID: classID, role: .publisher, participant: participant), bearer: bearer,
            nowSeconds: now / 1000)
        let asRider = access.check(
            ConnectRequest(classID: classID, role: .participant, participant: participant), bearer: bearer,
            nowSeconds: now / 1000)
        switch (asPublisher, asRider) {
        case (.allow, _), (_, .allow): break
        case (.unauthorized(let why), _): return .response(.text(401, why))
        case (.forbidden(let why), _): return .response(.text(403, why))
        }
        let samples: [Sample]
        do throws(UploadDecoder.Failure) {
            samples = try UploadDecoder.decode(request.body)
        } catch {
            switch error {
            case .tooLarge(let reason): return .response(.text(413, reason))
            case .invalid(let reason): return .response(.text(400, reason))
            }
        }
        nextUploadID += 1
        let id = UploadID(nextUploadID)
        pendingUploads[id] = PendingUpload(request: request.id, classID: classID, participant: participant)
        let profile = relay.isRemembered(classID: classID, participant: participant)
            ? nil : record.recorded(classID: classID, participant: participant, limit: 0).profile
        relay.upload(id, classID: classID, participant: participant, samples: samples, recordedProfile: profile, now: now)
        return .deferred
    }

    /// Answers an upload whose samples are all committed.
    func answerUpload(_ id: UploadID, accepted: Int, duplicates: Int, highestSeq: UInt32?) {
        guard let pending = pendingUploads.removeValue(forKey: id) else { return }
        let recorded = record.flatMap {
            try? $0.store.recentSeqs(classID: pending.classID, participant: pending.participant, limit: 1).first
        }
        let remembered = relay.lastSeq(classID: pending.classID, participant: pending.participant)
        let last = [recorded, remembered, highestSeq].compactMap { $0 }.max()
        let body = #"{"accepted":\#(accepted),"duplicates":\#(duplicates),"last_seq":\#(last.map { "\($0)" } ?? "null")}"#
        _ = server.respond(pending.request, HTTPResponse(status: 200, contentType: WebRoutes.jsonType, body: Array(body.utf8)))
    }

    /// Answers an upload the store refused.
    func answerUpload(_ id: UploadID, failure: String) {
        guard let pending = pendingUploads.removeValue(forKey: id) else { return }
        _ = server.respond(pending.request, .text(503, failure))
    }

    // MARK: - GET /v1/classes/{classId}/record

    /// Every recorded sample of the class (`?participant=` narrows it; `?format=csv`), streamed from a cursor.
    func recordDump(_ request: HTTPRequest, classID: String) -> HTTPReply {
        guard let record else { return .response(.text(404, "the record is off on this hub (--record off)")) }
        if let refusal = viewerRefusal(request, classID: classID) { return .response(refusal) }
        let query = QueryItems(request.head.query)
        let format: RecordEncoder.Format
        switch query["format"] {
        case nil, "json": format = .json
        case "csv": format = .csv
        case let other?: return .response(.text(400, "bad format '\(other)': expected json or csv"))
        }
        let participant = query["participant"]
        if let participant, let bad = Self.badID(participant, "participant") { return .response(bad) }
        // Opening the read may wait on the store (a JetStream consumer is created over the network), so it runs on
        // the record-read queue, never on the service thread; the answer is posted back.
        let store = record.store
        let server = self.server
        let id = request.id
        recordReads.async {
            let reply = OpenedRead(Self.openRecordRead(store, classID: classID, participant: participant, format: format))
            server.post { _ = server.respond(id, reply.reply) }
        }
        return .deferred
    }

    /// The answer to `GET …/record`: 404 without a record, 503 when the store cannot be read, else the stream, its
    /// first rows read before the status line (a store that cannot be read answers 503, not a 200 cut short).
    private static func openRecordRead(
        _ store: any RecordStore, classID: String, participant: String?, format: RecordEncoder.Format
    ) -> HTTPReply {
        do {
            guard try store.hasRecord(classID: classID) else {
                return .response(.text(404, "no record for class '\(classID)'"))
            }
            let cursor = try store.read(classID: classID, participant: participant)
            let first = try cursor.next(max: 256)
            return .stream(
                status: 200, contentType: format.contentType,
                producer: RecordStream(cursor: cursor, first: first, format: format))
        } catch {
            return .response(.text(503, "record unavailable: \(error)"))
        }
    }

    /// Nil when `request` may read the class's record: a viewer or admin token for it (or an open hub).
    func viewerRefusal(_ request: HTTPRequest, classID: String) -> HTTPResponse? {
        let decision = access.check(
            ConnectRequest(classID: classID, role: .viewer, participant: nil), bearer: bearer(request.head),
            nowSeconds: HubClock.nowMs() / 1000)
        switch decision {
        case .allow: return nil
        case .unauthorized(let why): return .text(401, why)
        case .forbidden(let why): return .text(403, why)
        }
    }

    // MARK: - Retention

    /// Deletes classes older than `--retention-days`, at start and then hourly. Runs from the tick.
    func applyRetention(now: Int64) {
        guard let record, now >= nextRetentionMs else { return }
        nextRetentionMs = now + 3_600_000
        let cutoff = now - Int64(settings.retentionDays) * 86_400_000
        let logger = self.logger
        record.store.deleteClasses(receivedBefore: cutoff) { deleted in
            if deleted > 0 { logger.notice("retention: deleted \(deleted) classes older than the retention period") }
        }
    }
}

/// Streams a record cursor as the body of `GET …/record`, one chunk of rows per call.
final class RecordStream: HTTPBodyProducer {
    private let cursor: any RecordCursor
    private var encoder: RecordEncoder
    /// Rows read before the status line went out (the first call writes them).
    private var first: [RecordedSample]?

    init(cursor: any RecordCursor, first: [RecordedSample], format: RecordEncoder.Format) {
        self.cursor = cursor
        self.first = first
        self.encoder = RecordEncoder(format: format)
    }

    func produceChunk(into chunk: inout [UInt8], limit: Int) -> HTTPBodyProgress {
        var prefetched = first
        if prefetched != nil {
            first = nil
            encoder.appendStart(to: &chunk)
        }
        while chunk.count < limit {
            let rows: [RecordedSample]
            if let taken = prefetched {
                rows = taken
                prefetched = nil
            } else {
                do {
                    rows = try cursor.next(max: 256)
                } catch {
                    // The status line is gone already: the connection closes without the body's end.
                    return .failed
                }
            }
            if rows.isEmpty {
                encoder.appendEnd(to: &chunk)
                return .done
            }
            for row in rows { encoder.append(row, to: &chunk) }
        }
        return .more
    }
}

/// `k=v&k=v` (values already percent-decoded by lws), first value of each key.
struct QueryItems {
    private var values: [String: String] = [:]

    init(_ query: String?) {
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0])
            if values[key] == nil { values[key] = parts.count > 1 ? String(parts[1]) : "" }
        }
    }

    subscript(key: String) -> String? { values[key] }
}

/// A reply made on the record-read queue, handed to the service thread once. `@unchecked Sendable`: the producer
/// inside is used by one thread at a time, the queue until it posts, the service thread after.
private struct OpenedRead: @unchecked Sendable {
    let reply: HTTPReply
    init(_ reply: HTTPReply) { self.reply = reply }
}
