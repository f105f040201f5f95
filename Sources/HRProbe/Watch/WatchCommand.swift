import ArgumentParser
import Foundation

/// `hrprobe watch URL`: a live table of one class, as a viewer sees it.
struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Show a class live: every rider's bpm, % of HRmax, zone and freshness, once a second.",
        discussion: """
            URL is the class, ws://HOST:PORT/v1/classes/CLASS (the viewer path /ws?role=viewer is added), \
            or a full viewer URL, ws://HOST:PORT/v1/classes/CLASS/ws?role=viewer[&mode=latest][&token=…].

            Colours are used when standard output is a terminal and NO_COLOR is not set.

            Exit status: 0 after --once; 2 when the hub cannot be reached or refuses the connection; 1 when an \
            open connection is lost.
            """
    )

    /// The class to watch.
    @Argument(help: "The class URL, e.g. ws://127.0.0.1:8080/v1/classes/demo.")
    var url: String

    /// Print one table after about 2 s and exit.
    @Flag(help: "Collect for about 2 seconds, print one table and exit (for scripts and tests).")
    var once = false

    /// Receive samples in the binary subprotocol.
    @Flag(help: "Ask for binary sample frames (hrhub.v1.bin) instead of JSON.")
    var binary = false

    @OptionGroup var options: ProbeOptions

    func validate() throws {
        _ = try WatchTarget(url)
    }

    func run() throws {
        let target = try WatchTarget(url)
        let terminal = isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        let session = WatchSession(
            settings: .init(
                target: target, binary: binary, once: once, terminal: terminal, insecure: options.insecure),
            logger: options.makeLogger(label: "hrprobe.watch"))
        switch try session.run() {
        case .finished:
            return
        case .cannotConnect(let reason):
            printError("hrprobe: cannot connect to \(target.url.description): \(reason)")
            throw ExitCode(2)
        case .lost(let code, let reason):
            let codeText = code.map { " with code \($0)" } ?? ""
            printError("hrprobe: the hub closed the connection\(codeText)\(reason.isEmpty ? "" : ": \(reason)")")
            throw ExitCode(1)
        }
    }

    private func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
