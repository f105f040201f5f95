import HRProtocol

/// One connection as the relay sees it: who it is, what it views, and what it has not been sent yet.
final class Client {
    let id: ClientID
    let role: Role
    unowned let room: ClassRoom
    /// The participant this connection publishes for (publishers and participants).
    let participant: Participant?
    var queue: SendQueue
    /// A demo rider inside the hub: nothing is ever sent to it.
    let isVirtual: Bool
    /// Whether the transport was already asked for a write that has not yet found the queue empty.
    var writeRequested = false
    /// A tick's frame shared with the class's other viewers, not written yet; it goes before anything in `queue`
    /// but its first `sharedAfter` messages (with the queue's gaps), and `sharedThen` goes right after it: one
    /// frame of the client's own extras, the shared bytes and its held pongs (`Relay.nextFrame`).
    var shared: SharedFrame?
    var sharedAfter: Int?
    var sharedThen: [OutboundMessage] = []
    /// How much of the room's `tickBatch` was there before this connection began viewing (it gets the rest).
    var tickBatchStart = 0
    /// Pongs held for the class tick (a viewing connection with the tick on), queued after the tick's messages:
    /// a ping→pong round trip stays a barrier for everything the hub handled before the ping.
    var pongs: [OutboundMessage] = []
    /// A close was requested; nothing more is queued.
    var closing = false
    /// Errors this connection caused (duplicates excepted), towards `maxErrors`.
    var errors = 0
    /// What this connection was acked (publishing connections, with the record on).
    var ack = AckState()
    /// Repeated `rate_limited` / `duplicate` errors held to be sent as one.
    var refusals = ErrorCoalescer()
    /// When a tick is booked to send the errors `refusals` holds.
    var refusalsDueMs: Int64?
    /// Position in `room.viewers`, for O(1) removal; nil when not viewing.
    var viewerIndex: Int?
    /// How many ranks its `board` messages list (0: none; publishers never get one).
    var boardTop = 0
    /// When it was last sent a `board`, and the digests of that board's parts.
    var boardSentMs: Int64?
    var boardTopDigest: UInt64 = 0
    var boardSuffixDigest: UInt64 = 0
    /// The room's `boardChange` when it was last given a board or found to need none (`.max`: never).
    var boardChange: UInt64 = .max
    /// Its participant's rider index in the class's standings, once ranked (-1: not known yet).
    var boardRider: Int32 = -1

    init(
        id: ClientID, role: Role, room: ClassRoom, participant: Participant?, queue: SendQueue, isVirtual: Bool
    ) {
        self.id = id
        self.role = role
        self.room = room
        self.participant = participant
        self.queue = queue
        self.isVirtual = isVirtual
    }
}
