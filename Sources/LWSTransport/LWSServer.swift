import CLibWebSockets
import Foundation
import HRProtocol
import Logging

/// What the server does with an incoming WebSocket upgrade.
public enum UpgradeDecision {
    case accept
    /// Accept, and hand `context` (what deciding learnt, such as the parsed request) to `serverConnectionOpened`,
    /// so the request is not read twice.
    case acceptWith(Any)
    /// Refuse with an HTTP status (400, 404, 503, …); the upgrade does not happen.
    case reject(HTTPResponse)
}

/// One frame for `LWSServer` to write on a connection: `buffer`'s payload (after its headroom) as one WebSocket
/// frame of `kind`, in one `lws_write`. With `more`, another frame is pending after it.
public struct OutgoingFrame {
    public let buffer: FrameBuffer
    public let kind: FrameKind
    public let more: Bool

    public init(buffer: FrameBuffer, kind: FrameKind, more: Bool) {
        self.buffer = buffer
        self.kind = kind
        self.more = more
    }
}

/// The application side of an `LWSServer`. Every method is called on the service thread.
public protocol LWSServerDelegate: AnyObject {
    /// A plain HTTP request (any method), with its whole body. Answer now, later (`.deferred`, then
    /// `LWSServer.respond`) or with a streamed body.
    func serverHandleHTTP(_ request: HTTPRequest) -> HTTPReply
    /// A request answered `.deferred` or `.stream` lost its client before the answer was complete: a later
    /// `respond` for it is dropped, and a stream's producer has been released. Optional.
    func serverHTTPRequestCancelled(_ id: HTTPRequestID)
    /// A WebSocket upgrade, before the handshake answer is sent.
    func serverShouldUpgrade(_ request: HTTPRequestHead) -> UpgradeDecision
    /// The handshake completed. `subprotocol` is the one lws selected (a name from `LWSServer.Options`);
    /// `accepted` is the context `serverShouldUpgrade` accepted it with (`.acceptWith`), when the server could carry
    /// it over (nil otherwise: decide again from `request`).
    func serverConnectionOpened(_ id: ConnectionID, request: HTTPRequestHead, subprotocol: String, accepted: Any?)
    /// One whole message (fragments reassembled, at most `maxMessageBytes`).
    func serverReceived(_ id: ConnectionID, message: UnsafeRawBufferPointer, kind: FrameKind)
    /// The socket can take a frame: the next one (written at once, in place when its buffer has
    /// `LWSServer.frameHeadroom` bytes of headroom; the buffer may be shared with other connections), or nil when
    /// nothing is pending. With `more`, another call follows when the socket can take it.
    func serverNextFrame(_ id: ConnectionID) -> OutgoingFrame?
    /// Once per pass of the event loop, after the pass's events were handled and before the loop waits: the time to
    /// hand over what the pass produced. Writes asked for until then (`requestWrite`) are flushed right after.
    func serverLoopPass()
    /// The connection is gone (any reason). No more calls for this id.
    func serverConnectionClosed(_ id: ConnectionID)
    /// The timer set with `scheduleTick` fired.
    func serverTick()
}

extension LWSServerDelegate {
    /// Does nothing: most delegates need not know.
    public func serverHTTPRequestCancelled(_ id: HTTPRequestID) {}
    /// Does nothing.
    public func serverLoopPass() {}
}

/// A libwebsockets server context: one port for HTTP and WebSocket, one service thread.
///
/// Threading: `run()` services the context on the calling thread until `stop()`. Every other method except
/// `post(_:)` must be called on that thread (from a delegate callback or a posted job). `post` is safe from any
/// thread. That is why the class is `@unchecked Sendable`.
public final class LWSServer: @unchecked Sendable {
    /// Server settings. Defaults suit a hub on a small machine.
    public struct Options: Sendable {
        /// Address to bind, e.g. "127.0.0.1"; nil binds every interface.
        public var host: String? = "127.0.0.1"
        /// TCP port; 0 picks a free one (read it back from `port`).
        public var port: Int = 8080
        /// WebSocket subprotocol names; the first is the default for clients that offer none.
        public var subprotocols: [String] = []
        /// Largest client message accepted; a larger one closes the connection with 1009.
        public var maxMessageBytes: Int = 4096
        /// lws's receive buffer (`rx_buffer_size`): what it allocates for every WebSocket connection (`rx_ubuf`,
        /// held for the connection's life) and reads per wake-up. A longer message arrives in pieces of this size,
        /// which `Connection.reassemble` joins up to `maxMessageBytes` (and refuses with 1009 past it, at the first
        /// piece, while the client may still be sending: see there for why that refusal must not return -1 to
        /// lws). A client frame of the protocol is rarely over 200 bytes (a sample with 16 RR values and every
        /// field is about 190 in JSON, a `hello` with a 64-character ASCII name about 110), so 256 takes nearly every
        /// one in one piece; a longer one (a name in a non-Latin script) costs one copy. The buffer is per
        /// connection: 4 KiB cost a page each, 512 about 0.25 KiB more than 256 (bench/RESULTS.md, "Memory per
        /// connection"). At least 128 is used: a control frame (at most 125 bytes) must fit in one piece.
        public var receiveBufferBytes: Int = 256
        /// TCP_NOTSENT_LOWAT: the socket reports writable only while fewer unsent bytes than this wait in the
        /// kernel. The default, 1, means a new frame is written only once the previous one has left: at most
        /// one frame sits where the application's drop-oldest and budget cannot reach it, however quiet the
        /// class (a 16 KiB cap would hold several seconds of a 20-rider class for a stalled phone). On loopback
        /// and on an open TCP window the bytes leave at once, so a fast reader is not slowed; a slow one makes
        /// the hub batch more samples per frame instead.
        public var notSentLowWater: Int32 = 1
        /// Forward lws notices to the log (noisy).
        public var verboseLibraryLog: Bool = false
        /// PEM certificate and key: when both are set the port speaks TLS only (wss:// and https://).
        public var tlsCertificatePath: String?
        public var tlsPrivateKeyPath: String?
        /// Time allowed for network round trips lws waits on, the HTTP request and upgrade among them.
        public var handshakeTimeoutSeconds: Int = 5
        /// A connection silent this long gets a WebSocket ping; one still silent half as long again is closed.
        public var idleTimeoutSeconds: Int = 60
        /// Largest HTTP request body accepted (by its Content-Length); a larger one is answered 413 at once.
        /// The default takes the upload endpoint's 4 MiB of JSON plus its envelope.
        public var maxRequestBodyBytes: Int = 4 * 1024 * 1024 + 64 * 1024
        /// About how much of a streamed body is made and written at a time.
        public var streamChunkBytes: Int = 64 * 1024
        /// After the hub's close frame went out: how long the socket stays open, its write side shut, reading and
        /// discarding what the peer still sends, waiting for the peer's close frame or end of stream.
        public var closeLingerSeconds: Int = 2
        /// SO_REUSEPORT on the listening socket: several processes bind the same port and the kernel spreads new
        /// connections over them.
        public var reusePort: Bool = false

        public init() {}
    }

    public let options: Options
    public weak var delegate: LWSServerDelegate?
    /// The bound port (after `start()`).
    public private(set) var port: Int = 0

    let logger: Logger
    private let service = ServiceContext()
    private var connections: [UInt64: Connection] = [:]
    /// Connections a write was asked for in this pass of the loop (each once), flushed after `serverLoopPass`; and
    /// the spare array they are swapped with while flushing.
    private var dirty: [Connection] = []
    private var flushing: [Connection] = []
    /// The poll set of a flush, one entry per connection of `flushing` (reused from pass to pass).
    private var flushPoll: [pollfd] = []
    /// Frames written at the end of a pass without waiting for WRITEABLE, and connections armed for WRITEABLE
    /// instead (their socket could not take a frame then, or a close or lws's own buffered bytes go first).
    public private(set) var directWrites = 0
    public private(set) var armedWrites = 0
    /// The context the last upgrade was accepted with, and for which connection: lws calls ESTABLISHED for the
    /// same `wsi` right after CONFIRM_UPGRADE; any other `wsi` finds no context and the delegate decides again.
    private var acceptedUpgrade: (wsi: OpaquePointer, context: Any)?
    /// Next id for a WebSocket connection or an HTTP request (one counter, so the two never share an id).
    var nextID: UInt64 = 1
    /// For a frame whose buffer lacks lws's headroom (`frameHeadroom`): LWS_PRE bytes, then a copy of the payload.
    private var frameBuffer: [UInt8] = []
    let pre = Int(clws_pre())
    /// The headroom lws needs before a frame's payload (LWS_PRE): frames built with it are written in place.
    public static var frameHeadroom: Int { Int(clws_pre()) }
    /// The HTTP requests in progress, by id (see `HTTPExchange` for who owns what, and when each is removed).
    var exchanges: [UInt64: HTTPExchange] = [:]
    /// Reused for every streamed chunk: headroom, then the chunk.
    var streamBuffer: [UInt8] = []

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    deinit {
        service.destroy()
    }

    /// Number of open WebSocket connections.
    public var connectionCount: Int { connections.count }

    /// Creates the context and binds the port. Throws when the port cannot be bound.
    public func start() throws {
        LWSLog.install(logger: logger, verbose: options.verboseLibraryLog)
        var info = lws_context_creation_info()
        info.port = Int32(options.port)
        if let host = options.host {
            info.iface = service.keep(host)
            if !host.contains(":") { info.options |= UInt64(LWS_SERVER_OPTION_DISABLE_IPV6) }
        }
        // One entry per subprotocol, all served by the same callback. tx_packet_size is the most lws hands
        // the kernel per send (by default rx_buffer_size): a batched frame must go out in one syscall, not in
        // 4 KiB pieces with a POLLOUT round trip each.
        info.protocols = service.protocols(
            names: options.subprotocols.isEmpty ? ["default"] : options.subprotocols, callback: serverCallback,
            rxBufferSize: max(128, options.receiveBufferBytes), txPacketSize: 256 * 1024)
        info.options |= UInt64(LWS_SERVER_OPTION_VALIDATE_UTF8)
        if options.reusePort { info.options |= UInt64(LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE) }
        info.timeout_secs = UInt32(max(1, options.handshakeTimeoutSeconds))
        // A request whose headers stall holds a header table; give it the same time, not lws's default 10 s.
        info.timeout_secs_ah_idle = UInt32(max(1, options.handshakeTimeoutSeconds))
        let idle = min(max(1, options.idleTimeoutSeconds), Int(UInt16.max) / 2)
        info.retry_and_idle_policy = service.keep(
            lws_retry_bo_t(
                retry_ms_table: nil, retry_ms_table_count: 0, conceal_count: 0,
                secs_since_valid_ping: UInt16(idle), secs_since_valid_hangup: UInt16(idle + max(1, idle / 2)),
                jitter_percent: 0))
        if let cert = options.tlsCertificatePath, let key = options.tlsPrivateKeyPath {
            info.options |= UInt64(LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT)
            info.ssl_cert_filepath = service.keep(cert)
            info.ssl_private_key_filepath = service.keep(key)
        }
        // --reuse-port: the hub opens the listening socket itself (lws 4.1 cannot set SO_REUSEPORT) and lws
        // listens on nothing; accepted connections are adopted into the default vhost (`acceptShared`).
        var shared: Int32?
        if options.reusePort {
            let fd = clws_listen_shared(options.host, Int32(options.port), 1024)
            guard fd >= 0 else {
                throw TransportError.contextCreationFailed(
                    "cannot listen on \(options.host ?? "*"):\(options.port) with SO_REUSEPORT: "
                        + cString(strerror(-fd)))
            }
            shared = fd
            info.port = CONTEXT_PORT_NO_LISTEN_SERVER
        }
        guard service.create(&info, owner: self), let context = service.context,
            let vhost = lws_get_vhost_by_name(context, "default")
        else {
            if let shared { Glibc.close(shared) }
            throw TransportError.contextCreationFailed("cannot listen on \(options.host ?? "*"):\(options.port)")
        }
        service.onEveryPass(passCallback)
        if let shared {
            port = Int(clws_bound_port(shared))
            service.acceptShared(fd: shared, vhost: vhost)
        } else {
            port = Int(lws_get_vhost_listen_port(vhost))
        }
    }

    /// Services the context on the calling thread until `stop()` is called, then destroys the context. While it
    /// is destroyed, connections still open are closed and reported (`serverConnectionClosed`), but writes, closes,
    /// ticks and posted jobs asked for meanwhile are ignored.
    public func run() {
        service.run()
        dirty.removeAll()
        connections.removeAll()
        exchanges.removeAll()
    }

    /// Ends `run()` after the current service pass. Service thread only.
    public func stop() {
        service.stop()
    }

    /// Runs `job` on the service thread soon. Safe from any thread.
    public func post(_ job: @escaping @Sendable () -> Void) {
        service.post(job)
    }

    /// Asks for a `serverNextFrame` call for this connection when its socket can take data. Asked for once per
    /// pass of the loop however often it is called: the connections are flushed after `serverLoopPass`.
    public func requestWrite(_ id: ConnectionID) {
        guard !service.tearingDown, let connection = connections[id.rawValue], !connection.dirty else { return }
        connection.dirty = true
        dirty.append(connection)
    }

    /// The end of a loop pass: the delegate hands over what the pass produced, then every connection a write was
    /// asked for gets its next frame, once: at once when its socket can take it, otherwise when lws says it can
    /// (WRITEABLE). A connection closed meanwhile is skipped: its `wsi` is gone.
    ///
    /// Writing at once spares what a WRITEABLE round trip costs per frame: two `epoll_ctl` (lws arms POLLOUT, then
    /// disarms it after the callback), an `epoll_wait` event and lws's dispatch. One `poll` with timeout 0 over all
    /// the pass's connections asks the kernel which sockets can take a frame now. Why that is safe:
    /// - The batching is kept: this runs once per pass, after every event of the pass was handled, as the arming
    ///   did (writing inside a read callback had lost it, see docs/BENCHMARKS.md).
    /// - Rule 9 (at most one frame in the kernel) is kept: with TCP_NOTSENT_LOWAT a socket polls writable only when
    ///   its unsent bytes are under the low-water mark, exactly when lws would have called WRITEABLE.
    /// - What lws must send first is never overtaken: a connection with bytes lws buffered from a partial write
    ///   (`lws_partial_buffered`: the handshake answer or a frame's remainder, which lws drains on POLLOUT before any
    ///   callback) or with a close pending or handed over goes the WRITEABLE way. lws's own control frames (pong,
    ///   close) are whole frames it writes on its POLLOUT, between ours, as on the WRITEABLE way.
    /// - lws_write outside a callback, on the service thread, is what `lws_send_pipe_choked` + `lws_write` do in lws
    ///   itself: a short write is kept in lws's buffer and arms POLLOUT by itself. A failed write cannot return -1
    ///   to lws from here, so the connection is killed asynchronously (`LWS_TO_KILL_ASYNC`), and CLOSED follows.
    /// - Each `pollfd.fd` is the socket of a connection in `flushing` that is not closed, taken in this same pass;
    ///   nothing between the `poll` and the writes runs an lws callback that could close one (`serverNextFrame` only
    ///   takes a frame; the delegate's effects wait for the next pass), so every fd still belongs to its `wsi`.
    ///   Connections that must not be written directly get fd -1, which `poll` ignores (revents 0).
    fileprivate func loopPass() {
        delegate?.serverLoopPass()
        guard !dirty.isEmpty else { return }
        swap(&dirty, &flushing)
        flushPoll.removeAll(keepingCapacity: true)
        for connection in flushing {
            connection.dirty = false
            let direct = !connection.closed && connection.pendingClose == nil && !connection.closeHandedOver
                && lws_partial_buffered(connection.wsi) == 0
            let fd = direct ? lws_get_socket_fd(connection.wsi) : -1
            flushPoll.append(pollfd(fd: fd, events: Int16(POLLOUT), revents: 0))
        }
        let ready = flushPoll.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), 0) }
        for (index, connection) in flushing.enumerated() where !connection.closed {
            let revents = Int32(flushPoll[index].revents)
            if ready > 0, revents & Int32(POLLOUT) != 0, revents & Int32(POLLERR | POLLHUP | POLLNVAL) == 0,
                let id = ConnectionID(of: connection.wsi)
            {
                directWrites += 1
                if writable(id, connection) < 0 {
                    lws_set_timeout(connection.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC)
                }
            } else {
                armedWrites += 1
                lws_callback_on_writable(connection.wsi)
            }
        }
        flushing.removeAll(keepingCapacity: true)
    }

    /// Closes a connection with a WebSocket close code. With `flushFirst`, pending frames are written first.
    public func close(_ id: ConnectionID, code: UInt16, reason: String, flushFirst: Bool = false) {
        guard !service.tearingDown, let connection = connections[id.rawValue], connection.pendingClose == nil
        else { return }
        connection.pendingClose = (code, reason, flushFirst)
        lws_callback_on_writable(connection.wsi)
    }

    /// Calls the delegate's `serverTick` once, after `microseconds`. Replaces any earlier schedule.
    public func scheduleTick(inMicroseconds microseconds: Int64) {
        service.scheduleTick(inMicroseconds: microseconds, callback: timerCallback)
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

        case LWS_CALLBACK_HTTP:
            return httpRequest(wsi)

        case LWS_CALLBACK_HTTP_BODY:
            return httpBody(wsi, input: input, length: length)

        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
            return httpBodyComplete(wsi)

        case LWS_CALLBACK_HTTP_WRITEABLE:
            return httpWritable(wsi)

        case LWS_CALLBACK_CLOSED_HTTP:
            httpClosed(wsi)
            return 0

        case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
            // `input` is the upgrade name ("websocket"); `user` is the HTTP connection's data, unused here.
            let head = readHead(wsi, includeSubprotocols: true)
            switch delegate?.serverShouldUpgrade(head) ?? .accept {
            case .accept:
                acceptedUpgrade = nil
                return 0
            case .acceptWith(let context):
                acceptedUpgrade = (wsi, context)
                return 0
            case .reject(let response):
                // A positive return tells lws we answered ourselves and the upgrade must not go on.
                return respondRaw(wsi, response) ? 1 : -1
            }

        case LWS_CALLBACK_ESTABLISHED:
            let id = nextID
            nextID += 1
            // The opaque pointer carries the integer id, not an object: nothing to retain or release.
            lws_set_opaque_user_data(wsi, UnsafeMutableRawPointer(bitPattern: UInt(id)))
            let connection = Connection(wsi: wsi)
            connections[id] = connection
            let fd = lws_get_socket_fd(wsi)
            if fd >= 0 {
                _ = clws_set_nodelay(fd)
                _ = clws_set_notsent_lowat(fd, options.notSentLowWater)
            }
            // The header table is still attached during ESTABLISHED (lws detaches it right after).
            let head = readHead(wsi, includeSubprotocols: true)
            let subprotocol = lws_get_protocol(wsi).map { cString($0.pointee.name) } ?? ""
            let accepted = acceptedUpgrade.flatMap { $0.wsi == wsi ? $0.context : nil }
            acceptedUpgrade = nil
            delegate?.serverConnectionOpened(ConnectionID(id), request: head, subprotocol: subprotocol, accepted: accepted)
            return 0

        case LWS_CALLBACK_RECEIVE:
            guard let id = ConnectionID(of: wsi), let connection = connections[id.rawValue] else { return -1 }
            if connection.pendingClose != nil { return 0 }
            return receive(id, connection, wsi: wsi, input: input, length: length)

        case LWS_CALLBACK_SERVER_WRITEABLE:
            guard let id = ConnectionID(of: wsi), let connection = connections[id.rawValue] else { return -1 }
            return writable(id, connection)

        case LWS_CALLBACK_CLOSED:
            guard let id = ConnectionID(of: wsi), let connection = connections.removeValue(forKey: id.rawValue) else {
                return 0
            }
            connection.closed = true  // its wsi is freed after this callback: a pending flush must skip it
            delegate?.serverConnectionClosed(id)
            return 0

        default:
            return lws_callback_http_dummy(wsi, reason, user, input, length)
        }
    }

    fileprivate func timerFired() {
        delegate?.serverTick()
    }

    private func receive(
        _ id: ConnectionID, _ connection: Connection, wsi: OpaquePointer, input: UnsafeMutableRawPointer?,
        length: Int
    ) -> Int32 {
        connection.reassemble(input: input, length: length, limit: options.maxMessageBytes) {
            message, kind in delegate?.serverReceived(id, message: message, kind: kind)
        }
        return 0
    }

    private func writable(_ id: ConnectionID, _ connection: Connection) -> Int32 {
        if connection.closeHandedOver {
            linger(connection)
            return 0
        }
        return connection.write(scratch: &frameBuffer) { delegate?.serverNextFrame(id) }
    }

    /// Closes as mature servers do, once the close frame is out: shut the write side, then read and discard what
    /// the peer still sends for at most `closeLingerSeconds`, before the socket is closed. Closing a socket with
    /// unread input makes the kernel answer with a reset, and a reset makes the peer's kernel discard what it had
    /// not read yet: the errors and the close frame that explain the close.
    ///
    /// Within lws: a WRITEABLE callback after the close was handed over (`Connection.closeHandedOver`) comes only
    /// once lws wrote the close frame, because in WAITING_TO_SEND_CLOSE lws's own POLLOUT handler writes the frame
    /// and returns before any user callback. lws is then in AWAITING_CLOSE_ACK: it reads and discards the peer's
    /// data frames, closes when the peer's close frame or end of stream comes, and otherwise when its
    /// PENDING_TIMEOUT_CLOSE_ACK runs out, which this shortens from lws's 5 s. It writes nothing more in that state
    /// (a pong is dropped once the close began), so shutting the write side under it is safe. Not with TLS: lws
    /// writes the TLS close_notify when it closes, so the socket's write side stays open and lws's own flow runs.
    private func linger(_ connection: Connection) {
        guard !connection.lingering else { return }
        connection.lingering = true
        let fd = lws_get_socket_fd(connection.wsi)
        if fd >= 0, lws_is_ssl(connection.wsi) == 0 { _ = shutdown(fd, Int32(SHUT_WR)) }
        lws_set_timeout(connection.wsi, PENDING_TIMEOUT_CLOSE_ACK, Int32(max(1, options.closeLingerSeconds)))
    }

    /// Writes a whole HTTP/1.1 response in one write. Used to refuse an upgrade: at that point lws has not
    /// recorded the request's HTTP version and its header helpers would answer "HTTP/1.0", which strict
    /// WebSocket clients refuse to parse.
    private func respondRaw(_ wsi: OpaquePointer, _ response: HTTPResponse) -> Bool {
        let reason = response.status == 400 ? "Bad Request" : response.status == 503 ? "Service Unavailable" : "Error"
        let head =
            "HTTP/1.1 \(response.status) \(reason)\r\ncontent-type: \(response.contentType)\r\n"
            + "content-length: \(response.body.count)\r\nconnection: close\r\n\r\n"
        var buffer = [UInt8](repeating: 0, count: pre)
        buffer.append(contentsOf: head.utf8)
        buffer.append(contentsOf: response.body)
        let length = buffer.count - pre
        return buffer.withUnsafeMutableBufferPointer { raw in
            lws_write(wsi, raw.baseAddress! + pre, length, LWS_WRITE_HTTP_HEADERS) == length
        }
    }

    func readHead(_ wsi: OpaquePointer, includeSubprotocols: Bool) -> HTTPRequestHead {
        let path = header(wsi, WSI_TOKEN_GET_URI) ?? ""
        var args: [String] = []
        var index: Int32 = 0
        var scratch = [CChar](repeating: 0, count: 2048)
        while true {
            let n = lws_hdr_copy_fragment(wsi, &scratch, Int32(scratch.count), WSI_TOKEN_HTTP_URI_ARGS, index)
            if n < 0 { break }
            args.append(String(decoding: scratch.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
            index += 1
        }
        var offered: [String] = []
        if includeSubprotocols, let list = header(wsi, WSI_TOKEN_PROTOCOL) {
            offered = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
        }
        var peer = [CChar](repeating: 0, count: 64)
        let peerName = lws_get_peer_simple(wsi, &peer, peer.count).map { cString($0) } ?? ""
        return HTTPRequestHead(
            path: path, query: args.isEmpty ? nil : args.joined(separator: "&"), subprotocols: offered,
            authorization: header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION), origin: header(wsi, WSI_TOKEN_ORIGIN),
            peer: peerName, contentType: header(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE))
    }

    func header(_ wsi: OpaquePointer, _ token: lws_token_indexes) -> String? {
        let length = lws_hdr_total_length(wsi, token)
        guard length > 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(length) + 1)
        guard lws_hdr_copy(wsi, &buffer, Int32(buffer.count), token) >= 0 else { return nil }
        return cString(buffer)
    }
}

/// Errors starting a transport.
public enum TransportError: Error, CustomStringConvertible {
    case contextCreationFailed(String)

    public var description: String {
        switch self {
        case .contextCreationFailed(let why): why
        }
    }
}

// MARK: - C entry points

/// The lws callback for every protocol of the server. It recovers the `LWSServer` from the context's user
/// pointer (an `OwnerBox` set by `ServiceContext.create`, valid while the context exists); while the server's
/// deinit destroys the context, there is none and lws's default handling runs.
private func serverCallback(
    _ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
    _ input: UnsafeMutableRawPointer?, _ length: Int
) -> Int32 {
    guard let wsi, let server = OwnerBox<LWSServer>.owner(of: wsi) else {
        return lws_callback_http_dummy(wsi, reason, user, input, length)
    }
    return server.handle(wsi: wsi, reason: reason, user: user, input: input, length: length)
}

/// The per-pass callback (`ServiceContext.onEveryPass`): `owner` is the server's `OwnerBox`, valid until the
/// context and the watcher are destroyed together.
private func passCallback(_ owner: UnsafeMutableRawPointer?) {
    guard let owner else { return }
    OwnerBox<LWSServer>.owner(from: owner)?.loopPass()
}

/// The timer callback: `sul` is the first member of `clws_timer`, whose owner pointer is the server's
/// `OwnerBox` (valid until the context and the timer are destroyed together).
private func timerCallback(_ sul: UnsafeMutablePointer<lws_sorted_usec_list_t>?) {
    guard let sul else { return }
    OwnerBox<LWSServer>.owner(ofTimer: sul)?.timerFired()
}

/// A Swift string from a NUL-terminated C string (invalid UTF-8 is repaired).
func cString(_ pointer: UnsafePointer<CChar>) -> String {
    String(decoding: UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)), as: UTF8.self)
}

func cString(_ buffer: [CChar]) -> String {
    buffer.withUnsafeBufferPointer { cString($0.baseAddress!) }
}
