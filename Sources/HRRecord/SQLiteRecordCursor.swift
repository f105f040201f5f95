import HRProtocol

/// A cursor over a class's recorded samples on a connection of its own: one prepared statement, stepped a chunk
/// at a time. In WAL mode its open statement reads a snapshot and holds no lock the writer waits for; what is
/// committed after the first `next` is not seen. Released (statement finalized, connection closed) with the cursor.
final class SQLiteRecordCursor: RecordCursor {
    private let path: String
    private let classID: String
    private let statement: SQLiteStatement
    private var exhausted = false

    init(path: String, classID: String, participant: String?) throws(RecordStoreError) {
        self.path = path
        self.classID = classID
        let connection = try RecordDatabase.openReader(path: path)
        let columns = "participant, seq, ts, rts, bpm, rr, contact, ee, zone"
        do {
            if let participant {
                statement = try connection.prepare(
                    "SELECT \(columns) FROM samples WHERE class = ?1 AND participant = ?2 ORDER BY participant, seq",
                    persistent: false)
                try statement.bind(2, participant)
            } else {
                statement = try connection.prepare(
                    "SELECT \(columns) FROM samples WHERE class = ?1 ORDER BY participant, seq", persistent: false)
            }
            try statement.bind(1, classID)
        } catch {
            throw .readFailed("\(path): \(error.message)")
        }
    }

    func next(max: Int) throws(RecordStoreError) -> [RecordedSample] {
        guard !exhausted else { return [] }
        var rows: [RecordedSample] = []
        rows.reserveCapacity(Swift.max(0, Swift.min(max, 4096)))
        do {
            while rows.count < max {
                guard try statement.step() else {
                    exhausted = true
                    statement.reset()
                    break
                }
                rows.append(row())
            }
        } catch {
            exhausted = true
            throw .readFailed("\(path): \(error.message)")
        }
        return rows
    }

    private func row() -> RecordedSample {
        let sample = Sample(
            seq: UInt32(truncatingIfNeeded: statement.int64(1)),
            ts: statement.int64(2),
            bpm: UInt8(truncatingIfNeeded: statement.int64(4)),
            rr: statement.rr(5),
            contact: statement.isNull(6) ? nil : statement.int64(6) != 0,
            ee: statement.isNull(7) ? nil : UInt16(truncatingIfNeeded: statement.int64(7)))
        return RecordedSample(
            classID: classID, participant: statement.text(0), sample: sample, rts: statement.int64(3),
            zone: statement.isNull(8) ? nil : UInt8(truncatingIfNeeded: statement.int64(8)))
    }
}
