import Foundation
import HRCluster
import Synchronization
import Testing

/// `NATSConnection` against a real nats-server on a free loopback port, started and stopped by each test.
@Suite(.serialized) struct NATSConnectionTests {
    /// nats-server on `-p -1` (a free port), the port read from its log; stopped by pid.
    final class Server {
        let process = Process()
        let url: String

        init() throws {
            let path = ["/usr/bin/nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server"]
                .first { FileManager.default.isExecutableFile(atPath: $0) }
            let binary = try #require(path, "nats-server is not installed (scripts/setup installs it)")
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["-a", "127.0.0.1", "-p", "-1"]
            let log = Pipe()
            process.standardError = log
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            var text = ""
            let marker = "Listening for client connections on 127.0.0.1:"
            while !text.contains("Server is ready") {
                let chunk = log.fileHandleForReading.availableData
                if chunk.isEmpty { break }  // the server exited
                text += String(decoding: chunk, as: UTF8.self)
            }
            let line = try #require(text.split(separator: "\n").first { $0.contains(marker) }, "no port in: \(text)")
            url = "nats://127.0.0.1:" + line.components(separatedBy: marker)[1].trimmingCharacters(in: .whitespaces)
        }

        func stop() {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// What a subscription received, and a semaphore signalled per message.
    final class Inbox: Sendable {
        let messages = Mutex<[(String, [UInt8])]>([])
        let arrived = DispatchSemaphore(value: 0)

        func handler() -> @Sendable (String, [UInt8]) -> Void {
            { subject, payload in
                self.messages.withLock { $0.append((subject, payload)) }
                self.arrived.signal()
            }
        }

        /// Waits for `count` more messages (each within 5 s); false if one does not come.
        func wait(for count: Int) -> Bool {
            (0..<count).allSatisfy { _ in arrived.wait(timeout: .now() + 5) == .success }
        }
    }

    @Test func publishedMessagesReachASubscriberOnAnotherConnectionInOrder() throws {
        let server = try Server()
        defer { server.stop() }
        let a = try NATSConnection(servers: [server.url], name: "test a")
        let b = try NATSConnection(servers: [server.url], name: "test b")
        #expect(a.isConnected && b.isConnected)
        let inbox = Inbox()
        let subscription = try b.subscribe("hrhub.test.*", handler: inbox.handler())
        #expect(b.flush(timeoutMs: 2_000))
        for index in 0..<100 { #expect(a.publish("hrhub.test.x", [UInt8(index), 0xFF])) }
        #expect(inbox.wait(for: 100))
        let got = inbox.messages.withLock { $0 }
        #expect(got.map(\.0) == Array(repeating: "hrhub.test.x", count: 100))
        #expect(got.map(\.1) == (0..<100).map { [UInt8($0), 0xFF] })
        subscription.cancel()
        subscription.cancel()  // idempotent
        a.close()
        b.close()
        a.close()  // idempotent
        #expect(!a.isConnected)
    }

    @Test func aConnectionDoesNotReceiveItsOwnMessages() throws {
        let server = try Server()
        defer { server.stop() }
        let a = try NATSConnection(servers: [server.url], name: "echo")
        let inbox = Inbox()
        let own = try a.subscribe("hrhub.echo", handler: inbox.handler())
        let b = try NATSConnection(servers: [server.url], name: "other")
        #expect(a.flush(timeoutMs: 2_000))
        #expect(a.publish("hrhub.echo", [1]))
        #expect(b.publish("hrhub.echo", [2]))
        #expect(inbox.wait(for: 1))
        #expect(b.flush(timeoutMs: 2_000) && a.flush(timeoutMs: 2_000))
        #expect(inbox.messages.withLock { $0.map(\.1) } == [[2]], "only the other connection's message")
        own.cancel()
    }

    @Test func withoutAServerTheConnectionExistsIsNotConnectedAndPublishesNothing() throws {
        let server = try Server()
        let url = server.url
        server.stop()
        let lonely = try NATSConnection(servers: [url], name: "lonely")
        #expect(!lonely.isConnected)
        #expect(!lonely.publish("hrhub.x", [1]))
        #expect(!lonely.flush(timeoutMs: 10))
        lonely.close()
    }
}
