import Foundation
import Logging
import Synchronization
import Testing

@testable import LWSTransport

/// The transport's teardown invariants (ServiceContext, Inbox): other threads post while a server stops.
@Suite struct TeardownTests {
    @Test func theInboxKeepsJobsUntilOpenAndDropsThemOnceClosed() {
        let inbox = Inbox()
        #expect(inbox.post {})
        #expect(inbox.takeAll().count == 1, "a job posted before the context exists waits for it")
        inbox.close()
        #expect(!inbox.post {}, "after close nothing is queued")
        #expect(inbox.takeAll().isEmpty)
    }

    /// Threads keep posting while a posted job stops the server and its context is destroyed (what a second
    /// SIGINT during a drain does). Every post reaches the inbox, the context is never woken after it is
    /// destroyed, no job runs once `run()` returned, and nothing crashes.
    @Test func postsRacingTheTeardownNeverRunLateOrReachADestroyedContext() throws {
        var options = LWSServer.Options()
        options.port = 0
        var logger = Logger(label: "teardown")
        logger.logLevel = .critical
        let server = LWSServer(options: options, logger: logger)
        try server.start()
        let state = RaceState()
        let runner = Thread {
            server.run()
            state.finished.store(true, ordering: .sequentiallyConsistent)
            state.done.signal()
        }
        runner.start()
        let posters = DispatchGroup()
        for _ in 0..<4 {
            posters.enter()
            Thread {
                var postsAfterFinish = 0
                while postsAfterFinish < 2_000 {
                    if state.finished.load(ordering: .sequentiallyConsistent) { postsAfterFinish += 1 }
                    server.post {
                        if state.finished.load(ordering: .sequentiallyConsistent) {
                            state.ranAfterFinish.add(1, ordering: .relaxed)
                        }
                        if state.ran.add(1, ordering: .relaxed).newValue == 1_000 { state.warmedUp.signal() }
                    }
                }
                posters.leave()
            }.start()
        }
        state.warmedUp.wait()  // the loop is busy running posted jobs
        server.post { server.stop() }
        state.done.wait()
        posters.wait()
        #expect(state.ranAfterFinish.load(ordering: .relaxed) == 0)
        #expect(state.ran.load(ordering: .relaxed) >= 1_000)
    }
}

/// What the racing threads share.
private final class RaceState: Sendable {
    let ran = Atomic<Int>(0)
    let ranAfterFinish = Atomic<Int>(0)
    let finished = Atomic<Bool>(false)
    let warmedUp = DispatchSemaphore(value: 0)
    let done = DispatchSemaphore(value: 0)
}
