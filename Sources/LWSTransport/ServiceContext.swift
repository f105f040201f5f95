import CLibWebSockets

/// What `LWSServer` and `LWSClient` share about owning a libwebsockets context: the C memory lws keeps
/// pointers to, the service loop, the cross-thread inbox and the one timer.
///
/// Memory invariant: lws keeps every pointer it is given at creation (protocol names, the protocols array,
/// interface and certificate paths, the idle policy) for the context's whole life. Everything handed over
/// is therefore allocated here and freed only in `destroy()`, after `lws_context_destroy` returned.
/// Service-thread only, except `post`.
final class ServiceContext {
    /// The C type of an lws protocol callback.
    typealias LWSCallback = @convention(c) (
        OpaquePointer?, lws_callback_reasons, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, Int
    ) -> Int32

    private(set) var context: OpaquePointer?
    /// The libev loop (epoll) the context runs on, owned here: created in `create`, destroyed in `destroy` after
    /// the context, because lws keeps watchers in it until `lws_context_destroy` returns.
    private var loop: OpaquePointer?
    private let inbox = Inbox()
    /// C strings (`strdup`) and trivially-typed blocks (`allocate`) that live until `destroy()`.
    private var strings: [UnsafeMutablePointer<CChar>] = []
    private var blocks: [UnsafeMutableRawPointer] = []
    private var timer: UnsafeMutablePointer<clws_timer>?
    private var running = false

    /// A copy of `text` that lives until `destroy()`.
    func keep(_ text: String) -> UnsafePointer<CChar> {
        let copy = strdup(text)!
        strings.append(copy)
        return UnsafePointer(copy)
    }

    /// A copy of a plain C struct that lives until `destroy()`.
    func keep<T>(_ value: T) -> UnsafePointer<T> {
        let block = UnsafeMutablePointer<T>.allocate(capacity: 1)
        block.initialize(to: value)
        blocks.append(UnsafeMutableRawPointer(block))
        return UnsafePointer(block)
    }

    /// A protocols array with one entry per name, all served by `callback`, ending in the zeroed entry that
    /// lws 4.1 takes as the end of the list.
    func protocols(
        names: [String], callback: LWSCallback, rxBufferSize: Int, txPacketSize: Int = 0
    ) -> UnsafePointer<lws_protocols> {
        let table = UnsafeMutablePointer<lws_protocols>.allocate(capacity: names.count + 1)
        table.initialize(repeating: lws_protocols(), count: names.count + 1)
        for (index, name) in names.enumerated() {
            table[index].name = keep(name)
            table[index].callback = callback
            table[index].rx_buffer_size = rxBufferSize
            table[index].tx_packet_size = txPacketSize
            table[index].id = UInt32(index)
        }
        blocks.append(UnsafeMutableRawPointer(table))
        return UnsafePointer(table)
    }

    /// Creates the context. `owner` becomes the context's user pointer and the timer's owner, unretained:
    /// the owner destroys this context (`destroy()`, from `run()`'s exit or its own `deinit`) before it can be
    /// deallocated, so neither pointer ever dangles.
    func create(_ info: inout lws_context_creation_info, owner: AnyObject) -> Bool {
        info.gid = -1
        info.uid = -1
        info.user = Unmanaged.passUnretained(owner).toOpaque()
        // A foreign loop, so `run()` can turn it one pass at a time and return on `stop()` (lws_service would
        // block inside ev_run for good). lws reads `foreign_loops[0]` (one per service thread) at creation.
        guard let loop = clws_ev_loop_new() else { return false }
        self.loop = loop
        let loops = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 1)
        loops.initialize(to: UnsafeMutableRawPointer(loop))
        blocks.append(UnsafeMutableRawPointer(loops))
        info.foreign_loops = loops
        info.options |= UInt64(LWS_SERVER_OPTION_LIBEV)
        guard let created = lws_create_context(&info) else { return false }
        context = created
        let t = UnsafeMutablePointer<clws_timer>.allocate(capacity: 1)
        t.initialize(to: clws_timer())
        t.pointee.owner = Unmanaged.passUnretained(owner).toOpaque()
        timer = t
        // Lives in `blocks` until `destroy()`, after lws_context_destroy dropped every timer it had.
        let heartbeat = UnsafeMutablePointer<clws_heartbeat>.allocate(capacity: 1)
        heartbeat.initialize(to: clws_heartbeat())
        blocks.append(UnsafeMutableRawPointer(heartbeat))
        clws_heartbeat_start(created, heartbeat)
        return true
    }

    /// Services the context on the calling thread until `stop()`, then destroys it.
    func run() {
        running = true
        while running, context != nil, let loop {
            clws_ev_run_once(loop)
        }
        destroy()
    }

    /// Ends `run()` after the current service pass.
    func stop() {
        running = false
        if let context { lws_cancel_service(context) }
    }

    /// Queues `job` for the service thread and wakes it. Safe from any thread: the inbox is locked and
    /// `lws_cancel_service` is lws's documented cross-thread wake-up.
    func post(_ job: @escaping @Sendable () -> Void) {
        inbox.append(job)
        if let context { lws_cancel_service(context) }
    }

    /// Runs what `post` queued; call from `LWS_CALLBACK_EVENT_WAIT_CANCELLED`.
    func runPosted() {
        for job in inbox.takeAll() { job() }
    }

    /// Fires `callback` once after `microseconds`, replacing any earlier schedule.
    func scheduleTick(inMicroseconds microseconds: Int64, callback: sul_cb_t) {
        guard context != nil, let loop, let timer else { return }
        clws_timer_schedule(loop, timer, callback, lws_usec_t(max(1, microseconds)))
    }

    /// Destroys the context, then frees everything lws held pointers to. Safe to call twice.
    func destroy() {
        if let context {
            lws_context_destroy(context)
            self.context = nil
        }
        if let timer { clws_timer_cancel(timer) }
        if let loop {
            clws_ev_loop_destroy(loop)
            self.loop = nil
        }
        timer?.deallocate()
        timer = nil
        for block in blocks { block.deallocate() }
        blocks.removeAll()
        for string in strings { free(string) }
        strings.removeAll()
    }
}
