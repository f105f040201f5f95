import Dispatch
import LWSTransport
import Logging
import Synchronization

/// Why a blocking wait of the test client ended without what it waited for.
enum TestClientError: Error, CustomStringConvertible {
    /// Nothing arrived in time.
    case timeout(String)
    /// The connection closed while something else was expected.
    case closed(code: UInt16?, reason: String)
    /// The WebSocket handshake did not complete (HTTP rejection, refused connection, …).
    case connectFailed(code: UInt16?, reason: String)
    /// A frame that is not what PROTOCOL.md describes (read by the tests' own decoders).
    case undecodable(String)
    /// A frame of the wrong kind, or a message of the wrong type.
    case unexpected(String)

    var description: String {
        switch self {
        case .timeout(let what): "timed out waiting for \(what)"
        case .closed(let code, let reason): "connection closed (code \(code.map(String.init) ?? "none")): \(reason)"
        case .connectFailed(let code, let reason):
            "connect failed (code \(code.map(String.init) ?? "none")): \(reason)"
        case .undecodable(let text): "undecodable frame: \(text)"
        case .unexpected(let text): "unexpected: \(text)"
        }
    }
}

/// One event of one connection, handed from the service thread to the test thread.
enum ConnectionEvent: Sendable {
    case connected(subprotocol: String?)
    case frame([UInt8], FrameKind)
    case closed(code: UInt16?, reason: String)
}

/// A FIFO of events with a blocking, timed `pop`: a Mutex-protected array plus a counting semaphore that holds
/// exactly one permit per queued event.
final class EventQueue: Sendable {
    private let items = Mutex<[ConnectionEvent]>([])
    private let available = DispatchSemaphore(value: 0)

    /// Service thread.
    func push(_ event: ConnectionEvent) {
        items.withLock { $0.append(event) }
        available.signal()
    }

    /// The oldest event, or nil when none arrives before `deadline`.
    func pop(deadline: DispatchTime) -> ConnectionEvent? {
        guard available.wait(timeout: deadline) == .success else { return nil }
        return items.withLock { $0.removeFirst() }
    }
}

/// One `LWSClient` shared by every test, serviced on its own thread, turned into a blocking API.
///
/// Threading: `routes`, `outboxes` and `orphans` are touched only on the service thread (inside delegate callbacks
/// or jobs handed in with `post`), hence `@unchecked Sendable`. Test threads talk to it only through `post` and
/// the per-connection `EventQueue`s.
final class TestClient: LWSClientDelegate, @unchecked Sendable {
    /// The process-wide client, started on first use.
    static let shared: Result<TestClient, any Error> = Result { try TestClient() }

    /// Returns the shared client or throws why it could not start.
    static func get() throws -> TestClient { try shared.get() }

    /// Default for every wait: long enough for a loaded debug build, short enough that a broken hub fails fast.
    static let defaultTimeout: Duration = .seconds(10)

    private let client: LWSClient
    private var routes: [ConnectionID: EventQueue] = [:]
    /// Events for an id whose `connect` call has not returned yet (lws may report an error from inside it).
    private var orphans: [ConnectionID: [ConnectionEvent]] = [:]
    private var outboxes: [ConnectionID: [([UInt8], FrameKind)]] = [:]

    private init() throws {
        var logger = Logger(label: "e2e.lws")
        logger.logLevel = .error
        client = LWSClient(logger: logger)
        try client.start()
        client.delegate = self
        client.runInBackground(name: "e2e-lws-client")
    }

    /// Opens one connection to `ws://127.0.0.1:port` + `path` and waits for the handshake.
    /// - Throws: `TestClientError.connectFailed` when the hub refuses it, `.timeout` when nothing happens.
    func connect(
        port: Int, path: String, subprotocols: [String] = [], timeout: Duration = defaultTimeout
    ) throws -> Conn {
        try connectAll(port: port, paths: [path], subprotocols: subprotocols, timeout: timeout)[0]
    }

    /// Starts every connection at once, then waits for each handshake (all within `timeout`).
    func connectAll(
        port: Int, paths: [String], subprotocols: [String] = [], timeout: Duration = defaultTimeout
    ) throws -> [Conn] {
        let started = startAll(port: port, paths: paths, subprotocols: subprotocols)
        let deadline = DispatchTime.now() + timeout.dispatchInterval
        return try started.map { pending in
            switch pending.queue.pop(deadline: deadline) {
            case .connected(let subprotocol)?:
                return Conn(owner: self, id: pending.id(), queue: pending.queue, subprotocol: subprotocol)
            case .closed(let code, let reason)?:
                throw TestClientError.connectFailed(code: code, reason: reason)
            case .frame?:
                throw TestClientError.unexpected("a frame before the handshake completed")
            case nil:
                throw TestClientError.timeout("the handshake of \(pending.path)")
            }
        }
    }

    /// A connection whose handshake was started. Its id is set by the posted connect job, which runs before any
    /// event of the connection is queued, so it is always there once an event was popped.
    private final class Pending: Sendable {
        let path: String
        let queue = EventQueue()
        private let idBox = Mutex<ConnectionID?>(nil)

        init(path: String) { self.path = path }

        func id() -> ConnectionID { idBox.withLock { $0! } }
        func setID(_ id: ConnectionID) { idBox.withLock { $0 = id } }
    }

    private func startAll(port: Int, paths: [String], subprotocols: [String]) -> [Pending] {
        let pending = paths.map(Pending.init(path:))
        client.post { [self] in
            for connection in pending {
                let url = WebSocketURL("ws://127.0.0.1:\(port)\(connection.path)")!
                let id = client.connect(url, subprotocols: subprotocols)
                connection.setID(id)
                routes[id] = connection.queue
                for event in orphans.removeValue(forKey: id) ?? [] { deliver(event, to: id) }
            }
        }
        return pending
    }

    // MARK: - Used by Conn (any thread)

    fileprivate func send(_ id: ConnectionID, _ bytes: [UInt8], _ kind: FrameKind) {
        client.post { [self] in
            guard routes[id] != nil else { return }
            outboxes[id, default: []].append((bytes, kind))
            client.requestWrite(id)
        }
    }

    fileprivate func close(_ id: ConnectionID, code: UInt16) {
        client.post { [self] in client.close(id, code: code, reason: "test", flushFirst: true) }
    }

    fileprivate func abort(_ id: ConnectionID) {
        client.post { [self] in client.abort(id) }
    }

    // MARK: - LWSClientDelegate (service thread)

    private func deliver(_ event: ConnectionEvent, to id: ConnectionID) {
        guard let queue = routes[id] else {
            orphans[id, default: []].append(event)
            return
        }
        queue.push(event)
        if case .closed = event {
            routes[id] = nil
            outboxes[id] = nil
        }
    }

    func clientConnected(_ id: ConnectionID, subprotocol: String?) {
        deliver(.connected(subprotocol: subprotocol), to: id)
    }

    func clientReceived(_ id: ConnectionID, message: UnsafeRawBufferPointer, kind: FrameKind) {
        deliver(.frame(Array(message), kind), to: id)
    }

    func clientNextFrame(_ id: ConnectionID, into frame: inout [UInt8]) -> FrameKind? {
        guard var queue = outboxes[id], !queue.isEmpty else { return nil }
        let (bytes, kind) = queue.removeFirst()
        outboxes[id] = queue
        frame.append(contentsOf: bytes)
        return kind
    }

    func clientClosed(_ id: ConnectionID, code: UInt16?, reason: String) {
        deliver(.closed(code: code, reason: reason), to: id)
    }

    func clientTick() {}
}

/// One decoded hub frame (decoded by the tests' own decoders: `WireMessage`, `BinaryRelayedSample`).
enum HubFrame: Sendable {
    /// A text frame: a JSON array of messages.
    case messages([WireMessage])
    /// A binary (`hrhub.v1.bin`) frame: relayed samples back to back.
    case samples([BinaryRelayedSample])
}

/// One test connection: blocking receive with timeouts, fire-and-forget send.
///
/// Meant to be used from one test thread at a time (the `Mutex` only makes that safe to express in Swift 6).
final class Conn: Sendable {
    /// The connection's id in the shared client.
    let id: ConnectionID
    /// The subprotocol the hub chose (nil when it named none).
    let subprotocol: String?
    private let owner: TestClient
    private let queue: EventQueue
    /// Messages of a text frame not handed out yet by `nextMessage`, and the close once seen.
    private let state = Mutex<(pending: [WireMessage], close: (code: UInt16?, reason: String)?)>(([], nil))

    fileprivate init(owner: TestClient, id: ConnectionID, queue: EventQueue, subprotocol: String?) {
        self.owner = owner
        self.id = id
        self.queue = queue
        self.subprotocol = subprotocol
    }

    // MARK: Sending

    /// Sends one sample as an `hr` message in a JSON text frame.
    func send(_ sample: WireSample) {
        sendText(sample.json)
    }

    /// Sends one sample as a binary (`hrhub.v1.bin`) frame.
    func sendBinary(_ sample: WireSample) {
        sendRaw(sample.binary, .binary)
    }

    /// Sends arbitrary bytes as one frame.
    func sendRaw(_ bytes: [UInt8], _ kind: FrameKind) {
        owner.send(id, bytes, kind)
    }

    /// Sends a text frame.
    func sendText(_ text: String) {
        sendRaw(Array(text.utf8), .text)
    }

    /// Starts a normal close (pending frames are flushed first).
    func close(code: UInt16 = 1000) {
        owner.close(id, code: code)
    }

    /// Drops the TCP connection without a close handshake.
    func abort() {
        owner.abort(id)
    }

    // MARK: Receiving

    /// The next frame, decoded. Throws `.closed` when the connection ends first, `.timeout` when nothing comes.
    func nextFrame(timeout: Duration = TestClient.defaultTimeout) throws -> HubFrame {
        if let pending = state.withLock({ state -> [WireMessage]? in
            guard !state.pending.isEmpty else { return nil }
            defer { state.pending = [] }
            return state.pending
        }) {
            return .messages(pending)
        }
        if let close = state.withLock({ $0.close }) {
            throw TestClientError.closed(code: close.code, reason: close.reason)
        }
        switch queue.pop(deadline: .now() + timeout.dispatchInterval) {
        case .frame(let bytes, .text)?:
            do {
                return .messages(try WireMessage.frame(bytes))
            } catch {
                throw TestClientError.undecodable("\(error): \(String(decoding: bytes.prefix(300), as: UTF8.self))")
            }
        case .frame(let bytes, .binary)?:
            do {
                return .samples(try BinaryRelayedSample.frame(bytes))
            } catch {
                throw TestClientError.undecodable("\(error): binary frame of \(bytes.count) bytes")
            }
        case .closed(let code, let reason)?:
            state.withLock { $0.close = (code, reason) }
            throw TestClientError.closed(code: code, reason: reason)
        case .connected?:
            throw TestClientError.unexpected("a second handshake event")
        case nil:
            throw TestClientError.timeout("a frame on connection \(id)")
        }
    }

    /// The messages of the next frame, which must be a text frame.
    func next(timeout: Duration = TestClient.defaultTimeout) throws -> [WireMessage] {
        switch try nextFrame(timeout: timeout) {
        case .messages(let messages): return messages
        case .samples(let samples): throw TestClientError.unexpected("a binary frame of \(samples.count) samples")
        }
    }

    /// The next message, whatever frame it was batched in.
    func nextMessage(timeout: Duration = TestClient.defaultTimeout) throws -> WireMessage {
        let deadline = ContinuousClock.now + timeout
        while true {
            let messages = try next(timeout: max(.zero, deadline - ContinuousClock.now))
            guard let first = messages.first else { continue }
            state.withLock { $0.pending = Array(messages.dropFirst()) + $0.pending }
            return first
        }
    }

    /// Reads messages until `match` returns a value; returns it and the messages read before it.
    func waitFor<T>(
        _ what: String, timeout: Duration = TestClient.defaultTimeout, _ match: (WireMessage) -> T?
    ) throws -> (value: T, skipped: [WireMessage]) {
        let deadline = ContinuousClock.now + timeout
        var skipped: [WireMessage] = []
        while true {
            let message: WireMessage
            do {
                message = try nextMessage(timeout: max(.zero, deadline - ContinuousClock.now))
            } catch TestClientError.timeout {
                throw TestClientError.timeout("\(what); got instead: \(skipped)")
            }
            if let value = match(message) { return (value, skipped) }
            skipped.append(message)
        }
    }

    /// Sends a ping and returns every message that arrived before its pong: a barrier. The hub handles a
    /// connection's messages in order and queues the pong behind everything it queued for this connection before,
    /// so once the pong is here the hub has handled all this connection sent before, and all it queued for this
    /// connection until then has arrived.
    func sync(timeout: Duration = TestClient.defaultTimeout) throws -> [WireMessage] {
        let token = "barrier-\(UInt64.random(in: 1...UInt64.max))"
        sendText(#"{"t":"ping","id":"\#(token)"}"#)
        return try waitFor("pong \(token)", timeout: timeout) { message -> Bool? in
            message.t == "pong" && message["id"] == .string(token) ? true : nil
        }.skipped
    }

    /// Waits for the end of the connection, discarding frames, and returns the peer's close code (nil when it sent
    /// none). Throws `.timeout` when the connection stays open.
    @discardableResult
    func waitClosed(timeout: Duration = TestClient.defaultTimeout) throws -> UInt16? {
        try waitClose(timeout: timeout).code
    }

    /// Like `waitClosed`, with the close reason.
    func waitClose(timeout: Duration = TestClient.defaultTimeout) throws -> (code: UInt16?, reason: String) {
        if let close = state.withLock({ $0.close }) { return close }
        let deadline = DispatchTime.now() + timeout.dispatchInterval
        while true {
            switch queue.pop(deadline: deadline) {
            case .closed(let code, let reason)?:
                state.withLock { $0.close = (code, reason) }
                return (code, reason)
            case .frame?, .connected?:
                continue
            case nil:
                throw TestClientError.timeout("connection \(id) to close")
            }
        }
    }
}
