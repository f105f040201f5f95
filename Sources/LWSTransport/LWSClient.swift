import CLibWebSockets
import Foundation
import Logging

/// A parsed `ws://` or `wss://` URL.
public struct WebSocketURL: Sendable, Equatable {
    public var secure: Bool
    public var host: String
    public var port: Int
    /// Path and query, starting with "/".
    public var pathAndQuery: String

    /// Parses `ws://host[:port][/path][?query]` (or `wss://`). Returns nil for anything else.
    public init?(_ text: String) {
        let rest: Substring
        if text.hasPrefix("ws://") {
            secure = false
            rest = text.dropFirst(5)
        } else if text.hasPrefix("wss://") {
            secure = true
            rest = text.dropFirst(6)
        } else {
            return nil
        }
        let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<slash]
        var path = String(rest[slash...])
        if path.isEmpty { path = "/" } else if path.hasPrefix("?") { path = "/" + path }
        let hostPart: Substring
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else {
                return nil
            }
            port = p
            hostPart = authority[..<colon]
        } else {
            port = secure ? 443 : 80
            hostPart = authority
        }
        guard !hostPart.isEmpty else { return nil }
        host = String(hostPart)
        pathAndQuery = path
    }

    /// The same host and port with another path and query.
    public func with(pathAndQuery: String) -> WebSocketURL {
        var copy = self
        copy.pathAndQuery = pathAndQuery
        return copy
    }

    public var description: String { "\(secure ? "wss" : "ws")://\(host):\(port)\(pathAndQuery)" }
}

/// The application side of an `LWSClient`. Every method is called on the client's service thread.
public protocol LWSClientDelegate: AnyObject {
    /// The handshake completed; `subprotocol` is what the server chose (nil when it named none).
    func clientConnected(_ id: ConnectionID, subprotocol: String?)
    /// One whole message.
    func clientReceived(_ id: ConnectionID, message: UnsafeRawBufferPointer, kind: FrameKind)
    /// Append one frame's payload after the headroom in `frame` and say its kind, or return nil.
    func clientNextFrame(_ id: ConnectionID, into frame: inout [UInt8]) -> FrameKind?
    /// The connection ended or never opened. `code` is the peer's close code when it sent one;
    /// `reason` is its close reason or the connection error.
    func clientClosed(_ id: ConnectionID, code: UInt16?, reason: String)
    /// The timer set with `scheduleTick` fired.
    func clientTick()
}

/// A libwebsockets client context: many outgoing WebSocket connections, one service thread.
///
/// Threading: like `LWSServer`, every method but `post(_:)` runs on the service thread (inside a delegate
/// callback or a posted job); hence `@unchecked Sendable`.
public final class LWSClient: @unchecked Sendable {
    public weak var delegate: LWSClientDelegate?

    /// Most frames written in one WRITEABLE callback while the socket takes them (default 1, lws's rule).
    ///
    /// One write per callback ties a connection's write rate to the service loop's iteration rate: with a
    /// thousand busy sockets on the same event loop that is a few hundred iterations a second, too few for one
    /// publisher at 400 samples/s. A small frame to a socket that is not choked is taken whole by the kernel; a
    /// partial write leaves lws holding the rest, `lws_send_pipe_choked` then says so and the loop stops.
    /// Added for `hrprobe run` (bench/).
    public var maxFramesPerWritable = 1

    private let logger: Logger
    private let maxMessageBytes: Int
    private let service = ServiceContext()
    /// The local protocol every connection is served by (its name lives as long as the context).
    private var localProtocol: UnsafePointer<CChar>?
    /// Per connection, the C strings of its connect info, kept until the connection is gone (lws 4.1 copies
    /// some of them but not all).
    private var connectStrings: [UInt64: [UnsafeMutablePointer<CChar>]] = [:]
    private var connections: [UInt64: Connection] = [:]
    /// The subprotocol the server chose, by connection id, read in CLIENT_FILTER_PRE_ESTABLISH: lws frees the
    /// response headers before CLIENT_ESTABLISHED, where `lws_hdr_copy` finds nothing. Consumed at ESTABLISHED.
    private var chosenSubprotocols: [UInt64: String] = [:]
    private var nextID: UInt64 = 1
    private var frameBuffer: [UInt8] = []

    /// - Parameter maxMessageBytes: largest hub message accepted before closing with 1009.
    public init(logger: Logger, maxMessageBytes: Int = 16 << 20) {
        self.logger = logger
        self.maxMessageBytes = maxMessageBytes
    }

    deinit {
        service.destroy()
        for id in Array(connectStrings.keys) { releaseStrings(id) }
    }

    /// Creates the context (no listening socket).
    public func start() throws {
        LWSLog.install(logger: logger, verbose: false)
        let protocols = service.protocols(names: ["hrhub-client"], callback: clientCallback, rxBufferSize: 65536)
        localProtocol = protocols[0].name
        var info = lws_context_creation_info()
        info.port = CONTEXT_PORT_NO_LISTEN
        info.protocols = protocols
        info.options |= UInt64(LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT)
        guard service.create(&info, owner: self) else {
            throw TransportError.contextCreationFailed("cannot create a client context")
        }
    }

    /// Services the context on the calling thread until `stop()`, then destroys it.
    public func run() {
        service.run()
        connections.removeAll()
        for id in Array(connectStrings.keys) { releaseStrings(id) }
    }

    /// Starts `run()` on a new thread.
    public func runInBackground(name: String = "lws-client") {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Ends `run()`. Service thread only (use `post { client.stop() }` from elsewhere).
    public func stop() {
        service.stop()
    }

    /// Runs `job` on the service thread soon. Safe from any thread.
    public func post(_ job: @escaping @Sendable () -> Void) {
        service.post(job)
    }

    /// Opens a connection. Service thread only. The result is reported through the delegate.
    /// - Parameters:
    ///   - subprotocols: offered in order, comma-separated on the wire; empty offers none.
    ///   - headers: not supported by lws 4.1's connect info beyond the fields below; use the URL's query.
    ///   - origin: sent as `Origin` when given.
    ///   - sourceAddress: local address to bind (e.g. "127.0.0.2") to spread ports over several addresses.
    @discardableResult
    public func connect(
        _ url: WebSocketURL, subprotocols: [String] = [], origin: String? = nil, sourceAddress: String? = nil,
        insecure: Bool = false
    ) -> ConnectionID {
        let id = nextID
        nextID += 1
        guard let context = service.context else { return ConnectionID(id) }
        var strings: [UnsafeMutablePointer<CChar>] = []
        func keep(_ s: String) -> UnsafePointer<CChar> {
            let c = strdup(s)!
            strings.append(c)
            return UnsafePointer(c)
        }
        var ci = lws_client_connect_info()
        ci.context = context
        ci.address = keep(url.host)
        ci.port = Int32(url.port)
        ci.path = keep(url.pathAndQuery)
        ci.host = keep(url.host)
        ci.origin = keep(origin ?? url.host)
        if !subprotocols.isEmpty { ci.protocol = keep(subprotocols.joined(separator: ", ")) }
        ci.local_protocol_name = localProtocol
        // `iface` binds the socket to this local address before connect (lws 4.1 takes an interface name or a
        // numeric IP; 127.0.0.2 works with no configuration, all of 127/8 is on lo). Like every string above it
        // is a `keep` copy in `connectStrings[id]`, freed only on CLIENT_CONNECTION_ERROR or CLIENT_CLOSED, so it
        // outlives every use lws makes of it, including a connect that completes after this call returns.
        if let sourceAddress { ci.iface = keep(sourceAddress) }
        if url.secure {
            ci.ssl_connection = Int32(LCCSCF_USE_SSL.rawValue)
            if insecure {
                ci.ssl_connection |= Int32(
                    LCCSCF_ALLOW_SELFSIGNED.rawValue | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK.rawValue
                        | LCCSCF_ALLOW_EXPIRED.rawValue | LCCSCF_ALLOW_INSECURE.rawValue)
            }
        }
        // The opaque pointer carries the integer id (no object): readable in every callback, including a
        // connection error raised before lws allocates anything else.
        ci.opaque_user_data = UnsafeMutableRawPointer(bitPattern: UInt(id))
        connectStrings[id] = strings
        if lws_client_connect_via_info(&ci) == nil {
            // lws may already have reported CLIENT_CONNECTION_ERROR for this id; report once either way.
            if connectStrings[id] != nil {
                releaseStrings(id)
                delegate?.clientClosed(ConnectionID(id), code: nil, reason: "connect failed")
            }
        }
        return ConnectionID(id)
    }

    /// Asks for a `clientNextFrame` call when the socket can take data.
    public func requestWrite(_ id: ConnectionID) {
        guard let connection = connections[id.rawValue] else { return }
        lws_callback_on_writable(connection.wsi)
    }

    /// Closes a connection with a close code (after flushing pending frames when asked).
    public func close(_ id: ConnectionID, code: UInt16 = 1000, reason: String = "", flushFirst: Bool = false) {
        guard let connection = connections[id.rawValue], connection.pendingClose == nil else { return }
        connection.pendingClose = (code, reason, flushFirst)
        lws_callback_on_writable(connection.wsi)
    }

    /// Drops a connection without a close handshake (a phone that vanished).
    public func abort(_ id: ConnectionID) {
        guard let connection = connections[id.rawValue] else { return }
        lws_set_timeout(connection.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC)
    }

    /// Calls `clientTick` once after `microseconds`, replacing any earlier schedule.
    public func scheduleTick(inMicroseconds microseconds: Int64) {
        service.scheduleTick(inMicroseconds: microseconds, callback: clientTimerCallback)
    }

    /// Open connections.
    public var connectionCount: Int { connections.count }

    /// Stops (`false`) or resumes (`true`) reading from a connection, as a slow phone would
    /// (`lws_rx_flow_control`). While paused, the kernel's receive buffer fills and the server feels backpressure.
    /// Added for `hrprobe run --slow-viewers`.
    public func setReceiving(_ id: ConnectionID, _ enabled: Bool) {
        guard let connection = connections[id.rawValue] else { return }
        _ = lws_rx_flow_control(connection.wsi, enabled ? 1 : 0)
    }

    /// Caps the connection's kernel receive buffer (`SO_RCVBUF`; Linux doubles the value and enforces a minimum),
    /// so a paused reader pushes back on the server after a few KiB instead of megabytes. Returns false when the
    /// connection is unknown or the option was refused. Added for `hrprobe run --slow-viewers`.
    @discardableResult
    public func setReceiveBufferSize(_ id: ConnectionID, bytes: Int) -> Bool {
        guard let connection = connections[id.rawValue] else { return false }
        let fd = lws_get_socket_fd(connection.wsi)
        guard fd >= 0 else { return false }
        var value = Int32(clamping: bytes)
        return setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, socklen_t(MemoryLayout<Int32>.size)) == 0
    }

    private func releaseStrings(_ id: UInt64) {
        for s in connectStrings.removeValue(forKey: id) ?? [] { free(s) }
    }

    // MARK: - Callback handling (service thread)

    fileprivate func handle(
        wsi: OpaquePointer, reason: lws_callback_reasons, user: UnsafeMutableRawPointer?,
        input: UnsafeMutableRawPointer?, length: Int
    ) -> Int32 {
        switch reason {
        case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
            service.runPosted()
            return 0

        case LWS_CALLBACK_CLIENT_ESTABLISHED:
            guard let id = ConnectionID(of: wsi) else { return -1 }
            connections[id.rawValue] = Connection(wsi: wsi)
            let fd = lws_get_socket_fd(wsi)
            if fd >= 0 { _ = clws_set_nodelay(fd) }
            delegate?.clientConnected(id, subprotocol: chosenSubprotocols.removeValue(forKey: id.rawValue))
            return 0

        case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH:
            // The last callback with the response headers attached (see `chosenSubprotocols`).
            if let id = ConnectionID(of: wsi) {
                var buffer = [CChar](repeating: 0, count: 128)
                let n = lws_hdr_copy(wsi, &buffer, Int32(buffer.count), WSI_TOKEN_PROTOCOL)
                if n > 0 { chosenSubprotocols[id.rawValue] = cString(buffer) }
            }
            return 0

        case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
            guard let id = ConnectionID(of: wsi), connectStrings[id.rawValue] != nil else { return 0 }
            releaseStrings(id.rawValue)
            chosenSubprotocols[id.rawValue] = nil
            let why =
                input.map { cString($0.assumingMemoryBound(to: CChar.self)) } ?? "connection error"
            delegate?.clientClosed(id, code: nil, reason: why)
            return 0

        case LWS_CALLBACK_CLIENT_RECEIVE:
            guard let id = ConnectionID(of: wsi), let connection = connections[id.rawValue] else { return -1 }
            connection.reassemble(input: input, length: length, limit: maxMessageBytes) {
                message, kind in delegate?.clientReceived(id, message: message, kind: kind)
            }
            return 0

        case LWS_CALLBACK_CLIENT_WRITEABLE:
            guard let id = ConnectionID(of: wsi), let connection = connections[id.rawValue] else { return -1 }
            // The client delegate does not say whether more is pending: ask again after every frame.
            // Up to `maxFramesPerWritable` frames while the socket takes them (see there).
            var result: Int32 = 0
            var frames = 0
            repeat {
                var produced = false
                result = connection.writeNextFrame(buffer: &frameBuffer) {
                    let next = delegate?.clientNextFrame(id, into: &$0)
                    produced = next != nil
                    return next.map { ($0, true) }
                }
                frames += 1
                if result != 0 || !produced { break }
            } while frames < maxFramesPerWritable && lws_send_pipe_choked(wsi) == 0
            return result

        case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
            if let id = ConnectionID(of: wsi), let connection = connections[id.rawValue] {
                connection.notePeerClose(input: input, length: length)
            }
            return 0

        case LWS_CALLBACK_CLIENT_CLOSED:
            guard let id = ConnectionID(of: wsi) else { return 0 }
            releaseStrings(id.rawValue)
            guard let connection = connections.removeValue(forKey: id.rawValue) else { return 0 }
            delegate?.clientClosed(id, code: connection.peerCloseCode, reason: connection.peerCloseReason)
            return 0

        default:
            return lws_callback_http_dummy(wsi, reason, user, input, length)
        }
    }

    fileprivate func timerFired() {
        delegate?.clientTick()
    }
}

/// The lws callback of the client context; recovers the `LWSClient` from the context's user pointer (an
/// `OwnerBox`, valid while the context exists; no owner while the client's deinit destroys the context).
private func clientCallback(
    _ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
    _ input: UnsafeMutableRawPointer?, _ length: Int
) -> Int32 {
    guard let wsi, let client = OwnerBox<LWSClient>.owner(of: wsi) else {
        return lws_callback_http_dummy(wsi, reason, user, input, length)
    }
    return client.handle(wsi: wsi, reason: reason, user: user, input: input, length: length)
}

/// Timer callback: `sul` is the first member of `clws_timer`, whose owner pointer is the client's `OwnerBox`.
private func clientTimerCallback(_ sul: UnsafeMutablePointer<lws_sorted_usec_list_t>?) {
    guard let sul else { return }
    OwnerBox<LWSClient>.owner(ofTimer: sul)?.timerFired()
}
