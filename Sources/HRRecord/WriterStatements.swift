import HRProtocol

/// The writer's connection with its statements compiled once.
final class WriterStatements {
    let connection: SQLiteConnection
    private let insertSample: SQLiteStatement
    private let upsertClass: SQLiteStatement
    private let upsertProfile: SQLiteStatement
    private let deleteSamples: SQLiteStatement
    private let deleteProfiles: SQLiteStatement
    private let deleteClassRows: SQLiteStatement

    init(_ connection: SQLiteConnection) throws(SQLiteError) {
        self.connection = connection
        insertSample = try connection.prepare("""
            INSERT OR IGNORE INTO samples(class, participant, seq, ts, rts, bpm, rr, contact, ee, zone)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
            """)
        upsertClass = try connection.prepare("""
            INSERT INTO classes(class, newest_rts) VALUES (?1, ?2)
            ON CONFLICT(class) DO UPDATE SET newest_rts = max(newest_rts, excluded.newest_rts)
            """)
        upsertProfile = try connection.prepare("""
            INSERT INTO profiles(class, participant, name, hrmax, hrrest) VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT(class, participant) DO UPDATE
            SET name = excluded.name, hrmax = excluded.hrmax, hrrest = excluded.hrrest
            """)
        let expired = "class IN (SELECT class FROM classes WHERE newest_rts < ?1)"
        deleteSamples = try connection.prepare("DELETE FROM samples WHERE \(expired)")
        deleteProfiles = try connection.prepare("DELETE FROM profiles WHERE \(expired)")
        deleteClassRows = try connection.prepare("DELETE FROM classes WHERE newest_rts < ?1")
    }

    func begin() throws(SQLiteError) { try connection.execute("BEGIN IMMEDIATE") }

    func commit() throws(SQLiteError) { try connection.execute("COMMIT") }

    /// Undoes the open transaction, if any (SQLite may already have rolled it back after an I/O error).
    func rollback() { try? connection.execute("ROLLBACK") }

    /// Inserts a sample unless its key is recorded; true when it was new.
    func insert(_ recorded: RecordedSample) throws(SQLiteError) -> Bool {
        let sample = recorded.sample
        defer { insertSample.reset() }
        try insertSample.bind(1, recorded.classID)
        try insertSample.bind(2, recorded.participant)
        try insertSample.bind(3, Int64(sample.seq))
        try insertSample.bind(4, sample.ts)
        try insertSample.bind(5, recorded.rts)
        try insertSample.bind(6, Int64(sample.bpm))
        try insertSample.bind(7, rr: sample.rr)
        try insertSample.bind(8, sample.contact.map { $0 ? 1 : 0 })
        try insertSample.bind(9, sample.ee.map(Int64.init))
        try insertSample.bind(10, recorded.zone.map(Int64.init))
        _ = try insertSample.step()
        return connection.changes == 1
    }

    /// Raises each class's `newest_rts` to at least the given time (creating the row for a new class).
    func touch(_ newestRTS: [String: Int64]) throws(SQLiteError) {
        for (classID, rts) in newestRTS {
            defer { upsertClass.reset() }
            try upsertClass.bind(1, classID)
            try upsertClass.bind(2, rts)
            _ = try upsertClass.step()
        }
    }

    func upsert(_ recorded: RecordedProfile) throws(SQLiteError) {
        defer { upsertProfile.reset() }
        try upsertProfile.bind(1, recorded.classID)
        try upsertProfile.bind(2, recorded.participant)
        if let name = recorded.profile.name { try upsertProfile.bind(3, name) } else { try upsertProfile.bindNull(3) }
        try upsertProfile.bind(4, recorded.profile.hrmax.map(Int64.init))
        try upsertProfile.bind(5, recorded.profile.hrrest.map(Int64.init))
        _ = try upsertProfile.step()
    }

    /// Deletes the samples, profiles and class rows of every class whose newest sample is older than `cutoff`;
    /// returns how many classes went.
    func deleteClasses(before cutoff: Int64) throws(SQLiteError) -> Int {
        for statement in [deleteSamples, deleteProfiles, deleteClassRows] {
            defer { statement.reset() }
            try statement.bind(1, cutoff)
            _ = try statement.step()
        }
        return connection.changes
    }
}
