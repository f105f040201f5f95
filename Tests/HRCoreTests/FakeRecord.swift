import HRCore
import HRProtocol
import HRStandings

/// A record for relay tests: a set of keys and rows, with commits applied only when a test says so, as a
/// store's writer thread would (in order, each key at most once).
final class FakeRecord: RecordIndex {
    struct Key: Hashable {
        let classID: String
        let participant: String
        let seq: UInt32
    }

    private(set) var rows: [Key: RecordedSample] = [:]
    private(set) var profiles: [String: Profile] = [:]
    /// Batches taken from the relay and not yet committed.
    private(set) var waiting: [RecordBatch] = []

    /// Rows already in the record (a previous run of the hub).
    func preload(_ classID: String, _ participant: String, seqs: some Sequence<UInt32>) {
        for seq in seqs {
            rows[Key(classID: classID, participant: participant, seq: seq)] = RecordedSample(
                classID: classID, participant: participant, sample: Sample(seq: seq, ts: 0, bpm: 100), rts: 0)
        }
    }

    /// How many participants were looked up (`recorded`): reads the relay makes on its own thread.
    private(set) var lookups: [String] = []

    func recorded(classID: String, participant: String, limit: Int) -> (seqs: [UInt32], profile: Profile?) {
        lookups.append(participant)
        let seqs = rows.keys.filter { $0.classID == classID && $0.participant == participant }.map(\.seq)
        return (Array(seqs.sorted(by: >).prefix(limit)), profiles["\(classID)/\(participant)"])
    }

    func hasRecord(classID: String) -> Bool {
        rows.keys.contains { $0.classID == classID }
    }

    /// Standings from every row of `classID`, as the hub's rebuild reads them.
    func standings(_ classID: String, points: ZonePoints = .standard) -> ClassStandings {
        var standings = ClassStandings(points: points)
        for (key, row) in rows where key.classID == classID { standings.record(row) }
        return standings
    }

    /// Runs every rebuild the relay asked for, from the rows as they are now, and hands each back.
    func rebuildAll(for relay: Relay, now: Int64) {
        for rebuild in relay.takeStandingsRebuilds() {
            relay.standingsRebuilt(rebuild, standings: standings(rebuild.classID, points: rebuild.points), now: now)
        }
    }

    /// Takes whatever the relay has for the record.
    func take(from relay: Relay) {
        if let batch = relay.takeRecordBatch() { waiting.append(batch) }
    }

    /// Commits every waiting batch, in order, and reports each to the relay.
    func commitAll(to relay: Relay, now: Int64) {
        let batches = waiting
        waiting.removeAll()
        for batch in batches {
            for profile in batch.profiles { profiles["\(profile.classID)/\(profile.participant)"] = profile.profile }
            let inserted = batch.samples.map { row -> Bool in
                let key = Key(classID: row.classID, participant: row.participant, seq: row.sample.seq)
                guard rows[key] == nil else { return false }
                rows[key] = row
                return true
            }
            relay.recordCommitted(batch.id, inserted: inserted, now: now)
        }
    }

    /// Refuses every waiting batch (an overloaded or closed store).
    func failAll(to relay: Relay, now: Int64) {
        let batches = waiting
        waiting.removeAll()
        for batch in batches { relay.recordCommitted(batch.id, inserted: nil, now: now) }
    }

    /// Recorded seqs of one participant, sorted.
    func seqs(_ classID: String, _ participant: String) -> [UInt32] {
        rows.keys.filter { $0.classID == classID && $0.participant == participant }.map(\.seq).sorted()
    }
}
