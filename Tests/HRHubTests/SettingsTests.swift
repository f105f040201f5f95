import ArgumentParser
import Foundation
import Testing

@testable import HRHub

/// The settings table is the one description of every hub setting: these tests hold the struct, the flags,
/// the variables, the file keys and the docs to it.
@Suite struct SettingsTests {
    let settings = HubConfiguration.settings

    @Test func everyFieldIsOneSettingAndEverySettingAField() {
        let fields = Mirror(reflecting: HubConfiguration()).children.compactMap(\.label).map(Self.kebabCased)
        #expect(fields == settings.map(\.name))
        let names = settings.flatMap { [$0.name] + $0.deprecatedNames }
        #expect(Set(names).count == names.count)
    }

    @Test func theHelpListsExactlyTheTablesFlags() {
        let help = ServeCommand.helpMessage(columns: 200)
        let listed = help.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("  --") else { return nil }  // a flag's line, not wrapped text
            return String(line.dropFirst(2).prefix { $0 != " " })
        }
        #expect(Set(listed) == Set(settings.map(\.flag) + ["--config"]))
        #expect(listed.count == Set(listed).count)
    }

    @Test(arguments: HubConfiguration.settings.map(\.name))
    func eachSettingIsAFlagAVariableAndAFileKey(name: String) throws {
        let setting = try #require(settings.first { $0.name == name })
        let value = Self.otherThanDefault(setting)
        let flags = setting.kind == .presence ? [setting.flag] : [setting.flag, value]
        let wanted = try Self.merged(flags: flags).current(setting)
        #expect(wanted != setting.current(HubConfiguration()))

        #expect(try Self.merged(environment: [setting.environmentVariable: value]).current(setting) == wanted)
        #expect(try Self.merged(file: "{\"\(setting.name)\": \"\(value)\"}").current(setting) == wanted)
        #expect(try Self.merged(flags: ["\(setting.flag)=\(value)"]).current(setting) == wanted)
    }

    @Test func aPresenceFlagNeedsNoValue() throws {
        let merged = try Self.merged(flags: ["--demo", "--port", "0"])
        #expect(merged.configuration.demo)
        #expect(merged.configuration.port == 0)
    }

    @Test func laterLayersWin() throws {
        let file = #"{"budget-ms": 650, "port": 1, "jitter": false}"#
        let environment = ["HRHUB_BUDGET_MS": "700", "HRHUB_PORT": "2"]
        let merged = try Self.merged(file: file, environment: environment, flags: ["--port", "3"])
        #expect(merged.configuration.budgetMs == 700)
        #expect(merged.configuration.port == 3)
        #expect(merged.configuration.jitter == false)
        #expect(merged.warnings.isEmpty)
    }

    @Test func theServeCommandHandsItsFlagsToTheTable() throws {
        let file = FileManager.default.temporaryDirectory.appending(path: "hrhub-settings-\(UUID()).json")
        try Data("{}".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let command = try HRHubCommand.parseAsRoot(["--budget-ms", "700", "--config", file.path, "--demo"])
        let serve = try #require(command as? ServeCommand)
        #expect(serve.config == file.path)
        #expect(serve.settingFlags == ["--budget-ms", "700", "--demo"])
        // Values that look like options reach the table as given.
        let dashed = try #require(
            try HRHubCommand.parseAsRoot(["--jwt-secret", "-abc", "--max-frame-rate=-0", "--host", "--x"])
                as? ServeCommand)
        #expect(dashed.settingFlags == ["--jwt-secret", "-abc", "--max-frame-rate=-0", "--host", "--x"])
    }

    // MARK: Deprecated names

    @Test(arguments: [
        ("drain-timeout", "drain-timeout-ms", "5"), ("max-frame-bytes", "max-message-bytes", "5000"),
    ])
    func anOldNameStillWorksAndWarns(old: String, new: String, value: String) throws {
        let setting = try #require(settings.first { $0.name == new })
        #expect(setting.deprecatedNames == [old])
        let oldVariable = Setting.environmentVariable(for: old)
        for (merged, spelled) in [
            (try Self.merged(flags: ["--\(old)", value]), "--\(old) is deprecated, use --\(new)"),
            (
                try Self.merged(environment: [oldVariable: value]),
                "\(oldVariable) is deprecated, use \(setting.environmentVariable)"
            ),
            (try Self.merged(file: "{\"\(old)\": \(value)}"), "\(old) is deprecated, use \(new)"),
        ] {
            #expect(setting.current(merged.configuration) == value)
            #expect(merged.warnings.count == 1)
            #expect(merged.warnings.first?.hasSuffix(spelled) == true, "\(merged.warnings)")
        }
    }

    @Test func anOldAndANewNameInOneLayerAreRefused() {
        #expect(throws: ValidationError.self) {
            try Self.merged(flags: ["--drain-timeout", "5", "--drain-timeout-ms", "6"])
        }
        #expect(throws: ValidationError.self) {
            try Self.merged(environment: ["HRHUB_DRAIN_TIMEOUT": "5", "HRHUB_DRAIN_TIMEOUT_MS": "6"])
        }
    }

    @Test func anOldNameInALowerLayerYieldsToTheNewNameAbove() throws {
        let merged = try Self.merged(environment: ["HRHUB_DRAIN_TIMEOUT": "5"], flags: ["--drain-timeout-ms", "6"])
        #expect(merged.configuration.drainTimeoutMs == 6)
    }

    @Test func theDeprecatedFrameRateSetsTheTickUnlessTheTickIsGiven() throws {
        #expect(try Self.merged(flags: []).configuration.relay.tickMs == 100, "the tick is on by default")
        let alone = try Self.merged(flags: ["--max-frame-rate", "20"])
        #expect(alone.configuration.relay.tickMs == 50)
        #expect(alone.warnings.count == 1 && alone.warnings[0].contains("--max-frame-rate is deprecated"))
        #expect(try Self.merged(flags: ["--max-frame-rate", "5"]).configuration.relay.tickMs == 200)
        let both = try Self.merged(environment: ["HRHUB_MAX_FRAME_RATE": "5"], flags: ["--tick-ms", "80"])
        #expect(both.configuration.relay.tickMs == 80)
        #expect(try Self.merged(flags: ["--tick-ms", "0"]).configuration.relay.tickMs == 0, "0: off")
    }

    // MARK: Rejections: each names the setting and where it came from

    @Test(arguments: [
        (["--bogus", "1"], "unknown flag '--bogus'"),
        (["--port"], "--port needs a value"),
        (["port", "1"], "unexpected argument 'port'"),
        (["--port", "70000"], "flags: port must be 0…65535, got 70000"),
        (["--port", "soon"], "flags: port must be an integer, got 'soon'"),
        (["--queue-max-bytes", "255"], "queue-max-bytes must be ≥ 256, got 255"),
        (["--max-frame-rate=-5"], "max-frame-rate must be 0…100000, got -5"),
        (["--tick-ms", "-1"], "tick-ms must be 0…10000, got -1"),
        (["--max-sample-rate", "inf"], "max-sample-rate must be a number, got 'inf'"),
        (["--jitter", "maybe"], "jitter must be on/off or true/false, got 'maybe'"),
        (["--demo=perhaps"], "demo must be on/off or true/false, got 'perhaps'"),
        (["--log-level", "loud"], "log-level must be one of trace, debug, info, notice, warning, error, critical"),
        (["--host", ""], "host must not be empty"),
        (["--zone-points", "1,2,4,8"], "zone-points must be five whole numbers from 0 to 1000"),
        (["--zone-points", "1,2,4,8,1001"], "zone-points must be five whole numbers from 0 to 1000"),
        (["--zone-points", "1,2,x,8,8"], "got '1,2,x,8,8'"),
        (["--board-interval-ms", "0"], "board-interval-ms must be 1…3600000, got 0"),
    ])
    func aBadFlagIsRefused(flags: [String], message: String) {
        #expect(Self.refusal { try Self.merged(flags: flags) }.contains(message))
    }

    @Test func aBadVariableOrFileIsRefused() throws {
        #expect(
            Self.refusal { try Self.merged(environment: ["HRHUB_BUDGET_MS": "soon"]) }
                == "environment: budget-ms must be an integer, got 'soon'")
        #expect(Self.refusal { try Self.merged(file: #"{"budget": 1}"#) }.hasSuffix("unknown setting 'budget'"))
        #expect(Self.refusal { try Self.merged(file: "[1]") }.contains("must be one JSON object"))
        #expect(
            Self.refusal {
                try HubConfiguration.resolve(configFile: "/nonexistent.json", environment: [:], flags: [])
            } == "cannot read config file /nonexistent.json")
    }

    @Test func aCertificateWithoutAKeyIsRefused() {
        #expect(
            Self.refusal {
                try HubConfiguration.resolve(configFile: nil, environment: [:], flags: ["--tls-cert", "/etc/hostname"])
            } == "tls-cert and tls-key go together")
        #expect(
            Self.refusal {
                try HubConfiguration.resolve(
                    configFile: nil, environment: [:],
                    flags: ["--tls-cert", "/nonexistent", "--tls-key", "/nonexistent"])
            } == "cannot read /nonexistent")
    }

    @Test func clusterSettingsAreReadAndBadOnesRefused() throws {
        let (config, _) = try HubConfiguration.resolve(
            configFile: nil, environment: [:],
            flags: ["--nats", "nats://127.0.0.1:4222,nats://10.0.0.2:4222", "--hub-id", "hub_1"])
        #expect(config.nats == ["nats://127.0.0.1:4222", "nats://10.0.0.2:4222"])
        #expect(config.hubId == "hub_1")
        #expect(
            Self.refusal {
                try HubConfiguration.resolve(configFile: nil, environment: [:], flags: ["--nats", "127.0.0.1:4222"])
            } == "nats: '127.0.0.1:4222' is not a NATS URL (nats://HOST:PORT or tls://HOST:PORT)")
        #expect(
            Self.refusal {
                try HubConfiguration.resolve(configFile: nil, environment: [:], flags: ["--hub-id", "a.b"])
            } == "hub-id: 'a.b' is not an id ([A-Za-z0-9_-]{1,64})")
        #expect(ClusterLink.defaultHubID(host: "box.example.org", pid: 42) == "box-example-org-42")
    }

    // MARK: Docs

    @Test func theOperationsGuideHoldsTheGeneratedTable() throws {
        let guide = try String(contentsOf: Self.repository.appending(path: "docs/OPERATIONS.md"), encoding: .utf8)
        let begin = "<!-- settings: generated by `hrhub settings --markdown`, do not edit -->\n"
        let end = "<!-- settings end -->"
        let start = try #require(guide.range(of: begin)).upperBound
        let stop = try #require(guide.range(of: end, range: start..<guide.endIndex)).lowerBound
        #expect(String(guide[start..<stop]) == Setting.markdownTable(settings))
    }

    @Test func theReadmeNamesOnlyFlagsThatExist() throws {
        let readme = try String(contentsOf: Self.repository.appending(path: "README.md"), encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "## `hrhub` flags").dropFirst().first)
            .components(separatedBy: "\n## ")[0]
        let named = section.split(separator: "`").filter { $0.hasPrefix("--") }
            .map { String($0.prefix { $0 != " " }) }
        #expect(named.count > 10)
        #expect(Set(named).subtracting(settings.map(\.flag) + ["--config"]).isEmpty)
    }

    // MARK: Helpers

    static let repository = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A value the setting accepts that differs from its default.
    static func otherThanDefault(_ setting: Setting) -> String {
        switch setting.kind {
        case .integer(let range):
            return String(setting.defaultText == String(range.lowerBound) ? range.lowerBound + 1 : range.lowerBound)
        case .number(let range):
            return Setting.numberText(range.upperBound)
        case .presence, .toggle:
            return setting.defaultText == "on" ? "off" : "on"
        case .choice(let words):
            return words.first { $0 != setting.defaultText }!
        case .text:
            return setting.name == "zone-points" ? "1,2,3,5,10" : "some-text"
        case .list:
            return "a,b"
        }
    }

    struct Merged {
        let configuration: HubConfiguration
        let warnings: [String]
        func current(_ setting: Setting) -> String { setting.current(configuration) }
    }

    /// The layers merged, without the checks across settings.
    static func merged(file: String? = nil, environment: [String: String] = [:], flags: [String] = []) throws
        -> Merged
    {
        var path: String?
        if let file {
            let url = FileManager.default.temporaryDirectory.appending(path: "hrhub-settings-\(UUID()).json")
            try Data(file.utf8).write(to: url)
            path = url.path
        }
        defer { if let path { try? FileManager.default.removeItem(atPath: path) } }
        let (configuration, warnings) = try HubConfiguration.merge(
            configFile: path, environment: environment, flags: flags)
        return Merged(configuration: configuration, warnings: warnings)
    }

    /// The message of the validation error `body` throws; empty when it throws none.
    static func refusal(_ body: () throws -> Any) -> String {
        do {
            _ = try body()
            return ""
        } catch let error as ValidationError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    static func kebabCased(_ name: String) -> String {
        name.reduce(into: "") { text, character in
            text += character.isUppercase ? "-" + character.lowercased() : String(character)
        }
    }
}
