import ArgumentParser
import Logging

/// Flags every `hrprobe` subcommand takes (`@OptionGroup var options: ProbeOptions`).
struct ProbeOptions: ParsableArguments {
    /// How much the probe and libwebsockets log, to standard error (standard output is for results).
    @Option(
        help: "Log level on stderr: trace, debug, info, notice, warning, error or critical. (default: warning)",
        transform: ProbeOptions.parseLevel)
    var logLevel: Logger.Level = .warning

    /// With wss://, accept a self-signed or otherwise unverifiable certificate (test hubs).
    @Flag(help: "With wss://, accept a certificate that does not verify (self-signed test hubs).")
    var insecure = false

    /// A logger writing to standard error at `logLevel`. Bootstraps swift-log the first time it is called.
    func makeLogger(label: String) -> Logger {
        ProbeOptions.bootstrapOnce
        var logger = Logger(label: label)
        logger.logLevel = logLevel
        return logger
    }

    private static func parseLevel(_ text: String) throws -> Logger.Level {
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            let names = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("unknown log level '\(text)'; use one of \(names)")
        }
        return level
    }

    /// swift-log may be bootstrapped only once per process; a static `let` runs its initializer exactly once.
    private static let bootstrapOnce: Void = LoggingSystem.bootstrap(StreamLogHandler.standardError)
}
