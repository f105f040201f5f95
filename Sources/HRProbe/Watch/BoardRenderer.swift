/// Turns a `ClassBoard` into the text `hrprobe watch` prints: a header line, then a fixed-width table.
///
/// ```
/// class demo · 12 riders · 12 ranked · lag 3 ms (max 9 ms) · clock offset +0 ms
/// RIDER            NAME                  BPM  %MAX  ZONE    AGE  RANK    PTS  STATE
/// r01              Ana                   142    76  Z3     0.4s     1   12.3  live
/// ```
/// Rows are in rank order (the hub's `board`: ranks up to the connection's `board` value), then unranked riders
/// by id.
/// Columns are padded before colouring, so the layout is the same with and without ANSI escapes; with `color`
/// the zone cell takes the usual zone colour (grey, blue, green, yellow, red) and stale rows are dimmed.
struct BoardRenderer {
    /// Whether to use ANSI colours (a TTY, and `NO_COLOR` unset).
    var color: Bool

    /// Column widths; ids and names longer than their column are cut with `…`.
    private static let riderWidth = 16
    private static let nameWidth = 20

    /// The column headings, in the same layout as a row.
    static var headings: String {
        row(
            rider: "RIDER", name: "NAME", bpm: "BPM", pct: "%MAX", zone: "ZONE", age: "AGE", rank: "RANK",
            points: "PTS", state: "STATE")
    }

    /// The whole table: header line, headings, one row per rider (sorted by id), and a closing newline.
    func render(_ board: inout ClassBoard, now: Int64) -> String {
        let riders = board.sortedRiders
        var header = "class \(board.classID) · \(riders.count) rider\(riders.count == 1 ? "" : "s")"
        if let ranked = board.rankedCount { header += " · \(ranked) ranked" }
        if let lag = board.takeLags() {
            header += " · lag \(lag.median) ms (max \(lag.max) ms)"
        } else {
            header += " · lag -"
        }
        if let offset = board.hubOffsetMs {
            header += " · clock offset \(offset >= 0 ? "+" : "")\(offset) ms"
        }
        var lines = [header, Self.headings]
        for rider in riders {
            lines.append(line(for: rider, board: board, now: now))
        }
        if riders.isEmpty { lines.append("(no riders)") }
        return lines.joined(separator: "\n") + "\n"
    }

    private func line(for rider: ClassBoard.Rider, board: ClassBoard, now: Int64) -> String {
        let last = rider.last
        let bpm = last.map { $0.sample.bpm == 0 ? "--" : String($0.sample.bpm) } ?? "-"
        let pct = last?.pct.map(String.init) ?? "-"
        let zone = last?.zone.map { "Z\($0)" } ?? "-"
        let age = board.ageSeconds(of: rider, now: now).map { Self.formatAge($0) } ?? "-"
        let state = board.state(of: rider, now: now)
        let standing = board.standings[rider.id]
        let rank = standing.map { String($0.rank) } ?? "-"
        let points = standing.map { Self.formatTenths($0.pointsTenths) } ?? "-"
        guard color else {
            return Self.row(
                rider: rider.id, name: rider.profile.name ?? "", bpm: bpm, pct: pct, zone: zone, age: age,
                rank: rank, points: points, state: state.rawValue)
        }
        // Dimmed rows: the zone colour ends with a full reset, so dimming resumes after it.
        let rowStyle = state == .live ? "" : Self.dim
        let zoneStyle = last?.zone.map { (Self.zoneColor($0), Self.reset + rowStyle) } ?? ("", "")
        return rowStyle
            + Self.row(
                rider: rider.id, name: rider.profile.name ?? "", bpm: bpm, pct: pct, zone: zone, age: age,
                rank: rank, points: points, state: state.rawValue, zoneStyle: zoneStyle)
            + (rowStyle.isEmpty ? "" : Self.reset)
    }

    /// One row; `zoneStyle` wraps the (already padded) zone cell.
    private static func row(
        rider: String, name: String, bpm: String, pct: String, zone: String, age: String, rank: String,
        points: String, state: String, zoneStyle: (String, String) = ("", "")
    ) -> String {
        pad(cut(rider, riderWidth), riderWidth + 1) + pad(cut(name, nameWidth), nameWidth + 1)
            + padLeft(bpm, 4) + padLeft(pct, 6) + "  " + zoneStyle.0 + pad(zone, 6) + zoneStyle.1
            + padLeft(age, 5) + padLeft(rank, 6) + padLeft(points, 7) + "  " + state
    }

    /// Points in tenths with one decimal, as the hub writes them (`12.3`, `0.0`).
    private static func formatTenths(_ tenths: Int64) -> String {
        "\(tenths / 10).\(tenths % 10)"
    }

    private static func formatAge(_ seconds: Double) -> String {
        if seconds < 10 {
            let tenths = Int((seconds * 10).rounded())
            return "\(tenths / 10).\(tenths % 10)s"
        }
        return seconds < 6_000 ? "\(Int(seconds))s" : "\(Int(seconds) / 60)m"
    }

    private static func cut(_ text: String, _ width: Int) -> String {
        text.count <= width ? text : String(text.prefix(width - 1)) + "…"
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    private static func padLeft(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }

    // MARK: ANSI

    private static let reset = "\u{1B}[0m"
    private static let dim = "\u{1B}[2m"

    /// Zone colours: 1 grey, 2 blue, 3 green, 4 yellow, 5 red (bold).
    private static func zoneColor(_ zone: Int) -> String {
        switch zone {
        case ...1: "\u{1B}[37m"
        case 2: "\u{1B}[34m"
        case 3: "\u{1B}[32m"
        case 4: "\u{1B}[33m"
        default: "\u{1B}[1;31m"
        }
    }
}
