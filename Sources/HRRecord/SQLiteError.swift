/// A failed SQLite call: its primary result code (`SQLITE_FULL`, `SQLITE_IOERR`, …) and SQLite's message.
struct SQLiteError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The primary result code (the low 8 bits of an extended code).
    var code: Int32
    /// SQLite's message for the failure, or a description of what was being done.
    var message: String

    var description: String { "\(message) (SQLite code \(code))" }
}
