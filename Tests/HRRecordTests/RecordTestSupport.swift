import Foundation
import HRProtocol
@testable import HRRecord

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("hrrecord-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// The record file a store in this directory uses.
    var recordPath: String { (path as NSString).appendingPathComponent("record.sqlite3") }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A record row with the given key; the other fields derive from `seq` so a round trip can compare them.
func row(
    _ classID: String = "c1", _ participant: String = "p1", seq: UInt32, rts: Int64 = 1_000,
    rr: [UInt16] = [], contact: Bool? = nil, ee: UInt16? = nil, zone: UInt8? = nil
) -> RecordedSample {
    RecordedSample(
        classID: classID, participant: participant,
        sample: Sample(seq: seq, ts: 1_700_000_000_000 + Int64(seq), bpm: UInt8(60 + seq % 100), rr: rr,
            contact: contact, ee: ee),
        rts: rts, zone: zone)
}

/// Rows `seqs` for one participant.
func rows(_ seqs: ClosedRange<UInt32>, _ classID: String = "c1", _ participant: String = "p1", rts: Int64 = 1_000)
    -> [RecordedSample]
{
    seqs.map { row(classID, participant, seq: $0, rts: rts) }
}

extension RecordStore {
    /// Appends and waits for the completion (synchronised on the completion itself).
    func appended(_ samples: [RecordedSample]) async -> AppendResult {
        await withCheckedContinuation { continuation in
            append(samples) { continuation.resume(returning: $0) }
        }
    }

    /// Waits until everything appended before has completed: an empty append completes after them, in order.
    func drained() async {
        _ = await appended([])
    }

    /// Every row the cursor yields, read in chunks of `chunk`.
    func readAll(_ classID: String = "c1", participant: String? = nil, chunk: Int = 3) throws -> [RecordedSample] {
        let cursor = try read(classID: classID, participant: participant)
        var all: [RecordedSample] = []
        while true {
            let next = try cursor.next(max: chunk)
            if next.isEmpty { return all }
            all += next
        }
    }

    func deleted(receivedBefore cutoff: Int64) async -> Int {
        await withCheckedContinuation { continuation in
            deleteClasses(receivedBefore: cutoff) { continuation.resume(returning: $0) }
        }
    }
}

/// Health changes as an async sequence, for `onHealthChange`.
final class HealthEvents: Sendable {
    let stream: AsyncStream<RecordStoreHealth>
    private let continuation: AsyncStream<RecordStoreHealth>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: RecordStoreHealth.self)
    }

    var callback: @Sendable (RecordStoreHealth) -> Void {
        { [continuation] in continuation.yield($0) }
    }
}

/// A message's text, for `cannotOpen` and `readFailed`.
func message(of error: RecordStoreError) -> String {
    switch error {
    case .cannotOpen(let text), .readFailed(let text): text
    case .overloaded: "overloaded"
    case .closed: "closed"
    }
}
