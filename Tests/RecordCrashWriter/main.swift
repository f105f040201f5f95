// Appends samples to a SQLiteRecordStore as fast as it takes them and prints, for every append acked as
// committed, the last seq it held, one per line, as the ack arrives. Runs until killed: HRRecordTests' crash test
// kills it with SIGKILL mid-run and checks that the record holds every printed seq exactly once.
//
// Usage: RecordCrashWriter <data-dir> <samples> <per-append> <normal|full>
import Foundation
import HRProtocol
import HRRecord

let arguments = CommandLine.arguments
guard arguments.count == 5, let total = UInt32(arguments[2]), let perAppend = UInt32(arguments[3]), perAppend > 0,
    let sync: SyncMode = (arguments[4] == "full" ? .full : arguments[4] == "normal" ? .normal : nil)
else {
    let usage = "usage: RecordCrashWriter <data-dir> <samples> <per-append> <normal|full>\n"
    FileHandle.standardError.write(Data(usage.utf8))
    exit(2)
}

let store: SQLiteRecordStore
do {
    store = try SQLiteRecordStore(dataDirectory: arguments[1], sync: sync)
} catch {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(1)
}

var seq: UInt32 = 1
while seq <= total {
    let last = min(total, seq + perAppend - 1)
    let samples = (seq...last).map {
        RecordedSample(classID: "crash", participant: "p1", sample: Sample(seq: $0, ts: Int64($0), bpm: 120), rts: 1)
    }
    store.append(samples) { result in
        // One write(2) per ack, unbuffered: what was printed is what the test reads, even after SIGKILL.
        if case .success = result { FileHandle.standardOutput.write(Data("\(last)\n".utf8)) }
    }
    seq = last + 1
}
// Everything is queued; wait for the kill (or for the writer to finish, then idle).
while true { sleep(60) }
