import HRProtocol

/// What `hrprobe run --target` points at: our hub, or another relay carrying the same samples, so that bench/
/// can compare them with one probe (issue 7).
///
/// A peer knows nothing of classes, riders or gaps: it moves opaque payloads from publishers to subscribers. The
/// probe therefore publishes, per sample, exactly the frame a hub viewer would receive for it (a JSON array with
/// one `hr` message: `p`, `seq`, `ts`, `rts`, `bpm`, …), and reads deliveries with the same scanner as the hub's.
/// What differs per target is only how to connect, subscribe, publish and unwrap a delivery (`PeerWire`).
/// Peers never send `welcome` or `gap`: a connection is ready when the peer has acknowledged its subscription,
/// and every sample a peer does not deliver counts as unexplained loss.
enum PeerTarget: String, CaseIterable {
    /// hrhub itself: `/v1/classes/{class}/ws?role=…`, `welcome`, gaps, `rts`.
    case hrhub
    /// nats-server's WebSocket listener: the NATS text protocol (CONNECT, SUB, PUB, MSG, PING/PONG) in WebSocket
    /// frames; one subject per class (`hr.{class}`).
    case nats
    /// A relay that sends every message to the other clients on the same path (bench/peers/ws-broadcast.js, and
    /// the libwebsockets floor in bench/floor/): path `/classes/{class}`, `?role=publisher` only sends.
    case wsBroadcast = "ws-broadcast"
    /// An MQTT 3.1.1 broker's WebSocket listener (mosquitto), subprotocol `mqtt`, QoS 0; one topic per class
    /// (`hr/{class}`).
    case mqtt

    /// Whether a connection that publishes and subscribes also receives its own messages. NATS echoes by default
    /// and MQTT 3.1.1 has no "no local"; the broadcast relays send to the *other* clients only.
    var echoesToSender: Bool { self != .wsBroadcast }

    /// Whether a delivered sample carries the relay's receive time (`rts`). Peers carry the probe's due time in
    /// that field, so the publisher → relay → viewer split is not measured for them.
    var stampsReceiveTime: Bool { self == .hrhub }

    /// The WebSocket subprotocols to offer, or nil for hrhub (which depends on `--binary`).
    var subprotocols: [String]? {
        switch self {
        case .hrhub: nil
        case .nats, .wsBroadcast: []
        case .mqtt: ["mqtt"]
        }
    }

    /// The path and query of one connection to a peer.
    func peerPath(classID: String, role: Role) -> String {
        switch self {
        case .hrhub: "/"
        case .nats: "/"
        case .mqtt: "/mqtt"
        case .wsBroadcast: "/classes/\(classID)?role=\(role.rawValue)"
        }
    }

    /// The subject (NATS) or topic (MQTT) of a class.
    func channel(classID: String) -> String {
        self == .mqtt ? "hr/\(classID)" : "hr.\(classID)"
    }
}
