import DequeModule
import HeapModule
import HRProtocol

/// What the transport must do after the relay handled an event.
public enum RelayEffect: Equatable, Sendable {
    /// The client has something to send: when its socket can take it, write what `nextFrame` gives.
    case write(ClientID)
    /// Close the client with this code; with `flushFirst`, after writing what is queued.
    case close(ClientID, CloseCode, flushFirst: Bool)
    /// Every sample of an upload is recorded or known: answer it (`highestSeq`: the upload's highest seq).
    case uploadCommitted(UploadID, accepted: Int, duplicates: Int, highestSeq: UInt32?)
    /// The record refused (part of) an upload: answer 503, nothing of it is promised.
    case uploadFailed(UploadID)
    /// Read the participant's highest recorded seqs (at most `SeqWindow.width`) and profile, off the relay's thread,
    /// and hand them to `Relay.recordRead`: a connection of theirs waits for it.
    case readRecord(classID: String, participant: String)
}

/// The relay's whole state: classes, participants, connections and their queues.
///
/// Pure and single-threaded: no I/O, no clocks. Every method takes the current hub time (Unix ms) as `now`
/// and records what the transport must do in `effects`, which the caller takes with `takeEffects()` after
/// each event. A sample's way through: `receive(.hr)` → dedupe, rate limit → jitter buffer → released on its
/// class tick (`RelayConfig.tickMs`) → encoded once → one frame per wire format and mode, shared by every viewer
/// with nothing else pending (the others get it through their `SendQueue`) → `.write` effects → `nextFrame`
/// hands each connection its frame. With the tick off, a sample is queued for every viewer when it is due.
public final class Relay {
    public let config: RelayConfig
    /// Every outcome counted; read it for metrics.
    public internal(set) var counters = RelayCounters()

    var rooms: [String: ClassRoom] = [:]
    var clients: [ClientID: Client] = [:]
    /// Publishing connections waiting for their rider's record read (Relay+Admission.swift).
    var pendingOpens: [ClientID: PendingOpen] = [:]
    var effects: [RelayEffect] = []
    /// Cluster mode (Relay+Remote.swift): keep what devices here had accepted, per class, for `takeAccepted()`.
    public var exportsAccepted = false
    var exported: [String: [AcceptedSample]] = [:]

    // The record (Relay+Record.swift); all empty when `record` is nil.
    let record: RecordIndex?
    var pendingRecord: [RecordedSample] = []
    var pendingWrites: [RecordWrite] = []
    var pendingProfiles: [RecordedProfile] = []
    var inFlight = Deque<InFlightBatch>()
    var nextBatchID: UInt64 = 0
    var uploads: [UploadID: UploadProgress] = [:]
    /// When held samples come due, earliest first; entries whose participant moved on are skipped.
    private var wakeups = Heap<Wakeup>()
    private var nextHousekeepingMs: Int64 = .min
    /// The class tick: rooms booked for the next one, when it is due, and the last grid point one ran for.
    private var tickingRooms: [ClassRoom] = []
    private var nextClassTickMs: Int64?
    private var lastClassTickMs: Int64 = .min
    /// The frame `nextFrame` builds for one connection, reused: the transport writes it before the next call.
    private let ownFrame: FrameBuffer
    /// When connections' held errors come due (`Client.refusals`), earliest first; stale entries are skipped.
    private var refusalFlushes = Heap<Flush>()
    /// Board ticks and standings rebuilds (Relay+Standings.swift).
    var standingsState = StandingsState()

    private struct Flush: Comparable {
        let atMs: Int64
        let client: Client

        static func < (a: Flush, b: Flush) -> Bool { a.atMs < b.atMs }
        static func == (a: Flush, b: Flush) -> Bool { a.atMs == b.atMs && a.client === b.client }
    }

    private struct Wakeup: Comparable {
        let atMs: Int64
        let room: ClassRoom
        let rider: Participant

        static func < (a: Wakeup, b: Wakeup) -> Bool { a.atMs < b.atMs }
        static func == (a: Wakeup, b: Wakeup) -> Bool { a.atMs == b.atMs && a.rider === b.rider }
    }

    /// A relay; with `record`, it keeps the class record (docs/PROTOCOL.md): accepted samples go out in
    /// `takeRecordBatch()`, devices are acked after `recordCommitted`, and participants are seeded from `record`.
    public init(config: RelayConfig = RelayConfig(), record: RecordIndex? = nil) {
        self.config = config
        self.record = record
        ownFrame = FrameBuffer(headroom: config.frameHeadroom, capacity: config.frameTargetBytes + 1024)
    }

    /// Number of classes remembered.
    public var classCount: Int { rooms.count }
    /// Number of open connections (virtual demo riders included).
    public var connectionCount: Int { clients.count + pendingOpens.count }

    /// Takes the effects recorded since the last call.
    public func takeEffects() -> [RelayEffect] {
        // Nothing recorded, the usual case after a frame: no copy. (`removeAll(keepingCapacity:)` on a buffer the
        // caller still holds allocates a new one of the old capacity, even when it is empty: one malloc per frame.)
        guard !effects.isEmpty else { return [] }
        defer { effects.removeAll(keepingCapacity: true) }
        return effects
    }

    // MARK: - Connections

    /// A WebSocket connection opened with the request's raw path and query. A request the relay cannot
    /// parse (the transport normally refuses those with HTTP 400 before the upgrade) is closed with 4000.
    public func open(_ id: ClientID, path: String, query: String?, format: WireFormat, now: Int64) {
        do {
            let request = try ConnectRequest.parse(path: path, query: query)
            open(id, request: request, format: format, now: now)
        } catch {
            effects.append(.close(id, .badRequest, flushFirst: false))
        }
    }

    /// A WebSocket connection opened for a valid request. Queues `welcome` (and `snapshot` for viewing
    /// roles); a publishing connection takes over an older one of the same participant (closed with 4009).
    /// `isVirtual` makes a demo rider that lives inside the hub and is never sent anything.
    /// A connection that would exceed `maxClasses` or `maxParticipantsPerClass` is closed with 4029 instead,
    /// changing nothing.
    public func open(_ id: ClientID, request: ConnectRequest, format: WireFormat, now: Int64, isVirtual: Bool = false) {
        if rooms[request.classID] == nil && rooms.count >= config.maxClasses {
            return effects.append(.close(id, .tooMany, flushFirst: false))
        }
        if request.role.publishes, let p = request.participant, let room = rooms[request.classID],
            room.participants[p] == nil, room.participants.count >= config.maxParticipantsPerClass
        {
            return effects.append(.close(id, .tooMany, flushFirst: false))
        }
        let room = rooms[request.classID] ?? makeRoom(request.classID)
        room.connectionCount += 1
        room.emptySince = nil
        let pending = PendingOpen(id: id, request: request, format: format, isVirtual: isVirtual, openedMs: now)
        guard request.role.publishes, let p = request.participant else {
            return admit(pending, rider: nil, in: room, now: now)
        }
        let rider = room.participants[p] ?? makeParticipant(p, in: room)
        if mustWaitForRecord(rider) { return park(pending, rider: rider, in: room) }
        admit(pending, rider: rider, in: room, now: now)
    }

    /// Welcomes a connection: a publishing one takes over its rider's older connection or makes the rider join.
    func admit(_ pending: PendingOpen, rider: Participant?, in room: ClassRoom, now: Int64) {
        let request = pending.request
        if let rider {
            if let older = rider.connection {
                // Takeover: the older socket goes, the participant never left (no leave, no join).
                older.closing = true
                counters.takeovers += 1
                effects.append(.close(older.id, .replaced, flushFirst: false))
            } else if !rider.isPresent {
                broadcast(.join(p: rider.id, profile: rider.profile), in: room, now: now)
            }
            // Stale stays stale until a sample comes: a new socket alone is not a reading.
            rider.lastActivityMs = now
        }

        let queue = SendQueue(
            mode: request.role.views ? request.mode : .all, format: pending.format, limits: config.queueLimits)
        let client = Client(
            id: pending.id, role: request.role, room: room, participant: rider, queue: queue,
            isVirtual: pending.isVirtual)
        rider?.connection = client
        rider?.connectedSinceMs = pending.openedMs
        clients[pending.id] = client

        let welcome = Welcome(
            classID: room.id, role: request.role, participant: request.participant,
            mode: request.role.views ? request.mode : nil, budgetMs: Int(config.budgetMs), ht: now,
            lastSeq: rider?.accepted.highest)
        send(.welcome(welcome), to: client, now: now)
        if request.role.views {
            send(.snapshot(room.presentParticipants.map(\.snapshotEntry)), to: client, now: now)
            room.addViewer(client)
            client.tickBatchStart = room.tickBatch.count  // what the class had before this viewer is not its
            client.boardTop = request.board
            sendFirstBoard(to: client, now: now)
        }
    }

    /// The connection is gone, whatever the reason. A participant whose current connection this was leaves.
    public func closed(_ id: ClientID, now: Int64) {
        if !pendingOpens.isEmpty, let pending = pendingOpens.removeValue(forKey: id) {
            return closedWhileWaiting(pending, now: now)
        }
        guard let client = clients.removeValue(forKey: id) else { return }
        let room = client.room
        room.removeViewer(client)
        boardViewerClosed(client)
        room.connectionCount -= 1
        if let rider = client.participant, rider.connection === client {
            rider.connection = nil
            if !rider.isPresent {  // still present when another hub announces them (cluster mode)
                leave(rider, reason: .closed, in: room, now: now)
            }
        }
        if room.connectionCount == 0 { room.emptySince = now }
    }

    // MARK: - Messages

    /// A decoded client message.
    public func receive(_ id: ClientID, _ message: ClientMessage, now: Int64) {
        if !pendingOpens.isEmpty, let pending = pendingOpens[id] { return keep(message, for: pending) }
        guard let client = clients[id], !client.closing else { return }
        switch message {
        case .ping(let pingID, let ct):
            if config.tickMs > 0 && client.role.views && !client.isVirtual {
                client.pongs.append(OutboundMessage(control: .pong(id: pingID, ct: ct, ht: now)))
                bookTick(client.room, now: now)
            } else {
                send(.pong(id: pingID, ct: ct, ht: now), to: client, now: now)
            }
        case .hello(let profile):
            guard let rider = client.participant else {
                return reject(id, ProtocolError(.notAllowed, "a \(client.role.rawValue) cannot send hello"), now: now)
            }
            rider.update(with: profile)
            if isRecording {
                pendingProfiles.append(
                    RecordedProfile(classID: client.room.id, participant: rider.id, profile: rider.profile))
            }
            broadcast(.join(p: rider.id, profile: rider.profile), in: client.room, now: now)
        case .hr(let sample):
            guard let rider = client.participant else {
                return reject(
                    id, ProtocolError(.notAllowed, "a \(client.role.rawValue) cannot send hr", seq: sample.seq),
                    now: now)
            }
            ingest(sample, from: rider, client: client, now: now)
        }
    }

    /// A client message that failed to decode: the client gets an `error`; no state changes.
    /// Repeated `rate_limited` and `duplicate` errors are coalesced (`ErrorCoalescer`): at most one per code per
    /// 100 ms while they come in a run of consecutive seqs, naming the count and the seqs.
    /// A client whose errors (duplicates excepted: they are harmless) exceed `maxErrors` is then closed with
    /// 4029, after the errors are sent, held ones included.
    public func reject(_ id: ClientID, _ error: ProtocolError, now: Int64) {
        guard let client = clients[id], !client.closing else { return }
        counters.errors += 1
        if let seq = error.seq, client.participant != nil { client.ack.sent(seq) }
        for refused in client.refusals.refuse(error, now: now) { send(.error(refused), to: client, now: now) }
        bookRefusals(client)
        guard error.code != .duplicate else { return }
        client.errors += 1
        if client.errors > config.maxErrors {
            for held in client.refusals.flushAll(now: now) { send(.error(held), to: client, now: now) }
            client.closing = true
            effects.append(.close(id, .tooMany, flushFirst: true))
        }
    }

    /// Books a tick for when the client's held errors are due (an earlier booking stands; a stale one is skipped).
    private func bookRefusals(_ client: Client) {
        guard let due = client.refusals.nextDueMs, client.refusalsDueMs.map({ due < $0 }) ?? true else { return }
        client.refusalsDueMs = due
        refusalFlushes.insert(Flush(atMs: due, client: client))
    }

    /// Sends the held errors that came due.
    private func flushRefusals(now: Int64) {
        while let first = refusalFlushes.min, first.atMs <= now {
            let client = refusalFlushes.removeMin().client
            guard client.refusalsDueMs == first.atMs, clients[client.id] === client else { continue }
            client.refusalsDueMs = nil
            let flushed = client.refusals.flushDue(now: now)
            for held in flushed { send(.error(held), to: client, now: now) }
            bookRefusals(client)
            // An ack held back by those errors may go now (nothing acked before its errors are out).
            if !flushed.isEmpty && !client.closing { sendAck(to: client, now: now) }
        }
    }

    private func ingest(_ sample: Sample, from rider: Participant, client: Client, now: Int64) {
        if isRecording && rider.accepted.isBelowWindow(sample.seq) {
            return backfill(sample, from: rider, client: client, now: now)
        }
        if rider.accepted.contains(sample.seq) {
            counters.duplicates += 1
            return reject(
                client.id, ProtocolError(.duplicate, "seq \(sample.seq) was already accepted", seq: sample.seq),
                now: now)
        }
        guard takeRateToken(sample, from: rider, client: client, now: now) else { return }
        rider.accepted.insert(sample.seq)
        rider.relayed.insert(sample.seq)
        if isRecording { sendToRecord(sample, of: rider, kind: .live, from: client, now: now) }
        counters.received += 1
        if exportsAccepted { export(sample, of: rider, in: client.room, now: now) }
        admit(sample, arrivedMs: now, of: rider, in: client.room, now: now)
    }

    /// An accepted sample (from a device here, or from another hub) on its way to viewers: the rider is live
    /// again, then the sample is named late or goes through the jitter buffer. `arrivedMs`: when its hub got it.
    func admit(_ sample: Sample, arrivedMs: Int64, of rider: Participant, in room: ClassRoom, now: Int64) {
        rider.clock.observe(ts: sample.ts, arrivalMs: arrivedMs)
        rider.lastActivityMs = now
        if rider.stale {
            rider.stale = false
            broadcast(.live(p: rider.id, since: now), in: room, now: now)
        }
        if let released = rider.releasedHighest, sample.seq <= released {
            // A higher seq already went out: relaying this one would break the order. Late for everyone.
            counters.arrivedLate += 1
            let gap = Gap(p: rider.id, fromSeq: sample.seq, toSeq: sample.seq, count: 1, reason: .late)
            broadcast(.gap(gap), in: room, now: now)
            return
        }
        rider.jitter.insert(sample, arrivalMs: arrivedMs, offsetMs: rider.clock.offset)
        // With the tick, nothing goes out between ticks: the sample waits for its tick (later than its arrival).
        if config.tickMs > 0 { bookWakeup(rider, in: room, now: now) } else { releaseDue(rider, in: room, now: now) }
    }

    /// A seq older than the duplicate window, with the record on: the record decides at commit whether it is a
    /// duplicate (then `error`) or a backfill (recorded, named late to viewers). Takes a rate token (given
    /// back for a duplicate).
    private func backfill(_ sample: Sample, from rider: Participant, client: Client, now: Int64) {
        guard takeRateToken(sample, from: rider, client: client, now: now) else { return }
        rider.lastActivityMs = now
        sendToRecord(sample, of: rider, kind: .backfill, from: client, now: now)
    }

    /// Takes the rider's rate token for `sample`; without one, the sample is refused with `rate_limited`.
    private func takeRateToken(_ sample: Sample, from rider: Participant, client: Client, now: Int64) -> Bool {
        guard rider.bucket.take(now: now) else {
            counters.rateLimited += 1
            reject(
                client.id,
                ProtocolError(.rateLimited, "more than \(config.maxSampleRate) samples per second", seq: sample.seq),
                now: now)
            return false
        }
        return true
    }

    /// A sample from `client` goes to the record, and the connection now awaits its ack.
    private func sendToRecord(
        _ sample: Sample, of rider: Participant, kind: RecordWrite.Kind, from client: Client, now: Int64
    ) {
        client.ack.sent(sample.seq)
        appendRecord(
            sample, classID: client.room.id, participant: rider.id, hrmax: rider.profile.hrmax, kind: kind,
            client: client, now: now)
    }

    /// Releases what the participant's jitter buffer has due, and books a wake-up for what it still holds.
    func releaseDue(_ rider: Participant, in room: ClassRoom, now: Int64) {
        for held in rider.jitter.releaseDue(now: now) {
            release(held.sample, arrivedMs: held.arrivalMs, of: rider, in: room, now: now)
        }
        bookWakeup(rider, in: room, now: now)
    }

    /// Releases everything the participant's jitter buffer holds, due or not.
    private func releaseHeld(_ rider: Participant, in room: ClassRoom, now: Int64) {
        guard !rider.jitter.held.isEmpty else { return }
        rider.scheduledWakeMs = nil
        for held in rider.jitter.releaseDue(now: .max) {
            release(held.sample, arrivedMs: held.arrivalMs, of: rider, in: room, now: now)
        }
    }

    /// The participant is no longer present: what their jitter buffer still holds goes out first, so a screen
    /// never gets a sample of someone after their `leave` (it would show them back as live).
    func leave(_ rider: Participant, reason: LeaveReason, in room: ClassRoom, now: Int64) {
        releaseHeld(rider, in: room, now: now)
        rider.stale = false
        broadcast(.leave(p: rider.id, reason: reason), in: room, now: now)
    }

    /// Books a wake-up for when the participant's jitter buffer next has something due (on the tick grid with
    /// the tick on).
    private func bookWakeup(_ rider: Participant, in room: ClassRoom, now: Int64) {
        guard let next = rider.jitter.nextReleaseMs else { return }
        if let booked = rider.scheduledWakeMs, booked <= next, booked > now { return }
        rider.scheduledWakeMs = next
        wakeups.insert(Wakeup(atMs: next, room: room, rider: rider))
    }

    /// When `tick` next has work: a held sample coming due or housekeeping.
    public var nextWakeMs: Int64 {
        min(
            wakeups.min?.atMs ?? .max, nextClassTickMs ?? .max, refusalFlushes.min?.atMs ?? .max,
            nextHousekeepingMs, nextBoardTickMs)
    }

    /// Relays one sample to every viewer of the class: encoded once, shared by every queue.
    private func release(_ sample: Sample, arrivedMs: Int64, of rider: Participant, in room: ClassRoom, now: Int64) {
        rider.releasedHighest = sample.seq
        let captureHubMs = sample.ts &+ rider.clock.offset
        if now - captureHubMs > config.budgetMs {
            // Already older than the budget (a burst after a stall): named as late, never shown as live.
            counters.arrivedLate += 1
            let gap = Gap(p: rider.id, fromSeq: sample.seq, toSeq: sample.seq, count: 1, reason: .late)
            broadcast(.gap(gap), in: room, now: now)
            return
        }
        let pct = Zones.pct(bpm: sample.bpm, hrmax: rider.profile.hrmax)
        let relayed = RelayedSample(
            p: rider.id, sample: sample, rts: arrivedMs, pct: pct, zone: pct.map { Zones.zone(pct: $0, table: config.zones) })
        rider.last = relayed
        boardChanged(room, now: now)
        guard !room.viewers.isEmpty else { return }
        let message = OutboundMessage(sample: relayed, captureHubMs: captureHubMs)
        if config.tickMs > 0 { return hold(message, in: room, now: now) }
        for viewer in room.viewers { enqueue(message, to: viewer, now: now) }
    }

    // MARK: - Writing

    /// The client's next frame, or nil when it has nothing left (after which a new `.write` effect is recorded
    /// when something comes). A tick's shared frame comes first, unless its oldest sample went over the budget
    /// while it waited (then its messages go through the client's queue, where the budget drops what is late).
    /// A frame built for this client alone is in a buffer the next call reuses: write it before asking again.
    public func nextFrame(_ id: ClientID, now: Int64) -> OutboundFrame? {
        guard let client = clients[id] else { return nil }
        if let shared = client.shared {
            client.shared = nil
            let after = client.sharedAfter
            let then = client.sharedThen
            client.sharedAfter = nil
            client.sharedThen = []
            if shared.oldestCaptureMs >= now - config.budgetMs {
                counters.addDeliveries(shared.counts)
                guard let after else {
                    counters.sharedFrames += 1
                    if client.queue.isEmpty { client.writeRequested = false }
                    return OutboundFrame(buffer: shared.buffer, kind: shared.kind)
                }
                // The client's extras, the shared messages, its pongs: one text frame, the shared part copied.
                counters.sharedFramesWithExtras += 1
                ownFrame.clearPayload()
                ownFrame.bytes.append(UInt8(ascii: "["))
                client.queue.drainExtras(count: after, into: &ownFrame.bytes)
                ownFrame.bytes.append(contentsOf: shared.buffer.bytes[(shared.buffer.headroom + 1)...])
                if !then.isEmpty {
                    ownFrame.bytes.removeLast()  // the shared part's "]"
                    for message in then {
                        ownFrame.bytes.append(UInt8(ascii: ","))
                        ownFrame.bytes.append(contentsOf: message.json)
                    }
                    ownFrame.bytes.append(UInt8(ascii: "]"))
                }
                if client.queue.isEmpty { client.writeRequested = false }
                return OutboundFrame(buffer: ownFrame, kind: .text)
            }
            client.queue.insert(shared.messages + then, after: after ?? 0, now: now, counters: &counters)
        }
        ownFrame.clearPayload()
        let kind = client.queue.drain(
            now: now, budgetMs: config.budgetMs, targetBytes: config.frameTargetBytes, into: &ownFrame.bytes,
            counters: &counters)
        // Drained dry: the next message queued records a new `.write` effect.
        if client.queue.isEmpty { client.writeRequested = false }
        return kind.map { OutboundFrame(buffer: ownFrame, kind: $0) }
    }

    /// Whether the client still has something to send after the last `nextFrame` (then the transport asks
    /// for another write; otherwise the next message queued records a `.write` effect).
    public func hasPendingWrite(_ id: ClientID) -> Bool {
        clients[id]?.writeRequested ?? false
    }

    /// Sends a reply to one connection (welcome, snapshot, pong, error, ack): never waits for the tick.
    func send(_ message: HubMessage, to client: Client, now: Int64) {
        enqueue(OutboundMessage(control: message), to: client, now: now, urgent: true)
    }

    func broadcast(_ message: HubMessage, in room: ClassRoom, now: Int64) {
        guard !room.viewers.isEmpty else { return }
        let encoded = OutboundMessage(control: message)
        if config.tickMs > 0 { return hold(encoded, in: room, now: now) }
        for viewer in room.viewers { enqueue(encoded, to: viewer, now: now) }
    }

    /// Queues a message for one connection. With the tick on, only an `urgent` one is written at once; the
    /// others (boards) go out with the class's next tick.
    func enqueue(_ message: OutboundMessage, to client: Client, now: Int64, urgent: Bool = false) {
        guard !client.isVirtual, !client.closing else { return }
        client.queue.enqueue(message, now: now, counters: &counters)
        if config.tickMs > 0 && !urgent { return bookTick(client.room, now: now) }
        requestWrite(client)
    }

    private func requestWrite(_ client: Client) {
        guard !client.writeRequested else { return }
        client.writeRequested = true
        effects.append(.write(client.id))
    }

    // MARK: - The class tick

    /// Keeps a message for every viewer of the class until its next tick.
    private func hold(_ message: OutboundMessage, in room: ClassRoom, now: Int64) {
        room.tickBatch.append(message)
        bookTick(room, now: now)
    }

    /// Books the room for the first tick of the grid after `now` (never one that already ran).
    private func bookTick(_ room: ClassRoom, now: Int64) {
        if !room.ticking {
            room.ticking = true
            tickingRooms.append(room)
        }
        let next = max(JitterBuffer.floor(now, config.tickMs), lastClassTickMs) &+ config.tickMs
        nextClassTickMs = min(nextClassTickMs ?? .max, next)
    }

    /// Runs the class tick if one is due: every booked room hands each viewer its frame.
    private func runClassTicks(now: Int64) {
        guard let due = nextClassTickMs, now >= due else { return }
        nextClassTickMs = nil
        lastClassTickMs = JitterBuffer.floor(now, config.tickMs)
        let rooms = tickingRooms
        tickingRooms = []
        for room in rooms {
            room.ticking = false
            deliverTick(room, now: now)
        }
    }

    /// One tick of one class: a viewer with nothing pending gets the tick's frame for its format and mode, built
    /// once; any other gets the tick's messages through its queue, then its held pongs. One write is asked for.
    private func deliverTick(_ room: ClassRoom, now: Int64) {
        let batch = room.tickBatch
        room.tickBatch = []
        // Built on first use, per (mode, format): [all json, all binary, latest json, latest binary].
        var frames: [SharedFrame?] = []
        var built: [Bool] = []
        if !batch.isEmpty {
            frames = [nil, nil, nil, nil]
            built = [false, false, false, false]
        }
        for viewer in room.viewers where !viewer.isVirtual && !viewer.closing {
            let start = viewer.tickBatchStart
            viewer.tickBatchStart = 0
            if start < batch.count {
                let key = (viewer.queue.mode == .latest ? 2 : 0) + (viewer.queue.format == .binary ? 1 : 0)
                var frame: SharedFrame?
                let plain = viewer.queue.isEmpty && viewer.pongs.isEmpty
                if start == 0, viewer.shared == nil, plain || viewer.queue.holdsOnlyExtras {
                    if !built[key] {
                        built[key] = true
                        frames[key] = SharedFrame.build(
                            batch, mode: viewer.queue.mode, format: viewer.queue.format, now: now,
                            budgetMs: config.budgetMs, headroom: config.frameHeadroom)
                    }
                    // Extras (its own control messages before, its pongs after) go in one frame with a text one.
                    frame = frames[key].flatMap { plain || $0.kind == .text ? $0 : nil }
                }
                if let frame {
                    viewer.shared = frame
                    if !plain {
                        viewer.sharedAfter = viewer.queue.count
                        viewer.sharedThen = viewer.pongs
                        viewer.pongs.removeAll()
                    }
                } else {
                    viewer.queue.enqueueTick(batch[start...], now: now, counters: &counters)
                }
            }
            if !viewer.pongs.isEmpty {
                for pong in viewer.pongs { viewer.queue.enqueue(pong, now: now, counters: &counters) }
                viewer.pongs.removeAll()
            }
            if viewer.shared != nil || !viewer.queue.isEmpty { requestWrite(viewer) }
        }
    }

    // MARK: - Time

    /// Releases held samples that came due and runs the class tick when it is due; every
    /// `housekeepingMs` it also marks silent participants `stale`,
    /// closes slow consumers (4008) and forgets classes empty for longer than `classLingerMs`. Call it at
    /// `nextWakeMs` (calling it more often is harmless).
    public func tick(now: Int64) {
        flushRefusals(now: now)
        while let first = wakeups.min, first.atMs <= now {
            let wakeup = wakeups.removeMin()
            guard wakeup.rider.scheduledWakeMs == wakeup.atMs, rooms[wakeup.room.id] === wakeup.room else { continue }
            wakeup.rider.scheduledWakeMs = nil
            releaseDue(wakeup.rider, in: wakeup.room, now: now)
            // Released on the tick it was due for: that tick runs now, not the next one.
            if wakeup.room.ticking { nextClassTickMs = min(nextClassTickMs ?? .max, wakeup.atMs) }
        }
        runBoardTicks(now: now)
        runClassTicks(now: now)
        guard now >= nextHousekeepingMs else { return }
        nextHousekeepingMs = now + config.housekeepingMs
        for (classID, room) in rooms {
            if let since = room.emptySince, now - since >= config.classLingerMs {
                rooms[classID] = nil
                continue
            }
            for rider in room.participants.values where rider.isPresent && !rider.stale {
                if now - rider.lastActivityMs >= config.staleAfterMs {
                    rider.stale = true
                    broadcast(.stale(p: rider.id, since: rider.lastActivityMs), in: room, now: now)
                }
            }
            for viewer in room.viewers where !viewer.closing {
                if let since = viewer.queue.overflowSince, now - since >= config.slowConsumerMs {
                    viewer.closing = true
                    counters.slowConsumerCloses += 1
                    effects.append(.close(viewer.id, .slowConsumer, flushFirst: false))
                }
            }
        }
    }

    /// Graceful shutdown: every connection is closed with 1001 after what is queued for it is written. Samples
    /// the jitter buffers hold and what waits for the class tick go out first.
    public func closeAll(now: Int64) {
        for room in rooms.values {
            for rider in room.participants.values { releaseHeld(rider, in: room, now: now) }
        }
        if nextClassTickMs != nil {
            nextClassTickMs = now
            runClassTicks(now: now)
        }
        closeWaiting()
        for client in clients.values where !client.closing && !client.isVirtual {
            for held in client.refusals.flushAll(now: now) { send(.error(held), to: client, now: now) }
            client.closing = true
            effects.append(.close(client.id, .goingAway, flushFirst: true))
        }
    }

    // MARK: - Introspection

    /// Open connections per role, demo riders excluded. O(connections): for metrics scrapes, not hot paths.
    public func connectionsByRole() -> [Role: Int] {
        var counts: [Role: Int] = [:]
        for client in clients.values where !client.isVirtual { counts[client.role, default: 0] += 1 }
        return counts
    }

    /// Messages queued across every connection, and in the fullest queue. O(connections).
    public func queueDepth() -> (total: Int, max: Int) {
        var total = 0
        var deepest = 0
        for client in clients.values {
            total += client.queue.count
            deepest = Swift.max(deepest, client.queue.count)
        }
        return (total, deepest)
    }

    /// Per class: id, connections, participants present, viewers.
    public func classSummaries() -> [(id: String, connections: Int, participants: Int, viewers: Int)] {
        rooms.values.sorted { $0.id < $1.id }.map {
            ($0.id, $0.connectionCount, $0.participants.values.filter(\.isPresent).count, $0.viewers.count)
        }
    }

    private func makeRoom(_ id: String) -> ClassRoom {
        let room = ClassRoom(id: id)
        rooms[id] = room
        loadStandings(room)
        return room
    }

    /// A participant new to the room, not read from the record yet (`Participant.seeded`).
    func makeParticipant(_ id: String, in room: ClassRoom) -> Participant {
        let rider = Participant(id: id, maxSampleRate: config.maxSampleRate, jitter: config.jitterSettings)
        room.participants[id] = rider
        return rider
    }
}
