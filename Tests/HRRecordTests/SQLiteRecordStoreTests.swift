import Foundation
import HRProtocol
import Synchronization
import Testing
@testable import HRRecord

/// `SQLiteRecordStore` on a real file: what it records, reads back, refuses, and how it orders completions.
@Suite(.timeLimit(.minutes(1)))
struct SQLiteRecordStoreTests {
    @Test func rowsRoundTripWithEveryField() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteRecordStore(dataDirectory: directory.path)
        defer { store.close(timeoutMs: 1_000) }
        let written = [
            row(seq: 1, rts: 5, rr: [1, 65_535, 812], contact: true, ee: 65_535, zone: 5),
            row(seq: 2, rts: -1, contact: false, ee: 0, zone: 1),
            row(seq: UInt32.max, rts: Int64.max),
        ]
        #expect(await store.appended(written) == .success([true, true, true]))
        #expect(try store.readAll(chunk: 2) == written)
        #expect(store.counters.committedSamples == 3)
        #expect(store.counters.pendingSamples == 0)
    }

    @Test func aKeyIsRecordedOnceWithinABatchAcrossBatchesAndAcrossReopen() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        do {
            let store = try SQLiteRecordStore(dataDirectory: directory.path)
            defer { store.close(timeoutMs: 1_000) }
            var again = row(seq: 1)
            again.sample.bpm = 99
            // One append is one transaction: the second seq 1 meets the first one's uncommitted row.
            #expect(await store.appended([row(seq: 1), row(seq: 2), again]) == .success([true, true, false]))
            #expect(await store.appended([row(seq: 2), row(seq: 3)]) == .success([false, true]))
            // The same seq of another participant or class is another key.
            #expect(await store.appended([row("c1", "p2", seq: 1), row("c2", "p1", seq: 1)]) == .success([true, true]))
            #expect(store.counters.duplicates == 2)
        }
        let reopened = try SQLiteRecordStore(dataDirectory: directory.path)
        defer { reopened.close(timeoutMs: 1_000) }
        #expect(await reopened.appended([row(seq: 3), row(seq: 4)]) == .success([false, true]))
        let p1 = try reopened.readAll(participant: "p1")
        #expect(p1.map(\.sample.seq) == [1, 2, 3, 4])
        #expect(p1[0].sample.bpm == row(seq: 1).sample.bpm)
    }

    @Test func completionsComeInAppendOrder() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteRecordStore(dataDirectory: directory.path, maxBatchSamples: 16)
        defer { store.close(timeoutMs: 1_000) }
        let order = Mutex<[Int]>([])
        var seq: UInt32 = 1
        for index in 0..<300 {
            let count = UInt32(index % 5)  // empty appends too
            let samples = count == 0 ? [] : rows(seq...(seq + count - 1))
            seq += count
            store.append(samples) { result in
                if case .success(let flags) = result, flags == Array(repeating: true, count: samples.count) {
                    order.withLock { $0.append(index) }
                }
            }
        }
        await store.drained()
        #expect(order.withLock { $0 } == Array(0..<300))
        #expect(store.counters.commitBatches > 1)
        #expect(try store.readAll(chunk: 100).map(\.sample.seq) == Array(1..<seq))
    }

    @Test func readsSortByParticipantBytesThenSeqAndFilter() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteRecordStore(dataDirectory: directory.path)
        defer { store.close(timeoutMs: 1_000) }
        let names = ["b", "_x", "B", "a", "-", "Z9", "0"]
        var samples: [RecordedSample] = []
        for seq: UInt32 in [5, 1, 3] {
            for name in names { samples.append(row("c1", name, seq: seq)) }
        }
        samples.append(row("other", "a", seq: 2))
        _ = await store.appended(samples)
        let read = try store.readAll(chunk: 4)
        let byteOrder = ["-", "0", "B", "Z9", "_x", "a", "b"]
        #expect(read.map(\.participant) == byteOrder.flatMap { Array(repeating: $0, count: 3) })
        #expect(read.map(\.sample.seq) == Array([[UInt32]](repeating: [1, 3, 5], count: 7).joined()))
        #expect(try store.readAll(participant: "a").map(\.sample.seq) == [1, 3, 5])
        #expect(try store.readAll(participant: "nobody").isEmpty)
        #expect(try store.readAll("nothing").isEmpty)
        #expect(try store.recentSeqs(classID: "c1", participant: "a", limit: 2) == [5, 3])
        #expect(try store.recentSeqs(classID: "c1", participant: "a", limit: 128) == [5, 3, 1])
        #expect(try store.recentSeqs(classID: "c1", participant: "nobody", limit: 128) == [])
        #expect(try store.hasRecord(classID: "c1"))
        #expect(try store.hasRecord(classID: "other"))
        #expect(try !store.hasRecord(classID: "c3"))
    }

    @Test func aCursorReadsItsSnapshotWhileTheWriterCommits() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteRecordStore(dataDirectory: directory.path)
        defer { store.close(timeoutMs: 1_000) }
        _ = await store.appended(rows(1...10))
        let cursor = try store.read(classID: "c1", participant: nil)
        #expect(try cursor.next(max: 4).map(\.sample.seq) == [1, 2, 3, 4])
        // The open cursor holds no lock the writer waits for.
        #expect(await store.appended(rows(11...20)) == .success(Array(repeating: true, count: 10)))
        #expect(try store.recentSeqs(classID: "c1", participant: "p1", limit: 1) == [20])
        var rest: [UInt32] = []
        while case let chunk = try cursor.next(max: 4), !chunk.isEmpty { rest += chunk.map(\.sample.seq) }
        #expect(rest == Array(5...10))
        #expect(try cursor.next(max: 4).isEmpty)
    }

    @Test func profilesUpsertNewestWinsSortedByParticipant() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteRecordStore(dataDirectory: directory.path)
        defer { store.close(timeoutMs: 1_000) }
        store.appendProfile(RecordedProfile(classID: "c1", participant: "b", profile: Profile(name: "B", hrmax: 180)))
        store.appendProfile(RecordedProfile(classID: "c1", participant: "a", profile: Profile(name: "Ann", hrrest: 50)))
        store.appendProfile(RecordedProfile(classID: "c1", participant: "b", profile: Profile(name: "Bo\u{0}b")))
        store.appendProfile(RecordedProfile(classID: "c2", participant: "c", profile: Profile()))
        await store.drained()
        #expect(try store.profiles(classID: "c1") == [
            RecordedProfile(classID: "c1", participant: "a", profile: Profile(name: "Ann", hrrest: 50)),
            RecordedProfile(classID: "c1", participant: "b", profile: Profile(name: "Bo\u{0}b")),
        ])
        #expect(
            try store.profiles(classID: "c2") == [RecordedProfile(classID: "c2", participant: "c", profile: Profile())])
        #expect(try store.profiles(classID: "none").isEmpty)
        #expect(try store.profile(classID: "c1", participant: "b")?.profile == Profile(name: "Bo\u{0}b"))
        #expect(try store.profile(classID: "c1", participant: "a")?.profile == Profile(name: "Ann", hrrest: 50))
        #expect(try store.profile(classID: "c1", participant: "c") == nil, "c rides in c2, not c1")
        #expect(try store.profile(classID: "none", participant: "a") == nil)
    }

    @Test func retentionDeletesClassesWhoseNewestSampleIsOlderThanTheCutoff() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteRecordStore(dataDirectory: directory.path)
        defer { store.close(timeoutMs: 1_000) }
        _ = await store.appended(rows(1...3, "old", rts: 1_000) + rows(1...3, "new", rts: 1_000))
        _ = await store.appended([row("new", "p1", seq: 4, rts: 5_000)])
        store.appendProfile(RecordedProfile(classID: "old", participant: "p1", profile: Profile(name: "x")))
        #expect(await store.deleted(receivedBefore: 2_000) == 1)
        #expect(try !store.hasRecord(classID: "old"))
        #expect(try store.readAll("old").isEmpty)
        #expect(try store.profiles(classID: "old").isEmpty)
        #expect(try store.readAll("new").count == 4)
        #expect(await store.deleted(receivedBefore: 2_000) == 0)
        // A deleted class's seqs are new again.
        #expect(await store.appended([row("old", "p1", seq: 1)]) == .success([true]))
    }

    @Test func syncModesSetThePragmaOnTheWritersConnection() throws {
        for (mode, expected) in [(SyncMode.normal, Int64(1)), (.full, 2)] {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let store = try SQLiteRecordStore(dataDirectory: directory.path, sync: mode)
            #expect(store.synchronousPragma == expected)
            #expect(store.journalMode == "wal")
            store.close(timeoutMs: 1_000)
        }
    }

    @Test func theDataDirectoryIsCreatedWhenMissing() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let nested = (directory.path as NSString).appendingPathComponent("a/b")
        let store = try SQLiteRecordStore(dataDirectory: nested)
        #expect(store.path == (nested as NSString).appendingPathComponent("record.sqlite3"))
        #expect(await store.appended([row(seq: 1)]) == .success([true]))
        store.close(timeoutMs: 1_000)
        #expect(FileManager.default.fileExists(atPath: store.path))
    }

    @Test func afterCloseAppendsAreClosedAndWhatWasQueuedIsCommitted() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteRecordStore(dataDirectory: directory.path)
        let results = Mutex<[AppendResult]>([])
        for seq: UInt32 in 1...50 {
            store.append([row(seq: seq)]) { result in results.withLock { $0.append(result) } }
        }
        store.close(timeoutMs: 1_000)
        #expect(results.withLock { $0 } == Array(repeating: .success([true]), count: 50))
        // The writer closed last, so SQLite checkpointed the WAL into the file and removed it.
        #expect(!FileManager.default.fileExists(atPath: store.path + "-wal"))
        #expect(await store.appended([row(seq: 51)]) == .failure(.closed))
        #expect(await store.deleted(receivedBefore: .max) == 0)
        #expect(throws: RecordStoreError.self) { try store.hasRecord(classID: "c1") }
        store.close(timeoutMs: 1_000)  // a second close returns at once
        let reopened = try SQLiteRecordStore(dataDirectory: directory.path)
        defer { reopened.close(timeoutMs: 1_000) }
        #expect(try reopened.readAll(chunk: 50).count == 50)
    }

    @Test func anAppendBeyondMaxPendingIsOverloadedAtOnce() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteRecordStore(dataDirectory: directory.path, maxPending: 10)
        defer { store.close(timeoutMs: 1_000) }
        #expect(await store.appended(rows(1...11)) == .failure(.overloaded))
        #expect(await store.appended(rows(1...10)) == .success(Array(repeating: true, count: 10)))
        #expect(try store.readAll(chunk: 20).count == 10)
    }
}

/// Point reads from another thread while the writer commits: they use their own connection and see only commits.
@Suite(.timeLimit(.minutes(1)))
struct ConcurrentReadTests {
    @Test func readsDuringCommitsSeeCommittedSeqsOnly() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteRecordStore(dataDirectory: directory.path, maxBatchSamples: 64)
        defer { store.close(timeoutMs: 1_000) }
        let acked = Mutex<UInt32>(0)
        for start in stride(from: UInt32(1), through: 20_000, by: 20) {
            store.append(rows(start...(start + 19))) { _ in acked.withLock { $0 = start + 19 } }
        }
        var reads = 0
        var highestSeen: UInt32 = 0
        while acked.withLock({ $0 }) < 20_000 {
            let floor = acked.withLock { $0 }
            let seen = try store.recentSeqs(classID: "c1", participant: "p1", limit: 1).first ?? 0
            // What was acked before the read is visible to it, and seqs only grow.
            #expect(seen >= floor)
            #expect(seen >= highestSeen)
            highestSeen = seen
            reads += 1
        }
        #expect(reads > 0)
        #expect(try store.recentSeqs(classID: "c1", participant: "p1", limit: 3) == [20_000, 19_999, 19_998])
    }
}
