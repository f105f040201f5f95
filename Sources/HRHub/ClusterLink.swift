import HRCluster
import HRCore
import HRProtocol
import Synchronization

/// The hub's side of a cluster (`--nats`): its NATS connection and what it knows of the other hubs.
/// Service thread only, like the hub; NATS handlers post to it (Hub+Cluster.swift).
final class ClusterLink {
    /// How often this hub announces itself, and how long a silent hub is taken for alive.
    static let heartbeatMs: Int64 = 1_000
    static let hubTimeoutMs: Int64 = 3_000
    /// Longest wait for NATS to confirm new subscriptions (the service thread blocks meanwhile). Only when interest
    /// grows and NATS is connected (a loopback or LAN round trip: well under a millisecond). 100 ms was too short
    /// on a loaded machine: the flush gave up, a viewer's ping→pong no longer proved the subscription, and a
    /// sample published at once was missed (tests/e2e/test_cluster.py, once in a CI run at load average 19).
    static let subscribeFlushMs: Int64 = 1_000

    let hubID: String
    let connection: NATSConnection
    /// Sample subscriptions, one per class this hub has connections in.
    var classSubscriptions: [String: NATSSubscription] = [:]
    /// With the shared record: a subscription per class in use to what the record stream stores (core NATS sees every
    /// publish to the stream's subjects), for the standings.
    var recordSubscriptions: [String: NATSSubscription] = [:]
    /// Recorded samples received on libnats' threads, waiting for the service thread.
    let recorded = RecordedInbox()
    var hubsSubscription: NATSSubscription?
    /// Each other hub's last announcement, and when it was last heard from (announcement or samples).
    var announcements: [String: Announcement] = [:]
    var lastHeardMs: [String: Int64] = [:]
    /// A cluster pass (publish what was accepted, follow interest) is posted and has not run yet.
    var passScheduled = false
    /// The relay's connection count at the last pass: a change means interest or presence may have changed.
    var connectionsAtLastPass = -1
    var nextHeartbeatMs: Int64 = 0
    /// The hub drains: its announcements say it is leaving.
    var leaving = false
    /// Whether NATS was reachable at the last heartbeat (logged when it changes).
    var wasConnected = false
    /// Messages published and received, and received messages that did not decode.
    var published = 0
    var received = 0
    var malformed = 0

    init(hubID: String, connection: NATSConnection) {
        self.hubID = hubID
        self.connection = connection
    }

    /// When the hub's timer must next fire for the cluster (the heartbeat, which also checks for dead hubs).
    var nextWakeMs: Int64 { nextHeartbeatMs }

    /// `host-pid`, made an id: what `--hub-id` defaults to.
    static func defaultHubID(host: String, pid: Int32) -> String {
        let allowed = host.unicodeScalars.map { scalar -> Character in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "-"
                || scalar == "_") ? Character(scalar) : "-"
        }
        return String(String(allowed).prefix(50)) + "-\(pid)"
    }
}

/// Samples the shared record stored, as a record subscription receives them on libnats' threads, waiting for the
/// service thread: `add` says whether the inbox was empty (then the caller posts one job that calls `take`).
final class RecordedInbox: Sendable {
    private let samples = Mutex<[RecordedSample]>([])
    /// Recorded messages that did not decode (dropped).
    let malformed = Atomic<Int>(0)

    /// Adds a sample; true when it is the first since the last `take`.
    func add(_ sample: RecordedSample) -> Bool {
        samples.withLock { list in
            list.append(sample)
            return list.count == 1
        }
    }

    /// Everything added since the last call, in arrival order.
    func take() -> [RecordedSample] {
        samples.withLock { list in
            defer { list.removeAll(keepingCapacity: true) }
            return list
        }
    }
}
