import ArgumentParser
import Foundation
import HRCore
import Logging

/// Every setting of a hub, merged from four layers, each overriding the one before:
/// built-in defaults < config file (`--config FILE`, a flat JSON object) < environment (`HRHUB_BUDGET_MS`, …)
/// < command-line flags. Every layer uses the same names: the flag without its dashes (`budget-ms`) in the
/// file, upper-cased with underscores and an `HRHUB_` prefix in the environment.
struct HubConfiguration: Sendable {
    var host = "127.0.0.1"
    var port = 8080
    var maxFrameBytes = 4096
    var logLevel = Logger.Level.info
    var demo = false
    var demoRiders = 12
    var budgetMs = 800
    var jitter = true
    var queueMaxMessages = 1024
    var queueMaxBytes = 262_144
    var slowConsumerMs = 10_000
    var staleAfterMs = 3_000
    var maxSampleRate = 10.0
    var maxFrameRate = 100.0
    var classLingerMs = 60_000
    var drainTimeoutMs = 2_000
    var jwtSecret: String?
    var tlsCert: String?
    var tlsKey: String?
    var maxConnections = 100_000
    var maxConnectionsPerAddress = 4_096
    var maxClasses = 10_000
    var maxParticipantsPerClass = 20_000
    var maxErrors = 100
    var handshakeTimeoutMs = 5_000
    var idleTimeoutMs = 60_000
    var allowedOrigins: [String] = []

    /// Setting names (as in the config file and, dashed, as flags) and how each is read from text.
    static let setters: [String: @Sendable (inout HubConfiguration, String) throws -> Void] = [
        "host": { $0.host = $1 },
        "port": { $0.port = try int($1, "port") },
        "max-frame-bytes": { $0.maxFrameBytes = try int($1, "max-frame-bytes") },
        "log-level": {
            guard let level = Logger.Level(rawValue: $1) else {
                throw ValidationError("log-level must be one of trace, debug, info, notice, warning, error, critical")
            }
            $0.logLevel = level
        },
        "demo": { $0.demo = try bool($1, "demo") },
        "demo-riders": { $0.demoRiders = try int($1, "demo-riders") },
        "budget-ms": { $0.budgetMs = try int($1, "budget-ms") },
        "jitter": { $0.jitter = try bool($1, "jitter") },
        "queue-max-messages": { $0.queueMaxMessages = try int($1, "queue-max-messages") },
        "queue-max-bytes": { $0.queueMaxBytes = try int($1, "queue-max-bytes") },
        "slow-consumer-ms": { $0.slowConsumerMs = try int($1, "slow-consumer-ms") },
        "stale-after-ms": { $0.staleAfterMs = try int($1, "stale-after-ms") },
        "max-sample-rate": {
            guard let rate = Double($1), rate > 0 else { throw ValidationError("max-sample-rate must be > 0") }
            $0.maxSampleRate = rate
        },
        "max-frame-rate": {
            guard let rate = Double($1), rate >= 0, rate.isFinite else {
                throw ValidationError("max-frame-rate must be ≥ 0 (0: no limit), got '\($1)'")
            }
            $0.maxFrameRate = rate
        },
        "class-linger-ms": { $0.classLingerMs = try int($1, "class-linger-ms") },
        "drain-timeout": { $0.drainTimeoutMs = try int($1, "drain-timeout") },
        "jwt-secret": { $0.jwtSecret = $1.isEmpty ? nil : $1 },
        "tls-cert": { $0.tlsCert = $1 },
        "tls-key": { $0.tlsKey = $1 },
        "max-connections": { $0.maxConnections = try int($1, "max-connections") },
        "max-connections-per-address": { $0.maxConnectionsPerAddress = try int($1, "max-connections-per-address") },
        "max-classes": { $0.maxClasses = try int($1, "max-classes") },
        "max-participants-per-class": { $0.maxParticipantsPerClass = try int($1, "max-participants-per-class") },
        "max-errors": { $0.maxErrors = try int($1, "max-errors") },
        "handshake-timeout-ms": { $0.handshakeTimeoutMs = try int($1, "handshake-timeout-ms") },
        "idle-timeout-ms": { $0.idleTimeoutMs = try int($1, "idle-timeout-ms") },
        "allowed-origins": {
            $0.allowedOrigins = $1.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
        },
    ]

    /// The merged configuration. `flags` holds only the flags given on the command line.
    static func resolve(configFile: String?, environment: [String: String], flags: [String: String]) throws
        -> HubConfiguration
    {
        var config = HubConfiguration()
        if let configFile { try config.apply(fileValues(configFile), source: "config file \(configFile)") }
        var fromEnvironment: [String: String] = [:]
        for key in setters.keys {
            let name = "HRHUB_" + key.uppercased().replacingOccurrences(of: "-", with: "_")
            if let value = environment[name] { fromEnvironment[key] = value }
        }
        try config.apply(fromEnvironment, source: "environment")
        try config.apply(flags, source: "flags")
        try config.validate()
        return config
    }

    private mutating func apply(_ values: [String: String], source: String) throws {
        for (key, value) in values.sorted(by: { $0.key < $1.key }) {
            guard let set = Self.setters[key] else {
                throw ValidationError("\(source): unknown setting '\(key)'")
            }
            do {
                try set(&self, value)
            } catch let error as ValidationError {
                throw ValidationError("\(source): \(error.message)")
            }
        }
    }

    /// A config file: one flat JSON object of setting names to strings, numbers, booleans or string lists.
    private static func fileValues(_ path: String) throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read config file \(path)")
        }
        do {
            return try JSONDecoder().decode([String: FileValue].self, from: data).mapValues(\.text)
        } catch {
            throw ValidationError(
                "config file \(path) must be one JSON object of names to strings, numbers or booleans, "
                    + "e.g. {\"port\": 8080, \"jitter\": false}")
        }
    }

    /// One value in the config file, kept as the text a flag would carry.
    private struct FileValue: Decodable {
        let text: String

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Bool.self) {
                text = value ? "true" : "false"
            } else if let value = try? container.decode(Int.self) {
                text = String(value)
            } else if let value = try? container.decode(Double.self) {
                text = String(value)
            } else if let value = try? container.decode([String].self) {
                text = value.joined(separator: ",")
            } else {
                text = try container.decode(String.self)
            }
        }
    }

    func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw ValidationError(message) } }
        try check((0...65535).contains(port), "port must be 0...65535, got \(port)")
        try check((64...(1 << 20)).contains(maxFrameBytes), "max-frame-bytes must be 64...1048576, got \(maxFrameBytes)")
        try check((1...100).contains(demoRiders), "demo-riders must be 1...100, got \(demoRiders)")
        try check((1...3_600_000).contains(budgetMs), "budget-ms must be 1...3600000, got \(budgetMs)")
        try check(queueMaxMessages >= 1, "queue-max-messages must be ≥ 1, got \(queueMaxMessages)")
        try check(queueMaxBytes >= 256, "queue-max-bytes must be ≥ 256, got \(queueMaxBytes)")
        for (name, value) in [
            ("slow-consumer-ms", slowConsumerMs), ("stale-after-ms", staleAfterMs), ("class-linger-ms", classLingerMs),
            ("drain-timeout", drainTimeoutMs), ("max-connections", maxConnections),
            ("max-connections-per-address", maxConnectionsPerAddress), ("max-classes", maxClasses),
            ("max-participants-per-class", maxParticipantsPerClass), ("max-errors", maxErrors),
            ("handshake-timeout-ms", handshakeTimeoutMs), ("idle-timeout-ms", idleTimeoutMs),
        ] {
            try check(value > 0, "\(name) must be > 0, got \(value)")
        }
        try check((tlsCert == nil) == (tlsKey == nil), "tls-cert and tls-key go together")
        for path in [tlsCert, tlsKey].compactMap({ $0 }) {
            try check(FileManager.default.isReadableFile(atPath: path), "cannot read \(path)")
        }
    }

    /// The relay's part.
    var relay: RelayConfig {
        var config = RelayConfig()
        config.budgetMs = Int64(budgetMs)
        config.queueLimits = .init(maxMessages: queueMaxMessages, maxBytes: queueMaxBytes)
        config.slowConsumerMs = Int64(slowConsumerMs)
        config.staleAfterMs = Int64(staleAfterMs)
        config.maxSampleRate = maxSampleRate
        config.maxFrameRate = maxFrameRate
        config.classLingerMs = Int64(classLingerMs)
        config.jitterBuffer = jitter
        return config
    }

    private static func int(_ text: String, _ name: String) throws -> Int {
        guard let value = Int(text) else { throw ValidationError("\(name) must be an integer, got '\(text)'") }
        return value
    }

    private static func bool(_ text: String, _ name: String) throws -> Bool {
        switch text.lowercased() {
        case "true", "on", "yes", "1": return true
        case "false", "off", "no", "0": return false
        default: throw ValidationError("\(name) must be on/off or true/false, got '\(text)'")
        }
    }
}
