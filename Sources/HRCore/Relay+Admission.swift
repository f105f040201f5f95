import HRProtocol

/// A publishing connection waiting for its rider's record read (`RelayEffect.readRecord`): it is welcomed, takes over
/// and joins only when the read is back (`Relay.recordRead`), so `welcome.last_seq` and the duplicate window follow
/// the record, and what it sends meanwhile is kept and handled then, in order.
final class PendingOpen {
    let id: ClientID
    let request: ConnectRequest
    let format: WireFormat
    let isVirtual: Bool
    let openedMs: Int64
    /// Messages received while waiting, in order; at most `Relay.pendingMessageLimit`.
    var messages: [ClientMessage] = []
    /// A close was requested (too many messages while waiting, or a drain); it is never admitted.
    var closing = false

    init(id: ClientID, request: ConnectRequest, format: WireFormat, isVirtual: Bool, openedMs: Int64) {
        self.id = id
        self.request = request
        self.format = format
        self.isVirtual = isVirtual
        self.openedMs = openedMs
    }
}

/// Admission of a rider the relay has not read from the record yet (docs/PROTOCOL.md, "The class record"): the read
/// runs off the relay's thread, since with the cluster's record it is a network request, and a reconnect storm after a
/// hub dies would otherwise hold every screen of this hub still.
extension Relay {
    /// Messages a connection may send before its read is back; beyond, it is closed with 4029 (a device replaying its
    /// offline buffer sends a few hundred at most; nothing of it was acked, so it sends them again).
    public static let pendingMessageLimit = 4_096

    /// Whether a publishing connection of `rider` must wait for a record read before it is admitted.
    func mustWaitForRecord(_ rider: Participant) -> Bool {
        record != nil && !rider.seeded
    }

    /// Seeds a rider with what the record holds, once: the recorded seqs join its window; the recorded profile fills
    /// in what no `hello` or announcement gave it yet.
    func seed(_ rider: Participant, seqs: [UInt32], profile: Profile?) {
        rider.seeded = true
        rider.accepted.seed(seqs)
        if let recorded = profile {
            let known = rider.profile
            rider.update(with: recorded)
            rider.update(with: known)
        }
    }

    /// Parks a publishing connection until `recordRead` brings its rider's record; the first one asks for the read.
    func park(_ pending: PendingOpen, rider: Participant, in room: ClassRoom) {
        pendingOpens[pending.id] = pending
        if rider.waiting.isEmpty {
            effects.append(.readRecord(classID: room.id, participant: rider.id))
        }
        rider.waiting.append(pending)
    }

    /// The record read `RelayEffect.readRecord` asked for: seeds the rider (its highest recorded seqs, highest first,
    /// and its recorded profile), then admits its waiting connections in the order they opened, each with what it sent
    /// meanwhile. A read that failed is passed as nothing recorded (the store still refuses a second copy of a key).
    public func recordRead(
        classID: String, participant: String, seqs: [UInt32], profile: Profile?, now: Int64
    ) {
        guard let room = rooms[classID], let rider = room.participants[participant] else { return }
        seed(rider, seqs: seqs, profile: profile)
        let waiting = rider.waiting
        rider.waiting = []
        for pending in waiting where !pending.closing && pendingOpens.removeValue(forKey: pending.id) != nil {
            admit(pending, rider: rider, in: room, now: now)
            for message in pending.messages { receive(pending.id, message, now: now) }
        }
    }

    /// A message from a connection still waiting for its read: kept for then.
    func keep(_ message: ClientMessage, for pending: PendingOpen) {
        guard !pending.closing else { return }
        guard pending.messages.count < Self.pendingMessageLimit else {
            pending.closing = true
            return effects.append(.close(pending.id, .tooMany, flushFirst: false))
        }
        pending.messages.append(message)
    }

    /// Drain: connections still waiting are closed with 1001 (they were never welcomed).
    func closeWaiting() {
        for pending in pendingOpens.values where !pending.closing {
            pending.closing = true
            effects.append(.close(pending.id, .goingAway, flushFirst: true))
        }
    }

    /// A waiting connection closed before it was admitted: it leaves no trace (it never joined).
    func closedWhileWaiting(_ pending: PendingOpen, now: Int64) {
        guard let room = rooms[pending.request.classID] else { return }
        if let p = pending.request.participant, let rider = room.participants[p] {
            rider.waiting.removeAll { $0 === pending }
        }
        room.connectionCount -= 1
        if room.connectionCount == 0 { room.emptySince = now }
    }
}
