import CSQLite

/// A compiled statement of a `SQLiteConnection`: bind, step, read columns, reset. Finalized when released.
/// Same threading rule as its connection. Parameter and column indexes are as in SQLite (parameters from 1,
/// columns from 0).
final class SQLiteStatement {
    /// Invariant: a live `sqlite3_stmt*` from `sqlite3_prepare_v3` on `connection`, finalized exactly once, in
    /// `deinit`; `connection` is held strongly so the database handle outlives it.
    private let handle: OpaquePointer
    private let connection: SQLiteConnection

    init(handle: OpaquePointer, connection: SQLiteConnection) {
        self.handle = handle
        self.connection = connection
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// Makes the statement ready to run again. Bindings stay: callers bind every parameter on each run.
    func reset() {
        // reset's return value repeats the last step's error, already reported by `step`.
        sqlite3_reset(handle)
    }

    func bind(_ index: Int32, _ value: Int64) throws(SQLiteError) {
        try check(sqlite3_bind_int64(handle, index, value))
    }

    func bind(_ index: Int32, _ value: Int64?) throws(SQLiteError) {
        guard let value else { return try bindNull(index) }
        try bind(index, value)
    }

    func bindNull(_ index: Int32) throws(SQLiteError) {
        try check(sqlite3_bind_null(handle, index))
    }

    /// Binds UTF-8 text, byte for byte (a NUL inside the string is kept).
    func bind(_ index: Int32, _ value: String) throws(SQLiteError) {
        var value = value
        let code = value.withUTF8 { bytes -> Int32 in
            // Invariant: `bytes` is valid only inside this closure; SQLITE_TRANSIENT makes SQLite copy it before
            // returning. A nil base address would bind NULL, so an empty string binds a static "" instead.
            guard let base = bytes.baseAddress, !bytes.isEmpty else {
                return sqlite3_bind_text(handle, index, "", 0, csqlite_transient())
            }
            return UnsafeRawPointer(base).withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                sqlite3_bind_text(handle, index, $0, Int32(bytes.count), csqlite_transient())
            }
        }
        try check(code)
    }

    /// Binds RR intervals as a blob of little-endian UInt16s, or NULL when there are none.
    func bind(_ index: Int32, rr: [UInt16]) throws(SQLiteError) {
        guard !rr.isEmpty else { return try bindNull(index) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(rr.count * 2)
        for value in rr {
            bytes.append(UInt8(truncatingIfNeeded: value))
            bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        }
        // Invariant: the buffer lives for the call and SQLITE_TRANSIENT makes SQLite copy it.
        let code = bytes.withUnsafeBytes {
            sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), csqlite_transient())
        }
        try check(code)
    }

    /// Runs the statement to its next row: true when a row is ready to read, false when it is done.
    func step() throws(SQLiteError) -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let code: throw connection.error(code)
        }
    }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    func text(_ column: Int32) -> String {
        // Invariant: the pointer is valid until the next step/reset/finalize; the bytes are copied into the String
        // here. `column_text` comes before `column_bytes`, the order SQLite documents for a correct length.
        guard let text = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    /// A blob column read as little-endian UInt16s (a trailing odd byte is ignored); NULL reads as empty.
    func rr(_ column: Int32) -> [UInt16] {
        // Invariant: as in `text`, the blob pointer is only read before this function returns.
        guard let blob = sqlite3_column_blob(handle, column) else { return [] }
        let bytes = UnsafeRawBufferPointer(start: blob, count: Int(sqlite3_column_bytes(handle, column)))
        var values: [UInt16] = []
        values.reserveCapacity(bytes.count / 2)
        var index = 0
        while index + 1 < bytes.count {
            values.append(UInt16(bytes[index]) | UInt16(bytes[index + 1]) << 8)
            index += 2
        }
        return values
    }

    private func check(_ code: Int32) throws(SQLiteError) {
        guard code == SQLITE_OK else { throw connection.error(code) }
    }
}
