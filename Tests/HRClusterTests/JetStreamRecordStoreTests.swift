import Foundation
import HRProtocol
import HRRecord
import Synchronization
import Testing

@testable import HRCluster

/// `JetStreamRecordStore` against a real nats-server with JetStream, started on a free loopback port per test.
@Suite(.serialized) struct JetStreamRecordStoreTests {
    /// A store on `server` with an in-memory spool.
    static func store(
        _ server: JetStreamServer, spool: InMemoryRecordStore = InMemoryRecordStore(), name: String = "test",
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) throws -> JetStreamRecordStore {
        let store = try JetStreamRecordStore(servers: [server.url], name: name, spool: spool, log: log)
        #expect(eventually { store.isStreamReachable }, "the stream is created")
        return store
    }

    /// Runs `body` with a nats-server started for it and a store on that server (`store(_:spool:name:log:)`),
    /// then closes the store and removes the server.
    static func withStore(
        spool: InMemoryRecordStore = InMemoryRecordStore(), name: String = "test",
        log: @escaping @Sendable (String) -> Void = { _ in },
        _ body: (JetStreamServer, JetStreamRecordStore) async throws -> Void
    ) async throws {
        let server = try JetStreamServer()
        defer { server.remove() }
        let store = try Self.store(server, spool: spool, name: name, log: log)
        try await body(server, store)
        store.close(timeoutMs: 2_000)
    }

    /// Appends `samples` to `store` and returns what its completion gives.
    static func append(_ samples: [RecordedSample], to store: any RecordStore) async -> AppendResult {
        await withCheckedContinuation { continuation in
            store.append(samples) { continuation.resume(returning: $0) }
        }
    }

    static func sample(_ seq: UInt32, _ classID: String = "c1", _ participant: String = "p1") -> RecordedSample {
        RecordedSample(
            classID: classID, participant: participant,
            sample: Sample(
                seq: seq, ts: 1_700_000_000_000 + Int64(seq), bpm: UInt8(60 + seq % 100), rr: [800, 810],
                contact: seq % 2 == 0, ee: seq % 3 == 0 ? UInt16(seq) : nil),
            rts: 1_800_000_000_000 + Int64(seq), zone: seq % 5 == 0 ? nil : UInt8(seq % 5))
    }

    static func all(_ store: any RecordStore, _ classID: String = "c1", participant: String? = nil) throws
        -> [RecordedSample]
    {
        let cursor = try store.read(classID: classID, participant: participant)
        var rows: [RecordedSample] = []
        while true {
            let chunk = try cursor.next(max: 7)
            if chunk.isEmpty { return rows }
            rows += chunk
        }
    }

    @Test func anAppendCompletesOnceTheStreamStoredItAndReadsGiveItBackSorted() async throws {
        try await Self.withStore { server, store in
            let reader = try Self.store(server, name: "reader")
            let batch = [Self.sample(2, "c1", "zed"), Self.sample(1, "c1", "amy"), Self.sample(2, "c1", "amy")]
            // In the completion, a second connection already reads every sample from the stream: acked means stored.
            let seenAtCompletion = Mutex<[RecordedSample]?>(nil)
            let result: AppendResult = await withCheckedContinuation { continuation in
                store.append(batch) { result in
                    seenAtCompletion.withLock { $0 = try? Self.all(reader) }
                    continuation.resume(returning: result)
                }
            }
            #expect(result == .success([true, true, true]))
            let sorted = [Self.sample(1, "c1", "amy"), Self.sample(2, "c1", "amy"), Self.sample(2, "c1", "zed")]
            #expect(seenAtCompletion.withLock { $0 } == sorted)
            #expect(try Self.all(store) == sorted)
            #expect(try Self.all(store, participant: "zed") == [Self.sample(2, "c1", "zed")])
            #expect(try store.hasRecord(classID: "c1"))
            #expect(try !store.hasRecord(classID: "c2"))
            #expect(try store.classIDs() == ["c1"])
            #expect(store.counters.committedSamples == 3)
            reader.close(timeoutMs: 2_000)
        }
    }

    @Test func completionsComeInAppendOrder() async throws {
        try await Self.withStore { _, store throws in
            let order = Mutex<[Int]>([])
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                for index in 0..<50 {
                    let samples = (0..<10).map { Self.sample(UInt32(index * 10 + $0)) }
                    store.append(samples) { result in
                        #expect(result == .success(Array(repeating: true, count: 10)))
                        let count = order.withLock { list in
                            list.append(index)
                            return list.count
                        }
                        if count == 50 { continuation.resume() }
                    }
                }
            }
            #expect(order.withLock { $0 } == Array(0..<50))
            #expect(try Self.all(store).map(\.sample.seq) == (0..<500).map(UInt32.init))
        }
    }

    @Test func aSampleAnotherHubStoredIsADuplicateAndIsStoredOnce() async throws {
        try await Self.withStore(name: "a") { server, hubA in
            let hubB = try Self.store(server, name: "b")
            let first = await Self.append([Self.sample(1), Self.sample(2)], to: hubA)
            #expect(first == .success([true, true]))
            // Hub B (a device that moved, resending) and hub A again (a resend on the same hub): nothing stored twice.
            let resent = await Self.append([Self.sample(2), Self.sample(3), Self.sample(1)], to: hubB)
            #expect(resent == .success([false, true, false]))
            let again = await Self.append([Self.sample(3), Self.sample(3)], to: hubA)
            #expect(again == .success([false, false]))
            #expect(try Self.all(hubA).map(\.sample.seq) == [1, 2, 3])
            #expect(try Self.all(hubB) == [Self.sample(1), Self.sample(2), Self.sample(3)])
            #expect(hubB.counters.duplicates == 2)
            hubB.close(timeoutMs: 2_000)
        }
    }

    @Test func lastSeqAndProfilesSurviveARestartOfTheStore() async throws {
        let server = try JetStreamServer()
        defer { server.remove() }
        let before = try Self.store(server)
        before.appendProfile(
            RecordedProfile(classID: "c1", participant: "p1", profile: Profile(name: "Ann", hrmax: 190)))
        before.appendProfile(
            RecordedProfile(classID: "c1", participant: "p1", profile: Profile(name: "Ann B", hrmax: 185)))
        before.appendProfile(RecordedProfile(classID: "c1", participant: "p2", profile: Profile(hrrest: 50)))
        let result = await Self.append([5, 1, 3, 2, 4].map { Self.sample($0) }, to: before)
        #expect(result == .success(Array(repeating: true, count: 5)))
        before.close(timeoutMs: 2_000)

        let after = try Self.store(server, name: "restarted")
        #expect(try after.recentSeqs(classID: "c1", participant: "p1", limit: 1) == [5])
        #expect(try after.recentSeqs(classID: "c1", participant: "p1", limit: 128) == [5, 4, 3, 2, 1])
        #expect(try after.recentSeqs(classID: "c1", participant: "p1", limit: 2) == [5, 4])
        #expect(try after.recentSeqs(classID: "c1", participant: "nobody", limit: 128) == [])
        #expect(try after.profile(classID: "c1", participant: "p1")?.profile == Profile(name: "Ann B", hrmax: 185))
        #expect(try after.profiles(classID: "c1").map(\.participant) == ["p1", "p2"])
        #expect(try after.profiles(classID: "c1").last?.profile == Profile(hrrest: 50))
        #expect(try after.profile(classID: "c1", participant: "nobody") == nil)
        let resent = await Self.append([Self.sample(3), Self.sample(6)], to: after)
        #expect(resent == .success([false, true]))
        after.close(timeoutMs: 2_000)
    }

    @Test func withNATSDownSamplesAreAckedAfterTheSpoolCommitAndFlushedWhenItReturns() async throws {
        let spool = InMemoryRecordStore()
        let lines = Mutex<[String]>([])
        try await Self.withStore(spool: spool, log: { line in lines.withLock { $0.append(line) } }) { server, store in
            let stored = await Self.append([Self.sample(1)], to: store)
            #expect(stored == .success([true]))

            server.stop()
            #expect(eventually { !store.isStreamReachable })
            spool.holdCommits = true
            let completed = Mutex<AppendResult?>(nil)
            let done = DispatchSemaphore(value: 0)
            store.append([Self.sample(2), Self.sample(1), Self.sample(3)]) { result in
                completed.withLock { $0 = result }
                done.signal()
            }
            // The spool holds its commit: no completion (no ack) until it commits.
            #expect(eventually { spool.counters.pendingSamples == 3 })
            #expect(completed.withLock { $0 } == nil)
            spool.releaseCommits()
            #expect(done.wait(timeout: .now() + 60) == .success)
            // Seq 1 is in the stream, not in the spool: the spool takes it as new; the flush finds it in the stream.
            #expect(completed.withLock { $0 } == .success([true, true, true]))
            spool.holdCommits = false
            #expect(store.health == .available)
            #expect(try spool.classIDs() == ["c1"])

            try server.start()
            #expect(eventually { store.isStreamReachable && !store.spoolNeedsFlush })
            #expect(try spool.classIDs() == [], "the flushed spool is emptied")
            #expect(store.flushedFromSpool == 2)
            #expect(try Self.all(store).map(\.sample.seq) == [1, 2, 3])
            let reader = try Self.store(server, name: "reader")
            #expect(try Self.all(reader) == [Self.sample(1), Self.sample(2), Self.sample(3)])
            #expect(lines.withLock { $0 }.contains { $0.contains("spool flushed") })
            reader.close(timeoutMs: 2_000)
        }
    }

    @Test func readsMergeTheSpoolWhileTheStreamCannotTakeSamples() async throws {
        let server = try JetStreamServer()
        defer { server.remove() }
        let spool = InMemoryRecordStore()
        // A spooled sample the stream lacks, and one it holds: the merged read gives each key once, in order.
        _ = await Self.append([Self.sample(2, "c1", "b"), Self.sample(1, "c1", "a")], to: spool)
        let other = try Self.store(server, name: "other")
        _ = await Self.append([Self.sample(1, "c1", "a"), Self.sample(3, "c1", "c")], to: other)
        other.close(timeoutMs: 2_000)
        let store = try JetStreamRecordStore(servers: [server.url], name: "merge", spool: spool)
        let merged = try Self.all(store)
        #expect(merged == [Self.sample(1, "c1", "a"), Self.sample(2, "c1", "b"), Self.sample(3, "c1", "c")])
        #expect(try store.recentSeqs(classID: "c1", participant: "b", limit: 10) == [2])
        #expect(eventually { !store.spoolNeedsFlush })
        #expect(try Self.all(store) == merged)
        store.close(timeoutMs: 2_000)
    }

    @Test func recordWireRoundTripsAndRefusesMalformedMessages() throws {
        let recorded = Self.sample(7)
        let decoded = try RecordMessage.decode(RecordMessage.encode(recorded), classID: "c1", participant: "p1")
        #expect(decoded == recorded)
        let bare = RecordedSample(classID: "c", participant: "p", sample: Sample(seq: 0, ts: -5, bpm: 0), rts: 0)
        #expect(try RecordMessage.decode(RecordMessage.encode(bare), classID: "c", participant: "p") == bare)
        let bytes = RecordMessage.encode(recorded)
        #expect(throws: ClusterWireError.self) {
            try RecordMessage.decode(Array(bytes.dropLast()), classID: "c", participant: "p")
        }
        #expect(throws: ClusterWireError.self) { try RecordMessage.decode(bytes + [0], classID: "c", participant: "p") }
        #expect(throws: ClusterWireError.self) {
            try RecordMessage.decode([1, 4] + bytes.dropFirst(2), classID: "c", participant: "p")
        }
        let profile = Profile(name: "Zoë", hrmax: 200, hrrest: 45)
        #expect(try ProfileMessage.decode(ProfileMessage.encode(profile)) == profile)
        #expect(try ProfileMessage.decode(ProfileMessage.encode(Profile())) == Profile())
        #expect(throws: ClusterWireError.self) { try ProfileMessage.decode([1, 4, 0, 0, 3, 0x41]) }
        #expect(RecordSubjects.messageID(classID: "c1", participant: "p-1", seq: 42) == "c1/p-1/42")
        #expect(RecordSubjects.parse("hrhub.v1.record.c1.p-1")! == ("c1", "p-1"))
        #expect(RecordSubjects.parse("hrhub.v1.profile.c1.p1")! == ("c1", "p1"))
        #expect(RecordSubjects.parse("hrhub.v1.record.c1") == nil)
        #expect(RecordSubjects.parse("hrhub.v1.class.c1.samples") == nil)
        #expect(RecordSubjects.parse("hrhub.v1.record.c1.a b") == nil)
    }

    @Test func beyondTheDuplicateWindowASampleIsStillStoredOnce() async throws {
        let server = try JetStreamServer()
        defer { server.remove() }
        var options = JetStreamRecordStore.Options()
        options.duplicateWindowMs = 100  // the stream soon forgets Msg-Ids: the store's own check must hold
        let first = try JetStreamRecordStore(
            servers: [server.url], name: "first", options: options, spool: InMemoryRecordStore())
        #expect(eventually { first.isStreamReachable })
        let stored = await Self.append([3, 1, 2].map { Self.sample($0) }, to: first)
        #expect(stored == .success([true, true, true]))
        first.close(timeoutMs: 2_000)
        let later = try JetStreamRecordStore(
            servers: [server.url], name: "later", options: options, spool: InMemoryRecordStore())
        #expect(eventually { later.isStreamReachable })
        // A resend at the top, one below it, and a new one.
        let resent = await Self.append([3, 2, 4].map { Self.sample($0) }, to: later)
        #expect(resent == .success([false, false, true]))
        let connection = try NATSConnection(servers: [server.url], name: "count")
        let stream = try JetStream(
            connection: connection, stream: RecordSubjects.stream, maxInFlight: 16, stallMs: 1_000,
            onPublished: { _, _ in })
        let subject = RecordSubjects.samples(classID: "c1", participant: "p1")
        #expect(try stream.subjects(matching: subject) == [subject: 4], "four messages, one per seq")
        stream.close()
        connection.close()
        later.close(timeoutMs: 2_000)
    }

    @Test func aCopyStoredWithoutMsgIdIsReadOnce() async throws {
        try await Self.withStore { server, store in
            _ = await Self.append([Self.sample(1), Self.sample(2)], to: store)
            // Another writer (a core publish, no Msg-Id) stores a second copy of seq 2 and a message that is not a
            // sample.
            let raw = try NATSConnection(servers: [server.url], name: "raw")
            let subject = RecordSubjects.samples(classID: "c1", participant: "p1")
            #expect(raw.publish(subject, RecordMessage.encode(Self.sample(2))))
            #expect(raw.publish(subject, [1, 3, 0]))
            #expect(raw.flush(timeoutMs: 2_000))
            #expect(eventually { (try? Self.all(store).count) == 2 })
            #expect(try Self.all(store) == [Self.sample(1), Self.sample(2)])
            raw.close()
        }
    }

    @Test func whileTheStreamIsUnreachableReadsAnswerFromTheSpoolAtOnceOrFail() async throws {
        let spool = InMemoryRecordStore()
        try await Self.withStore(spool: spool) { server, store throws in
            _ = await Self.append([Self.sample(1), Self.sample(2)], to: store)
            server.stop()
            #expect(eventually { !store.isStreamReachable && store.health == .available })
            let spooled = await Self.append([Self.sample(3)], to: store)
            #expect(spooled == .success([true]))
            #expect(try store.recentSeqs(classID: "c1", participant: "p1", limit: 10) == [3])
            #expect(try store.hasRecord(classID: "c1"), "the spool has it")
            #expect(throws: RecordStoreError.self) { try store.hasRecord(classID: "c2") }
            #expect(throws: RecordStoreError.self) { try store.read(classID: "c1", participant: nil) }
        }
    }

    @Test func aProfileStoredWhileAnOlderOneIsSpooledStaysTheNewestAfterTheFlush() async throws {
        let spool = InMemoryRecordStore()
        try await Self.withStore(spool: spool) { server, store in
            server.stop()
            #expect(eventually { !store.isStreamReachable })
            // The spool holds its commits, so no flush can start before the newer profile is in the stream.
            spool.holdCommits = true
            let older = Profile(name: "Old", hrmax: 170)
            let newer = Profile(name: "New", hrmax: 180)
            store.appendProfile(RecordedProfile(classID: "c1", participant: "p1", profile: older))
            let held = DispatchSemaphore(value: 0)
            store.append([Self.sample(1)]) { _ in held.signal() }
            try server.start()
            #expect(eventually { store.isStreamReachable })
            store.appendProfile(RecordedProfile(classID: "c1", participant: "p1", profile: newer))
            let reader = try Self.store(server, name: "reader")
            #expect(eventually { (try? reader.profile(classID: "c1", participant: "p1"))??.profile == newer })
            // The stored newer profile goes to the spool too (behind the older one), since the spool is not flushed
            // yet.
            #expect(eventually { store.profilesSpooled == 2 })
            spool.releaseCommits()
            spool.holdCommits = false
            #expect(held.wait(timeout: .now() + 60) == .success)
            #expect(eventually { !store.spoolNeedsFlush })
            #expect(try reader.profile(classID: "c1", participant: "p1")?.profile == newer)
            #expect(try Self.all(reader).map(\.sample.seq) == [1])
            reader.close(timeoutMs: 2_000)
        }
    }

    @Test func aLargeRecordReadsBackWholeThroughTheOrderedConsumer() async throws {
        try await Self.withStore { _, store in
            // Two participants, 10,000 samples each: many times the consumer's flow-control window.
            let done = DispatchSemaphore(value: 0)
            let failures = Mutex(0)
            for start in stride(from: 1, through: 10_000, by: 500) {
                let batch = (UInt32(start)..<UInt32(start + 500)).flatMap {
                    [Self.sample($0, "big", "a"), Self.sample($0, "big", "b")]
                }
                store.append(batch) { result in
                    if result != .success(Array(repeating: true, count: 1_000)) { failures.withLock { $0 += 1 } }
                    done.signal()
                }
            }
            for _ in 0..<20 { #expect(done.wait(timeout: .now() + 60) == .success) }
            #expect(failures.withLock { $0 } == 0)
            let rows = try Self.all(store, "big")
            #expect(rows.count == 20_000)
            #expect(rows.prefix(10_000).allSatisfy { $0.participant == "a" })
            #expect(rows.map(\.sample.seq) == Array(1...10_000) + Array(1...10_000))
            #expect(try store.recentSeqs(classID: "big", participant: "b", limit: 3) == [10_000, 9_999, 9_998])
        }
    }
}
