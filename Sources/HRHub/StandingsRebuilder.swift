import Dispatch
import HRCore
import HRProtocol
import HRStandings

/// Reads classes' standings from the record off the service thread: a class made again after a restart (the relay's
/// `StandingsRebuild`), or the class an HTTP request asks about when it is not in memory. A read of a class's whole
/// record costs about 0.23 µs per row (bench/RESULTS.md, "Standings"): seconds for a 20,000-rider hour, during
/// which the service thread would serve nothing else.
///
/// Threading: `start` runs on the service thread; reads run one at a time on `queue`, each through a cursor of its
/// own (the store's readers are safe to use from any thread), and each result goes to `deliver` on `queue`, which
/// posts it back to the service thread (`Hub.standingsRead`).
final class StandingsRebuilder: Sendable {
    /// One read's result.
    struct Result: Sendable {
        /// The class read.
        let classID: String
        /// The relay's rebuild this read answers; nil for a read an HTTP request asked for.
        let rebuild: StandingsRebuild?
        /// Every sample the read saw, counted.
        let standings: ClassStandings
    }

    private let record: RecordBridge
    private let queue: DispatchQueue
    private let deliver: @Sendable (Result) -> Void

    /// - Parameters:
    ///   - queue: where reads run (serial: one class's read at a time).
    ///   - deliver: called on `queue` with each result.
    init(
        record: RecordBridge, queue: DispatchQueue = DispatchQueue(label: "hrhub.standings"),
        deliver: @escaping @Sendable (Result) -> Void
    ) {
        self.record = record
        self.queue = queue
        self.deliver = deliver
    }

    /// Reads `classID`'s record into standings with `points`, in the background.
    func start(classID: String, points: ZonePoints, rebuild: StandingsRebuild?) {
        queue.async { [record, deliver] in
            var standings = ClassStandings(points: points)
            record.forEachRecorded(classID: classID) { standings.record($0) }
            deliver(Result(classID: classID, rebuild: rebuild, standings: standings))
        }
    }
}
