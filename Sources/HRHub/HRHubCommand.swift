import ArgumentParser

/// `hrhub`: the heart-rate relay. `hrhub [serve] …` runs it; `hrhub token …` mints access tokens;
/// `hrhub settings` lists every setting.
@main
struct HRHubCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hrhub",
        abstract: "A real-time heart-rate relay for group fitness classes (WebSocket, libwebsockets).",
        subcommands: [ServeCommand.self, TokenCommand.self, SettingsCommand.self],
        defaultSubcommand: ServeCommand.self)
}
