import ArgumentParser
import Foundation

/// `hrprobe`: the tool a performance engineer points at a hub.
///
/// Each job is a subcommand in its own folder (`Watch/` for `watch`, `Run/` for `run`); shared flags live in
/// `ProbeOptions`.
///
/// Exit status 2 means "the run itself failed" for every subcommand, bad flags included (ArgumentParser's own
/// usage error is 64; scripts gating on an SLO need one code for "no verdict").
@main
struct HRProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hrprobe",
        abstract: "Watch and load-test an HRHub heart-rate relay.",
        subcommands: [WatchCommand.self, RunCommand.self]
    )

    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
