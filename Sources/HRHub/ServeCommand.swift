import ArgumentParser
import Synchronization
import Foundation
import HRAuth
import HRCore
import HRProtocol
import LWSTransport
import Logging

/// `hrhub serve` (the default): run the hub.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the hub (the default command).",
        discussion: """
            The first line on stdout is exactly `hrhub listening on ws://HOST:PORT` (wss:// with TLS). SIGTERM or \
            SIGINT stops accepting, flushes queues, closes every client with 1001 and exits 0 within \
            --drain-timeout. Settings merge, each overriding the one before: defaults < --config FILE (a JSON \
            object) < environment (HRHUB_BUDGET_MS, …) < these flags.
            """)

    @Option(help: "A JSON config file: {\"port\": 8080, \"budget-ms\": 800, …} (same names as the flags).")
    var config: String?

    @Option(help: "Address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "TCP port; 0 picks a free one (default 8080).") var port: Int?
    @Option(help: "Largest client frame in bytes; larger closes with 1009 (default 4096).") var maxFrameBytes: Int?
    @Option(help: "trace, debug, info, notice, warning, error or critical (default info).") var logLevel: String?
    @Flag(help: "Run the simulated class `demo` (a dozen riders with realistic heart-rate curves).") var demo = false
    @Option(help: "Riders in the demo class (default 12).") var demoRiders: Int?
    @Option(help: "Latency budget per class, ms: older samples are named `late`, not sent (default 800).")
    var budgetMs: Int?
    @Option(help: "Per-participant jitter buffer: on or off (default on).") var jitter: String?
    @Option(help: "Per-client queue bound in messages before drop-oldest (default 1024).") var queueMaxMessages: Int?
    @Option(help: "Per-client queue bound in bytes before drop-oldest (default 262144).") var queueMaxBytes: Int?
    @Option(help: "A queue full this long closes its client with 4008, ms (default 10000).") var slowConsumerMs: Int?
    @Option(help: "Silence before a rider is marked stale, ms (default 3000).") var staleAfterMs: Int?
    @Option(help: "Samples/s per participant; the bucket holds 60 s worth (default 10).")
    var maxSampleRate: Double?
    @Option(help: "Most frames per second a connection is sent samples in; faster samples share frames (default 100, 0: no limit).")
    var maxFrameRate: Double?
    @Option(help: "An empty class is forgotten after this long, ms (default 60000).") var classLingerMs: Int?
    @Option(help: "Longest graceful drain on SIGTERM, ms (default 2000).") var drainTimeout: Int?
    @Option(help: "HMAC secret for access tokens (or HRHUB_JWT_SECRET); none runs an open hub.") var jwtSecret: String?
    @Option(help: "TLS certificate (PEM); with --tls-key serves wss:// and https://.") var tlsCert: String?
    @Option(help: "TLS private key (PEM).") var tlsKey: String?
    @Option(help: "Most open connections in total; more close with 4029 (default 100000).") var maxConnections: Int?
    @Option(help: "Most open connections per remote address (default 4096).") var maxConnectionsPerAddress: Int?
    @Option(help: "Most classes at once; a new one beyond closes with 4029 (default 10000).") var maxClasses: Int?
    @Option(help: "Most participants per class (default 20000: a live class can have thousands).") var maxParticipantsPerClass: Int?
    @Option(help: "Errors one connection may cause before it is closed with 4029 (default 100).") var maxErrors: Int?
    @Option(help: "Time allowed for the HTTP request and upgrade, ms (default 5000).") var handshakeTimeoutMs: Int?
    @Option(help: "A silent connection gets a WebSocket ping after this long and is closed if it stays silent, ms (default 60000).")
    var idleTimeoutMs: Int?
    @Option(help: "Comma-separated browser origins allowed to connect (default: any).") var allowedOrigins: String?

    /// The flags given on the command line, by setting name.
    private var flags: [String: String] {
        var values: [String: String] = [:]
        func put(_ key: String, _ value: (some CustomStringConvertible)?) { if let value { values[key] = "\(value)" } }
        put("host", host)
        put("port", port)
        put("max-frame-bytes", maxFrameBytes)
        put("log-level", logLevel)
        if demo { values["demo"] = "true" }
        put("demo-riders", demoRiders)
        put("budget-ms", budgetMs)
        put("jitter", jitter)
        put("queue-max-messages", queueMaxMessages)
        put("queue-max-bytes", queueMaxBytes)
        put("slow-consumer-ms", slowConsumerMs)
        put("stale-after-ms", staleAfterMs)
        put("max-sample-rate", maxSampleRate)
        put("max-frame-rate", maxFrameRate)
        put("class-linger-ms", classLingerMs)
        put("drain-timeout", drainTimeout)
        put("jwt-secret", jwtSecret)
        put("tls-cert", tlsCert)
        put("tls-key", tlsKey)
        put("max-connections", maxConnections)
        put("max-connections-per-address", maxConnectionsPerAddress)
        put("max-classes", maxClasses)
        put("max-participants-per-class", maxParticipantsPerClass)
        put("max-errors", maxErrors)
        put("handshake-timeout-ms", handshakeTimeoutMs)
        put("idle-timeout-ms", idleTimeoutMs)
        put("allowed-origins", allowedOrigins)
        return values
    }

    func validate() throws {
        _ = try resolved()
    }

    private func resolved() throws -> HubConfiguration {
        try HubConfiguration.resolve(
            configFile: config, environment: ProcessInfo.processInfo.environment, flags: flags)
    }

    func run() throws {
        // Before any thread exists: SIGTERM/SIGINT are blocked everywhere and taken by one thread that
        // hands them to the service loop, so none is lost, however early it comes.
        let drain = DrainRequest()
        SignalWaiter.start([SIGTERM, SIGINT]) { _ in drain.fire() }
        let settings = try resolved()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = settings.logLevel
            return handler
        }
        let logger = Logger(label: "hrhub")

        var options = LWSServer.Options()
        options.host = settings.host
        options.port = settings.port
        options.subprotocols = [WireFormat.json.rawValue, WireFormat.binary.rawValue]
        options.maxMessageBytes = settings.maxFrameBytes
        options.tlsCertificatePath = settings.tlsCert
        options.tlsPrivateKeyPath = settings.tlsKey
        options.handshakeTimeoutSeconds = max(1, (settings.handshakeTimeoutMs + 999) / 1000)
        options.idleTimeoutSeconds = max(1, (settings.idleTimeoutMs + 999) / 1000)
        options.verboseLibraryLog = settings.logLevel <= .debug
        let server = LWSServer(options: options, logger: logger)
        do {
            try server.start()
        } catch {
            logger.critical("\(error)")
            throw ExitCode(2)
        }

        let hub = Hub(server: server, settings: settings, logger: logger)
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
        hub.start(demoRiders: settings.demo ? settings.demoRiders : nil)

        logger.info("serving", metadata: ["host": "\(settings.host)", "port": "\(server.port)", "tls": "\(tls)"])
        server.run()
        logger.info("stopped")
    }
}

/// A drain asked for by a signal, possibly before the hub exists: it runs as soon as the hub is armed.
final class DrainRequest: Sendable {
    private let state = Mutex<(fired: Bool, action: (@Sendable () -> Void)?)>((false, nil))

    func fire() {
        let action = state.withLock { state -> (@Sendable () -> Void)? in
            state.fired = true
            return state.action
        }
        action?()
    }

    func arm(_ action: @escaping @Sendable () -> Void) {
        let fired = state.withLock { state -> Bool in
            state.action = action
            return state.fired
        }
        if fired { action() }
    }
}
