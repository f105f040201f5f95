import Dispatch
import HRCore
import HRProtocol
import HRRecord
import HRStandings
import Logging
import Synchronization
import Testing

@testable import HRHub

/// A class's standings rebuilt from the record off the service thread (`StandingsRebuilder`), with the relay on the
/// test's thread standing in for the service thread: the in-memory store, and a suspended queue as the gate that
/// holds the read until the test opens it.
@Suite struct StandingsRebuilderTests {
    let store = InMemoryRecordStore()
    let start: Int64 = 1_700_000_000_000

    /// `count` samples of `p` at 1 Hz from `seq` on, in zone 5 (hrmax 200, bpm 190) or zone 3 (bpm 150).
    func rows(_ p: String, from seq: UInt32, count: UInt32, bpm: UInt8) -> [RecordedSample] {
        (seq..<seq + count).map { seq in
            let ts = start + Int64(seq) * 1_000
            return RecordedSample(
                classID: "spin", participant: p, sample: Sample(seq: seq, ts: ts, bpm: bpm), rts: ts,
                zone: bpm >= 180 ? 5 : 3)
        }
    }

    /// What the record holds for the class, read whole now.
    func readWhole() throws -> ClassStandings {
        var standings = ClassStandings()
        let cursor = try store.read(classID: "spin", participant: nil)
        while true {
            let rows = try cursor.next(max: 1_000)
            if rows.isEmpty { return standings }
            for row in rows { standings.record(row) }
        }
    }

    /// Hands the relay's batch to the store (which commits at once) and reports the commit back.
    func commit(_ relay: Relay, _ bridge: RecordBridge, now: Int64) {
        if let batch = relay.takeRecordBatch() { bridge.submit(batch) }
        for (id, inserted) in bridge.takeCompleted() { relay.recordCommitted(id, inserted: inserted, now: now) }
    }

    @Test func samplesCommittedWhileTheRecordIsReadCountExactlyOnce() throws {
        // A previous run of the hub recorded 30 s of anna (zone 5) and bob (zone 3).
        store.append(rows("anna", from: 1, count: 30, bpm: 190) + rows("bob", from: 1, count: 30, bpm: 150)) { _ in }
        store.appendProfile(RecordedProfile(classID: "spin", participant: "anna", profile: Profile(hrmax: 200)))
        let bridge = RecordBridge(store: store, logger: Logger(label: "test"))
        let relay = Relay(config: RelayConfig(), record: bridge)
        let gate = DispatchQueue(label: "test.standings")
        gate.suspend()
        let results = Mutex<[StandingsRebuilder.Result]>([])
        let arrived = DispatchSemaphore(value: 0)
        let rebuilder = StandingsRebuilder(record: bridge, queue: gate) { result in
            results.withLock { $0.append(result) }
            arrived.signal()
        }

        // The restarted hub: a screen opens the class, whose standings must come from the record.
        var now = start + 31_000
        relay.open(ClientID(1), request: ConnectRequest(classID: "spin", role: .viewer, participant: nil),
            format: .json, now: now)
        let rebuild = try #require(relay.takeStandingsRebuilds().first)
        #expect(relay.isRebuildingStandings(classID: "spin"))
        rebuilder.start(classID: rebuild.classID, points: rebuild.points, rebuild: rebuild)

        // Anna rides on. 31 and 32 are committed while the read waits at the gate (so it sees them, and so does the
        // backlog), 33 after the read.
        relay.open(ClientID(2), request: ConnectRequest(classID: "spin", role: .publisher, participant: "anna"),
            format: .json, now: now)
        // Anna's connection waits for her record read (`RelayEffect.readRecord`), as the hub runs it.
        for case .readRecord(let classID, let participant) in relay.takeEffects() {
            let found = bridge.recorded(classID: classID, participant: participant, limit: Int(SeqWindow.width))
            relay.recordRead(
                classID: classID, participant: participant, seqs: found.seqs, profile: found.profile, now: now)
        }
        for seq: UInt32 in 31...32 {
            relay.receive(ClientID(2), .hr(Sample(seq: seq, ts: start + Int64(seq) * 1_000, bpm: 190)), now: now)
            now += 1_000
        }
        commit(relay, bridge, now: now)
        gate.resume()
        #expect(arrived.wait(timeout: .now() + .seconds(60)) == .success, "the read comes back")
        relay.receive(ClientID(2), .hr(Sample(seq: 33, ts: start + 33_000, bpm: 190)), now: now)
        commit(relay, bridge, now: now)
        #expect(relay.standings(classID: "spin") == nil, "not before the read is handed to the relay")

        let result = try #require(results.withLock { $0.first })
        #expect(result.rebuild == rebuild)
        #expect(result.standings.tally(of: "anna")?.samples == 32, "the read saw what was committed before it")
        relay.standingsRebuilt(rebuild, standings: result.standings, now: now)
        let standings = try #require(relay.standings(classID: "spin"))
        #expect(standings.tally(of: "anna")?.samples == 33)
        #expect(standings.tally(of: "bob")?.samples == 30)
        let whole = try readWhole()
        #expect(standings.tally(of: "anna") == whole.tally(of: "anna"), "each sample counted once")
        #expect(standings.summary { _ in nil } == whole.summary { _ in nil })
    }

    @Test func aReadForAnHTTPRequestDoesNotTouchTheRelay() throws {
        store.append(rows("anna", from: 1, count: 10, bpm: 190)) { _ in }
        let bridge = RecordBridge(store: store, logger: Logger(label: "test"))
        let arrived = DispatchSemaphore(value: 0)
        let results = Mutex<[StandingsRebuilder.Result]>([])
        let rebuilder = StandingsRebuilder(record: bridge) { result in
            results.withLock { $0.append(result) }
            arrived.signal()
        }
        rebuilder.start(classID: "spin", points: .standard, rebuild: nil)
        #expect(arrived.wait(timeout: .now() + .seconds(60)) == .success)
        let result = try #require(results.withLock { $0.first })
        #expect(result.rebuild == nil)
        #expect(result.standings.tally(of: "anna")?.samples == 10)
    }
}
