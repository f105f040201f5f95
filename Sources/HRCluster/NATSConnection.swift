import CNats
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A libnats call that failed: which call, and libnats' own words for the status.
public struct NATSError: Error, CustomStringConvertible, Sendable {
    /// The libnats function that failed.
    public let call: String
    /// `natsStatus_GetText` of its status.
    public let status: String

    /// The JetStream error code (`jsErrCode`, e.g. 10059 stream not found), 0 when there is none.
    public let jetStreamCode: Int

    init(_ call: String, _ status: natsStatus, jetStreamCode: Int = 0) {
        self.call = call
        self.status = String(cString: natsStatus_GetText(status))
        self.jetStreamCode = jetStreamCode
    }

    public var description: String { jetStreamCode == 0 ? "\(call): \(status)" : "\(call): \(status) (\(jetStreamCode))" }
}

/// One connection to a NATS server or cluster, through libnats: publish, subscribe, and whether it is up.
///
/// The connection keeps trying: it is created even when no server answers yet (`natsOptions_SetRetryOnFailedConnect`)
/// and reconnects forever, every `reconnectWaitMs`; subscriptions are renewed by libnats after each reconnect.
///
/// Threading: libnats' connection and subscription calls are thread-safe, and this class holds nothing mutable
/// of its own after `init` (the subscriptions are owned by their `NATSSubscription`s), hence `@unchecked Sendable`.
/// Message handlers run on libnats' threads (one per subscription): a handler must hand its work elsewhere
/// (the hub posts it to its service thread) and must not block.
public final class NATSConnection: @unchecked Sendable {
    /// The libnats connection; valid from `init` until `close()` destroys it (after which nothing uses it).
    /// Internal so that `JetStream` (this module's other C-facing file) can make a context on it.
    let connection: OpaquePointer
    private let closed = AtomicFlag()

    /// Connects to `servers` (`nats://host:port`), named `name` in the server's connection list. Returns at once
    /// when no server answers: libnats goes on trying in the background (`isConnected` says when it succeeded).
    /// Throws only for settings libnats refuses (a malformed URL).
    public init(servers: [String], name: String, reconnectWaitMs: Int64 = 250, pingIntervalMs: Int64 = 1_000)
        throws(NATSError)
    {
        var options: OpaquePointer?
        try Self.check("natsOptions_Create", natsOptions_Create(&options))
        guard let options else { throw NATSError("natsOptions_Create", NATS_NO_MEMORY) }
        defer { natsOptions_Destroy(options) }  // natsConnection_Connect copies the options
        // Invariant: the C strings live until natsOptions_SetServers returns (it copies them).
        var cServers = servers.map { strdup($0) }
        defer { cServers.forEach { free($0) } }
        try cServers.withUnsafeMutableBufferPointer { buffer throws(NATSError) in
            try buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { strings throws(NATSError) in
                try Self.check(
                    "natsOptions_SetServers", natsOptions_SetServers(options, strings.baseAddress, Int32(strings.count)))
            }
        }
        try Self.check("natsOptions_SetName", natsOptions_SetName(options, name))
        try Self.check("natsOptions_SetMaxReconnect", natsOptions_SetMaxReconnect(options, -1))
        try Self.check("natsOptions_SetReconnectWait", natsOptions_SetReconnectWait(options, reconnectWaitMs))
        // A hub never wants its own messages back; it also checks the origin of what it receives.
        try Self.check("natsOptions_SetNoEcho", natsOptions_SetNoEcho(options, true))
        // A dead link (no RST) is noticed after two missed pings rather than the default four minutes.
        try Self.check("natsOptions_SetPingInterval", natsOptions_SetPingInterval(options, pingIntervalMs))
        try Self.check("natsOptions_SetMaxPingsOut", natsOptions_SetMaxPingsOut(options, 2))
        // With a connected callback the first connect is asynchronous; without one, libnats retries inside
        // natsConnection_Connect (forever, with the reconnect settings above) and a hub would never start.
        try Self.check(
            "natsOptions_SetRetryOnFailedConnect",
            natsOptions_SetRetryOnFailedConnect(options, true, onFirstConnect, nil))
        var made: OpaquePointer?
        let status = natsConnection_Connect(&made, options)
        // NATS_NOT_YET_CONNECTED: the connection exists and keeps trying (the retry option above).
        guard status == NATS_OK || status == NATS_NOT_YET_CONNECTED, let made else {
            throw NATSError("natsConnection_Connect", status)
        }
        connection = made
    }

    deinit { close() }

    /// Whether the connection is up now (not connecting, reconnecting or closed).
    public var isConnected: Bool {
        !closed.isSet && natsConnection_Status(connection) == NATS_CONN_STATUS_CONNECTED
    }

    /// Publishes `payload` on `subject`. Returns false (and sends nothing) while the connection is not up:
    /// live samples are worthless by the time a reconnect would flush a buffer of them.
    @discardableResult
    public func publish(_ subject: String, _ payload: [UInt8]) -> Bool {
        guard isConnected else { return false }
        let status = payload.withUnsafeBytes {
            natsConnection_Publish(connection, subject, $0.baseAddress, Int32($0.count))
        }
        return status == NATS_OK
    }

    /// Waits until the server has processed everything sent so far (a PING/PONG round trip), at most
    /// `timeoutMs`. Returns false when not connected or on timeout. Blocks the calling thread.
    @discardableResult
    public func flush(timeoutMs: Int64) -> Bool {
        guard isConnected else { return false }
        return natsConnection_FlushTimeout(connection, timeoutMs) == NATS_OK
    }

    /// Subscribes to `subject` (wildcards allowed). `handler` gets each message's subject and payload on a
    /// libnats thread, one message at a time per subscription. The subscription lasts until `cancel()` or until
    /// the connection closes.
    public func subscribe(
        _ subject: String, handler: @escaping @Sendable (_ subject: String, _ payload: [UInt8]) -> Void
    ) throws(NATSError) -> NATSSubscription {
        let closure = MessageHandlerBox.retain(handler)
        var subscription: OpaquePointer?
        let status = natsConnection_Subscribe(&subscription, connection, subject, onMessage, closure)
        guard status == NATS_OK, let subscription else {
            // libnats never saw the box: no callback can come, release it here.
            MessageHandlerBox.release(closure)
            throw NATSError("natsConnection_Subscribe", status)
        }
        let completion = natsSubscription_SetOnCompleteCB(subscription, onComplete, closure)
        if completion != NATS_OK {
            // The subscription closed in between (the connection closed): libnats may or may not still call
            // `onMessage`, so the box stays retained (a few bytes leaked once, never a use after free).
            natsSubscription_Destroy(subscription)
            throw NATSError("natsSubscription_SetOnCompleteCB", completion)
        }
        return NATSSubscription(subscription)
    }

    /// Closes the connection (subscriptions end; their handlers are released after their last message).
    /// Idempotent.
    public func close() {
        guard closed.set() else { return }
        natsConnection_Close(connection)
        natsConnection_Destroy(connection)
    }

    private static func check(_ call: String, _ status: natsStatus) throws(NATSError) {
        guard status == NATS_OK else { throw NATSError(call, status) }
    }
}

/// One subscription; `cancel()` ends it (idempotent; also ends when its connection closes).
public final class NATSSubscription: @unchecked Sendable {
    /// Valid until `cancel()` destroys it; libnats' subscription calls are thread-safe.
    private let subscription: OpaquePointer
    private let cancelled = AtomicFlag()

    init(_ subscription: OpaquePointer) { self.subscription = subscription }

    deinit { cancel() }

    /// Unsubscribes. Messages already being delivered may still reach the handler; none after its release.
    public func cancel() {
        guard cancelled.set() else { return }
        natsSubscription_Unsubscribe(subscription)
        natsSubscription_Destroy(subscription)
    }
}

/// A subscription's handler, passed to libnats as the callbacks' `closure`.
///
/// Ownership, in this one place: `retain` hands libnats one +1 reference (`passRetained`), and `release` gives
/// it back exactly once: from `onComplete`, which libnats calls once after the subscription's last message was
/// dispatched (so no `onMessage` can follow), or from `subscribe` when libnats refused the subscription and so
/// never saw the pointer. `onMessage` only borrows it (`takeUnretainedValue`), which is safe because the +1 is
/// held until `onComplete`.
private final class MessageHandlerBox {
    let handler: @Sendable (String, [UInt8]) -> Void

    private init(_ handler: @escaping @Sendable (String, [UInt8]) -> Void) { self.handler = handler }

    static func retain(_ handler: @escaping @Sendable (String, [UInt8]) -> Void) -> UnsafeMutableRawPointer {
        Unmanaged.passRetained(MessageHandlerBox(handler)).toOpaque()
    }

    static func release(_ closure: UnsafeMutableRawPointer) {
        Unmanaged<MessageHandlerBox>.fromOpaque(closure).release()
    }

    static func borrow(_ closure: UnsafeMutableRawPointer) -> MessageHandlerBox {
        Unmanaged<MessageHandlerBox>.fromOpaque(closure).takeUnretainedValue()
    }
}

/// libnats' message callback (a subscription's thread). The message is ours: destroyed here after copying.
private let onMessage: natsMsgHandler = { _, _, message, closure in
    guard let message else { return }
    defer { natsMsg_Destroy(message) }
    guard let closure else { return }
    let length = Int(natsMsg_GetDataLength(message))
    // Invariant: the data pointer is valid until natsMsg_Destroy (the defer above); copied out before that.
    let payload: [UInt8] =
        if let data = natsMsg_GetData(message), length > 0 {
            Array(UnsafeRawBufferPointer(start: data, count: length))
        } else {
            []
        }
    let subject = String(cString: natsMsg_GetSubject(message))
    MessageHandlerBox.borrow(closure).handler(subject, payload)
}

/// libnats' callback when a connection that started without a server first connects. Nothing to do: the state
/// is read with `natsConnection_Status`; it exists because it makes the first connect asynchronous.
private let onFirstConnect: natsConnectionHandler = { _, _ in }

/// libnats' completion callback: the subscription delivered its last message. Releases the handler.
private let onComplete: natsOnCompleteCB = { closure in
    guard let closure else { return }
    MessageHandlerBox.release(closure)
}

/// A flag that goes up once: `set()` says whether this call raised it (the one caller that may tear down).
final class AtomicFlag: Sendable {
    private let value = Atomic<Bool>(false)

    var isSet: Bool { value.load(ordering: .acquiring) }

    /// Raises the flag; true only for the call that raised it.
    func set() -> Bool { !value.exchange(true, ordering: .acquiringAndReleasing) }
}
