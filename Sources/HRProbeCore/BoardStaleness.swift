/// How old the standings a screen shows are, seen from outside the hub: from a sample's write to the first `board`
/// on a screen that counts it.
///
/// On a rider's own screen (a `participant` connection, which publishes and views) this is exact: the hub sends the
/// `ack` for a sample after the sample counts, and the board and the ack go out on the same socket in order, so the
/// first board after the ack is the first that counts the sample (`ownBoard`).
///
/// On any other screen:
/// a board counts every sample committed before the hub built it (its `at`); the probe cannot see a commit, but it
/// sees its `ack`, which the hub sends after the commit is counted. So a sample is taken as visible on a screen with
/// the first board there whose `at` is no earlier than the ack's arrival: a board built between the commit and the
/// ack's arrival (well under a millisecond on loopback, against boards a second apart, unless the probe is starved of
/// CPU) is not credited, which can only make the figure larger. Times are the probe's clock, µs; the caller moves `at` into it. Without acks (the record
/// off) nothing is measured.
///
/// Costs: per sample O(1) to note and ack; per board, one step per sample acked since the screen's previous board.
/// Committed samples are kept per class until every screen of the class has passed them.
public struct BoardStaleness {
    private struct Written {
        let seq: UInt32
        let us: Int64
    }

    /// A sample whose ack arrived: when, and when it was written.
    private struct Committed {
        let ackUs: Int64
        let writtenUs: Int64
    }

    private struct Screen {
        let classIndex: Int
        /// Index (counting entries dropped) of the first committed sample of its class it has not been shown.
        var next: Int
    }

    /// Samples written per rider and not acked yet, oldest first (at most `maxPending`).
    private var written: [[Written]]
    /// Samples acked per class, in ack order, and how many were dropped from the front.
    private var committed: [[Committed]]
    private var dropped: [Int]
    /// Per class, the size at which the next trim is tried (doubling while screens hold the samples back).
    private var trimThreshold: [Int]
    private var screens: [Int: Screen] = [:]
    /// Per rider: written times of its samples acked and not yet shown on its own screen (`ownBoard`).
    private var ownCommitted: [[Int64]]
    /// Riders whose own connection views (participants): their acked samples wait for `ownBoard`.
    private var ownScreen: Set<Int> = []

    /// Written samples kept per rider waiting for an ack; older ones are forgotten (a hub that never acks).
    public static let maxPending = 1_024
    /// Committed samples kept per class before the ones every screen has passed are dropped.
    static let trimAt = 4_096

    /// Empty accounting for `classes` classes and `riders` riders (global indices).
    public init(classes: Int, riders: Int) {
        written = Array(repeating: [], count: riders)
        ownCommitted = Array(repeating: [], count: riders)
        committed = Array(repeating: [], count: classes)
        dropped = Array(repeating: 0, count: classes)
        trimThreshold = Array(repeating: Self.trimAt, count: classes)
    }

    /// Rider `rider` wrote its sample `seq` at `us`.
    public mutating func wrote(rider: Int, seq: UInt32, us: Int64) {
        if written[rider].count == Self.maxPending { written[rider].removeFirst() }
        written[rider].append(Written(seq: seq, us: us))
    }

    /// Rider `rider` of class `classIndex` got `ack` `seq` at `us`: every sample it wrote up to `seq` is committed.
    public mutating func acked(rider: Int, classIndex: Int, seq: UInt32, us: Int64) {
        var taken = 0
        for sample in written[rider] {
            guard Int32(bitPattern: sample.seq &- seq) <= 0 else { break }
            committed[classIndex].append(Committed(ackUs: us, writtenUs: sample.us))
            if ownScreen.contains(rider), ownCommitted[rider].count < Self.maxPending {
                ownCommitted[rider].append(sample.us)
            }
            taken += 1
        }
        guard taken > 0 else { return }
        written[rider].removeFirst(taken)
        if committed[classIndex].count >= trimThreshold[classIndex] {
            trim(classIndex)
            trimThreshold[classIndex] = max(Self.trimAt, 2 * committed[classIndex].count)
        }
    }

    /// A board of class `classIndex` built at `atUs` arrived on screen `screen` (any id, stable per connection) at
    /// `arrivedUs`: `visible(writtenUs, stalenessUs)` for each sample it shows for the first time on that screen. A
    /// screen's first board only marks where it starts (what came before it connected is not its to measure).
    public mutating func board(
        screen: Int, classIndex: Int, atUs: Int64, arrivedUs: Int64, visible: (Int64, Int64) -> Void
    ) {
        let entries = committed[classIndex]
        let base = dropped[classIndex]
        guard var state = screens[screen], state.classIndex == classIndex else {
            // The first board: start after what this board already counts.
            var next = entries.count
            while next > 0 && entries[next - 1].ackUs > atUs { next -= 1 }
            screens[screen] = Screen(classIndex: classIndex, next: base + next)
            return
        }
        var index = max(0, state.next - base)
        while index < entries.count && entries[index].ackUs <= atUs {
            visible(entries[index].writtenUs, arrivedUs - entries[index].writtenUs)
            index += 1
        }
        state.next = base + index
        screens[screen] = state
    }

    /// Rider `rider` publishes on a connection that views (a participant): its own acked samples are also measured
    /// exactly, with `ownBoard`.
    public mutating func viewsOwnSamples(rider: Int) {
        ownScreen.insert(rider)
    }

    /// A board arrived at `arrivedUs` on rider `rider`'s own connection: `visible(writtenUs, stalenessUs)` for each of
    /// its samples acked on that connection before it (so counted in it), once.
    public mutating func ownBoard(rider: Int, arrivedUs: Int64, visible: (Int64, Int64) -> Void) {
        for writtenUs in ownCommitted[rider] { visible(writtenUs, arrivedUs - writtenUs) }
        ownCommitted[rider].removeAll(keepingCapacity: true)
    }

    /// Screen `screen` closed: it no longer holds its class's committed samples back.
    public mutating func closed(screen: Int) {
        screens[screen] = nil
    }

    /// Drops the committed samples of class `classIndex` that every screen of the class has been shown (all of them
    /// when the class has no screen yet: a screen's first board skips what came before it).
    private mutating func trim(_ classIndex: Int) {
        var lowest = dropped[classIndex] + committed[classIndex].count
        for screen in screens.values where screen.classIndex == classIndex {
            lowest = min(lowest, screen.next)
        }
        let count = lowest - dropped[classIndex]
        guard count > 0 else { return }
        committed[classIndex].removeFirst(count)
        dropped[classIndex] += count
    }

    /// Committed samples held for class `classIndex` (for tests).
    public func held(classIndex: Int) -> Int { committed[classIndex].count }
}
