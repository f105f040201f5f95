import Foundation
import HRCore
import HRProtocol
import HRRecord
import Logging
import Synchronization
import Testing

@testable import HRHub

/// The bridge between the relay and its store: completions come back in order, one wake-up per burst, and the
/// wake-up costs the same after many commits as after the first.
@Suite struct RecordBridgeTests {
    func sample(_ seq: UInt32) -> RecordedSample {
        RecordedSample(classID: "spin", participant: "anna", sample: Sample(seq: seq, ts: 1_000, bpm: 120), rts: 1_000)
    }

    @Test func theWakeUpDoesNotGrowWithTheNumberOfCommits() {
        let store = InMemoryRecordStore()
        let bridge = RecordBridge(store: store, logger: Logger(label: "test"))
        // The call stack's depth inside the wake-up, per wake-up. A closure kept in a generic container as a bare
        // function type was re-wrapped in two thunks per read, so this depth grew by two with every commit.
        let depths = Mutex<[Int]>([])
        bridge.whenCompleted {
            let depth = Thread.callStackReturnAddresses.count
            depths.withLock { $0.append(depth) }
        }
        for seq: UInt32 in 1...2_000 {
            bridge.submit(RecordBatch(id: UInt64(seq), samples: [sample(seq)]))
            #expect(bridge.takeCompleted().map(\.id) == [UInt64(seq)])
        }
        let seen = depths.withLock { $0 }
        #expect(seen.count == 2_000, "one wake-up per commit, as each was taken before the next")
        #expect(seen.max() == seen.min(), "the wake-up's depth stays the same: \(seen.min() ?? 0)...\(seen.max() ?? 0)")
        store.close(timeoutMs: 1_000)
    }
}
