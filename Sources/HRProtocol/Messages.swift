// The messages of HRHub wire protocol version 1 (docs/PROTOCOL.md), as plain values.
//
// Everything here is pure data: no I/O, no clocks. Decoding and validation live in `ClientFrameDecoder`,
// encoding in `HubFrameEncoder`.

/// Who a connection is.
public enum Role: String, Sendable, CaseIterable {
    /// A strap, watch or bike: sends samples, receives only control messages.
    case publisher
    /// A class screen or coach: receives everything in the class.
    case viewer
    /// A rider's app: publishes its own stream and views the class.
    case participant

    /// Whether this role sends `hr` samples.
    public var publishes: Bool { self != .viewer }
    /// Whether this role receives the class's samples and presence.
    public var views: Bool { self != .publisher }
}

/// How samples are delivered to a viewing connection.
public enum DeliveryMode: String, Sendable, CaseIterable {
    /// Every sample, in order; drop-oldest under backpressure.
    case all
    /// At most one pending sample per participant; newer replaces older.
    case latest
}

/// The subprotocol a connection speaks.
public enum WireFormat: String, Sendable {
    /// `hrhub.v1.json`: text frames of JSON (the default when a client offers none).
    case json = "hrhub.v1.json"
    /// `hrhub.v1.bin`: binary sample frames; control messages stay JSON text frames.
    case binary = "hrhub.v1.bin"
}

/// A rider's profile, from `hello`. Every field is optional.
public struct Profile: Sendable, Equatable {
    /// Display name, at most 64 characters.
    public var name: String?
    /// Maximum heart rate, 100...240.
    public var hrmax: Int?
    /// Resting heart rate, 25...120.
    public var hrrest: Int?

    /// Creates a profile; every field defaults to unknown.
    public init(name: String? = nil, hrmax: Int? = nil, hrrest: Int? = nil) {
        self.name = name
        self.hrmax = hrmax
        self.hrrest = hrrest
    }
}

/// One heart-rate reading as captured by a device.
public struct Sample: Sendable, Equatable {
    /// Per-device sequence number: increases by one per sample and survives reconnects. The idempotency key.
    public var seq: UInt32
    /// Capture time on the device's clock, Unix milliseconds.
    public var ts: Int64
    /// Beats per minute: 0 ("no reading") or 25...250.
    public var bpm: UInt8
    /// RR intervals in 1/1024 s, each 1...65535; at most 16 from a client (64 after conflation).
    public var rr: [UInt16]
    /// Skin contact, when the device reports it.
    public var contact: Bool?
    /// Energy expended in kJ, when the device reports it (0...65535).
    public var ee: UInt16?

    /// Creates a sample. Values are taken as given; `ClientFrameDecoder` is what validates client input.
    public init(seq: UInt32, ts: Int64, bpm: UInt8, rr: [UInt16] = [], contact: Bool? = nil, ee: UInt16? = nil) {
        self.seq = seq
        self.ts = ts
        self.bpm = bpm
        self.rr = rr
        self.contact = contact
        self.ee = ee
    }
}

/// The `id` of a `ping`, echoed verbatim in the `pong`.
public enum PingID: Sendable, Equatable {
    /// A JSON integer id.
    case number(Int64)
    /// A JSON string id.
    case string(String)
}

/// A message from a client to the hub.
public enum ClientMessage: Sendable, Equatable {
    /// `hello`: profile; may be sent again to update.
    case hello(Profile)
    /// `hr`: one sample.
    case hr(Sample)
    /// `ping`: the hub answers `pong` at once. `ct` is the client's clock, echoed back.
    case ping(id: PingID, ct: Int64?)
}

/// A sample as the hub relays it.
public struct RelayedSample: Sendable, Equatable {
    /// Participant id.
    public var p: String
    /// The sample as the device sent it (after validation; in `latest` mode `rr` may hold merged values).
    public var sample: Sample
    /// Hub receive time, Unix ms.
    public var rts: Int64
    /// round(100 × bpm / hrmax), when hrmax is known and bpm is not 0.
    public var pct: Int?
    /// Zone 1...5 derived from `pct`.
    public var zone: Int?

    /// Creates a relayed sample; `pct` and `zone` default to absent (see `Zones`).
    public init(p: String, sample: Sample, rts: Int64, pct: Int? = nil, zone: Int? = nil) {
        self.p = p
        self.sample = sample
        self.rts = rts
        self.pct = pct
        self.zone = zone
    }
}

/// The first message on every connection.
public struct Welcome: Sendable, Equatable {
    /// The class id (`class` on the wire).
    public var classID: String
    /// The connection's role.
    public var role: Role
    /// Publishers and participants only.
    public var participant: String?
    /// Viewers and participants only.
    public var mode: DeliveryMode?
    /// The class's latency budget in ms (`budget_ms`).
    public var budgetMs: Int
    /// Hub time, Unix ms.
    public var ht: Int64
    /// Publishers and participants: highest seq accepted for this participant, or nil (JSON null).
    public var lastSeq: UInt32?

    /// Creates a welcome message.
    public init(
        classID: String, role: Role, participant: String?, mode: DeliveryMode?, budgetMs: Int, ht: Int64,
        lastSeq: UInt32?
    ) {
        self.classID = classID
        self.role = role
        self.participant = participant
        self.mode = mode
        self.budgetMs = budgetMs
        self.ht = ht
        self.lastSeq = lastSeq
    }
}

/// One participant in a `snapshot`.
public struct SnapshotEntry: Sendable, Equatable {
    /// Participant id.
    public var p: String
    /// The participant's profile (`name`, `hrmax`, `hrrest` on the wire).
    public var profile: Profile
    /// The newest sample, relayed form.
    public var last: RelayedSample?

    /// Creates a snapshot entry.
    public init(p: String, profile: Profile, last: RelayedSample?) {
        self.p = p
        self.profile = profile
        self.last = last
    }
}

/// Why a participant left.
public enum LeaveReason: String, Sendable, CaseIterable {
    /// The last connection of the participant closed.
    case closed
    /// The participant's connection timed out.
    case timeout
    /// The hub removed the participant (slow consumer, errors, admin).
    case evicted
}

/// Why samples will never reach a client.
public enum GapReason: String, Sendable, CaseIterable {
    /// Dropped (oldest first) because the client's send queue was full.
    case backpressure
    /// Older than the class's latency budget, or arrived after a newer seq was released.
    case late
    /// Replaced by a newer sample in `mode=latest`.
    case conflated
}

/// A range of samples of one participant that a client will never get.
public struct Gap: Sendable, Equatable {
    /// Participant id.
    public var p: String
    /// First seq of the range (`from_seq`), inclusive.
    public var fromSeq: UInt32
    /// Last seq of the range (`to_seq`), inclusive.
    public var toSeq: UInt32
    /// How many samples in the range were dropped.
    public var count: Int
    /// Why they were dropped.
    public var reason: GapReason

    /// Creates a gap.
    public init(p: String, fromSeq: UInt32, toSeq: UInt32, count: Int, reason: GapReason) {
        self.p = p
        self.fromSeq = fromSeq
        self.toSeq = toSeq
        self.count = count
        self.reason = reason
    }
}

/// `error` codes for rejected client messages (the connection stays open).
public enum ErrorCode: String, Sendable, Error, CaseIterable {
    /// Not JSON, not an object, or no string `t`.
    case badJSON = "bad_json"
    /// A field is missing, of the wrong type or out of range; the message names the field and the range.
    case badField = "bad_field"
    /// A `t` the hub does not know.
    case unknownType = "unknown_type"
    /// The role may not send this (a viewer sending `hr`).
    case notAllowed = "not_allowed"
    /// The seq was already accepted: dropped, harmless.
    case duplicate = "duplicate"
    /// Over the participant's sample rate.
    case rateLimited = "rate_limited"
    /// A binary frame that does not parse.
    case badFrame = "bad_frame"
}

/// A rejected client message: the code, a one-line human reason, and the sample's seq when known.
public struct ProtocolError: Error, Sendable, Equatable {
    /// The `error` code.
    public var code: ErrorCode
    /// One line for a person (`msg` on the wire).
    public var message: String
    /// The rejected sample's seq, when it was readable; for a coalesced error, the first seq it names.
    public var seq: UInt32?
    /// For an error that stands for several refused samples (`count`, `from_seq`, `to_seq` on the wire): how
    /// many, and the run of consecutive seqs they had, `seq` being the first. Nil for an error about one message.
    public var coalesced: CoalescedRun?

    /// Creates an error.
    public init(_ code: ErrorCode, _ message: String, seq: UInt32? = nil, coalesced: CoalescedRun? = nil) {
        self.code = code
        self.message = message
        self.seq = seq
        self.coalesced = coalesced
    }
}

/// The samples one coalesced `error` stands for: `count` samples with the consecutive seqs `fromSeq...toSeq`.
public struct CoalescedRun: Sendable, Equatable {
    /// How many samples the error refused.
    public var count: Int
    /// The first and last seq refused.
    public var fromSeq: UInt32
    public var toSeq: UInt32

    /// A run of `count` samples from `fromSeq` to `toSeq`.
    public init(count: Int, fromSeq: UInt32, toSeq: UInt32) {
        self.count = count
        self.fromSeq = fromSeq
        self.toSeq = toSeq
    }
}

/// A message from the hub to a client.
public enum HubMessage: Sendable, Equatable {
    /// `welcome`: the first message on every connection.
    case welcome(Welcome)
    /// `snapshot`: who is in the class and their latest reading (viewers and participants).
    case snapshot([SnapshotEntry])
    /// `join`: a participant arrived or updated their profile.
    case join(p: String, profile: Profile)
    /// `leave`: a participant left.
    case leave(p: String, reason: LeaveReason)
    /// `hr`: a relayed sample.
    case hr(RelayedSample)
    /// `stale`: no sample from `p` since `since` (Unix ms) although its socket is open.
    case stale(p: String, since: Int64)
    /// `live`: samples from `p` flow again since `since` (Unix ms).
    case live(p: String, since: Int64)
    /// `gap`: samples this client will never get.
    case gap(Gap)
    /// `error`: a rejected client message.
    case error(ProtocolError)
    /// `pong`: the answer to a `ping`; `ht` is hub time.
    case pong(id: PingID, ct: Int64?, ht: Int64)
    /// `ack` (to publishing connections, with the record on): every sample this connection sent with a seq ≤ `seq`
    /// is committed to the record or was rejected with an `error` naming its seq.
    case ack(seq: UInt32)
    /// `board`: the live leaderboard (viewers and participants; `me`/`near` for participants).
    case board(Board)
}

/// WebSocket close codes the hub uses.
public enum CloseCode: UInt16, Sendable, CaseIterable {
    /// Normal closure.
    case normal = 1000
    /// Hub shutting down (drain).
    case goingAway = 1001
    /// Frame larger than the configured limit.
    case tooLarge = 1009
    /// Bad request.
    case badRequest = 4000
    /// No valid token.
    case unauthorized = 4001
    /// Token not valid for this class, role or participant.
    case forbidden = 4003
    /// Send queue full for longer than the limit.
    case slowConsumer = 4008
    /// A newer connection for the same (class, participant) took over.
    case replaced = 4009
    /// Too many errors or connections.
    case tooMany = 4029

    /// The short reason text sent in the close frame.
    public var reason: String {
        switch self {
        case .normal: "normal"
        case .goingAway: "hub shutting down"
        case .tooLarge: "frame too large"
        case .badRequest: "bad request"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        case .slowConsumer: "slow consumer"
        case .replaced: "replaced"
        case .tooMany: "too many errors or connections"
        }
    }
}
