import CNats

#if canImport(Glibc)
    import Glibc
#endif

/// What the stream answered to one asynchronous publish.
enum PublishOutcome: Sendable, Equatable {
    /// Stored; `duplicate`: the stream already held a message with this `Nats-Msg-Id` (nothing new was stored).
    case stored(duplicate: Bool)
    /// Not known to be stored: an error from the server, no stream, or no answer within the publish timeout.
    case failed(String)
}

/// A message read from the stream.
struct StreamMessage: Sendable {
    let subject: String
    let payload: [UInt8]
}

/// The stream's shape: created, or updated to this, at start and whenever it is found missing.
struct StreamShape: Sendable {
    var name: String
    var subjects: [String]
    var replicas: Int
    /// Messages older than this go (0: forever).
    var maxAgeMs: Int64
    /// How long the stream remembers a `Nats-Msg-Id` to drop a second copy.
    var duplicateWindowMs: Int64
}

/// A JetStream context on a `NATSConnection`: the stream, asynchronous publishes with a per-message outcome, and the
/// synchronous reads the record needs. The only code here besides `NATSConnection` that touches libnats.
///
/// Threading: libnats' JetStream calls are thread-safe. `onPublished` runs on libnats' publish-ack thread, one
/// outcome at a time; it must not block. Reads block the calling thread for at most `requestTimeoutMs` per
/// request (each message of an ordered read included).
final class JetStream: @unchecked Sendable {
    /// The jsCtx; valid from `init` until `close()` destroys it. libnats keeps the connection alive for it.
    private let context: OpaquePointer
    let connection: NATSConnection
    let stream: String
    private let requestTimeoutMs: Int64
    private let closed = AtomicFlag()

    /// A context whose asynchronous publishes report to `onPublished` (the message's `Nats-Msg-Id`, its outcome).
    /// `maxInFlight`: publishes awaiting their ack beyond which a publish waits (up to `stallMs`) for room.
    init(
        connection: NATSConnection, stream: String, maxInFlight: Int, stallMs: Int64, requestTimeoutMs: Int64 = 5_000,
        onPublished: @escaping @Sendable (String, PublishOutcome) -> Void
    ) throws(NATSError) {
        self.connection = connection
        self.stream = stream
        self.requestTimeoutMs = requestTimeoutMs
        var options = jsOptions()
        try Self.check("jsOptions_Init", jsOptions_Init(&options))
        options.Wait = requestTimeoutMs
        options.PublishAsync.MaxPending = Int64(maxInFlight)
        options.PublishAsync.StallWait = stallMs
        options.PublishAsync.AckHandler = onPubAck
        // Invariant: the box is retained once here and never released. libnats may call `onPubAck` while (or, for a
        // publish still pending, even after) the context is destroyed, so the closure must outlive the context; one
        // small object per store, which lives as long as the process.
        options.PublishAsync.AckHandlerClosure = Unmanaged.passRetained(PublishSink(onPublished)).toOpaque()
        var made: OpaquePointer?
        try Self.check("natsConnection_JetStream", natsConnection_JetStream(&made, connection.connection, &options))
        guard let made else { throw NATSError("natsConnection_JetStream", NATS_NO_MEMORY) }
        context = made
    }

    deinit { close() }

    /// Destroys the context (idempotent). Nothing may be called after.
    func close() {
        guard closed.set() else { return }
        jsCtx_Destroy(context)
    }

    /// Creates the stream, or updates it to `shape` when it exists (retention, replicas, duplicate window).
    func ensureStream(_ shape: StreamShape) throws(NATSError) {
        var config = jsStreamConfig()
        try Self.check("jsStreamConfig_Init", jsStreamConfig_Init(&config))
        // Invariant: the C strings live until the add/update calls below return (libnats serialises the config
        // into the request and keeps no pointer to it).
        let name = strdup(shape.name)
        var subjects = shape.subjects.map { strdup($0) }
        defer {
            free(name)
            subjects.forEach { free($0) }
        }
        config.Name = UnsafePointer(name)
        config.Storage = js_FileStorage
        config.Replicas = Int64(shape.replicas)
        config.MaxAge = shape.maxAgeMs * 1_000_000
        config.Duplicates = shape.duplicateWindowMs * 1_000_000
        var errorCode = jsErrCode(0)
        // Invariant: `config.Subjects` points into `subjects`' buffer, valid only inside these closures; it is set and
        // used (the request made) within each one, and never read after.
        var status = subjects.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { strings in
                config.Subjects = UnsafeMutablePointer(mutating: strings.baseAddress)
                config.SubjectsLen = Int32(strings.count)
                var info: UnsafeMutablePointer<jsStreamInfo>?
                defer { jsStreamInfo_Destroy(info) }
                return js_UpdateStream(&info, context, &config, nil, &errorCode)
            }
        }
        if status != NATS_OK && errorCode == JSStreamNotFoundErr {
            status = subjects.withUnsafeMutableBufferPointer { buffer in
                buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { strings in
                    config.Subjects = UnsafeMutablePointer(mutating: strings.baseAddress)
                    config.SubjectsLen = Int32(strings.count)
                    var info: UnsafeMutablePointer<jsStreamInfo>?
                    defer { jsStreamInfo_Destroy(info) }
                    return js_AddStream(&info, context, &config, nil, &errorCode)
                }
            }
        }
        try Self.check("js_AddStream/js_UpdateStream", status, errorCode)
    }

    /// Publishes `payload` on `subject` with `Nats-Msg-Id: messageID`, without waiting: the outcome goes to
    /// `onPublished`, within `timeoutMs` at the latest. Throws when libnats refused it at once (then no outcome
    /// comes); may block while `maxInFlight` publishes await their ack.
    func publishAsync(_ subject: String, _ payload: [UInt8], messageID: String, timeoutMs: Int64) throws(NATSError) {
        var message: OpaquePointer?
        // Invariant: natsMsg_Create copies the payload (and subject) into the message, so the buffer need only live
        // for the call.
        let created = payload.withUnsafeBytes { bytes in
            natsMsg_Create(
                &message, subject, nil, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(bytes.count))
        }
        try Self.check("natsMsg_Create", created)
        // Invariant: on success js_PublishMsgAsync takes the message and sets `message` to nil; on any failure it is
        // still ours and destroyed here.
        defer { if message != nil { natsMsg_Destroy(message) } }
        try Self.check("natsMsgHeader_Set", natsMsgHeader_Set(message, "Nats-Msg-Id", messageID))
        var options = jsPubOptions()
        try Self.check("jsPubOptions_Init", jsPubOptions_Init(&options))
        options.MaxWait = timeoutMs
        try Self.check("js_PublishMsgAsync", js_PublishMsgAsync(context, &message, &options))
    }

    /// The newest message on `subject`, or nil when the stream holds none.
    func lastMessage(on subject: String) throws(NATSError) -> [UInt8]? {
        var message: OpaquePointer?
        var errorCode = jsErrCode(0)
        let status = js_GetLastMsg(&message, context, stream, subject, nil, &errorCode)
        if status == NATS_NOT_FOUND || errorCode == JSNoMessageFoundErr { return nil }
        try Self.check("js_GetLastMsg", status, errorCode)
        guard let message else { return nil }
        defer { natsMsg_Destroy(message) }
        return Self.payload(of: message)
    }

    /// The stream's subjects matching `filter` (wildcards allowed), with how many messages each holds.
    func subjects(matching filter: String) throws(NATSError) -> [String: UInt64] {
        var options = jsOptions()
        try Self.check("jsOptions_Init", jsOptions_Init(&options))
        options.Wait = requestTimeoutMs
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var errorCode = jsErrCode(0)
        let status = filter.withCString { cFilter in
            // Invariant: `cFilter` lives until js_GetStreamInfo returns; libnats only reads it to build the request.
            options.Stream.Info.SubjectsFilter = cFilter
            return js_GetStreamInfo(&info, context, stream, &options, &errorCode)
        }
        try Self.check("js_GetStreamInfo", status, errorCode)
        defer { jsStreamInfo_Destroy(info) }
        var counts: [String: UInt64] = [:]
        // Invariant: `info` and everything it points to are valid until jsStreamInfo_Destroy (the defer above).
        if let list = info?.pointee.State.Subjects?.pointee, let entries = list.List {
            for entry in UnsafeBufferPointer(start: entries, count: Int(list.Count)) {
                if let subject = entry.Subject { counts[String(cString: subject)] = entry.Msgs }
            }
        }
        return counts
    }

    /// Tries at creating a read's ordered consumer that time out before the read fails.
    static let subscribeAttempts = 6

    /// Every message on `filter` (wildcards allowed) in stream order, through an ordered consumer that is removed
    /// afterwards; with `lastPerSubject`, only the newest per subject. `expected` (from `subjects(matching:)`) of 0
    /// reads nothing; otherwise the read ends at the message after which none is pending.
    func readAll(_ filter: String, expected: UInt64, lastPerSubject: Bool = false) throws(NATSError) -> [StreamMessage]
    {
        guard expected > 0 else { return [] }
        var options = jsSubOptions()
        try Self.check("jsSubOptions_Init", jsSubOptions_Init(&options))
        options.Ordered = true
        options.Config.DeliverPolicy = lastPerSubject ? js_DeliverLastPerSubject : js_DeliverAll
        var subscription: OpaquePointer?
        var errorCode = jsErrCode(0)
        var status = NATS_TIMEOUT
        // The ordered consumer is placed on one of the stream's peers. nats-server 2.9 still picks a peer that died
        // until it is marked offline, and that creation times out (half the reads on a 3-node cluster with a node
        // down, tests/e2e/test_nats_cluster.py); another attempt is placed anew.
        for _ in 0..<Self.subscribeAttempts where status == NATS_TIMEOUT {
            errorCode = jsErrCode(0)
            status = stream.withCString { cStream in
                // Invariant: `cStream` lives until js_SubscribeSync returns (libnats copies the names it keeps).
                options.Stream = cStream
                return js_SubscribeSync(&subscription, context, filter, nil, &options, &errorCode)
            }
        }
        try Self.check("js_SubscribeSync", status, errorCode)
        guard let subscription else { throw NATSError("js_SubscribeSync", NATS_ERR) }
        defer {
            natsSubscription_Unsubscribe(subscription)
            natsSubscription_Destroy(subscription)
        }
        var messages: [StreamMessage] = []
        messages.reserveCapacity(Int(min(expected, 1 << 20)))
        while true {
            var message: OpaquePointer?
            try Self.check(
                "natsSubscription_NextMsg", natsSubscription_NextMsg(&message, subscription, requestTimeoutMs))
            guard let message else { throw NATSError("natsSubscription_NextMsg", NATS_ERR) }
            defer { natsMsg_Destroy(message) }
            messages.append(
                StreamMessage(subject: String(cString: natsMsg_GetSubject(message)), payload: Self.payload(of: message))
            )
            var meta: UnsafeMutablePointer<jsMsgMetaData>?
            try Self.check("natsMsg_GetMetaData", natsMsg_GetMetaData(&meta, message))
            let pending = meta?.pointee.NumPending ?? 0
            jsMsgMetaData_Destroy(meta)
            if pending == 0 { return messages }
        }
    }

    /// Invariant: valid only while `message` is (the caller destroys it after); the bytes are copied out.
    private static func payload(of message: OpaquePointer) -> [UInt8] {
        let length = Int(natsMsg_GetDataLength(message))
        guard length > 0, let data = natsMsg_GetData(message) else { return [] }
        return Array(UnsafeRawBufferPointer(start: data, count: length))
    }

    private static func check(_ call: String, _ status: natsStatus, _ errorCode: jsErrCode = jsErrCode(0))
        throws(NATSError)
    {
        guard status == NATS_OK else { throw NATSError(call, status, jetStreamCode: Int(errorCode.rawValue)) }
    }
}

/// The publish-ack handler's closure: what to call with each outcome.
private final class PublishSink {
    let handler: @Sendable (String, PublishOutcome) -> Void

    init(_ handler: @escaping @Sendable (String, PublishOutcome) -> Void) { self.handler = handler }
}

/// libnats' publish-ack callback (its ack thread): one call per asynchronous publish, with the stream's ack or the
/// failure. The message is ours: destroyed here after its `Nats-Msg-Id` is copied out.
private let onPubAck: jsPubAckHandler = { _, message, ack, failure, closure in
    guard let message else { return }
    defer { natsMsg_Destroy(message) }
    // Invariant: `closure` is the PublishSink retained for good in `JetStream.init`; borrowed, never released.
    guard let closure else { return }
    var value: UnsafePointer<CChar>?
    guard natsMsgHeader_Get(message, "Nats-Msg-Id", &value) == NATS_OK, let value else { return }
    let id = String(cString: value)
    // Invariant: `ack` and `failure` are valid only during this call; everything is copied out.
    let outcome: PublishOutcome
    if let ack {
        outcome = .stored(duplicate: ack.pointee.Duplicate)
    } else if let failure {
        let text =
            failure.pointee.ErrText.map { String(cString: $0) }
            ?? String(cString: natsStatus_GetText(failure.pointee.Err))
        outcome = .failed(
            failure.pointee.ErrCode.rawValue != 0 ? "\(text) (\(failure.pointee.ErrCode.rawValue))" : text)
    } else {
        outcome = .failed("no acknowledgment")
    }
    Unmanaged<PublishSink>.fromOpaque(closure).takeUnretainedValue().handler(id, outcome)
}
