import HRProtocol

/// A read-only connection for the store's point reads, with its statements compiled once. Used behind the
/// store's lock, one caller at a time. Reopened when the file it reads was replaced.
final class RecordReader {
    private let path: String
    private var connection: SQLiteConnection
    private var recentSeqsStatement: SQLiteStatement
    private var hasRecordStatement: SQLiteStatement
    private var profilesStatement: SQLiteStatement
    private var profileStatement: SQLiteStatement

    init(path: String) throws(RecordStoreError) {
        self.path = path
        connection = try RecordDatabase.openReader(path: path)
        (recentSeqsStatement, hasRecordStatement, profilesStatement, profileStatement) = try Self.prepare(
            connection, path: path)
    }

    func recentSeqs(classID: String, participant: String, limit: Int) throws(RecordStoreError) -> [UInt32] {
        try reopenIfMoved()
        let statement = recentSeqsStatement
        defer { statement.reset() }
        return try wrap { () throws(SQLiteError) in
            try statement.bind(1, classID)
            try statement.bind(2, participant)
            try statement.bind(3, Int64(max(0, limit)))
            var seqs: [UInt32] = []
            while try statement.step() { seqs.append(UInt32(truncatingIfNeeded: statement.int64(0))) }
            return seqs
        }
    }

    func hasRecord(classID: String) throws(RecordStoreError) -> Bool {
        try reopenIfMoved()
        let statement = hasRecordStatement
        defer { statement.reset() }
        return try wrap { () throws(SQLiteError) in
            try statement.bind(1, classID)
            return try statement.step()
        }
    }

    func profiles(classID: String) throws(RecordStoreError) -> [RecordedProfile] {
        try reopenIfMoved()
        let statement = profilesStatement
        defer { statement.reset() }
        return try wrap { () throws(SQLiteError) in
            try statement.bind(1, classID)
            var profiles: [RecordedProfile] = []
            while try statement.step() {
                let profile = Profile(
                    name: statement.isNull(1) ? nil : statement.text(1),
                    hrmax: statement.isNull(2) ? nil : Int(statement.int64(2)),
                    hrrest: statement.isNull(3) ? nil : Int(statement.int64(3)))
                profiles.append(RecordedProfile(classID: classID, participant: statement.text(0), profile: profile))
            }
            return profiles
        }
    }

    /// Every class with a record, in byte order (retention and the cluster's spool flush; not a hot path).
    func classIDs() throws(RecordStoreError) -> [String] {
        try reopenIfMoved()
        return try wrap { () throws(SQLiteError) in try connection.texts("SELECT class FROM classes ORDER BY class") }
    }

    func profile(classID: String, participant: String) throws(RecordStoreError) -> Profile? {
        try reopenIfMoved()
        let statement = profileStatement
        defer { statement.reset() }
        return try wrap { () throws(SQLiteError) in
            try statement.bind(1, classID)
            try statement.bind(2, participant)
            guard try statement.step() else { return nil }
            return Profile(
                name: statement.isNull(0) ? nil : statement.text(0),
                hrmax: statement.isNull(1) ? nil : Int(statement.int64(1)),
                hrrest: statement.isNull(2) ? nil : Int(statement.int64(2)))
        }
    }

    /// After the writer recreated a removed file, reads must go to the new one.
    private func reopenIfMoved() throws(RecordStoreError) {
        guard connection.fileHasMoved() else { return }
        let fresh = try RecordDatabase.openReader(path: path)
        (recentSeqsStatement, hasRecordStatement, profilesStatement, profileStatement) = try Self.prepare(
            fresh, path: path)
        connection = fresh
    }

    private func wrap<T>(_ body: () throws(SQLiteError) -> T) throws(RecordStoreError) -> T {
        do {
            return try body()
        } catch {
            throw .readFailed("\(path): \(error.message)")
        }
    }

    private static func prepare(
        _ connection: SQLiteConnection, path: String
    ) throws(RecordStoreError) -> (SQLiteStatement, SQLiteStatement, SQLiteStatement, SQLiteStatement) {
        do {
            return (
                try connection.prepare(
                    "SELECT seq FROM samples WHERE class = ?1 AND participant = ?2 ORDER BY seq DESC LIMIT ?3"),
                try connection.prepare("SELECT 1 FROM classes WHERE class = ?1"),
                try connection.prepare(
                    "SELECT participant, name, hrmax, hrrest FROM profiles WHERE class = ?1 ORDER BY participant"),
                try connection.prepare("SELECT name, hrmax, hrrest FROM profiles WHERE class = ?1 AND participant = ?2")
            )
        } catch {
            throw .readFailed("\(path): \(error.message)")
        }
    }
}
