import HeapModule
import HRProtocol
import HRStandings

/// The relay's standings bookkeeping (stored in `Relay`).
struct StandingsState {
    /// When classes' board ticks are due; stale entries are skipped.
    var boardTicks = Heap<BoardTickDue>()
    /// Rebuilds asked for and not yet taken by the hub.
    var rebuilds: [StandingsRebuild] = []
    var nextRebuildID: UInt64 = 0
}

/// A class whose standings the hub must rebuild from the record, off the relay's thread: read every committed
/// sample of `classID` into `ClassStandings(points: points)` and hand the result to `Relay.standingsRebuilt`.
public struct StandingsRebuild: Sendable, Equatable {
    /// The class.
    public let classID: String
    /// Tells this rebuild from an earlier one of the same class (a class forgotten and made again).
    public let id: UInt64
    /// The zone multipliers to build with.
    public let points: ZonePoints
}

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
    /// class is not in memory or its standings are still being rebuilt. For the HTTP endpoints.
    public func standings(classID: String) -> ClassStandings? {
        rooms[classID]?.standings
    }

    /// A room just made: empty standings for a class without a record; for one with a record (a restart, or a class
    /// forgotten after `classLingerMs`), a rebuild the hub runs off the relay's thread (`takeStandingsRebuilds`).
    /// Until it arrives the class has no standings (no boards; `standings(classID:)` is nil) and the samples the
    /// record reports new meanwhile wait in the room, to be applied on top of it.
    func loadStandings(_ room: ClassRoom) {
        guard let record else { return }
        guard record.hasRecord(classID: room.id) else {
            room.standings = ClassStandings(points: config.zonePoints)
            return
        }
        standingsState.nextRebuildID += 1
        let rebuild = StandingsRebuild(classID: room.id, id: standingsState.nextRebuildID, points: config.zonePoints)
        room.standingsRebuild = rebuild.id
        standingsState.rebuilds.append(rebuild)
    }

    /// The rebuilds asked for since the last call. For each, the hub reads the class's record off the relay's thread
    /// and reports the result with `standingsRebuilt`.
    public func takeStandingsRebuilds() -> [StandingsRebuild] {
        guard !standingsState.rebuilds.isEmpty else { return [] }
        defer { standingsState.rebuilds.removeAll(keepingCapacity: true) }
        return standingsState.rebuilds
    }

    /// Whether `classID` is in memory with its standings still being rebuilt.
    public func isRebuildingStandings(classID: String) -> Bool {
        rooms[classID]?.standingsRebuild != nil
    }

    /// A rebuild's result: `standings` holds what the record held when the read began (and possibly more). The
    /// samples reported new since the rebuild was asked for are applied on top; one already in `standings` is
    /// refused by it (a (participant, seq) is counted once), so each sample counts exactly once. A rebuild for a
    /// class no longer in memory, or made again since, is dropped.
    public func standingsRebuilt(_ rebuild: StandingsRebuild, standings: ClassStandings, now: Int64) {
        guard let room = rooms[rebuild.classID], room.standingsRebuild == rebuild.id else { return }
        var standings = standings
        for sample in room.standingsBacklog { standings.record(sample) }
        room.standingsBacklog = []
        room.standingsRebuild = nil
        room.standings = standings
        boardChanged(room, now: now)
    }

    /// A sample the record reported as new (`recordCommitted`). A class not in memory is rebuilt from the record
    /// when it is next made, so its sample needs nothing here.
    func standingsRecorded(_ sample: RecordedSample, now: Int64) {
        guard let room = rooms[sample.classID] else { return }
        if room.standingsRebuild != nil { return room.standingsBacklog.append(sample) }
        guard room.standings != nil else { return }
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
        standingsState.boardTicks.insert(BoardTickDue(atMs: at, room: room))
    }

    /// Runs the board ticks that came due.
    func runBoardTicks(now: Int64) {
        while let first = standingsState.boardTicks.min, first.atMs <= now {
            let due = standingsState.boardTicks.removeMin()
            guard due.room.boardTickMs == due.atMs, rooms[due.room.id] === due.room else { continue }
            due.room.boardTickMs = nil
            boardTick(due.room, now: now)
        }
    }

    /// When the next board tick is due.
    var nextBoardTickMs: Int64 { standingsState.boardTicks.min?.atMs ?? .max }

    /// A viewing connection just got its `snapshot`: its first board, when anyone is ranked.
    func sendFirstBoard(to client: Client, now: Int64) {
        let room = client.room
        guard client.boardTop > 0, isRecording else { return }
        room.boardViewers += 1
        // While the standings are rebuilt, its first board comes with the first tick after.
        if let standings = room.standings, standings.count > 0 {
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
        if client.boardTop > 0, isRecording { client.room.boardViewers -= 1 }
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
