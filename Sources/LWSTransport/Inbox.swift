import CLibWebSockets
import Synchronization

/// Work handed to a service thread from other threads (signal handlers, a NATS client, test code), and the one
/// thing those threads may do to the lws context: wake it.
///
/// The only lock in the transport. Invariant: another thread touches the context only inside `post`, under the
/// lock, and only while the inbox is open; `close()` takes the context pointer away under the same lock, so once
/// it returned no other thread can reach the context, and the service thread may destroy it. Jobs posted before
/// `open` wait for it; jobs posted after `close` are dropped (the loop that would run them is gone).
final class Inbox: Sendable {
    private enum Phase {
        /// No context yet: jobs wait.
        case notStarted
        /// The context's loop runs them; `post` wakes it with `lws_cancel_service`.
        case open(ContextHandle)
        /// Torn down: jobs are dropped.
        case closed
    }

    private struct State {
        var phase = Phase.notStarted
        var jobs: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    /// The context pointer as the lock holds it. `@unchecked Sendable`: it is only used under the lock, for
    /// `lws_cancel_service`, lws's documented cross-thread call.
    private struct ContextHandle: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    /// Starts waking `context` for each job, including those already waiting. Service thread, after creation.
    func open(waking context: OpaquePointer) {
        let handle = ContextHandle(pointer: context)
        state.withLock { state in
            state.phase = .open(handle)
            if !state.jobs.isEmpty { lws_cancel_service(context) }
        }
    }

    /// Queues `job` and wakes the loop. Any thread. Returns false when the inbox is closed and `job` was dropped.
    @discardableResult
    func post(_ job: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { state in
            switch state.phase {
            case .closed:
                return false
            case .notStarted:
                state.jobs.append(job)
            case .open(let context):
                state.jobs.append(job)
                // Under the lock: `close()` cannot return, so the context cannot be destroyed, while this runs.
                // lws_cancel_service only writes to the loop's wake-up pipe; it calls nothing back.
                lws_cancel_service(context.pointer)
            }
            return true
        }
    }

    /// Takes every queued job; runs nothing itself.
    func takeAll() -> [@Sendable () -> Void] {
        state.withLock { state in
            let taken = state.jobs
            state.jobs.removeAll(keepingCapacity: true)
            return taken
        }
    }

    /// Stops taking jobs and drops those waiting. After it returns no other thread touches the context.
    func close() {
        let dropped = state.withLock { state in
            state.phase = .closed
            defer { state.jobs = [] }
            return state.jobs
        }
        _ = dropped  // released here, outside the lock: a job's captures may run deinits
    }
}
