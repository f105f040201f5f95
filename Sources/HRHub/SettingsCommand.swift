import ArgumentParser

/// `hrhub settings`: every setting with its flag, variable, default and values.
struct SettingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings",
        abstract: "List every setting: flag, environment variable, default, values.",
        discussion: "--markdown prints the settings table of docs/OPERATIONS.md, which is generated from it.")

    @Flag(help: "Print the Markdown table of docs/OPERATIONS.md.") var markdown = false

    func run() {
        if markdown {
            print(Setting.markdownTable(HubConfiguration.settings), terminator: "")
        } else {
            print(Setting.flagList(HubConfiguration.settings))
        }
    }
}
