import Foundation

/// The live progress line on a terminal: rewritten in place once a second on standard error, so standard output
/// stays clean for the summary.
final class ProgressLine {
    /// What the line shows.
    struct Snapshot {
        var phase: String
        var elapsedUs: Int64
        var totalUs: Int64
        var open: Int
        var connections: Int
        var sentPerSecond: Int
        var receivedPerSecond: Int
        /// p99 of the lags of the last second, or nil without any.
        var p99Us: Int64?
        var lost: Int
        var unexplained: Int
        var errors: Int
        var cpuPercent: Double
    }

    private let handle: FileHandle
    private var written = false

    init(handle: FileHandle = .standardError) {
        self.handle = handle
    }

    /// The line for `snapshot`, without control characters.
    static func render(_ s: Snapshot) -> String {
        let p99 = s.p99Us.map { DurationText.describe(microseconds: $0) } ?? "-"
        var line = "\(s.phase) \(s.elapsedUs / 1_000_000)/\(s.totalUs / 1_000_000)s"
        line += " · conns \(s.open)/\(s.connections) · sent \(s.sentPerSecond)/s · recv \(s.receivedPerSecond)/s"
        line += " · p99 \(p99) · lost \(s.lost)"
        if s.unexplained > 0 { line += " (UNEXPLAINED \(s.unexplained))" }
        line += " · errors \(s.errors) · probe cpu \(Int(s.cpuPercent.rounded()))%"
        return line
    }

    /// Rewrites the line.
    func update(_ snapshot: Snapshot) {
        handle.write(Data(("\r\u{1B}[2K" + Self.render(snapshot)).utf8))
        written = true
    }

    /// Ends the line so what follows starts on a fresh one.
    func finish() {
        guard written else { return }
        handle.write(Data("\r\u{1B}[2K".utf8))
        written = false
    }
}
