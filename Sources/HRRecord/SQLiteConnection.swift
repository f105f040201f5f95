import CSQLite

/// One SQLite connection: open, execute, prepare, close. The C-facing half of HRRecord (with `SQLiteStatement`);
/// nothing else in the module touches a pointer.
///
/// Not thread-safe: it is opened without SQLite's own mutex (`SQLITE_OPEN_NOMUTEX`), so one thread at a time may
/// use it and its statements (the writer's connection stays on the writer thread; readers sit behind a lock or
/// belong to one cursor).
final class SQLiteConnection {
    /// Invariant: a live `sqlite3*` from a successful `sqlite3_open_v2`, closed exactly once, in `deinit`.
    /// Statements keep their connection alive (they hold a strong reference), so none outlives it.
    private let handle: OpaquePointer
    /// The file it was opened on, for messages.
    let path: String

    /// Opens `path`, read-only or read-write; a read-write connection creates the file when it does not exist
    /// and `create` is set. Waits up to `busyTimeoutMs` for a lock another connection holds (in WAL mode only a
    /// checkpoint or recovery makes readers wait).
    init(path: String, readOnly: Bool, create: Bool = true, busyTimeoutMs: Int32 = 2_000) throws(SQLiteError) {
        let access = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0)
        let flags = access | SQLITE_OPEN_NOMUTEX
        var opened: OpaquePointer?
        let code = sqlite3_open_v2(path, &opened, flags, nil)
        guard code == SQLITE_OK, let opened else {
            // Even a failed open may allocate a handle (to carry the message); it must be closed all the same.
            let message = opened.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
            sqlite3_close_v2(opened)
            throw SQLiteError(code: code & 0xFF, message: message)
        }
        handle = opened
        self.path = path
        sqlite3_busy_timeout(handle, busyTimeoutMs)
    }

    deinit {
        // `_v2`: should a statement still be alive (it cannot, see `handle`), SQLite defers the close until it goes.
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements that return no rows needed here (pragmas, DDL, BEGIN/COMMIT).
    func execute(_ sql: String) throws(SQLiteError) {
        let code = sqlite3_exec(handle, sql, nil, nil, nil)
        guard code == SQLITE_OK else { throw error(code) }
    }

    /// Compiles one statement; `persistent` for one that is kept and run many times.
    func prepare(_ sql: String, persistent: Bool = true) throws(SQLiteError) -> SQLiteStatement {
        var statement: OpaquePointer?
        let flags = persistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0
        let code = sqlite3_prepare_v3(handle, sql, -1, flags, &statement, nil)
        guard code == SQLITE_OK, let statement else {
            sqlite3_finalize(statement)
            throw error(code)
        }
        return SQLiteStatement(handle: statement, connection: self)
    }

    /// The first column of the first row of `sql` as an integer (nil when there is no row or it is NULL).
    func integer(_ sql: String) throws(SQLiteError) -> Int64? {
        let statement = try prepare(sql, persistent: false)
        guard try statement.step(), !statement.isNull(0) else { return nil }
        return statement.int64(0)
    }

    /// The first column of every row of `sql` as text.
    func texts(_ sql: String) throws(SQLiteError) -> [String] {
        let statement = try prepare(sql, persistent: false)
        var rows: [String] = []
        while try statement.step() { rows.append(statement.text(0)) }
        return rows
    }

    /// Rows the last INSERT, UPDATE or DELETE changed (0 for an INSERT OR IGNORE that met a duplicate key).
    var changes: Int { Int(sqlite3_changes64(handle)) }

    /// Whether the database file was unlinked or renamed since it was opened (`SQLITE_FCNTL_HAS_MOVED`): commits
    /// would then go to a file nobody will find again.
    func fileHasMoved() -> Bool {
        var moved: Int32 = 0
        // Invariant: for HAS_MOVED SQLite writes one `int` through the pointer, which lives for the whole call.
        let code = sqlite3_file_control(handle, "main", SQLITE_FCNTL_HAS_MOVED, &moved)
        return code == SQLITE_OK && moved != 0
    }

    /// The error for `code`, with the connection's current message.
    func error(_ code: Int32) -> SQLiteError {
        SQLiteError(code: code & 0xFF, message: String(cString: sqlite3_errmsg(handle)))
    }
}
