import HRCore
import HRProtocol
import HRStandings
import Testing

/// Cluster mode in the relay (Relay+Remote.swift): accepted samples go out, remote ones come in under the same
/// rules, deduped per (participant, seq), and other hubs' riders are present here.
@Suite struct RelayRemoteTests {
    private func remote(_ p: String, _ seq: UInt32, at ms: Int64, bpm: UInt8 = 120) -> AcceptedSample {
        AcceptedSample(p, Sample(seq: seq, ts: ms, bpm: bpm), arrivalMs: ms)
    }

    @Test func acceptedSamplesAreExportedPerClassInOrderOnlyWhenAsked() {
        let hub = RelayHarness()
        let pub = hub.publisher("ann")
        hub.hr(pub, seq: 1)
        #expect(!hub.relay.hasAccepted, "nothing is kept unless the hub is in a cluster")
        hub.relay.exportsAccepted = true
        hub.hr(pub, seq: 2)
        hub.hr(pub, seq: 2)  // a duplicate is refused, not exported
        hub.hr(pub, seq: 3)
        let taken = hub.relay.takeAccepted()
        #expect(taken.keys.sorted() == ["spin"])
        #expect(taken["spin"]?.map(\.sample.seq) == [2, 3])
        #expect(taken["spin"]?.allSatisfy { $0.participant == "ann" && $0.arrivalMs == hub.now } == true)
        #expect(hub.relay.takeAccepted().isEmpty)
    }

    @Test func remoteSamplesReachViewersOnceAndInOrderAndJoinTheirRider() throws {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        hub.relay.receiveRemote(
            [remote("bob", 1, at: hub.now), remote("bob", 2, at: hub.now)], classID: "spin", fromHub: "b",
            now: hub.now)
        hub.relay.receiveRemote(
            [remote("bob", 2, at: hub.now), remote("bob", 3, at: hub.now)], classID: "spin", fromHub: "c",
            now: hub.now)
        let messages = hub.messages(view)
        #expect(messages.seqs(of: "bob") == [1, 2, 3])
        #expect(messages.filter(\.isPresence).count == 1, "one join for the new rider")
        #expect(hub.counters.remoteReceived == 3)
        #expect(hub.counters.remoteDuplicates == 1)
        #expect(hub.counters.received == 0, "remote samples are not counted as received from devices")
    }

    @Test func aRemoteSampleAlreadyAcceptedHereIsNotRelayedAgain() {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let pub = hub.publisher("ann")
        hub.hr(pub, seq: 7)
        _ = hub.messages(view)
        hub.relay.receiveRemote([remote("ann", 7, at: hub.now)], classID: "spin", fromHub: "b", now: hub.now)
        #expect(hub.messages(view).samples.isEmpty)
        #expect(hub.counters.remoteDuplicates == 1)
    }

    @Test func remoteSamplesTheSharedRecordHoldsAlreadyStillReachViewersOnce() {
        // In a cluster the record is shared: a rider this hub starts to remember is seeded with seqs other hubs
        // recorded before their live batch got here. The dedupe of what comes from NATS is by what was relayed here.
        let record = FakeRecord()
        record.preload("spin", "bob", seqs: 1...2)
        let hub = RelayHarness(record: record)
        let view = hub.quietViewer()
        hub.relay.receiveRemote(
            [remote("bob", 1, at: hub.now), remote("bob", 2, at: hub.now), remote("bob", 3, at: hub.now)],
            classID: "spin", fromHub: "b", now: hub.now)
        hub.relay.receiveRemote([remote("bob", 2, at: hub.now)], classID: "spin", fromHub: "c", now: hub.now)
        #expect(hub.messages(view).seqs(of: "bob") == [1, 2, 3])
        #expect(hub.counters.remoteDuplicates == 1)
        // A device of bob's here resending a seq the record holds is still a duplicate for it.
        let pub = hub.publisher("bob")
        hub.hr(pub, seq: 2)
        #expect(hub.counters.duplicates == 1)
    }

    /// Riders known only from other hubs cost no record read on the relay's thread, however many are announced at
    /// once; one whose device connects here is read then, so its `welcome.last_seq` and duplicates follow the record.
    @Test func ridersOfOtherHubsAreReadFromTheRecordOnlyWhenTheyConnectHere() throws {
        let record = FakeRecord()
        record.preload("spin", "bob", seqs: 1...7)
        let hub = RelayHarness(record: record)
        let view = hub.quietViewer()
        let riders = (0..<500).map { PresentRider(id: "r\($0)", profile: Profile()) }
            + [PresentRider(id: "bob", profile: Profile(name: "Bob"))]
        hub.relay.applyPresence(of: "b", ["spin": riders], now: hub.now)
        hub.relay.receiveRemote([remote("bob", 8, at: hub.now)], classID: "spin", fromHub: "b", now: hub.now)
        #expect(record.lookups.isEmpty)
        #expect(hub.messages(view).seqs(of: "bob") == [8])

        let pub = hub.publisher("bob")
        #expect(record.lookups == ["bob"])
        let welcome = try #require(hub.messages(pub).first?.welcome)
        #expect(welcome.lastSeq == 8)
        hub.hr(pub, seq: 3)
        #expect(hub.counters.duplicates == 1, "seq 3 is in the record")
        hub.close(pub)
        _ = hub.publisher("bob")
        #expect(record.lookups == ["bob"], "read once")
    }

    @Test func remoteSamplesOlderThanTheBudgetAreNamedLate() throws {
        let hub = RelayHarness { $0.budgetMs = 800 }
        let view = hub.quietViewer()
        hub.relay.receiveRemote([remote("bob", 1, at: hub.now)], classID: "spin", fromHub: "b", now: hub.now)
        _ = hub.messages(view)
        let old = hub.now - 5_000
        hub.relay.receiveRemote([remote("bob", 2, at: old)], classID: "spin", fromHub: "b", now: hub.now)
        let gaps = hub.messages(view).gaps
        #expect(gaps == [Gap(p: "bob", fromSeq: 2, toSeq: 2, count: 1, reason: .late)])
    }

    @Test func samplesForAClassNotHereAreIgnored() {
        let hub = RelayHarness()
        hub.relay.receiveRemote([remote("bob", 1, at: hub.now)], classID: "other", fromHub: "b", now: hub.now)
        #expect(hub.relay.classCount == 0)
        #expect(hub.counters.remoteReceived == 0)
    }

    @Test func presenceJoinsSnapshotsAndLeavesRemoteRiders() throws {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let bob = PresentRider(id: "bob", profile: Profile(name: "Bob", hrmax: 190))
        hub.relay.applyPresence(of: "b", ["spin": [bob]], now: hub.now)
        hub.relay.applyPresence(of: "b", ["spin": [bob]], now: hub.now)  // a heartbeat that changes nothing
        #expect(hub.messages(view) == [.join(p: "bob", profile: bob.profile)])
        let late = hub.viewer()
        let snapshot = try #require(hub.messages(late).compactMap(\.snapshot).first)
        #expect(snapshot.map(\.p) == ["bob"])
        #expect(hub.relay.classSummaries().first?.participants == 1)
        hub.relay.applyPresence(of: "b", [:], now: hub.now)
        #expect(hub.messages(view) == [.leave(p: "bob", reason: .closed)])
    }

    @Test func aSilentHubsRidersLeaveWithTimeoutUnlessConnectedHere() {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let riders = ["spin": [PresentRider(id: "bob", profile: Profile()), PresentRider(id: "cy", profile: Profile())]]
        hub.relay.applyPresence(of: "b", riders, now: hub.now)
        let cy = hub.publisher("cy")  // cy moved to this hub: no second join
        #expect(hub.messages(view).filter(\.isPresence).count == 2)
        hub.relay.forgetHub("b", reason: .timeout, now: hub.now)
        #expect(hub.messages(view) == [.leave(p: "bob", reason: .timeout)])
        hub.close(cy)
        #expect(hub.messages(view) == [.leave(p: "cy", reason: .closed)])
    }

    @Test func aLocalRiderAlsoAnnouncedElsewhereLeavesOnlyWhenBothAreGone() {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let ann = hub.publisher("ann")
        hub.relay.applyPresence(of: "b", ["spin": [PresentRider(id: "ann", profile: Profile())]], now: hub.now)
        _ = hub.messages(view)
        hub.close(ann)
        #expect(hub.messages(view).filter(\.isPresence).isEmpty, "still present on hub b")
        hub.relay.applyPresence(of: "b", [:], now: hub.now)
        #expect(hub.messages(view) == [.leave(p: "ann", reason: .closed)])
    }

    @Test func localPresenceAndClassesInUse() {
        let hub = RelayHarness()
        hub.publisher("ann")
        hub.open(.viewer, classID: "yoga")
        hub.relay.applyPresence(of: "b", ["spin": [PresentRider(id: "bob", profile: Profile())]], now: hub.now)
        #expect(hub.relay.localPresence() == ["spin": [PresentRider(id: "ann", profile: Profile(), sinceMs: hub.now)]])
        #expect(hub.relay.classesInUse == ["spin", "yoga"])
        hub.viewer()
        #expect(hub.relay.localViewers() == ["spin": 1, "yoga": 1])
    }
}

/// Takeover across hubs: the newer connection of a participant, on whatever hub, wins.
@Suite struct RelayRemoteTakeoverTests {
    @Test func aNewerConnectionOnAnotherHubClosesTheOneHereWith4009AndNobodyLeaves() {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let ann = hub.publisher("ann")
        _ = hub.messages(view)
        _ = hub.takeEffects()
        let since = hub.now
        hub.relay.applyPresence(
            of: "b", ["spin": [PresentRider(id: "ann", profile: Profile(), sinceMs: since)]], now: hub.now)
        #expect(hub.takeEffects().isEmpty, "not newer: the connection here stands")
        #expect(hub.relay.localPresence()["spin"]?.map(\.id) == ["ann"])
        hub.relay.applyPresence(
            of: "b", ["spin": [PresentRider(id: "ann", profile: Profile(), sinceMs: since + 1)]], now: hub.now)
        #expect(hub.takeEffects() == [.close(ann, .replaced, flushFirst: false)])
        #expect(hub.counters.takeovers == 1)
        #expect(hub.relay.localPresence().isEmpty, "a socket being closed is not announced")
        hub.close(ann)
        #expect(hub.messages(view).filter(\.isPresence).isEmpty, "ann is still present, on hub b")
    }

    @Test func anAnnouncementDroppingTheRiderLeavesThemPresentWhileAnotherHubAnnouncesThem() {
        let hub = RelayHarness()
        let view = hub.quietViewer()
        let rider = ["spin": [PresentRider(id: "ann", profile: Profile())]]
        hub.relay.applyPresence(of: "a", rider, now: hub.now)
        hub.relay.applyPresence(of: "b", rider, now: hub.now)
        hub.relay.applyPresence(of: "a", rider, now: hub.now)
        hub.relay.applyPresence(of: "a", [:], now: hub.now)
        #expect(hub.messages(view) == [.join(p: "ann", profile: Profile())])
        hub.relay.forgetHub("b", reason: .timeout, now: hub.now)
        #expect(hub.messages(view) == [.leave(p: "ann", reason: .timeout)])
    }

    @Test func demoRidersAreNeverTakenOver() {
        let hub = RelayHarness()
        hub.open(.publisher, "ann", isVirtual: true)
        _ = hub.takeEffects()
        hub.relay.applyPresence(
            of: "b", ["spin": [PresentRider(id: "ann", profile: Profile(), sinceMs: .max)]], now: hub.now)
        #expect(hub.takeEffects().isEmpty)
    }
}

/// Remote samples in the standings: every hub's board counts every hub's riders, from the shared record.
@Suite struct RelayRemoteStandingsTests {
    @Test func recordedSamplesOfOtherHubsScoreLikeCommittedLocalOnesAndDuplicatesDoNot() throws {
        let hub = RelayHarness(record: FakeRecord())
        _ = hub.quietViewer()
        let bob = PresentRider(id: "bob", profile: Profile(hrmax: 200))
        hub.relay.applyPresence(of: "b", ["spin": [bob]], now: hub.now)
        let start = hub.now
        let samples = (0..<4).map { index in
            let ms = start + Int64(index) * 1_000
            return AcceptedSample("bob", Sample(seq: UInt32(index + 1), ts: ms, bpm: 190), arrivalMs: ms)
        }
        // The live path relays them, the standings wait for the record.
        hub.relay.receiveRemote(samples, classID: "spin", fromHub: "b", now: hub.now)
        #expect(hub.relay.standings(classID: "spin")?.tally(of: "bob") == nil)
        let recorded = samples.map {
            RecordedSample(classID: "spin", participant: "bob", sample: $0.sample, rts: $0.arrivalMs, zone: 5)
        }
        hub.relay.recordedInCluster(recorded, now: hub.now)
        hub.relay.recordedInCluster(recorded, now: hub.now)
        // 3 intervals of 1 s in zone 5: 3,000 ms × 8, as for a local rider; the second copy counts nothing.
        #expect(try #require(hub.relay.standings(classID: "spin")?.tally(of: "bob")).units == 24_000)
        hub.relay.recordedInCluster(
            [RecordedSample(classID: "elsewhere", participant: "bob", sample: samples[0].sample, rts: 0, zone: 5)],
            now: hub.now)
        #expect(hub.relay.standings(classID: "elsewhere") == nil)
    }

    @Test func catchingUpReadsWhatTheRecordGainedSinceTheRoomWasMadeOnce() throws {
        let record = FakeRecord()
        let hub = RelayHarness(record: record)
        _ = hub.quietViewer()
        #expect(try #require(hub.relay.standings(classID: "spin")).tally(of: "cy") == nil)
        record.preload("spin", "cy", seqs: 1...3)
        hub.relay.catchUpStandings(classID: "spin", now: hub.now)
        #expect(hub.relay.isRebuildingStandings(classID: "spin"), "read off the relay's thread")
        #expect(hub.relay.standings(classID: "spin") != nil, "the standings so far stay meanwhile")
        record.rebuildAll(for: hub.relay, now: hub.now)
        hub.relay.catchUpStandings(classID: "spin", now: hub.now)
        record.rebuildAll(for: hub.relay, now: hub.now)
        #expect(try #require(hub.relay.standings(classID: "spin")?.tally(of: "cy")).samples == 3)
        hub.relay.catchUpStandings(classID: "nowhere", now: hub.now)
        #expect(hub.relay.standings(classID: "nowhere") == nil)
    }
}
