import HRProtocol
import HRStandings

/// One class session: its participants (present or recently gone) and the connections viewing it.
final class ClassRoom {
    let id: String
    var participants: [String: Participant] = [:]
    /// Connections that receive the class's samples and presence, in no particular order.
    private(set) var viewers: [Client] = []
    /// Every open connection in the class, whatever its role.
    var connectionCount = 0
    /// When the last connection left; the class is forgotten `classLingerMs` later.
    var emptySince: Int64?
    /// Points and ranks from the record (nil with the record off, or while being rebuilt from it).
    var standings: ClassStandings?
    /// While the standings are being rebuilt from the record (off the relay's thread): the rebuild's id, and the
    /// samples the record reported new meanwhile, applied on top when it arrives (`Relay.standingsRebuilt`).
    var standingsRebuild: UInt64?
    var standingsBacklog: [RecordedSample] = []
    /// Counts changes to what a `board` may show (`Relay.boardChanged`); a connection that saw the latest needs no
    /// board.
    var boardChange: UInt64 = 0
    /// The board's encoded entries and buffers, kept from tick to tick (a new one with new standings).
    var boardBuilder = BoardBuilder()
    /// Per rider index of `standings`: the rider's `Participant` (for its live reading), once looked up.
    var boardRiders: [Participant?] = []
    /// When the room's next board tick is booked; nil when none is.
    var boardTickMs: Int64?
    /// When the last board tick ran.
    var lastBoardTickMs: Int64 = .min
    /// Viewing connections with `board` > 0.
    var boardViewers = 0
    /// With the class tick: what the class's viewers get on the next tick, in order (samples released and
    /// messages broadcast since the last one).
    var tickBatch: [OutboundMessage] = []
    /// Whether the room is booked for the next class tick.
    var ticking = false

    init(id: String) { self.id = id }

    func addViewer(_ client: Client) {
        client.viewerIndex = viewers.count
        viewers.append(client)
    }

    func removeViewer(_ client: Client) {
        guard let index = client.viewerIndex else { return }
        let last = viewers.removeLast()
        if last !== client {
            viewers[index] = last
            last.viewerIndex = index
        }
        client.viewerIndex = nil
    }

    /// Participants with an open connection, sorted by id.
    var presentParticipants: [Participant] {
        participants.values.filter(\.isPresent).sorted { $0.id < $1.id }
    }
}
