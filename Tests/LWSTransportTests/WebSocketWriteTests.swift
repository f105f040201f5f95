import Foundation
import HRProtocol
import LWSTransport
import Logging
import Synchronization
import Testing

/// The server's write path for WebSocket frames: at the end of a loop pass a frame goes out at once when the
/// socket can take it, and waits for WRITEABLE when it cannot (docs/PROTOCOL.md rule 9: at most one frame in the
/// kernel), with nothing lost or reordered between the two ways.
@Suite(.serialized) struct WebSocketWriteTests {
    @Test func aFrameAskedForWhileTheSocketIsFreeGoesOutWithoutWaitingForWriteable() throws {
        let server = try FrameServer()
        defer { server.stop() }
        let client = try server.connect()
        try server.send(frames: [Array("hello".utf8)])
        #expect(try client.readFrame() == Array("hello".utf8))
        let counts = try server.writeCounts()
        #expect(counts.direct == 1)
        #expect(counts.armed == 0)
        #expect(counts.taken == 1)
    }

    @Test func aReaderThatStopsReadingIsWaitedForAndGetsEveryFrameInOrderWhenItReadsAgain() throws {
        let server = try FrameServer()
        defer { server.stop() }
        let client = try server.connect(receiveBuffer: 4096)
        // Frames far smaller than the kernel's send buffer: each is taken whole, so what stops the writes is the
        // unsent bytes (TCP_NOTSENT_LOWAT), not a short write that lws would keep.
        let size = 1024
        func frame(_ i: Int) -> [UInt8] { [UInt8](repeating: UInt8(i % 251), count: size) }
        // One frame per job, to a reader that reads nothing, until a flush finds the socket unable to take a frame.
        // Each job's flush ends its loop pass, so the counts read after it include it.
        var sent = 0
        while sent < 10_000 {
            try server.send(frames: [frame(sent)])
            sent += 1
            if try server.writeCounts().armed > 0 { break }
        }
        let full = try server.writeCounts()
        #expect(full.armed > 0, "never found the socket full after \(sent) frames of \(size) bytes")
        // Rule 9: while the kernel still holds unsent bytes, no frame is written into it, however often one is
        // asked for; they wait in the server (here: the delegate's queue).
        for _ in 0..<20 {
            try server.send(frames: [frame(sent)])
            sent += 1
        }
        let after = try server.writeCounts()
        #expect(after.taken == full.taken, "frames written into a full socket: \(after.taken - full.taken)")
        #expect(after.queued == sent)
        for index in 0..<sent {
            let got = try client.readFrame()
            guard got == frame(index) else {
                Issue.record("frame \(index): \(got.count) bytes from \(got.first ?? 0), not \(size) × \(index % 251)")
                return
            }
        }
        #expect(try server.writeCounts().taken == sent)
    }

    @Test func framesWrittenAtOnceAndAfterWriteableInterleaveInOrder() throws {
        let server = try FrameServer()
        defer { server.stop() }
        let client = try server.connect()
        // Several frames per job (the first at once, the rest on WRITEABLE with `more`), jobs back to back.
        var sent: [[UInt8]] = []
        for job in 0..<50 {
            let batch = (0..<(job % 4 + 1)).map { k in Array("frame \(job).\(k)".utf8) }
            sent += batch
            try server.send(frames: batch, wait: false)
        }
        for frame in sent { #expect(try client.readFrame() == frame) }
        let counts = try server.writeCounts()
        #expect(counts.taken == sent.count)
        #expect(counts.direct >= 1)
    }
}

/// An `LWSServer` whose one WebSocket connection writes the frames a test queues, counting what it took.
private final class FrameServer: @unchecked Sendable {
    struct Counts: Sendable {
        var queued = 0
        var taken = 0
        var direct = 0
        var armed = 0
    }

    /// Touched on the service thread only, except `opened` (a semaphore).
    private final class Delegate: LWSServerDelegate, @unchecked Sendable {
        var connection: ConnectionID?
        var queue: [[UInt8]] = []
        var counts = Counts()
        let opened = DispatchSemaphore(value: 0)

        func serverHandleHTTP(_ request: HTTPRequest) -> HTTPReply { .response(.text(404, "no")) }
        func serverShouldUpgrade(_ request: HTTPRequestHead) -> UpgradeDecision {
            .accept
        }
        func serverConnectionOpened(_ id: ConnectionID, request: HTTPRequestHead, subprotocol: String, accepted: Any?) {
            connection = id
            opened.signal()
        }
        func serverReceived(_ id: ConnectionID, message: UnsafeRawBufferPointer, kind: FrameKind) {}
        func serverNextFrame(_ id: ConnectionID) -> OutgoingFrame? {
            guard !queue.isEmpty else { return nil }
            let payload = queue.removeFirst()
            counts.taken += 1
            let buffer = FrameBuffer(headroom: LWSServer.frameHeadroom)
            buffer.bytes.append(contentsOf: payload)
            return OutgoingFrame(buffer: buffer, kind: .binary, more: !queue.isEmpty)
        }
        func serverConnectionClosed(_ id: ConnectionID) {}
        func serverTick() {}
    }

    private let server: LWSServer
    private let delegate = Delegate()
    private let finished = DispatchSemaphore(value: 0)

    init() throws {
        var options = LWSServer.Options()
        options.port = 0
        options.subprotocols = ["test"]
        var logger = Logger(label: "test.ws")
        logger.logLevel = .error
        server = LWSServer(options: options, logger: logger)
        try server.start()
        server.delegate = delegate
        Thread { [server, finished] in
            server.run()
            finished.signal()
        }.start()
    }

    /// Opens the one WebSocket connection (handshake done, the server told of it).
    func connect(receiveBuffer: Int32? = nil) throws -> WebSocketReader {
        let client = try RawHTTPClient(port: server.port, receiveBuffer: receiveBuffer)
        try client.request(
            "GET", "/",
            headers: [
                "upgrade: websocket", "connection: Upgrade", "sec-websocket-version: 13",
                "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-protocol: test",
            ])
        let (status, _) = try client.readHead(interim: true)  // 101 is a 1xx: not skipped as an interim answer
        guard status == 101 else { throw RawHTTPError("upgrade answered \(status)") }
        guard delegate.opened.wait(timeout: .now() + 10) == .success else { throw RawHTTPError("never opened") }
        return WebSocketReader(client: client)
    }

    /// Queues `frames` on the service thread and asks for a write, as the hub does for a tick's frames. With
    /// `wait`, returns once the job ran.
    func send(frames: [[UInt8]], wait: Bool = true) throws {
        let done = DispatchSemaphore(value: 0)
        let (server, delegate) = (self.server, self.delegate)
        server.post {
            guard let id = delegate.connection else { return }
            delegate.queue += frames
            delegate.counts.queued += frames.count
            server.requestWrite(id)
            done.signal()
        }
        if wait, done.wait(timeout: .now() + 10) != .success { throw RawHTTPError("service thread did not answer") }
    }

    /// The counts, read on the service thread after every job posted before.
    func writeCounts() throws -> Counts {
        let result = Mutex<Counts?>(nil)
        let done = DispatchSemaphore(value: 0)
        let (server, delegate) = (self.server, self.delegate)
        server.post {
            var counts = delegate.counts
            counts.direct = server.directWrites
            counts.armed = server.armedWrites
            result.withLock { $0 = counts }
            done.signal()
        }
        guard done.wait(timeout: .now() + 10) == .success else { throw RawHTTPError("service thread did not answer") }
        return result.withLock { $0! }
    }

    func stop() {
        server.post { [server] in server.stop() }
        finished.wait()
    }
}

/// Reads the server's (unmasked, unfragmented) WebSocket frames from a raw socket.
private struct WebSocketReader {
    let client: RawHTTPClient

    func readFrame() throws -> [UInt8] {
        let head = try client.readExactly(2)
        guard head[0] & 0x80 != 0, head[1] & 0x80 == 0 else { throw RawHTTPError("unexpected frame head \(head)") }
        var length = Int(head[1] & 0x7f)
        if length == 126 {
            length = try client.readExactly(2).reduce(0) { $0 << 8 | Int($1) }
        } else if length == 127 {
            length = try client.readExactly(8).reduce(0) { $0 << 8 | Int($1) }
        }
        return try client.readExactly(length)
    }
}
