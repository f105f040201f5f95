import Foundation
import LWSTransport
import Logging
import Synchronization

/// What the test delegate saw, shared between the service thread and the test thread under one lock, with a
/// condition so a test waits for an event instead of for time.
final class Observations: @unchecked Sendable {
    struct State {
        var deferred: [HTTPRequestID] = []
        var cancelled: [HTTPRequestID] = []
        var streams: [HTTPRequestID] = []
        /// Streamed bytes handed to the transport, and chunks, per producer made.
        var producedBytes = 0
        var producedChunks = 0
        var producersReleased = 0
        var paused = 0
        /// WebSocket messages delivered, and connections closed, when upgrades are accepted.
        var messages: [[UInt8]] = []
        var closedConnections = 0
    }

    private let condition = NSCondition()
    private var state = State()

    func update(_ change: (inout State) -> Void) {
        condition.lock()
        change(&state)
        condition.broadcast()
        condition.unlock()
    }

    var current: State {
        condition.lock()
        defer { condition.unlock() }
        return state
    }

    /// Waits until `predicate` holds (fails the wait after `timeout`, which only a broken transport reaches).
    func wait(
        for what: String, timeout: TimeInterval = 10, until predicate: (State) -> Bool
    ) throws -> State {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(state) {
            guard condition.wait(until: deadline) else { throw RawHTTPError("timed out waiting for \(what)") }
        }
        return state
    }
}

/// A streamed body of `total` bytes in chunks of at most `limit` (byte i of the body is `UInt8(i % 251)`), that
/// counts what it made and when it is released. With `pauseEachChunk`, it pauses after each chunk.
final class CountingProducer: HTTPBodyProducer {
    let total: Int
    let observations: Observations
    let pauseEachChunk: Bool
    private var offset = 0

    init(total: Int, observations: Observations, pauseEachChunk: Bool) {
        self.total = total
        self.observations = observations
        self.pauseEachChunk = pauseEachChunk
    }

    deinit { observations.update { $0.producersReleased += 1 } }

    func produceChunk(into chunk: inout [UInt8], limit: Int) -> HTTPBodyProgress {
        let count = min(limit, total - offset)
        for i in 0..<count { chunk.append(UInt8((offset + i) % 251)) }
        offset += count
        observations.update {
            $0.producedBytes += count
            $0.producedChunks += 1
            if self.pauseEachChunk && self.offset < self.total { $0.paused += 1 }
        }
        if offset >= total { return .done }
        return pauseEachChunk ? .pause : .more
    }
}

/// The test delegate. Routes:
/// - `/echo` (any method): 200 with the body it got, the method in `x-method` and its length in `x-body-bytes`;
/// - `/defer`: answered `.deferred` (the test answers with `respond`);
/// - `/stream?bytes=N[&pause]`: a `CountingProducer` of N bytes, with `cache-control: no-store`;
/// - anything else: 404.
final class TestDelegate: LWSServerDelegate, @unchecked Sendable {
    let observations = Observations()
    /// Accept WebSocket upgrades (any path) and record the messages; otherwise refuse them with 400.
    var acceptsWebSockets = false

    func serverHandleHTTP(_ request: HTTPRequest) -> HTTPReply {
        let query = request.head.query ?? ""
        switch request.head.path {
        case "/echo":
            let headers = [
                HTTPHeader("x-method", request.head.method.description),
                HTTPHeader("x-body-bytes", String(request.body.count)),
            ]
            return .response(
                HTTPResponse(status: 200, contentType: "application/octet-stream", headers: headers, body: request.body)
            )
        case "/defer":
            observations.update { $0.deferred.append(request.id) }
            return .deferred
        case "/stream":
            let bytes = query.split(separator: "&").first { $0.hasPrefix("bytes=") }.flatMap { Int($0.dropFirst(6)) }
            let producer = CountingProducer(
                total: bytes ?? 0, observations: observations, pauseEachChunk: query.contains("pause"))
            observations.update { $0.streams.append(request.id) }
            return .stream(
                status: 200, contentType: "application/octet-stream",
                headers: [HTTPHeader("cache-control", "no-store")],
                producer: producer)
        default:
            return .response(.text(404, "not found: \(request.head.path)"))
        }
    }

    func serverHTTPRequestCancelled(_ id: HTTPRequestID) {
        observations.update { $0.cancelled.append(id) }
    }

    func serverShouldUpgrade(_ request: HTTPRequestHead) -> UpgradeDecision {
        acceptsWebSockets ? .accept : .reject(.text(400, "no WebSockets"))
    }
    func serverConnectionOpened(_ id: ConnectionID, request: HTTPRequestHead, subprotocol: String, accepted: Any?) {}
    func serverReceived(_ id: ConnectionID, message: UnsafeRawBufferPointer, kind: FrameKind) {
        observations.update { $0.messages.append(Array(message)) }
    }
    func serverNextFrame(_ id: ConnectionID) -> OutgoingFrame? { nil }
    func serverConnectionClosed(_ id: ConnectionID) {
        observations.update { $0.closedConnections += 1 }
    }
    func serverTick() {}
}

/// An `LWSServer` on a free port with a `TestDelegate`, serviced on a thread of its own until `stop()`.
final class TestHTTPServer: @unchecked Sendable {
    let server: LWSServer
    let delegate = TestDelegate()
    private let finished = DispatchSemaphore(value: 0)

    var port: Int { server.port }
    var observations: Observations { delegate.observations }

    init(
        maxRequestBodyBytes: Int? = nil, streamChunkBytes: Int? = nil, idleTimeoutSeconds: Int? = nil,
        webSocketsUpTo maxMessageBytes: Int? = nil
    ) throws {
        var options = LWSServer.Options()
        if let maxMessageBytes {
            options.maxMessageBytes = maxMessageBytes
            delegate.acceptsWebSockets = true
        }
        options.port = 0
        options.subprotocols = ["test"]
        if let maxRequestBodyBytes { options.maxRequestBodyBytes = maxRequestBodyBytes }
        if let streamChunkBytes { options.streamChunkBytes = streamChunkBytes }
        if let idleTimeoutSeconds { options.idleTimeoutSeconds = idleTimeoutSeconds }
        var logger = Logger(label: "test.http")
        logger.logLevel = .error
        server = LWSServer(options: options, logger: logger)
        try server.start()
        server.delegate = delegate
        let thread = Thread { [server, finished] in
            server.run()
            finished.signal()
        }
        thread.start()
    }

    /// Runs `body` on the service thread and returns its result.
    func onServiceThread<T: Sendable>(_ body: @escaping @Sendable (LWSServer) -> T) throws -> T {
        let result = Mutex<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        server.post { [server] in
            result.withLock { $0 = body(server) }
            done.signal()
        }
        guard done.wait(timeout: .now() + 10) == .success else { throw RawHTTPError("service thread did not answer") }
        return result.withLock { $0! }
    }

    /// Waits until the server has no HTTP request in progress (its table is empty: nothing leaked).
    func waitIdle() throws {
        let deadline = Date(timeIntervalSinceNow: 10)
        while try onServiceThread({ $0.httpRequestCount }) > 0 {
            guard Date() < deadline else { throw RawHTTPError("HTTP requests still in progress") }
            // Each round trip through the service thread is itself the barrier; yield between them.
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    func stop() {
        server.post { [server] in server.stop() }
        finished.wait()
    }
}
