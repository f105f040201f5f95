import Testing

@testable import LWSTransport

/// The transport's teardown invariant that other threads reach the context only through an open `Inbox`.
/// (The whole teardown under load, with signals racing it, is tests/e2e/test_signals.py, on the real hub.)
@Suite struct InboxTests {
    @Test func theInboxKeepsJobsUntilOpenAndDropsThemOnceClosed() {
        let inbox = Inbox()
        #expect(inbox.post {})
        #expect(inbox.takeAll().count == 1, "a job posted before the context exists waits for it")
        inbox.close()
        #expect(!inbox.post {}, "after close nothing is queued")
        #expect(inbox.takeAll().isEmpty)
    }
}
