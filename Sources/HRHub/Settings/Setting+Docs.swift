extension Setting {
    /// The settings table of docs/OPERATIONS.md (`hrhub settings --markdown`); a test holds the two equal.
    static func markdownTable(_ settings: [Setting]) -> String {
        var lines = ["| setting | default | values | meaning |", "|---|---|---|---|"]
        for setting in settings {
            let cells = ["`\(setting.name)`", setting.defaultText, setting.valuesText, setting.helpSentence]
            lines.append(
                "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The flags as `hrhub serve --help` and `hrhub settings` list them: each flag with its values, then its help,
    /// default and variable, wrapped to fit 80 columns.
    static func flagList(_ settings: [Setting]) -> String {
        settings.map { setting in
            let head = "  " + (setting.placeholder.isEmpty ? setting.flag : "\(setting.flag) \(setting.placeholder)")
            var about = "\(setting.helpSentence). Default \(setting.defaultWithUnit)"
            if case .integer = setting.kind { about += ", \(setting.valuesText)" }
            if case .number = setting.kind { about += ", \(setting.valuesText)" }
            about += "; \(setting.environmentVariable)."
            return ([head] + wrapped(about, width: 68).map { "        " + $0 }).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Words into lines of at most `width` characters (a longer word gets a line of its own).
    private static func wrapped(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += line.isEmpty ? String(word) : " " + word
        }
        return line.isEmpty ? lines : lines + [line]
    }

    /// The default with its unit: `800 ms`, `10/s`.
    var defaultWithUnit: String {
        switch kind {
        case .integer, .number: return withUnit(defaultText)
        default: return defaultText
        }
    }

    /// The help line, with the deprecated names.
    var helpSentence: String {
        guard !deprecatedNames.isEmpty else { return help }
        let old = deprecatedNames.map { "`\($0)`" }.joined(separator: ", ")
        return "\(help) (formerly \(old): still read, with a warning)"
    }
}
