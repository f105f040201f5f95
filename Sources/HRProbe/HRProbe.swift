import ArgumentParser

/// `hrprobe`: the tool a performance engineer points at a hub.
///
/// Each job is a subcommand in its own folder (`Watch/` for `watch`, `Run/` for `run`); shared flags live in
/// `ProbeOptions`.
@main
struct HRProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hrprobe",
        abstract: "Watch and load-test an HRHub heart-rate relay.",
        subcommands: [WatchCommand.self, RunCommand.self]
    )
}
