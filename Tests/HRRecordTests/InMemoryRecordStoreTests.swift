import HRProtocol
import Synchronization
import Testing
@testable import HRRecord

/// `InMemoryRecordStore`: the double relay and hub tests drive; same answers as the SQLite store, commits on cue.
struct InMemoryRecordStoreTests {
    @Test func commitsAtOnceByDefaultWithDuplicatesReported() {
        let store = InMemoryRecordStore()
        let results = Mutex<[AppendResult]>([])
        store.append([row(seq: 1), row(seq: 2), row(seq: 1)]) { result in results.withLock { $0.append(result) } }
        store.append([row(seq: 2), row(seq: 3)]) { result in results.withLock { $0.append(result) } }
        #expect(results.withLock { $0 } == [.success([true, true, false]), .success([false, true])])
        #expect(store.counters.committedSamples == 3)
        #expect(store.counters.duplicates == 2)
        #expect(store.counters.commitBatches == 2)
    }

    @Test func heldCommitsCompleteInAppendOrderOnRelease() throws {
        let store = InMemoryRecordStore()
        store.holdCommits = true
        let order = Mutex<[Int]>([])
        for index in 0..<5 {
            store.append([row(seq: UInt32(index))]) { _ in order.withLock { $0.append(index) } }
        }
        store.appendProfile(RecordedProfile(classID: "c1", participant: "p1", profile: Profile(hrmax: 190)))
        #expect(order.withLock { $0 }.isEmpty)
        #expect(store.counters.pendingSamples == 5)
        #expect(try store.recentSeqs(classID: "c1", participant: "p1", limit: 10).isEmpty)  // not committed yet
        #expect(try !store.hasRecord(classID: "c1"))
        #expect(try store.profiles(classID: "c1").isEmpty)
        store.releaseCommits()
        #expect(order.withLock { $0 } == [0, 1, 2, 3, 4])
        #expect(store.counters.commitBatches == 1)
        #expect(store.counters.pendingSamples == 0)
        #expect(try store.recentSeqs(classID: "c1", participant: "p1", limit: 2) == [4, 3])
        #expect(try store.profiles(classID: "c1").map(\.profile.hrmax) == [190])
        #expect(try store.profile(classID: "c1", participant: "p1")?.profile.hrmax == 190)
        #expect(try store.profile(classID: "c1", participant: "p2") == nil)
    }

    @Test func failingCommitsKeepEverythingAndRecover() {
        let health = Mutex<[RecordStoreHealth]>([])
        let store = InMemoryRecordStore { change in health.withLock { $0.append(change) } }
        store.failCommits = true
        let results = Mutex<[AppendResult]>([])
        store.append([row(seq: 1)]) { result in results.withLock { $0.append(result) } }
        store.append([row(seq: 2)]) { result in results.withLock { $0.append(result) } }
        #expect(results.withLock { $0 }.isEmpty)
        #expect(store.health == .unavailable(reason: InMemoryRecordStore.simulatedFailure))
        #expect(store.counters.failedCommits == 2)
        store.failCommits = false
        store.releaseCommits()
        #expect(results.withLock { $0 } == [.success([true]), .success([true])])
        #expect(store.health == .available)
        #expect(health.withLock { $0 } == [.unavailable(reason: InMemoryRecordStore.simulatedFailure), .available])
    }

    @Test func overloadedAndClosedCompleteAtOnce() {
        let store = InMemoryRecordStore(maxPending: 3)
        store.holdCommits = true
        let results = Mutex<[AppendResult]>([])
        store.append(rows(1...2)) { result in results.withLock { $0.append(result) } }
        store.append(rows(3...4)) { result in results.withLock { $0.append(result) } }  // 4 > 3
        #expect(results.withLock { $0 } == [.failure(.overloaded)])
        store.close(timeoutMs: 0)
        #expect(results.withLock { $0 } == [.failure(.overloaded), .success([true, true])])
        store.append(rows(5...5)) { result in results.withLock { $0.append(result) } }
        #expect(results.withLock { $0 }.last == .failure(.closed))
    }

    @Test func closingWhileFailingCompletesAsClosed() {
        let store = InMemoryRecordStore()
        store.failCommits = true
        let results = Mutex<[AppendResult]>([])
        store.append(rows(1...2)) { result in results.withLock { $0.append(result) } }
        store.close(timeoutMs: 0)
        #expect(results.withLock { $0 } == [.failure(.closed)])
        #expect(store.counters.pendingSamples == 0)
    }

    @Test func readsSortByParticipantBytesAndRetentionDeletes() async throws {
        let store = InMemoryRecordStore()
        _ = await store.appended(rows(3...4, "c1", "b") + rows(1...2, "c1", "B") + rows(1...1, "c2", "a", rts: 9_000))
        #expect(try store.readAll(chunk: 3).map { "\($0.participant)\($0.sample.seq)" } == ["B1", "B2", "b3", "b4"])
        #expect(try store.readAll(participant: "b").map(\.sample.seq) == [3, 4])
        #expect(await store.deleted(receivedBefore: 5_000) == 1)
        #expect(try !store.hasRecord(classID: "c1"))
        #expect(try store.hasRecord(classID: "c2"))
    }
}
