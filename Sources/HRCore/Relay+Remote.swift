import HRProtocol

/// A sample a hub accepted from one of its devices, as it crosses to the other hubs of a cluster.
public struct AcceptedSample: Sendable, Equatable {
    /// The participant's id.
    public var participant: String
    /// The sample as the device sent it.
    public var sample: Sample
    /// When the accepting hub received it (its clock, Unix ms): the arrival every hub's jitter buffer uses.
    public var arrivalMs: Int64

    /// A sample and its participant.
    public init(_ participant: String, _ sample: Sample, arrivalMs: Int64) {
        self.participant = participant
        self.sample = sample
        self.arrivalMs = arrivalMs
    }
}

/// A rider present on some hub, as presence announcements carry them.
public struct PresentRider: Sendable, Equatable {
    /// The participant's id.
    public var id: String
    /// Their profile as their hub knows it.
    public var profile: Profile
    /// When their connection opened (their hub's clock, Unix ms): a newer connection on another hub takes over.
    public var sinceMs: Int64

    /// A present rider.
    public init(id: String, profile: Profile, sinceMs: Int64 = 0) {
        self.id = id
        self.profile = profile
        self.sinceMs = sinceMs
    }
}

/// The relay's side of cluster mode (docs/CLUSTER.md): what this hub's devices had accepted goes out
/// (`takeAccepted`), samples other hubs accepted come in (`receiveRemote`) under the same budget, queue, jitter
/// and gap rules as local ones, deduped per (participant, seq), and other hubs' riders are present here
/// (`applyPresence`, `forgetHub`). Pure like the rest of the relay; the hub does the NATS side.
extension Relay {
    /// Keeps an accepted sample for `takeAccepted` (called from `ingest` when `exportsAccepted`).
    func export(_ sample: Sample, of rider: Participant, in room: ClassRoom, now: Int64) {
        exported[room.id, default: []].append(AcceptedSample(rider.id, sample, arrivalMs: now))
    }

    /// Whether samples are waiting for `takeAccepted`.
    public var hasAccepted: Bool { !exported.isEmpty }

    /// The samples devices here had accepted since the last call, per class, in the order they were accepted.
    public func takeAccepted() -> [String: [AcceptedSample]] {
        defer { exported.removeAll(keepingCapacity: true) }
        return exported
    }

    /// Samples another hub (`hub`) accepted for `classID`. Ignored when this hub has no such class (it has
    /// no interest in it). A (participant, seq) seen here before is dropped (`remoteDuplicates`); the rest is
    /// relayed like a local sample, its arrival being the origin's. A participant not present here yet joins,
    /// present on `hub`. Nothing is recorded here: the origin hub records; the class's standings here count the
    /// sample (so every hub's board shows every hub's riders, for what it received).
    public func receiveRemote(_ samples: [AcceptedSample], classID: String, fromHub hub: String, now: Int64) {
        guard let room = rooms[classID] else { return }
        for entry in samples {
            guard let rider = participant(entry.participant, in: room) else { continue }
            // Relayed here already (from a device here, or another hub): dropped. Seqs the shared record holds but
            // this hub never relayed (its window was seeded from the record) still go to the viewers.
            if rider.relayed.contains(entry.sample.seq) {
                counters.remoteDuplicates += 1
                continue
            }
            rider.relayed.insert(entry.sample.seq)
            rider.accepted.insert(entry.sample.seq)
            counters.remoteReceived += 1
            if !rider.isPresent {
                rider.remoteHubs.insert(hub)
                rider.lastActivityMs = now
                broadcast(.join(p: rider.id, profile: rider.profile), in: room, now: now)
            }
            // The origin records it; the standings count it when the shared record says so (`recordedInCluster`).
            admit(entry.sample, arrivedMs: entry.arrivalMs, of: rider, in: room, now: now)
        }
    }

    /// Samples the cluster's shared record (the JetStream stream) stored, whichever hub published them: they count in
    /// this hub's standings (each (participant, seq) once, with the zone the origin recorded), so every hub's board
    /// and leaderboard follow the same record. Classes not in memory are rebuilt from the record when made.
    public func recordedInCluster(_ samples: [RecordedSample], now: Int64) {
        for sample in samples { standingsRecorded(sample, now: now) }
    }

    /// Reads the class's record into its standings again, adding what the read when the room was made could not see
    /// (samples stored before this hub heard of them through `recordedInCluster`). The read runs off the relay's
    /// thread like a rebuild (`takeStandingsRebuilds`); the standings so far keep counting and showing meanwhile, and
    /// the read replaces them when it comes back (each sample counted once). A read still under way is superseded.
    public func catchUpStandings(classID: String, now: Int64) {
        guard record != nil, let room = rooms[classID] else { return }
        requestStandingsRead(room)
    }

    /// `hub`'s presence: its riders per class. In the classes this hub has, a rider new to presence joins, a
    /// changed profile is announced as a `join` again, and a rider `hub` announced before and no longer does
    /// leaves (`closed`), unless connected here or announced by another hub. A rider connected here whose
    /// connection on `hub` is newer was taken over: the socket here is closed with 4009 (no `leave`: still
    /// present on `hub`).
    public func applyPresence(of hub: String, _ classes: [String: [PresentRider]], now: Int64) {
        for (classID, room) in rooms {
            let listed = classes[classID] ?? []
            var names = Set<String>()
            for entry in listed {
                names.insert(entry.id)
                guard let rider = participant(entry.id, in: room) else { continue }
                let wasPresent = rider.isPresent
                rider.remoteHubs.insert(hub)
                if let here = rider.connection {
                    // Connected here too: the newer connection wins (4009 here), else this hub's view stands.
                    if entry.sinceMs > rider.connectedSinceMs && !here.isVirtual && !here.closing {
                        here.closing = true
                        counters.takeovers += 1
                        effects.append(.close(here.id, .replaced, flushFirst: false))
                    }
                    continue
                }
                let changed = rider.profile != entry.profile
                rider.profile = entry.profile
                if !wasPresent {
                    rider.lastActivityMs = now
                    rider.stale = false
                }
                if !wasPresent || changed { broadcast(.join(p: rider.id, profile: rider.profile), in: room, now: now) }
            }
            for rider in room.participants.values where rider.remoteHubs.contains(hub) && !names.contains(rider.id) {
                rider.remoteHubs.remove(hub)
                if !rider.isPresent { leave(rider, reason: .closed, in: room, now: now) }
            }
        }
    }

    /// `hub` is gone (silent too long: `timeout`; said goodbye: `closed`): its riders not connected here leave.
    public func forgetHub(_ hub: String, reason: LeaveReason, now: Int64) {
        for room in rooms.values {
            for rider in room.participants.values where rider.remoteHubs.contains(hub) {
                rider.remoteHubs.remove(hub)
                if !rider.isPresent { leave(rider, reason: reason, in: room, now: now) }
            }
        }
    }

    /// Riders connected to this hub (demo riders included; connections being closed not), per class; classes
    /// without any are left out.
    /// O(participants): for the once-a-second announcement.
    public func localPresence() -> [String: [PresentRider]] {
        var classes: [String: [PresentRider]] = [:]
        for room in rooms.values {
            let here = room.participants.values.filter { $0.connection.map { !$0.closing } ?? false }
            guard !here.isEmpty else { continue }
            classes[room.id] = here.sorted { $0.id < $1.id }.map {
                PresentRider(id: $0.id, profile: $0.profile, sinceMs: $0.connectedSinceMs)
            }
        }
        return classes
    }

    /// Connections viewing each class here; classes without viewers are left out.
    public func localViewers() -> [String: Int] {
        var viewers: [String: Int] = [:]
        for room in rooms.values where !room.viewers.isEmpty { viewers[room.id] = room.viewers.count }
        return viewers
    }

    /// Classes with at least one connection here: the classes whose samples this hub subscribes to.
    public var classesInUse: Set<String> {
        Set(rooms.values.lazy.filter { $0.connectionCount > 0 }.map(\.id))
    }

    /// The room's participant, made if new and the class has room for one more; nil when it has not. Not read from
    /// the record: that waits until a device of theirs connects or uploads here (`Participant.seeded`).
    private func participant(_ id: String, in room: ClassRoom) -> Participant? {
        if let rider = room.participants[id] { return rider }
        guard room.participants.count < config.maxParticipantsPerClass else { return nil }
        return makeParticipant(id, in: room)
    }
}
