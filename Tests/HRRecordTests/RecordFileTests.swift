import Foundation
import HRProtocol
import Testing
@testable import HRRecord

/// Files the store must refuse at open, each with an error naming the file.
@Suite(.timeLimit(.minutes(1)))
struct RecordFileTests {
    /// Opening fails with `.cannotOpen` whose message starts with `path` and mentions `reason`.
    func expectRefused(_ directory: TemporaryDirectory, mentioning reason: String) {
        do {
            let store = try SQLiteRecordStore(dataDirectory: directory.path)
            store.close(timeoutMs: 0)
            Issue.record("opened \(directory.recordPath)")
        } catch {
            guard case .cannotOpen(let message) = error else {
                Issue.record("expected cannotOpen, got \(error)")
                return
            }
            #expect(message.hasPrefix(directory.recordPath + ": "))
            #expect(message.contains(reason))
        }
    }

    /// A SQLite file made by someone else, through the module's own connection type.
    func makeDatabase(_ directory: TemporaryDirectory, _ sql: String) throws {
        let connection = try SQLiteConnection(path: directory.recordPath, readOnly: false)
        try connection.execute(sql)
    }

    @Test func aSQLiteFileOfAnotherApplicationIsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try makeDatabase(directory, "PRAGMA application_id=1234; CREATE TABLE t(x)")
        expectRefused(directory, mentioning: "not an HRHub record (application_id 1234")
    }

    @Test func aSQLiteFileWithTablesButNoApplicationIDIsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try makeDatabase(directory, "CREATE TABLE samples(x)")
        expectRefused(directory, mentioning: "not an HRHub record (application_id 0")
    }

    @Test func aNewerSchemaIsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try makeDatabase(directory, "PRAGMA application_id=\(RecordDatabase.applicationID); PRAGMA user_version=2")
        expectRefused(directory, mentioning: "schema version 2 is newer than this hub's 1")
    }

    @Test func ourFileWithoutItsTablesIsRefusedAsCorrupt() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try makeDatabase(
            directory,
            "PRAGMA application_id=\(RecordDatabase.applicationID); PRAGMA user_version=1; CREATE TABLE samples(x)")
        expectRefused(directory, mentioning: "missing table(s) classes, profiles")
    }

    @Test func aFileThatIsNotSQLiteIsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try garbage.write(to: URL(fileURLWithPath: directory.recordPath))
        expectRefused(directory, mentioning: "not a database")
        // Refusing it changed nothing.
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory.recordPath)) == garbage)
    }

    @Test func aRecordWithADamagedHeaderIsRefused() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteRecordStore(dataDirectory: directory.path)
        _ = await store.appended(rows(1...10))
        store.close(timeoutMs: 1_000)
        // Overwrite the 16-byte magic string "SQLite format 3\0".
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: directory.recordPath))
        try handle.write(contentsOf: Data(repeating: 0x41, count: 16))
        try handle.close()
        expectRefused(directory, mentioning: "not a database")
    }

    @Test func aDataDirectoryThatCannotBeCreatedIsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = (directory.path as NSString).appendingPathComponent("file")
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        do {
            _ = try SQLiteRecordStore(dataDirectory: (file as NSString).appendingPathComponent("data"))
            Issue.record("opened a store under a regular file")
        } catch {
            guard case .cannotOpen(let message) = error else {
                Issue.record("got \(error)")
                return
            }
            #expect(message.hasPrefix(file + "/data: cannot create the data directory"))
        }
    }
}
