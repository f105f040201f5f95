import HRProbeCore
import HRProtocol
import HRSimulation
import LWSTransport

/// Everything a `hrprobe run` does, resolved from the command line: which classes, how many of each kind of
/// connection, when samples are due, and which scenarios play. Pure data; `LoadSession` carries it out.
struct RunPlan {
    /// Which side of the measurement this process plays.
    enum Role: String, CaseIterable {
        /// Publish and view in this process (one clock: the most precise lag).
        case both
        /// Only publish; `ts` is stamped in the hub's clock, so a `view` process elsewhere can measure lag.
        case publish
        /// Only view; lag is measured against the hub's clock, with an error bound.
        case view

        var publishes: Bool { self != .view }
        var views: Bool { self != .publish }
    }

    /// When the publishers' samples fall within their period.
    enum Phase: String, CaseIterable {
        /// Spread uniformly over the period (as real straps, which were switched on at random times).
        case random
        /// Every publisher on the same tick: the microburst case.
        case aligned
    }

    /// The hub: scheme, host and port (the path is built per connection).
    var hub: WebSocketURL
    /// The class ids, one per class.
    var classIDs: [String]
    /// Where `classIDs` starts among the whole run's classes: 0, except in a share of a `--threads` run (`shares`).
    var firstClass = 0
    /// Per class: publishers (straps), viewers (screens) and participants (rider apps: publish and view).
    var publishers: Int
    var viewers: Int
    var participants: Int
    /// Samples per second per publishing rider (at most `maxRate`).
    var rate: Double
    /// The measured window and the warm-up before it, µs.
    var durationUs: Int64
    var warmupUs: Int64
    var mode: DeliveryMode
    var binary: Bool
    /// Accept a TLS certificate that does not verify (`--insecure`).
    var insecure = false
    /// `--device-model firmware`: riders keep every sample until acked or uploaded (`DeviceModel`), and the run
    /// ends by checking the class record against what they captured.
    var firmware = false
    var phase: Phase
    var seed: UInt64
    /// Share of the viewers (not participants) that read slowly.
    var slowViewerFraction: Double
    var storm: StormPlan?
    var ramp: RampPlan?
    var role: Role
    /// Local addresses connections are bound to, round robin (empty: the system's choice).
    var sourceAddresses: [String]
    /// How long connecting may take before sending starts anyway, µs: 15 s, plus 1 ms per connection (a hub on a
    /// busy 2-core machine welcomed about a thousand a second, so 19,900 connections need about 20 s).
    var connectTimeoutUs: Int64 { 15_000_000 + Int64(connectionCount) * 1_000 }
    /// How long to wait for the last samples after sending stops, µs; nil: the class budget plus 700 ms.
    var drainUs: Int64?
    /// What the probe talks to: the hub, or a peer relay carrying the same samples (`--target`).
    var target: PeerTarget = .hrhub
    /// The relay's process, whose CPU time and memory the report gives for the measured window (`--server-pid`).
    var serverPID: Int32?
    /// `board` on every viewing connection's URL (ranks its `board` messages list; 0: none); nil: the hub's default.
    var board: Int?
    /// A recorded heart-rate trace the riders replay, each shifted in time (`--trace`); nil: the rider model.
    var trace: HeartRateTrace?

    /// The plan split into `count` shares of consecutive classes (sizes differing by at most one), one per thread,
    /// each a whole plan for its classes; fewer when there are fewer classes. Every class keeps its id, its riders
    /// their traces and phases (`firstClass`), so the shares together run exactly what the whole plan runs. Only the
    /// first share samples the relay's process (`serverPID`): the window's relay CPU is measured once.
    func shares(_ count: Int) -> [RunPlan] {
        let n = max(1, min(count, classIDs.count))
        return (0..<n).map { i in
            let from = classIDs.count * i / n
            let to = classIDs.count * (i + 1) / n
            var share = self
            share.classIDs = Array(classIDs[from..<to])
            share.firstClass = firstClass + from
            if i > 0 { share.serverPID = nil }
            return share
        }
    }

    /// The highest `--rate`: a 100 µs period, still well above the probe's timer resolution.
    static let maxRate = 10_000.0

    /// When each rider's samples are due, from `rate`.
    var schedule: SampleSchedule { SampleSchedule(rate: rate) }

    /// Riders (publishing connections) per class.
    var ridersPerClass: Int { publishers + participants }
    /// Viewing connections per class.
    var viewingPerClass: Int { viewers + participants }

    /// Connections this process opens.
    var connectionCount: Int {
        let perClass: Int
        switch role {
        case .both: perClass = publishers + viewers + participants
        case .publish: perClass = publishers + participants
        case .view: perClass = viewers
        }
        return perClass * classIDs.count
    }

    /// `/v1/classes/{class}/ws?role=…&participant=…&mode=…` for one connection.
    func path(classIndex: Int, role: Role_, rider: Int?) -> String {
        guard target == .hrhub else { return target.peerPath(classID: classIDs[classIndex], role: role) }
        var query = "role=\(role.rawValue)"
        if let rider { query += "&participant=\(ParticipantNumbering.id(rider))" }
        if role.views && mode != .all { query += "&mode=\(mode.rawValue)" }
        if role.views, let board { query += "&board=\(board)" }
        return "/v1/classes/\(classIDs[classIndex])/ws?\(query)"
    }

    /// The protocol's role, spelled as in the URL.
    typealias Role_ = HRProtocol.Role

    /// Source addresses to spread `connections` over when none were given: to a loopback hub, as many of
    /// 127.0.0.1, 127.0.0.2, … as it takes for each to use at most 7/8 of the `ephemeralPorts` (an outgoing
    /// connection takes one port per source address and destination; the eighth left is for other programs and
    /// for ports still in TIME_WAIT from an earlier run); none (the system's choice) when one address suffices
    /// or the hub is elsewhere.
    static func automaticSourceAddresses(connections: Int, host: String, ephemeralPorts: Int) -> [String] {
        let perAddress = max(1, ephemeralPorts * 7 / 8)
        guard host.hasPrefix("127."), connections > perAddress else { return [] }
        let count = min(254, (connections + perAddress - 1) / perAddress)
        return (1...count).map { "127.0.0.\($0)" }
    }
}
