import Foundation

/// The record's file: its schema, and how a connection to it is opened and checked.
///
/// One SQLite file, `<dataDir>/record.sqlite3`, in WAL mode, marked with HRHub's `application_id` and the schema
/// version in `user_version`. Tables are WITHOUT ROWID, keyed as they are read; text compares as bytes (BINARY),
/// so participants sort in byte order.
enum RecordDatabase {
    /// `PRAGMA application_id` of an HRHub record: "HRHB" in ASCII.
    static let applicationID: Int64 = 0x4852_4842
    /// `PRAGMA user_version`: the schema this code writes and reads.
    static let schemaVersion: Int64 = 1
    /// The file's name inside the data directory.
    static let fileName = "record.sqlite3"

    static let schema = """
        CREATE TABLE samples(
            class TEXT NOT NULL COLLATE BINARY,
            participant TEXT NOT NULL COLLATE BINARY,
            seq INTEGER NOT NULL,
            ts INTEGER NOT NULL,
            rts INTEGER NOT NULL,
            bpm INTEGER NOT NULL,
            rr BLOB,
            contact INTEGER,
            ee INTEGER,
            zone INTEGER,
            PRIMARY KEY(class, participant, seq)
        ) WITHOUT ROWID;
        CREATE TABLE classes(
            class TEXT NOT NULL COLLATE BINARY PRIMARY KEY,
            newest_rts INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE profiles(
            class TEXT NOT NULL COLLATE BINARY,
            participant TEXT NOT NULL COLLATE BINARY,
            name TEXT,
            hrmax INTEGER,
            hrrest INTEGER,
            PRIMARY KEY(class, participant)
        ) WITHOUT ROWID;
        """

    /// The tables a record holds; a file with our application_id but not these is refused as corrupt.
    static let tables: Set<String> = ["samples", "classes", "profiles"]

    /// Opens the writer's connection on `path`: creates the directory and the file when missing, checks that an
    /// existing file is an HRHub record of a schema this code knows, and sets WAL mode and `sync`.
    /// Throws `.cannotOpen("<path>: <reason>")`.
    static func openWriter(path: String, sync: SyncMode) throws(RecordStoreError) -> SQLiteConnection {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .cannotOpen("\(directory): cannot create the data directory: \(error.localizedDescription)")
        }
        do {
            let connection = try SQLiteConnection(path: path, readOnly: false)
            try prepareFile(connection, path: path)
            try connection.execute("PRAGMA synchronous=\(sync.pragmaValue)")
            // Checkpoints run on RecordCheckpointer's thread, so a commit never waits for one (nor for its fsync).
            try connection.execute("PRAGMA wal_autocheckpoint=0")
            return connection
        } catch let error as SQLiteError {
            throw .cannotOpen("\(path): \(error.message)")
        } catch let error as RecordStoreError {
            throw error
        } catch {
            throw .cannotOpen("\(path): \(error)")
        }
    }

    /// Opens a read-only connection on an existing record (the writer has checked and created it).
    static func openReader(path: String) throws(RecordStoreError) -> SQLiteConnection {
        do {
            return try SQLiteConnection(path: path, readOnly: true)
        } catch {
            throw .readFailed("\(path): \(error.message)")
        }
    }

    /// Creates the schema in an empty file, or checks an existing one; leaves the file in WAL mode.
    private static func prepareFile(_ connection: SQLiteConnection, path: String) throws {
        // The first read of the header: a file that is not SQLite fails here with SQLITE_NOTADB.
        let applicationID = try connection.integer("PRAGMA application_id") ?? 0
        let version = try connection.integer("PRAGMA user_version") ?? 0
        let names = Set(try connection.texts("SELECT name FROM sqlite_schema WHERE type = 'table'"))
        if applicationID == 0 && version == 0 && names.isEmpty {
            // journal_mode cannot change inside a transaction, so WAL first, then the schema in one transaction.
            try setWAL(connection, path: path)
            try connection.execute("BEGIN IMMEDIATE")
            do {
                try connection.execute(schema)
                try connection.execute("PRAGMA application_id=\(Self.applicationID)")
                try connection.execute("PRAGMA user_version=\(schemaVersion)")
                try connection.execute("COMMIT")
            } catch {
                try? connection.execute("ROLLBACK")
                throw error
            }
            return
        }
        guard applicationID == Self.applicationID else {
            throw RecordStoreError.cannotOpen(
                "\(path): not an HRHub record (application_id \(applicationID), expected \(Self.applicationID))")
        }
        guard version == schemaVersion else {
            let reason = version > schemaVersion
                ? "schema version \(version) is newer than this hub's \(schemaVersion)"
                : "unknown schema version \(version)"
            throw RecordStoreError.cannotOpen("\(path): \(reason)")
        }
        guard tables.isSubset(of: names) else {
            let missing = tables.subtracting(names).sorted().joined(separator: ", ")
            throw RecordStoreError.cannotOpen("\(path): corrupt record, missing table(s) \(missing)")
        }
        try setWAL(connection, path: path)
    }

    private static func setWAL(_ connection: SQLiteConnection, path: String) throws {
        let mode = try connection.texts("PRAGMA journal_mode=WAL").first ?? ""
        guard mode.lowercased() == "wal" else {
            throw RecordStoreError.cannotOpen("\(path): cannot use WAL mode (journal_mode is \(mode))")
        }
    }
}
