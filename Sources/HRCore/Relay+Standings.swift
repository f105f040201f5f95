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
    /// Tells this read from an earlier one of the same class (a class forgotten and made again, a catch-up that
    /// superseded it).
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
/// A class's board ticks run only after something a board shows may have changed (a sample recorded, a live reading
/// released): each tick serves the board connections that have not seen the change and whose last board went out
/// an interval ago or more (its first board, right after `snapshot`, counts), at most `boardConnectionsPerTick` of
/// them; a bigger class is served in turns, its ticks a fraction of the interval apart, so no tick holds the
/// service thread for long and every connection still sees ranks at most an interval (plus one gap) old. A tick
/// starts one `BoardTick` from the class's `BoardBuilder`: the top part for each `board` value is encoded once
/// and its buffer shared by every connection with that value; a participant's `me`/`near` tail is its own,
/// spliced from entries encoded again only when they change. A connection is sent the board only when a part's
/// digest differs from what it was last sent (the tail's digest is compared before the tail is built).
extension Relay {
    /// Standings off (the record off): nil. Otherwise a copy of the class's in-memory standings, nil when the
    /// class is not in memory or the first read of its record is still under way. For the HTTP endpoints.
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
            room.boardBuilder = BoardBuilder()
            return
        }
        requestStandingsRead(room)
    }

    /// Asks the hub for a read of the class's whole record (superseding one under way: its result will be dropped).
    /// The samples the record reports new from now on are kept in the room's backlog until the read arrives.
    func requestStandingsRead(_ room: ClassRoom) {
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

    /// Whether `classID` is in memory with a read of its record under way (its first, or a catch-up).
    public func isRebuildingStandings(classID: String) -> Bool {
        rooms[classID]?.standingsRebuild != nil
    }

    /// A rebuild's result: `standings` holds what the record held when the read began (and possibly more). The
    /// samples reported new since the read was asked for are applied on top; one already in `standings` is
    /// refused by it (a (participant, seq) is counted once), so each sample counts exactly once. The result replaces
    /// the class's standings. A rebuild for a class no longer in memory, made again since, or superseded, is dropped.
    public func standingsRebuilt(_ rebuild: StandingsRebuild, standings: ClassStandings, now: Int64) {
        guard let room = rooms[rebuild.classID], room.standingsRebuild == rebuild.id else { return }
        var standings = standings
        for sample in room.standingsBacklog { standings.record(sample) }
        room.standingsBacklog = []
        room.standingsRebuild = nil
        room.standings = standings
        // Rider indices are the new standings': nothing cached from before holds.
        room.boardBuilder = BoardBuilder()
        room.boardRiders = []
        for viewer in room.viewers { viewer.boardRider = -1 }
        boardChanged(room, now: now)
    }

    /// A sample the record reported as new (`recordCommitted`). A class not in memory is rebuilt from the record
    /// when it is next made, so its sample needs nothing here. While a read of the class's record is under way, the
    /// sample also waits in the backlog, for the read's result.
    func standingsRecorded(_ sample: RecordedSample, now: Int64) {
        guard let room = rooms[sample.classID] else { return }
        if room.standingsRebuild != nil { room.standingsBacklog.append(sample) }
        guard room.standings != nil else { return }
        if room.standings!.record(sample) { boardChanged(room, now: now) }
    }

    /// Something a board shows may have changed (a sample recorded, a rider's live reading, the standings rebuilt):
    /// books the class's board tick, no sooner than one gap (`boardGap`) after the last.
    func boardChanged(_ room: ClassRoom, now: Int64) {
        guard room.standings != nil else { return }
        room.boardChange &+= 1
        guard room.boardTickMs == nil, room.boardViewers > 0 else { return }
        bookBoardTick(room, at: max(now, room.lastBoardTickMs &+ boardGap(room)))
    }

    /// The time between a class's board ticks while they have work: the interval for a class whose board
    /// connections one tick serves (`boardConnectionsPerTick`); a fraction of it for a bigger class, whose
    /// connections are served in turns, the interval spread over as many ticks as it takes.
    private func boardGap(_ room: ClassRoom) -> Int64 {
        let perTick = max(1, config.boardConnectionsPerTick)
        let turns = Int64(max(1, (room.boardViewers + perTick - 1) / perTick))
        return max(1, (config.boardIntervalMs + turns - 1) / turns)
    }

    /// Books `room`'s next board tick at `at`, with the class tick on moved up to its grid: a board is built on
    /// the class tick that sends it (`Relay.tick` runs board ticks first), not up to a tick earlier.
    private func bookBoardTick(_ room: ClassRoom, at: Int64) {
        let at = config.tickMs > 0 ? JitterBuffer.floor(at &+ config.tickMs &- 1, config.tickMs) : at
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

    /// A viewing connection just got its `snapshot`: its first board, when anyone is ranked (while the standings are
    /// rebuilt, the first tick after serves it). Built for this connection alone: the top part, and `me`/`near`
    /// from the ranking without a snapshot of it.
    func sendFirstBoard(to client: Client, now: Int64) {
        let room = client.room
        guard client.boardTop > 0, isRecording else { return }
        room.boardViewers += 1
        guard let standings = room.standings, standings.count > 0 else { return }
        var tick = room.boardBuilder.tick(at: now, standings: standings, live: liveReadings(in: room))
        let top = tick.top(client.boardTop)
        var suffix: BoardPart?
        if let participant = client.participant, let rider = tick.riderIndex(of: participant.id) {
            client.boardRider = rider
            suffix = tick.suffix(for: participant.id)
        }
        client.boardChange = room.boardChange
        client.boardSentMs = now
        client.boardTopDigest = top.digest
        client.boardSuffixDigest = suffix?.digest ?? 0
        counters.boards += 1
        enqueue(OutboundMessage(shared: top.bytes, tail: suffix?.bytes ?? [UInt8(ascii: "}")]), to: client, now: now)
    }

    /// A viewing connection is gone.
    func boardViewerClosed(_ client: Client) {
        if client.boardTop > 0, isRecording { client.room.boardViewers -= 1 }
    }

    /// One board tick of `room`: each board connection that has not seen the class's latest change and whose last
    /// board went out at least an interval ago is sent the board, when what it shows changed; at most
    /// `boardConnectionsPerTick` of them, the rest in the next tick, one gap later. Connections waiting for their
    /// interval get a tick when the first of them is due. A connection with nothing new never books a tick.
    private func boardTick(_ room: ClassRoom, now: Int64) {
        guard let standings = room.standings, standings.count > 0 else { return }
        room.lastBoardTickMs = now
        let interval = config.boardIntervalMs
        let change = room.boardChange
        let perTick = max(1, config.boardConnectionsPerTick)
        var tick: BoardTick?
        var shared: [Int: OutboundMessage] = [:]
        var served = 0
        var nextDue = Int64.max
        var more = false
        for viewer in room.viewers
        where viewer.boardTop > 0 && viewer.boardChange != change && !viewer.closing && !viewer.isVirtual {
            if let sent = viewer.boardSentMs, now - sent < interval {
                nextDue = min(nextDue, sent + interval)
                continue
            }
            if served == perTick {
                more = true
                break
            }
            served += 1
            if tick == nil {
                tick = room.boardBuilder.tick(at: now, standings: standings, live: liveReadings(in: room))
            }
            sendBoard(&tick!, to: viewer, shared: &shared, now: now)
        }
        tick = nil
        guard served > 0 || more || nextDue < .max else { return }
        if served > 0 { counters.boardTicks += 1 }
        let gap = boardGap(room)
        if more {
            bookBoardTick(room, at: now + gap)
        } else if nextDue < .max {
            // A class served in turns keeps its ticks one gap apart; a small one serves a held connection on time.
            bookBoardTick(room, at: gap < interval ? max(nextDue, now + gap) : nextDue)
        }
    }

    /// Sends `client` this tick's board unless it shows what the client was last sent (its `me`/`near` is compared
    /// by digest before it is built).
    private func sendBoard(
        _ tick: inout BoardTick, to client: Client, shared: inout [Int: OutboundMessage], now: Int64
    ) {
        client.boardChange = client.room.boardChange
        let top = tick.top(client.boardTop)
        var rider: Int32?
        if let participant = client.participant {
            if client.boardRider < 0, let index = tick.riderIndex(of: participant.id) { client.boardRider = index }
            if client.boardRider >= 0 { rider = client.boardRider }
        }
        let suffixDigest = rider.map { tick.suffixDigest(rider: $0) } ?? 0
        if client.boardSentMs != nil, top.digest == client.boardTopDigest, suffixDigest == client.boardSuffixDigest {
            return
        }
        client.boardSentMs = now
        client.boardTopDigest = top.digest
        client.boardSuffixDigest = suffixDigest
        counters.boards += 1
        if let rider {
            enqueue(OutboundMessage(shared: top.bytes, tail: tick.suffix(rider: rider).bytes), to: client, now: now)
            return
        }
        let message = shared[client.boardTop] ?? OutboundMessage(shared: top.bytes, tail: [UInt8(ascii: "}")])
        shared[client.boardTop] = message
        enqueue(message, to: client, now: now)
    }

    /// Each rider's newest live sample, as a board shows it, by rider index (the rider's `Participant` is looked up
    /// by id once, then kept in `room.boardRiders`).
    private func liveReadings(in room: ClassRoom) -> (Int32, String) -> LiveReading? {
        { rider, p in
            let index = Int(rider)
            if index < room.boardRiders.count, let known = room.boardRiders[index] {
                return known.last.map { (bpm: $0.sample.bpm, zone: $0.zone) }
            }
            guard let participant = room.participants[p] else { return nil }
            if index >= room.boardRiders.count {
                room.boardRiders.append(contentsOf: repeatElement(nil, count: index + 1 - room.boardRiders.count))
            }
            room.boardRiders[index] = participant
            return participant.last.map { (bpm: $0.sample.bpm, zone: $0.zone) }
        }
    }
}
