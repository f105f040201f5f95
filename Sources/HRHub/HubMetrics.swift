import CoreMetrics
import HRCluster
import HRCore
import HRProtocol
import HRRecord
import LWSTransport
import Prometheus

/// `/metrics`: the relay's counters and gauges in Prometheus text, through swift-prometheus.
///
/// The relay counts every outcome itself (`RelayCounters`, plain integers on the hot path); a scrape turns
/// the change since the previous scrape into Prometheus counter increments, so the hot path never touches a
/// lock or an atomic. The two latency histograms are bucketed inside the relay too (`LatencyHistogram`) and
/// written here in the exposition format, since a Prometheus histogram object only takes single values.
/// swift-metrics is bootstrapped with the same registry, so any library metric lands on the same page.
final class HubMetrics {
    let registry: PrometheusCollectorRegistry
    private var last = RelayCounters()

    private let received: Prometheus.Counter
    private let delivered: Prometheus.Counter
    private let dropped: [String: Prometheus.Counter]
    private let errors: Prometheus.Counter
    private let slowConsumerCloses: Prometheus.Counter
    private let takeovers: Prometheus.Counter
    private let connections: [Role: Prometheus.Gauge]
    private let classes: Prometheus.Gauge
    private let queuedMessages: Prometheus.Gauge
    private let deepestQueue: Prometheus.Gauge
    private let draining: Prometheus.Gauge
    private var lastStore = RecordStoreCounters()
    private let recorded: [String: Prometheus.Counter]
    private let acks: Prometheus.Counter
    private let boardTicks: Prometheus.Counter
    private let tickFrames: [String: Prometheus.Counter]
    private let boards: Prometheus.Counter
    private let storeCommits: Prometheus.Counter
    private let storeFailedCommits: Prometheus.Counter
    private let storePending: Prometheus.Gauge
    private let recordAvailable: Prometheus.Gauge
    private let clusterConnected: Prometheus.Gauge
    private let recordSpooling: Prometheus.Gauge
    private let spoolFlushed: Prometheus.Counter
    private var lastFlushed = 0
    private let remoteSamples: [String: Prometheus.Counter]
    private let clusterMessages: [String: Prometheus.Counter]
    private var lastCluster = (published: 0, received: 0, malformed: 0)

    init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        func counter(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Prometheus.Counter {
            registry.makeCounter(
                descriptor: MetricNameDescriptor(namespace: "hrhub", metricName: name, unitName: "total", helpText: help),
                labels: labels)
        }
        func gauge(_ name: String, _ unit: String, _ help: String, _ labels: [(String, String)] = [])
            -> Prometheus.Gauge
        {
            registry.makeGauge(
                descriptor: MetricNameDescriptor(namespace: "hrhub", metricName: name, unitName: unit, helpText: help),
                labels: labels)
        }
        received = counter("samples_received", "Samples accepted from devices.")
        delivered = counter("samples_delivered", "Sample deliveries put into frames (one per sample per client).")
        let dropHelp = "Samples not delivered, by reason (per client for backpressure, late, conflated)."
        dropped = Dictionary(
            uniqueKeysWithValues: ["backpressure", "late", "conflated", "arrived_late", "duplicate", "rate_limited"]
                .map { ($0, counter("samples_dropped", dropHelp, [("reason", $0)])) })
        errors = counter("client_errors", "Client messages answered with an error.")
        slowConsumerCloses = counter("slow_consumer_closes", "Connections closed as slow consumers (4008).")
        takeovers = counter("takeovers", "Connections replaced by a newer one of the same participant (4009).")
        connections = Dictionary(
            uniqueKeysWithValues: Role.allCases.map {
                ($0, gauge("open", "connections", "Open WebSocket connections by role.", [("role", $0.rawValue)]))
            })
        classes = gauge("remembered", "classes", "Classes the hub remembers.")
        queuedMessages = gauge("queued", "messages", "Messages waiting in every client queue.")
        deepestQueue = gauge("deepest_queue", "messages", "Messages waiting in the fullest client queue.")
        draining = gauge("draining", "state", "1 while the hub drains.")
        // Read once: the hub raises the soft limit to the hard one at start, before this exists.
        gauge("open_file_limit", "descriptors", "The soft open-file limit in force (each connection holds one).")
            .set(to: Double(OpenFileLimit.current.soft))
        let recordHelp = "Samples the record committed, by kind: new (live or upload), backfill (too old for the live "
            + "path, new to the record), duplicate (already recorded), refused (store overloaded or closed)."
        recorded = Dictionary(
            uniqueKeysWithValues: ["new", "backfill", "duplicate", "refused"]
                .map { ($0, counter("record_samples", recordHelp, [("outcome", $0)])) })
        acks = counter("acks_sent", "ack messages sent to publishing connections.")
        boardTicks = counter("board_ticks", "Class board ticks run (one leaderboard built and encoded each).")
        boards = counter("board_messages", "board messages queued to viewing connections.")
        let tickHelp = "Class tick frames written from the tick's shared bytes: as they are (shared), or copied into "
            + "one frame with the connection's own extras, a board or a gap before and pongs after (with_extras)."
        tickFrames = Dictionary(
            uniqueKeysWithValues: ["shared", "with_extras"]
                .map { ($0, counter("tick_frames", tickHelp, [("kind", $0)])) })
        storeCommits = counter("record_commits", "Transactions the record committed (each holds many samples).")
        storeFailedCommits = counter(
            "record_failed_commits", "Commit attempts of the record that failed (disk full, I/O error); each is retried.")
        storePending = gauge("record_pending", "samples", "Samples handed to the record and not committed yet.")
        recordAvailable = gauge("record_available", "state", "1 while the record commits, 0 while it fails (-1: off).")
        clusterConnected = gauge(
            "cluster_connected", "state", "1 while NATS is reachable, 0 while the cluster is unreachable (-1: no --nats).")
        recordSpooling = gauge(
            "record_spooling", "state",
            "1 while the cluster's record stream is unreachable and samples go to the local spool, 0 while they go to "
                + "the stream (-1: no --nats or --record off).")
        spoolFlushed = counter(
            "record_spool_flushed", "Samples republished from the local spool into the record stream, new to it.")
        let remoteHelp = "Samples other hubs accepted, by outcome here: relayed (through the local rules) or duplicate."
        remoteSamples = Dictionary(
            uniqueKeysWithValues: ["relayed", "duplicate"]
                .map { ($0, counter("cluster_samples", remoteHelp, [("outcome", $0)])) })
        clusterMessages = Dictionary(
            uniqueKeysWithValues: ["published", "received", "malformed"].map {
                ($0, counter("cluster_messages", "NATS messages of the cluster, by direction.", [("direction", $0)]))
            })
    }

    /// The page for one scrape. Service thread (reads the relay).
    func render(relay: Relay, isDraining: Bool, store: (any RecordStore)?, cluster: ClusterLink? = nil) -> [UInt8] {
        let now = relay.counters
        remoteSamples["relayed"]?.increment(by: Int64(now.remoteReceived - last.remoteReceived))
        remoteSamples["duplicate"]?.increment(by: Int64(now.remoteDuplicates - last.remoteDuplicates))
        if let shared = store as? JetStreamRecordStore {
            recordSpooling.set(to: shared.isStreamReachable ? 0 : 1)
            let flushed = shared.flushedFromSpool
            spoolFlushed.increment(by: Int64(flushed - lastFlushed))
            lastFlushed = flushed
        } else {
            recordSpooling.set(to: -1)
        }
        if let cluster {
            clusterConnected.set(to: cluster.connection.isConnected ? 1 : 0)
            clusterMessages["published"]?.increment(by: Int64(cluster.published - lastCluster.published))
            clusterMessages["received"]?.increment(by: Int64(cluster.received - lastCluster.received))
            clusterMessages["malformed"]?.increment(by: Int64(cluster.malformed - lastCluster.malformed))
            lastCluster = (cluster.published, cluster.received, cluster.malformed)
        } else {
            clusterConnected.set(to: -1)
        }
        received.increment(by: Int64(now.received - last.received))
        delivered.increment(by: Int64(now.delivered - last.delivered))
        dropped["backpressure"]?.increment(by: Int64(now.droppedBackpressure - last.droppedBackpressure))
        dropped["late"]?.increment(by: Int64(now.droppedLate - last.droppedLate))
        dropped["conflated"]?.increment(by: Int64(now.droppedConflated - last.droppedConflated))
        dropped["arrived_late"]?.increment(by: Int64(now.arrivedLate - last.arrivedLate))
        dropped["duplicate"]?.increment(by: Int64(now.duplicates - last.duplicates))
        dropped["rate_limited"]?.increment(by: Int64(now.rateLimited - last.rateLimited))
        errors.increment(by: Int64(now.errors - last.errors))
        slowConsumerCloses.increment(by: Int64(now.slowConsumerCloses - last.slowConsumerCloses))
        takeovers.increment(by: Int64(now.takeovers - last.takeovers))
        recorded["new"]?.increment(by: Int64(now.recorded - now.backfilled - last.recorded + last.backfilled))
        recorded["backfill"]?.increment(by: Int64(now.backfilled - last.backfilled))
        recorded["duplicate"]?.increment(by: Int64(now.recordDuplicates - last.recordDuplicates))
        recorded["refused"]?.increment(by: Int64(now.recordFailed - last.recordFailed))
        acks.increment(by: Int64(now.acks - last.acks))
        boardTicks.increment(by: Int64(now.boardTicks - last.boardTicks))
        boards.increment(by: Int64(now.boards - last.boards))
        tickFrames["shared"]?.increment(by: Int64(now.sharedFrames - last.sharedFrames))
        tickFrames["with_extras"]?.increment(by: Int64(now.sharedFramesWithExtras - last.sharedFramesWithExtras))
        last = now
        if let store {
            let counters = store.counters
            storeCommits.increment(by: Int64(counters.commitBatches - lastStore.commitBatches))
            storeFailedCommits.increment(by: Int64(counters.failedCommits - lastStore.failedCommits))
            storePending.set(to: Double(counters.pendingSamples))
            recordAvailable.set(to: store.health == .available ? 1 : 0)
            lastStore = counters
        } else {
            recordAvailable.set(to: -1)
        }

        let byRole = relay.connectionsByRole()
        for (role, gauge) in connections { gauge.set(to: Double(byRole[role] ?? 0)) }
        classes.set(to: Double(relay.classCount))
        let depth = relay.queueDepth()
        queuedMessages.set(to: Double(depth.total))
        deepestQueue.set(to: Double(depth.max))
        draining.set(to: isDraining ? 1 : 0)

        var page: [UInt8] = []
        registry.emit(into: &page)
        Self.appendHistogram(
            now.residency, name: "hrhub_residency_seconds",
            help: "Per delivered sample: time in the hub from arrival to being put into a frame.", to: &page)
        Self.appendHistogram(
            now.age, name: "hrhub_sample_age_seconds",
            help: "Per delivered sample: estimated age when put into a frame (now minus capture, clock-corrected).",
            to: &page)
        Self.appendHistogram(
            now.ackDelay, name: "hrhub_record_ack_delay_seconds",
            help: "Per sample accepted on a socket and recorded: acceptance to its commit reaching the relay "
                + "(its ack is queued then).", to: &page)
        return page
    }

    /// A histogram in the Prometheus text format (cumulative buckets, seconds).
    static func appendHistogram(_ histogram: LatencyHistogram, name: String, help: String, to page: inout [UInt8]) {
        var text = "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        var cumulative = 0
        for (index, bound) in LatencyHistogram.boundsMs.enumerated() {
            cumulative += histogram.counts[index]
            text += "\(name)_bucket{le=\"\(seconds(bound))\"} \(cumulative)\n"
        }
        text += "\(name)_bucket{le=\"+Inf\"} \(histogram.total)\n"
        text += "\(name)_sum \(seconds(histogram.sumMs))\n\(name)_count \(histogram.total)\n"
        page.append(contentsOf: text.utf8)
    }

    private static func seconds(_ ms: Int64) -> String {
        let whole = ms / 1000
        let fraction = ms % 1000
        guard fraction != 0 else { return "\(whole)" }
        var digits = String(fraction)
        while digits.count < 3 { digits = "0" + digits }
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }
}
