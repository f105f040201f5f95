import ArgumentParser
import Synchronization
import Foundation
import HRAuth
import HRCluster
import HRCore
import HRProtocol
import LWSTransport
import HRRecord
import Logging

/// `hrhub serve` (the default): run the hub.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the hub (the default command).",
        usage: "hrhub [serve] [--config <file>] [--<setting> <value> ...]",
        discussion: """
            The first line on stdout is exactly `hrhub listening on ws://HOST:PORT` (wss:// with TLS). SIGTERM or \
            SIGINT stops accepting, flushes queues, closes every client with 1001 and exits 0 within \
            --drain-timeout-ms. Settings merge, each overriding the one before: defaults < --config FILE (a \
            JSON object: {"port": 8080, "budget-ms": 800, …}, the names of the flags) < environment \
            (HRHUB_BUDGET_MS, …) < these flags. `hrhub settings --markdown` prints them as a table.

            SETTINGS:
            \(Setting.flagList(HubConfiguration.settings))
            """)

    @Option(help: "A JSON config file: {\"port\": 8080, \"budget-ms\": 800, …} (same names as the flags).")
    var config: String?

    /// The settings flags, as given; read by `HubConfiguration.settings`, which `hrhub settings` lists.
    @Argument(parsing: .allUnrecognized, help: .hidden) var settingFlags: [String] = []

    func validate() throws {
        _ = try resolved()
    }

    private func resolved() throws -> (configuration: HubConfiguration, warnings: [String]) {
        try HubConfiguration.resolve(
            configFile: config, environment: ProcessInfo.processInfo.environment, flags: settingFlags)
    }

    func run() throws {
        // Before any thread exists: SIGTERM/SIGINT are blocked everywhere and taken by one thread that
        // hands them to the service loop, so none is lost, however early it comes.
        let drain = DrainRequest()
        SignalWaiter.start([SIGTERM, SIGINT]) { _ in drain.fire() }
        let (settings, warnings) = try resolved()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = settings.logLevel
            return handler
        }
        let logger = Logger(label: "hrhub")
        for warning in warnings { logger.warning("\(warning)") }

        if case .failure(let error) = WebAssets.classScript {
            logger.critical("\(error)")
            throw ExitCode(2)
        }

        // The record opens before the port: a foreign or corrupt file stops the hub with its name, before any
        // device is told anything.
        let recordLog = RecordHealthLog(logger: logger)
        let hubID = settings.nats.isEmpty
            ? nil : settings.hubId ?? ClusterLink.defaultHubID(host: ProcessInfo.processInfo.hostName, pid: getpid())
        var store: (any RecordStore)?
        if settings.record {
            do {
                // In a cluster the record is the JetStream stream every hub shares; the local SQLite store is its spool
                // while the stream is unreachable (docs/CLUSTER.md).
                let directory = hubID == nil
                    ? settings.dataDir : (settings.dataDir as NSString).appendingPathComponent("spool")
                let local = try SQLiteRecordStore(
                    dataDirectory: directory,
                    sync: settings.sync == .full ? .full : .normal,
                    onHealthChange: { health in recordLog.report(health) })
                if let hubID {
                    var options = JetStreamRecordStore.Options()
                    options.replicas = settings.natsReplicas
                    options.retentionDays = settings.retentionDays
                    store = try JetStreamRecordStore(
                        servers: settings.nats, name: "hrhub \(hubID) record", options: options, spool: local,
                        log: { line in logger.notice("\(line)") })
                } else {
                    store = local
                }
            } catch {
                logger.critical("cannot open the record: \(error)")
                throw ExitCode(2)
            }
        }

        var options = LWSServer.Options()
        options.host = settings.host
        options.port = settings.port
        options.reusePort = settings.reusePort
        options.subprotocols = [WireFormat.json.rawValue, WireFormat.binary.rawValue]
        options.maxMessageBytes = settings.maxMessageBytes
        options.tlsCertificatePath = settings.tlsCert
        options.tlsPrivateKeyPath = settings.tlsKey
        options.handshakeTimeoutSeconds = max(1, (settings.handshakeTimeoutMs + 999) / 1000)
        options.idleTimeoutSeconds = max(1, (settings.idleTimeoutMs + 999) / 1000)
        options.verboseLibraryLog = settings.logLevel <= .debug
        // Every connection is a descriptor, and lws sizes its connection table from the soft limit at start.
        let files = OpenFileLimit.raiseToHard()
        let cap = files.soft < settings.maxConnections ? ": it caps connections below --max-connections" : ""
        logger.notice("open-file limit \(files.soft) (hard \(files.hard))\(cap)")
        let server = LWSServer(options: options, logger: logger)
        do {
            try server.start()
        } catch {
            logger.critical("\(error)")
            throw ExitCode(2)
        }

        let hub = Hub(server: server, settings: settings, store: store, logger: logger)
        if let hubID {
            do {
                let connection = try NATSConnection(servers: settings.nats, name: "hrhub \(hubID)")
                hub.cluster = ClusterLink(hubID: hubID, connection: connection)
            } catch {
                logger.critical("cannot set up the NATS connection: \(error)")
                throw ExitCode(2)
            }
            logger.notice("cluster: hub \(hubID) on \(settings.nats.joined(separator: ","))")
        }
        server.delegate = hub
        drain.arm { server.post { hub.beginDrain() } }
        if hub.access.isOpen {
            logger.warning("NO ACCESS CONTROL: no --jwt-secret (or HRHUB_JWT_SECRET) set, anyone can publish and view")
        }

        let host = settings.host.contains(":") ? "[\(settings.host)]" : settings.host
        let tls = settings.tlsCert != nil
        print("hrhub listening on \(tls ? "wss" : "ws")://\(host):\(server.port)")
        if settings.demo {
            let page = "\(tls ? "https" : "http")://\(host):\(server.port)/classes/demo"
            print("demo class: open \(page) (or: hrprobe watch \(tls ? "wss" : "ws")://\(host):\(server.port)/v1/classes/demo)")
        }
        fflush(nil)  // stdout is a pipe in scripts: the port line must go out now
        hub.start(demoRiders: settings.demo ? settings.demoRiders : nil, demoFirst: settings.demoFirst)

        logger.info("serving", metadata: ["host": "\(settings.host)", "port": "\(server.port)", "tls": "\(tls)"])
        server.run()
        // The goodbye announcement is in libnats' buffer: send it before the process ends (bounded).
        if let cluster = hub.cluster {
            cluster.connection.flush(timeoutMs: 500)
            cluster.connection.close()
        }
        // Everything accepted goes to disk before the process ends (at most the drain timeout on a failing disk).
        store?.close(timeoutMs: settings.drainTimeoutMs)
        logger.info("stopped")
    }
}

/// A drain asked for by a signal, possibly before the hub exists: it runs as soon as the hub is armed.
/// Every signal posts the action again; a second SIGTERM/SIGINT during a drain changes nothing (the drain is
/// already bounded by the drain timeout, and `Hub.beginDrain` runs once), and one that comes while the server
/// is torn down is dropped by `LWSServer.post`.
final class DrainRequest: Sendable {
    /// The action in a struct (`WakeAction`): a closure inside a generic container's tuple would be re-wrapped in
    /// reabstraction thunks by every `withLock` (see `RecordBridge.wake`).
    private let state = Mutex<(fired: Bool, action: WakeAction?)>((false, nil))

    func fire() {
        let action = state.withLock { state -> WakeAction? in
            state.fired = true
            return state.action
        }
        action?.call()
    }

    func arm(_ action: @escaping @Sendable () -> Void) {
        let fired = state.withLock { state -> Bool in
            state.action = WakeAction(call: action)
            return state.fired
        }
        if fired { action() }
    }
}

/// Logs the record's health changes: every recovery, and failures at most once a minute (a disk that stays full
/// fails every retry; the metric counts each).
final class RecordHealthLog: Sendable {
    private let logger: Logger
    private let lastFailureLog = Mutex<ContinuousClock.Instant?>(nil)

    init(logger: Logger) { self.logger = logger }

    func report(_ health: RecordStoreHealth) {
        switch health {
        case .available:
            logger.notice("record available again: commits succeed, acks resume")
        case .unavailable(let reason):
            let now = ContinuousClock.now
            let due = lastFailureLog.withLock { last -> Bool in
                guard last.map({ now - $0 >= .seconds(60) }) ?? true else { return false }
                last = now
                return true
            }
            if due { logger.error("record unavailable (live relay goes on, acks stop): \(reason)") }
        }
    }
}
