import ArgumentParser
import Foundation
import HRCore
import HRProtocol
import HRStandings
import Logging

/// Every setting of a hub, merged from four layers, each overriding the one before:
/// built-in defaults (the initial values below) < config file (`--config FILE`, a flat JSON object)
/// < environment (`HRHUB_BUDGET_MS`, …) < command-line flags.
///
/// Each field is described once, in `settings` (HubConfiguration+Settings.swift): its name there is the
/// field's name in kebab case (`budgetMs`: `budget-ms`), and a test holds the two lists equal.
struct HubConfiguration: Sendable {
    var host = "127.0.0.1"
    var port = 8080
    var reusePort = false
    var tlsCert: String?
    var tlsKey: String?
    var jwtSecret: String?
    var allowedOrigins: [String] = []
    var maxMessageBytes = 4096
    var maxConnections = 100_000
    var maxConnectionsPerAddress = 4_096
    var maxClasses = 10_000
    var maxParticipantsPerClass = 20_000
    var maxErrors = 100
    var maxSampleRate = 10.0
    var handshakeTimeoutMs = 5_000
    var idleTimeoutMs = 60_000
    var budgetMs = 800
    var jitter = true
    var tickMs = 100
    var maxFrameRate = 0.0
    var queueMaxMessages = 1024
    var queueMaxBytes = 262_144
    var slowConsumerMs = 10_000
    var staleAfterMs = 3_000
    var classLingerMs = 60_000
    var drainTimeoutMs = 2_000
    var record = true
    var dataDir = "./hrhub-data"
    var sync = RecordSync.normal
    var retentionDays = 30
    var boardIntervalMs = 1_000
    var zonePoints = ZonePoints.standard
    var logLevel = Logger.Level.info
    var demo = false
    var demoRiders = 12
    var demoFirst = 0
    var nats: [String] = []
    var hubId: String?
    var natsReplicas = 1

    /// The merged and validated configuration, and a warning for each deprecated name used. `flags` holds the
    /// command-line flags as given (`["--budget-ms", "700", "--demo"]`).
    static func resolve(configFile: String?, environment: [String: String], flags: [String]) throws
        -> (configuration: HubConfiguration, warnings: [String])
    {
        let merged = try merge(configFile: configFile, environment: environment, flags: flags)
        try merged.configuration.validate()
        return merged
    }

    /// The four layers merged, each setting checked on its own (`validate` checks them together).
    static func merge(configFile: String?, environment: [String: String], flags: [String]) throws
        -> (configuration: HubConfiguration, warnings: [String])
    {
        var config = HubConfiguration()
        var warnings: [String] = []
        if let configFile {
            try config.apply(fileValues(configFile), from: "config file \(configFile)", warnings: &warnings) { $0 }
        }
        var fromEnvironment: [String: String] = [:]
        for name in named.keys {
            if let value = environment[Setting.environmentVariable(for: name)] { fromEnvironment[name] = value }
        }
        try config.apply(fromEnvironment, from: "environment", warnings: &warnings, Setting.environmentVariable)
        try config.apply(flagValues(flags), from: "flags", warnings: &warnings) { "--" + $0 }
        return (config, warnings)
    }

    /// Every setting by each of its names, the deprecated ones included.
    private static let named: [String: Setting] = {
        var named: [String: Setting] = [:]
        for setting in settings {
            for name in [setting.name] + setting.deprecatedNames {
                precondition(named.updateValue(setting, forKey: name) == nil, "two settings called \(name)")
            }
        }
        return named
    }()

    /// Command-line flags by setting name: `--name value`, `--name=value`, or a presence flag alone (`--demo`).
    static func flagValues(_ arguments: [String]) throws -> [String: String] {
        var values: [String: String] = [:]
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("--") else {
                throw ValidationError("unexpected argument '\(argument)' (settings are flags: --name value)")
            }
            let parts = argument.dropFirst(2).split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            guard let setting = named[name] else {
                throw ValidationError("unknown flag '\(argument)' (hrhub settings lists them all)")
            }
            if parts.count == 2 {
                values[name] = String(parts[1])
            } else if setting.kind == .presence {
                values[name] = "true"
            } else if let value = rest.popFirst() {
                values[name] = value
            } else {
                throw ValidationError("\(argument) needs a value (\(setting.valuesText))")
            }
        }
        return values
    }

    /// Applies one layer's values. `spelled` writes a name as this layer spells it, for the warnings.
    private mutating func apply(
        _ values: [String: String], from source: String, warnings: inout [String],
        _ spelled: (String) -> String
    ) throws {
        var given: [String: String] = [:]  // setting name: the name it was given under
        for (name, value) in values.sorted(by: { $0.key < $1.key }) {
            guard let setting = Self.named[name] else {
                throw ValidationError("\(source): unknown setting '\(name)'")
            }
            if let other = given.updateValue(name, forKey: setting.name) {
                throw ValidationError(
                    "\(source): \(spelled(other)) and \(spelled(name)) are the same setting; give one")
            }
            if name != setting.name {
                warnings.append("\(source): \(spelled(name)) is deprecated, use \(spelled(setting.name))")
            } else if let note = Self.deprecatedSettings[name] {
                warnings.append("\(source): \(spelled(name)) is deprecated: \(note)")
            }
            do {
                try setting.assign(&self, value)
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

    /// What one setting alone cannot check (each one's own values are checked as it is read).
    func validate() throws {
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("tls-cert and tls-key go together") }
        for path in [tlsCert, tlsKey].compactMap({ $0 }) where !FileManager.default.isReadableFile(atPath: path) {
            throw ValidationError("cannot read \(path)")
        }
        for url in nats where !(url.hasPrefix("nats://") || url.hasPrefix("tls://")) {
            throw ValidationError("nats: '\(url)' is not a NATS URL (nats://HOST:PORT or tls://HOST:PORT)")
        }
        if let hubId, !Identifier.isValid(hubId) {
            throw ValidationError("hub-id: '\(hubId)' is not an id (\(Identifier.rule))")
        }
    }

    /// The class tick: `tick-ms`, or `1000 / max-frame-rate` when the deprecated frame rate is given and `tick-ms`
    /// is at its default.
    var effectiveTickMs: Int {
        guard maxFrameRate > 0, tickMs == HubConfiguration().tickMs else { return tickMs }
        return max(1, Int((1000 / maxFrameRate).rounded()))
    }

    /// Settings kept only so old configurations still start, each with what to say when it is used.
    static let deprecatedSettings = [
        "max-frame-rate": "the class tick replaced it; a rate R sets tick-ms to 1000/R unless tick-ms is set to another value"
    ]

    /// The relay's part.
    var relay: RelayConfig {
        var config = RelayConfig()
        config.budgetMs = Int64(budgetMs)
        config.queueLimits = .init(maxMessages: queueMaxMessages, maxBytes: queueMaxBytes)
        config.slowConsumerMs = Int64(slowConsumerMs)
        config.staleAfterMs = Int64(staleAfterMs)
        config.maxSampleRate = maxSampleRate
        config.tickMs = Int64(effectiveTickMs)
        config.classLingerMs = Int64(classLingerMs)
        config.jitterBuffer = jitter
        config.boardIntervalMs = Int64(boardIntervalMs)
        config.zonePoints = zonePoints
        return config
    }
}
