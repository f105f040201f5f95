import Foundation

/// Delivers SIGTERM/SIGINT to a normal thread, reliably.
///
/// The signals are blocked in the calling thread and so in every thread it creates afterwards; one
/// dedicated thread takes them with `sigwait` and calls `handler`, from which the caller posts work to its
/// service loop. (A `DispatchSource` signal source on Linux needs the signal ignored or blocked in every
/// thread to work and lost a SIGTERM that raced its setup; `sigwait` has no such window.)
public enum SignalWaiter {
    /// Call first thing, before any other thread exists, so that every later thread inherits the mask.
    public static func start(_ signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
        var set = sigset_t()
        sigemptyset(&set)
        for signo in signals { sigaddset(&set, signo) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let waited = set
        let thread = Thread {
            var mask = waited
            while true {
                var signo: Int32 = 0
                if sigwait(&mask, &signo) == 0 { handler(signo) }
            }
        }
        thread.name = "signals"
        thread.start()
    }
}
