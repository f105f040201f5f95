import Synchronization

/// The moment every thread of a `--threads` run starts its schedules: the run's single sending start, agreed once
/// every thread has finished connecting (or given up).
///
/// Each `LoadSession` arrives once, when its own connections are welcomed (or its connect timeout passed, or it
/// failed); the last to arrive fixes the start on the next whole second at least `leadMs` away, which every thread
/// reads on its next tick. One start for all keeps one warm-up and one measured window for the whole run, so the
/// threads' results add up (`RunResult.merge`). A run on one thread is the same with one arrival.
///
/// Any thread; the state is behind a mutex.
final class SendingStart: Sendable {
    private struct State {
        var arrived: Set<Int> = []
        var startUs: Int64?
    }

    /// How many sessions must arrive.
    let sessions: Int
    /// The least time between the last arrival and the start, ms: every thread sees the start before it is due.
    static let leadMs: Int64 = 300
    private let state = Mutex(State())

    init(sessions: Int) {
        precondition(sessions >= 1, "a run has at least one session")
        self.sessions = sessions
    }

    /// Session `session` is ready (or gave up) at `nowUs`; returns the start once every session arrived. Arriving
    /// again changes nothing.
    @discardableResult
    func arrive(session: Int, nowUs: Int64) -> Int64? {
        state.withLock { state in
            state.arrived.insert(session)
            if state.startUs == nil && state.arrived.count == sessions {
                state.startUs = Self.start(afterUs: nowUs)
            }
            return state.startUs
        }
    }

    /// The agreed start, Unix µs, once every session arrived.
    var startUs: Int64? { state.withLock { $0.startUs } }

    /// The next whole second at least `leadMs` after `nowUs`, µs.
    static func start(afterUs nowUs: Int64) -> Int64 {
        (nowUs / 1_000 + leadMs + 999) / 1_000 * 1_000_000
    }
}
