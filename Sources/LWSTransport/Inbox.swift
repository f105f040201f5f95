import Synchronization

/// Work handed to a service thread from other threads (signal handlers, a NATS client, test code).
///
/// The only lock in the transport. Producers append under the mutex and then wake the loop with
/// `lws_cancel_service`; the service thread drains everything in `LWS_CALLBACK_EVENT_WAIT_CANCELLED`.
final class Inbox: Sendable {
    private let jobs = Mutex<[@Sendable () -> Void]>([])

    func append(_ job: @escaping @Sendable () -> Void) {
        jobs.withLock { $0.append(job) }
    }

    /// Takes every queued job; runs nothing itself.
    func takeAll() -> [@Sendable () -> Void] {
        jobs.withLock { jobs in
            let taken = jobs
            jobs.removeAll(keepingCapacity: true)
            return taken
        }
    }
}
