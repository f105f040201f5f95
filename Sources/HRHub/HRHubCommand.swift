import ArgumentParser
import Dispatch
import Foundation
import HRCore
import HRProtocol
import LWSTransport
import Logging

/// `hrhub`: the heart-rate relay.
@main
struct HRHubCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hrhub",
        abstract: "A real-time heart-rate relay for group fitness classes (WebSocket, libwebsockets).",
        discussion: """
            The first line on stdout is exactly `hrhub listening on ws://HOST:PORT`. SIGTERM or SIGINT closes \
            every client with 1001 and exits 0 within --drain-timeout.
            """)

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "TCP port; 0 picks a free one.")
    var port: Int = 8080

    @Option(help: "Largest client frame in bytes; a larger one closes the connection with 1009.")
    var maxFrameBytes: Int = 4096

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Flag(help: "Start the simulated class `demo` (a dozen riders with realistic heart-rate curves).")
    var demo: Bool = false

    @Option(help: "Number of riders in the demo class.")
    var demoRiders: Int = 12

    @Option(help: "Latency budget per class in ms: older samples are not sent live (gap `late`).")
    var budgetMs: Int = 800

    @Option(help: "Most messages queued per client before the oldest samples are dropped.")
    var queueMaxMessages: Int = 1024

    @Option(help: "Most bytes queued per client before the oldest samples are dropped.")
    var queueMaxBytes: Int = 262_144

    @Option(help: "A client whose queue stays full this long is closed with 4008.")
    var slowConsumerMs: Int = 10_000

    @Option(help: "No sample for this long on an open socket marks a participant stale.")
    var staleAfterMs: Int = 3_000

    @Option(help: "Samples per second per participant (token bucket holding 60 s worth).")
    var maxSampleRate: Double = 10

    @Option(help: "Per-participant jitter buffer: on (adaptive playout delay, at most half the budget) or off.")
    var jitter: Toggle = .on

    @Option(help: "Longest graceful drain on SIGTERM, in ms.")
    var drainTimeout: Int = 2_000

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535, got \(port)") }
        guard (64...1 << 20).contains(maxFrameBytes) else {
            throw ValidationError("--max-frame-bytes must be 64...1048576, got \(maxFrameBytes)")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard (1...3_600_000).contains(budgetMs) else { throw ValidationError("--budget-ms must be 1...3600000") }
        guard queueMaxMessages >= 1, queueMaxBytes >= 256 else {
            throw ValidationError("--queue-max-messages must be ≥ 1 and --queue-max-bytes ≥ 256")
        }
        guard maxSampleRate > 0 else { throw ValidationError("--max-sample-rate must be > 0") }
        guard (1...100).contains(demoRiders) else { throw ValidationError("--demo-riders must be 1...100") }
        guard slowConsumerMs > 0, staleAfterMs > 0, drainTimeout > 0 else {
            throw ValidationError("--slow-consumer-ms, --stale-after-ms and --drain-timeout must be > 0")
        }
    }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "hrhub")

        var options = LWSServer.Options()
        options.host = host
        options.port = port
        options.subprotocols = [WireFormat.json.rawValue, WireFormat.binary.rawValue]
        options.maxMessageBytes = maxFrameBytes
        options.verboseLibraryLog = level <= .debug
        let server = LWSServer(options: options, logger: logger)
        do {
            try server.start()
        } catch {
            logger.critical("\(error)")
            throw ExitCode(2)
        }

        var settings = Hub.Settings()
        settings.relay.budgetMs = Int64(budgetMs)
        settings.relay.queueLimits = .init(maxMessages: queueMaxMessages, maxBytes: queueMaxBytes)
        settings.relay.slowConsumerMs = Int64(slowConsumerMs)
        settings.relay.staleAfterMs = Int64(staleAfterMs)
        settings.relay.maxSampleRate = maxSampleRate
        settings.relay.jitterBuffer = jitter == .on
        settings.drainTimeoutMs = Int64(drainTimeout)
        let hub = Hub(server: server, settings: settings, logger: logger)
        server.delegate = hub

        // Signal handling is in place before the port line: a script may send SIGTERM right after reading it.
        let signals = [SIGTERM, SIGINT].map { signo in
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
            source.setEventHandler { server.post { hub.beginDrain() } }
            source.resume()
            return source
        }
        let shownHost = host.contains(":") ? "[\(host)]" : host
        print("hrhub listening on ws://\(shownHost):\(server.port)")
        if demo {
            let page = "http://\(shownHost):\(server.port)/classes/demo"
            print("demo class: open \(page) (or: hrprobe watch ws://\(shownHost):\(server.port)/v1/classes/demo)")
        }
        fflush(nil)  // stdout is a pipe in scripts: the port line must go out now
        hub.start(demoRiders: demo ? demoRiders : nil)

        logger.info("serving", metadata: ["host": "\(host)", "port": "\(server.port)", "demo": "\(demo)"])
        server.run()
        signals.forEach { $0.cancel() }
        logger.info("stopped")
    }
}

/// An on/off switch as a flag value (`--jitter off`).
enum Toggle: String, ExpressibleByArgument, CaseIterable {
    case on, off
}
