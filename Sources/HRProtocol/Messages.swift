/// The messages of HRHub wire protocol version 1 (docs/PROTOCOL.md), as plain values.
///
/// Everything here is pure data: no I/O, no clocks. Decoding and validation live in `ClientFrameDecoder`,
/// encoding in `HubFrameEncoder`.

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
    case number(Int64)
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
    public var sample: Sample
    /// Hub receive time, Unix ms.
    public var rts: Int64
    /// round(100 × bpm / hrmax), when hrmax is known and bpm is not 0.
    public var pct: Int?
    /// Zone 1...5 derived from `pct`.
    public var zone: Int?

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
    public var classID: String
    public var role: Role
    /// Publishers and participants only.
    public var participant: String?
    /// Viewers and participants only.
    public var mode: DeliveryMode?
    public var budgetMs: Int
    /// Hub time, Unix ms.
    public var ht: Int64
    /// Publishers and participants: highest seq accepted for this participant, or nil (JSON null).
    public var lastSeq: UInt32?

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
    public var p: String
    public var profile: Profile
    /// The newest sample, relayed form.
    public var last: RelayedSample?

    public init(p: String, profile: Profile, last: RelayedSample?) {
        self.p = p
        self.profile = profile
        self.last = last
    }
}

/// Why a participant left.
public enum LeaveReason: String, Sendable {
    case closed, timeout, evicted
}

/// Why samples will never reach a client.
public enum GapReason: String, Sendable {
    case backpressure, late, conflated
}

/// A range of samples of one participant that a client will never get.
public struct Gap: Sendable, Equatable {
    public var p: String
    public var fromSeq: UInt32
    public var toSeq: UInt32
    /// How many samples in the range were dropped.
    public var count: Int
    public var reason: GapReason

    public init(p: String, fromSeq: UInt32, toSeq: UInt32, count: Int, reason: GapReason) {
        self.p = p
        self.fromSeq = fromSeq
        self.toSeq = toSeq
        self.count = count
        self.reason = reason
    }
}

/// `error` codes for rejected client messages (the connection stays open).
public enum ErrorCode: String, Sendable, Error {
    case badJSON = "bad_json"
    case badField = "bad_field"
    case unknownType = "unknown_type"
    case notAllowed = "not_allowed"
    case duplicate = "duplicate"
    case rateLimited = "rate_limited"
    case badFrame = "bad_frame"
}

/// A rejected client message: the code, a one-line human reason, and the sample's seq when known.
public struct ProtocolError: Error, Sendable, Equatable {
    public var code: ErrorCode
    public var message: String
    public var seq: UInt32?

    public init(_ code: ErrorCode, _ message: String, seq: UInt32? = nil) {
        self.code = code
        self.message = message
        self.seq = seq
    }
}

/// A message from the hub to a client.
public enum HubMessage: Sendable, Equatable {
    case welcome(Welcome)
    case snapshot([SnapshotEntry])
    case join(p: String, profile: Profile)
    case leave(p: String, reason: LeaveReason)
    case hr(RelayedSample)
    case stale(p: String, since: Int64)
    case live(p: String, since: Int64)
    case gap(Gap)
    case error(ProtocolError)
    case pong(id: PingID, ct: Int64?, ht: Int64)
}

/// WebSocket close codes the hub uses.
public enum CloseCode: UInt16, Sendable {
    case normal = 1000
    /// Hub shutting down (drain).
    case goingAway = 1001
    /// Frame larger than the configured limit.
    case tooLarge = 1009
    case badRequest = 4000
    case unauthorized = 4001
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
        case .tooMany: "too many errors"
        }
    }
}
