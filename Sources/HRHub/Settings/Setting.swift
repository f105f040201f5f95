import ArgumentParser
import Foundation
import HRStandings

/// One hub setting, described once. Everything else is derived from it: the flag (`--budget-ms`), the
/// environment variable (`HRHUB_BUDGET_MS`), the config-file key (`budget-ms`), the accepted values, the
/// default (read from the field's initial value in `HubConfiguration`), `hrhub serve --help` and the
/// settings table of docs/OPERATIONS.md (`hrhub settings --markdown`).
///
/// The table is `HubConfiguration.settings`; adding a setting is one entry there plus its field.
struct Setting: Sendable {
    /// The values a setting accepts.
    enum Kind: Sendable, Equatable {
        /// A whole number within the range.
        case integer(ClosedRange<Int>)
        /// A finite number within the range.
        case number(ClosedRange<Double>)
        /// A flag without a value (`--demo`); `true`/`false` (also on/off, yes/no, 1/0) in the file and
        /// the environment.
        case presence
        /// `on` or `off` (also true/false, yes/no, 1/0).
        case toggle
        /// One of these words.
        case choice([String])
        /// Any text; an empty text clears an optional setting.
        case text
        /// Comma-separated texts (a JSON array of strings in the file).
        case list
    }

    /// The name: the flag without its dashes, and the config-file key.
    let name: String
    let kind: Kind
    /// The unit of a number (`ms`, `bytes`, `/s`), shown with the range; nil for a plain count.
    let unit: String?
    /// One line: what it does.
    let help: String
    /// Older names still accepted (as flag, variable and file key), with a warning each time they are used.
    let deprecatedNames: [String]
    /// What an empty list means, for the docs (`any`).
    let emptyText: String
    /// The setting's value in a configuration, as text that `assign` reads back.
    let current: @Sendable (HubConfiguration) -> String
    /// Reads the setting from text into a configuration; a value it does not accept throws, naming the setting.
    let assign: @Sendable (inout HubConfiguration, String) throws -> Void

    /// The default, as the docs and `--help` show it: the field's initial value.
    var defaultText: String {
        let text = current(HubConfiguration())
        guard text.isEmpty else { return text }
        if case .list = kind { return emptyText }
        return "–"
    }

    /// `--name`.
    var flag: String { "--" + name }

    /// `HRHUB_NAME` for a setting called `name`.
    var environmentVariable: String { Self.environmentVariable(for: name) }

    static func environmentVariable(for name: String) -> String {
        "HRHUB_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// The accepted values in words: `1…3600000 ms`, `on, off`, `≥ 1`.
    var valuesText: String {
        switch kind {
        case .integer(let range):
            return withUnit(Self.rangeText(range))
        case .number(let range):
            return withUnit("\(Self.numberText(range.lowerBound))…\(Self.numberText(range.upperBound))")
        case .presence: return "flag"
        case .toggle: return "on, off"
        case .choice(let words): return words.joined(separator: ", ")
        case .text: return unit ?? "text"
        case .list: return "comma-separated"
        }
    }

    /// A number with this setting's unit: `800 ms`, `10/s`.
    func withUnit(_ number: String) -> String {
        guard let unit else { return number }
        return unit.hasPrefix("/") ? number + unit : number + " " + unit
    }

    /// What `--help` shows after the flag: `<ms>`, `on|off`, nothing for a presence flag.
    var placeholder: String {
        switch kind {
        case .integer, .number: return "<\(unit.flatMap { $0.contains("/") ? nil : $0 } ?? "n")>"
        case .presence: return ""
        case .toggle: return "on|off"
        case .choice(let words): return words.joined(separator: "|")
        case .text, .list: return "<\(unit ?? "text")>"
        }
    }

    // MARK: Describing settings, one constructor per kind

    private init(
        _ name: String, _ kind: Kind, unit: String?, deprecated: [String] = [], emptyText: String = "–",
        help: String, current: @escaping @Sendable (HubConfiguration) -> String,
        assign: @escaping @Sendable (inout HubConfiguration, String) throws -> Void
    ) {
        self.name = name
        self.kind = kind
        self.unit = unit
        self.deprecatedNames = deprecated
        self.help = help
        self.emptyText = emptyText
        self.current = current
        self.assign = assign
    }

    static func integer(
        _ name: String, _ field: WritableKeyPath<HubConfiguration, Int> & Sendable, _ range: ClosedRange<Int>,
        unit: String? = nil, deprecated: [String] = [], _ help: String
    ) -> Setting {
        Setting(
            name, .integer(range), unit: unit, deprecated: deprecated, help: help,
            current: { String($0[keyPath: field]) }
        ) { config, text in
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("\(name) must be an integer, got '\(text)'")
            }
            guard range.contains(value) else {
                throw ValidationError("\(name) must be \(Setting.rangeText(range)), got \(value)")
            }
            config[keyPath: field] = value
        }
    }

    static func number(
        _ name: String, _ field: WritableKeyPath<HubConfiguration, Double> & Sendable, _ range: ClosedRange<Double>,
        unit: String? = nil, _ help: String
    ) -> Setting {
        Setting(
            name, .number(range), unit: unit, help: help, current: { numberText($0[keyPath: field]) }
        ) { config, text in
            guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite else {
                throw ValidationError("\(name) must be a number, got '\(text)'")
            }
            guard range.contains(value) else {
                let bounds = "\(Setting.numberText(range.lowerBound))…\(Setting.numberText(range.upperBound))"
                throw ValidationError("\(name) must be \(bounds), got \(text)")
            }
            config[keyPath: field] = value
        }
    }

    /// A flag without a value, such as `--demo`.
    static func presence(
        _ name: String, _ field: WritableKeyPath<HubConfiguration, Bool> & Sendable, _ help: String
    ) -> Setting {
        Setting(
            name, .presence, unit: nil, help: help, current: { $0[keyPath: field] ? "on" : "off" }
        ) { config, text in
            config[keyPath: field] = try boolean(text, name)
        }
    }

    /// `on` or `off`, such as `--jitter off`.
    static func toggle(
        _ name: String, _ field: WritableKeyPath<HubConfiguration, Bool> & Sendable, _ help: String
    ) -> Setting {
        Setting(
            name, .toggle, unit: nil, help: help, current: { $0[keyPath: field] ? "on" : "off" }
        ) { config, text in
            config[keyPath: field] = try boolean(text, name)
        }
    }

    static func choice<Value: RawRepresentable & CaseIterable & Sendable>(
        _ name: String, _ field: WritableKeyPath<HubConfiguration, Value> & Sendable, _ help: String
    ) -> Setting where Value.RawValue == String {
        let words = Value.allCases.map(\.rawValue)
        return Setting(
            name, .choice(words), unit: nil, help: help, current: { $0[keyPath: field].rawValue }
        ) { config, text in
            guard let value = Value(rawValue: text) else {
                throw ValidationError("\(name) must be one of \(words.joined(separator: ", ")), got '\(text)'")
            }
            config[keyPath: field] = value
        }
    }

    /// Text that must not be empty, such as `--host`. `unit` names what it is (`address`, `file`).
    static func text(
        _ name: String, _ field: WritableKeyPath<HubConfiguration, String> & Sendable, unit: String? = nil,
        _ help: String
    ) -> Setting {
        Setting(
            name, .text, unit: unit, help: help, current: { $0[keyPath: field] }
        ) { config, text in
            guard !text.isEmpty else { throw ValidationError("\(name) must not be empty") }
            config[keyPath: field] = text
        }
    }

    /// Text that may be absent, such as `--jwt-secret`; an empty text means absent.
    static func text(
        _ name: String, _ field: WritableKeyPath<HubConfiguration, String?> & Sendable, unit: String? = nil,
        _ help: String
    ) -> Setting {
        Setting(
            name, .text, unit: unit, help: help, current: { $0[keyPath: field] ?? "" }
        ) { config, text in
            config[keyPath: field] = text.isEmpty ? nil : text
        }
    }

    /// The five zone multipliers of `--zone-points`: `1,2,4,8,8`.
    static func zonePoints(
        _ name: String, _ field: WritableKeyPath<HubConfiguration, ZonePoints> & Sendable, _ help: String
    ) -> Setting {
        Setting(
            name, .text, unit: "z1,z2,z3,z4,z5", help: help,
            current: { $0[keyPath: field].multipliers.map(String.init).joined(separator: ",") }
        ) { config, text in
            guard let points = ZonePoints(parsing: text) else {
                throw ValidationError(
                    "\(name) must be five whole numbers from 0 to 1000, comma-separated (zones 1 to 5), got '\(text)'")
            }
            config[keyPath: field] = points
        }
    }

    /// Comma-separated texts, such as `--allowed-origins`. `none` is what an empty list means, for the docs.
    static func list(
        _ name: String, _ field: WritableKeyPath<HubConfiguration, [String]> & Sendable, none: String,
        _ help: String
    ) -> Setting {
        Setting(
            name, .list, unit: nil, emptyText: none, help: help,
            current: { $0[keyPath: field].joined(separator: ",") }
        ) { config, text in
            config[keyPath: field] = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
        }
    }

    // MARK: Text

    private static func boolean(_ text: String, _ name: String) throws -> Bool {
        switch text.lowercased() {
        case "true", "on", "yes", "1": return true
        case "false", "off", "no", "0": return false
        default: throw ValidationError("\(name) must be on/off or true/false, got '\(text)'")
        }
    }

    private static func rangeText(_ range: ClosedRange<Int>) -> String {
        range.upperBound == .max ? "≥ \(range.lowerBound)" : "\(range.lowerBound)…\(range.upperBound)"
    }

    /// A number as a person writes it: `10`, not `10.0`.
    static func numberText(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
