import Foundation
import HRProtocol
import Synchronization
import Testing
@testable import HRRecord

/// A store whose commits fail (a full disk) keeps what it was given, says it is unavailable, and recovers by itself.
@Suite(.timeLimit(.minutes(1)))
struct StoreFailureTests {
    /// Only root may mount the small tmpfs these tests fill; and a read-only directory does not stop root, so there
    /// is no other way here to make SQLite's writes fail.
    static let canMount = getuid() == 0

    @Test(.enabled(if: canMount, "needs root to mount a 256 KiB tmpfs and fill it"))
    func aFullDiskMakesTheStoreUnavailableAndItRecoversWithEverySampleOnce() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let mountPoint = (directory.path as NSString).appendingPathComponent("mnt")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try run("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mountPoint)
        defer { try? run("umount", mountPoint) }

        let events = HealthEvents()
        var health = events.stream.makeAsyncIterator()
        let store = try SQLiteRecordStore(
            dataDirectory: (mountPoint as NSString).appendingPathComponent("data"), onHealthChange: events.callback)
        defer { store.close(timeoutMs: 0) }
        let filler = (mountPoint as NSString).appendingPathComponent("filler")
        try fill(filler)

        let withRR = { (seqs: ClosedRange<UInt32>) in
            seqs.map { row(seq: $0, rr: Array(repeating: UInt16($0 % 1_000 + 1), count: 16)) }
        }
        let results = Mutex<[AppendResult]>([])
        store.append(withRR(1...200)) { result in results.withLock { $0.append(result) } }
        let down = await health.next()
        guard case .unavailable(let reason) = down else {
            Issue.record("expected unavailable, got \(String(describing: down))")
            return
        }
        #expect(reason.hasPrefix(store.path + ": "))
        #expect(reason.contains("full"))
        #expect(store.health == down)
        #expect(results.withLock { $0 }.isEmpty)  // not acked while failing
        // Appends while unavailable are kept too.
        store.append(withRR(201...300)) { result in results.withLock { $0.append(result) } }

        try FileManager.default.removeItem(atPath: filler)
        #expect(await health.next() == .available)
        await store.drained()
        #expect(store.health == .available)
        let all = Array(repeating: true, count: 100)
        #expect(results.withLock { $0 } == [.success(all + all), .success(all)])
        #expect(try store.readAll(chunk: 1_000).map(\.sample.seq) == Array(1...300))
        let counters = store.counters
        #expect(counters.failedCommits >= 1)
        #expect(counters.committedSamples == 300)
        #expect(counters.duplicates == 0)
        #expect(counters.pendingSamples == 0)
    }

    @Test(.enabled(if: canMount, "needs root to mount a 256 KiB tmpfs and fill it"))
    func closingAFailingStoreCompletesWhatIsLeftAsClosed() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let mountPoint = (directory.path as NSString).appendingPathComponent("mnt")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try run("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mountPoint)
        defer { try? run("umount", mountPoint) }

        let events = HealthEvents()
        var health = events.stream.makeAsyncIterator()
        let store = try SQLiteRecordStore(dataDirectory: mountPoint, onHealthChange: events.callback)
        try fill((mountPoint as NSString).appendingPathComponent("filler"))
        let results = Mutex<[AppendResult]>([])
        store.append(rows(1...500)) { result in results.withLock { $0.append(result) } }
        _ = await health.next()
        store.append(rows(501...510)) { result in results.withLock { $0.append(result) } }
        store.close(timeoutMs: 0)
        #expect(results.withLock { $0 } == [.failure(.closed), .failure(.closed)])
        #expect(store.counters.pendingSamples == 0)
    }

    /// Runs a command, throwing when it fails.
    func run(_ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSDebugDescriptionErrorKey: "\(arguments) failed"])
        }
    }

    /// Writes `path` until the filesystem is full.
    func fill(_ path: String) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let chunk = Data(repeating: 0xAA, count: 4_096)
        do {
            while true { try handle.write(contentsOf: chunk) }
        } catch {
            // ENOSPC: the disk is full, as wanted.
        }
    }
}
