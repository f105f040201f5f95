import HRProtocol
import HRStandings

/// When a class's next `board` tick is due.
struct BoardTickDue: Comparable {
    let atMs: Int64
    let room: ClassRoom

    static func < (a: BoardTickDue, b: BoardTickDue) -> Bool { a.atMs < b.atMs }
    static func == (a: BoardTickDue, b: BoardTickDue) -> Bool { a.atMs == b.atMs && a.room === b.room }
}

/// The standings' side of the relay (docs/PROTOCOL.md, "Standings: the live leaderboard"): each class's
/// `ClassStandings`, fed with exactly the samples the record reports as new, and the `board` messages.
///
/// A class's board tick runs at most once per `boardIntervalMs`, only after something a board shows may have
/// changed (a sample recorded, a live reading released). It builds one `BoardTick`: the top part for each `board`
/// value is encoded once and its buffer shared by every connection with that value; a participant's `me`/`near`
/// tail is its own. A connection is sent the board only when a part's digest differs from what it was last sent,
/// and at most once per interval (its first board, right after `snapshot`, counts).
extension Relay {
    /// Standings off (the record off): nil. Otherwise a copy of the class's in-memory standings, nil when the
    /// class is not in memory. For the HTTP endpoints.
    public func standings(classID: String) -> ClassStandings? {
        rooms[classID]?.standings
    }

    /// A room just made: its standings from what the record holds for the class (a restart, or a class forgotten
    /// after `classLingerMs`). Costs one read of the class's whole record (`RecordIndex.forEachRecorded`).
    func loadStandings(_ room: ClassRoom) {
        guard let record else { return }
        var standings = ClassStandings(points: config.zonePoints)
        record.forEachRecorded(classID: room.id) { standings.record($0) }
        room.standings = standings
    }

    /// A sample the record reported as new (`recordCommitted`). A class not in memory is rebuilt from the record
    /// when it is next made, so its sample needs nothing here.
    func standingsRecorded(_ sample: RecordedSample, now: Int64) {
        guard let room = rooms[sample.classID], room.standings != nil else { return }
        if room.standings!.record(sample) { boardChanged(room, now: now) }
    }

    /// Something a board shows may have changed (a sample recorded, a rider's live reading): books the class's
    /// board tick, no sooner than one interval after the last.
    func boardChanged(_ room: ClassRoom, now: Int64) {
        guard room.standings != nil else { return }
        room.boardDirty = true
        guard room.boardTickMs == nil, room.boardViewers > 0 else { return }
        bookBoardTick(room, at: max(now, room.lastBoardTickMs &+ config.boardIntervalMs))
    }

    private func bookBoardTick(_ room: ClassRoom, at: Int64) {
        room.boardTickMs = at
        boardTicks.insert(BoardTickDue(atMs: at, room: room))
    }

    /// Runs the board ticks that came due.
    func runBoardTicks(now: Int64) {
        while let first = boardTicks.min, first.atMs <= now {
            let due = boardTicks.removeMin()
            guard due.room.boardTickMs == due.atMs, rooms[due.room.id] === due.room else { continue }
            due.room.boardTickMs = nil
            boardTick(due.room, now: now)
        }
    }

    /// When the next board tick is due.
    var nextBoardTickMs: Int64 { boardTicks.min?.atMs ?? .max }

    /// A viewing connection just got its `snapshot`: its first board, when anyone is ranked.
    func sendFirstBoard(to client: Client, now: Int64) {
        let room = client.room
        guard client.boardTop > 0, let standings = room.standings else { return }
        room.boardViewers += 1
        if standings.count > 0 {
            var tick = standings.board(at: now, live: liveReadings(in: room))
            var shared: [Int: OutboundMessage] = [:]
            sendBoard(&tick, to: client, shared: &shared, now: now)
        }
        if room.boardDirty {
            room.boardDirty = false
            boardChanged(room, now: now)
        }
    }

    /// A viewing connection is gone.
    func boardViewerClosed(_ client: Client) {
        if client.boardTop > 0, client.room.standings != nil { client.room.boardViewers -= 1 }
    }

    private func boardTick(_ room: ClassRoom, now: Int64) {
        guard room.boardDirty, let standings = room.standings else { return }
        room.boardDirty = false
        room.lastBoardTickMs = now
        guard standings.count > 0 else { return }
        var tick = standings.board(at: now, live: liveReadings(in: room))
        var shared: [Int: OutboundMessage] = [:]
        // A connection with a new board whose last one went out less than an interval ago (its first, right after
        // `snapshot`) waits; an extra tick serves it then. One with nothing new never holds a tick back.
        var heldUntil = Int64.max
        for viewer in room.viewers where viewer.boardTop > 0 && !viewer.closing && !viewer.isVirtual {
            if !sendBoard(&tick, to: viewer, shared: &shared, now: now), let sent = viewer.boardSentMs {
                heldUntil = min(heldUntil, sent + config.boardIntervalMs)
            }
        }
        counters.boardTicks += 1
        if heldUntil < .max {
            room.boardDirty = true
            bookBoardTick(room, at: heldUntil)
        }
    }

    /// Sends `client` this tick's board unless it shows what the client was last sent. Returns false when the
    /// board is new to the client but its last one went out less than `boardIntervalMs` ago (nothing sent).
    @discardableResult
    private func sendBoard(
        _ tick: inout BoardTick, to client: Client, shared: inout [Int: OutboundMessage], now: Int64
    ) -> Bool {
        let top = tick.top(client.boardTop)
        let suffix = client.participant.flatMap { tick.suffix(for: $0.id) }
        let suffixDigest = suffix?.digest ?? 0
        if let sent = client.boardSentMs {
            if top.digest == client.boardTopDigest, suffixDigest == client.boardSuffixDigest { return true }
            if now - sent < config.boardIntervalMs { return false }
        }
        client.boardSentMs = now
        client.boardTopDigest = top.digest
        client.boardSuffixDigest = suffixDigest
        counters.boards += 1
        if let suffix {
            enqueue(OutboundMessage(shared: top.bytes, tail: suffix.bytes), to: client, now: now)
            return true
        }
        let message = shared[client.boardTop] ?? OutboundMessage(shared: top.bytes, tail: [UInt8(ascii: "}")])
        shared[client.boardTop] = message
        enqueue(message, to: client, now: now)
        return true
    }

    /// Each rider's newest live sample, as a board shows it.
    private func liveReadings(in room: ClassRoom) -> (String) -> LiveReading? {
        { p in room.participants[p]?.last.map { (bpm: $0.sample.bpm, zone: $0.zone) } }
    }
}
