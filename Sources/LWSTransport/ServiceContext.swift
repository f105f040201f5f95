import CLibWebSockets
import Glibc

/// What `LWSServer` and `LWSClient` share about owning a libwebsockets context: the C memory lws keeps
/// pointers to, the service loop, the cross-thread inbox and the one timer.
///
/// Memory invariant: lws keeps every pointer it is given at creation (protocol names, the protocols array,
/// interface and certificate paths, the idle policy) for the context's whole life. Everything handed over
/// is therefore allocated here and freed only in `destroy()`, after `lws_context_destroy` returned.
///
/// Teardown invariants, each held by construction:
/// - Other threads reach the context only through `post`, under the inbox's lock; `destroy()` closes the inbox
///   first, so `lws_context_destroy` never runs while another thread uses the context (`Inbox`).
/// - No timer is armed once teardown began: `scheduleTick` does nothing after `destroy()` started, although lws
///   still calls back (closing each connection) inside `lws_context_destroy`; the timer is then cancelled before
///   the loop is destroyed.
/// - Callbacks reach the owner through a weak reference (`OwnerBox`), never an unretained one: when the owner's
///   `deinit` destroys the context, the callbacks lws makes meanwhile find no owner and do nothing, instead of
///   calling into an object being deinitialized.
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
    /// The listening socket shared with other processes (`LWSServer.Options.reusePort`), accepted from on the
    /// loop; nil when lws listens itself. Allocated here, stopped and freed in `destroy()` before the context goes.
    private var listener: UnsafeMutablePointer<clws_listener>?
    /// The per-pass watcher (`onEveryPass`), stopped in `destroy()` before the loop is destroyed and freed with it.
    private var pass: UnsafeMutablePointer<clws_pass>?
    private var running = false
    /// Set when `destroy()` starts; from then on nothing new is scheduled.
    private(set) var tearingDown = false
    /// What lws's context user pointer and the timer's owner point to, retained here until `destroy()` is done.
    private var ownerBox: Unmanaged<AnyObject>?

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

    /// Creates the context. The context's user pointer and the timer's owner point to an `OwnerBox` holding
    /// `owner` weakly; callbacks read it with `OwnerBox.owner(from:)`. The box is retained until `destroy()` is
    /// done with lws, so neither pointer ever dangles, and the weak reference is nil once the owner's deinit began.
    func create<Owner: AnyObject>(_ info: inout lws_context_creation_info, owner: Owner) -> Bool {
        info.gid = -1
        info.uid = -1
        let box = Unmanaged<AnyObject>.passRetained(OwnerBox(owner))
        ownerBox = box
        info.user = box.toOpaque()
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
        inbox.open(waking: created)
        let t = UnsafeMutablePointer<clws_timer>.allocate(capacity: 1)
        t.initialize(to: clws_timer())
        t.pointee.owner = box.toOpaque()
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
        if let context, !tearingDown { lws_cancel_service(context) }
    }

    /// Queues `job` for the service thread and wakes it. Safe from any thread (see `Inbox`). A job posted once
    /// teardown began is dropped.
    func post(_ job: @escaping @Sendable () -> Void) {
        inbox.post(job)
    }

    /// Runs what `post` queued; call from `LWS_CALLBACK_EVENT_WAIT_CANCELLED`.
    func runPosted() {
        for job in inbox.takeAll() { job() }
    }

    /// Calls `callback` with the owner's box (see `create`) once per pass of the loop, after the events of a pass
    /// were handled and before the loop waits again. Call once, after `create`. The watcher memory lives until
    /// `destroy()`, which stops the watcher before the loop goes; the box outlives both, so the pointer the callback
    /// gets is valid whenever it runs.
    func onEveryPass(_ callback: @convention(c) (UnsafeMutableRawPointer?) -> Void) {
        guard context != nil, !tearingDown, pass == nil, let loop, let box = ownerBox else { return }
        let p = UnsafeMutablePointer<clws_pass>.allocate(capacity: 1)
        p.initialize(to: clws_pass())
        pass = p
        clws_pass_start(loop, p, callback, box.toOpaque())
    }

    /// Fires `callback` once after `microseconds`, replacing any earlier schedule.
    func scheduleTick(inMicroseconds microseconds: Int64, callback: sul_cb_t) {
        guard context != nil, !tearingDown, let loop, let timer else { return }
        clws_timer_schedule(loop, timer, callback, lws_usec_t(max(1, microseconds)))
    }

    /// Accepts connections on `fd`, a listening socket from `clws_listen_shared`, and hands them to `vhost`.
    /// Takes ownership of `fd` (closed by `destroy()`, or at once when the loop is gone).
    func acceptShared(fd: Int32, vhost: OpaquePointer) {
        guard let loop, listener == nil else {
            close(fd)
            return
        }
        let accepting = UnsafeMutablePointer<clws_listener>.allocate(capacity: 1)
        accepting.initialize(to: clws_listener())
        clws_listener_start(loop, accepting, vhost, fd)
        listener = accepting
    }

    /// Destroys the context, then frees everything lws held pointers to. Safe to call twice.
    func destroy() {
        inbox.close()  // first: after this no other thread touches the context
        tearingDown = true
        // No new connection is adopted while the context is destroyed: stop accepting and close the socket first.
        if let listener {
            clws_listener_stop(listener)
            listener.deallocate()
            self.listener = nil
        }
        if let context {
            lws_context_destroy(context)  // calls back for every connection still open
            self.context = nil
        }
        if let timer { clws_timer_cancel(timer) }
        if let pass {
            clws_pass_stop(pass)
            pass.deallocate()
            self.pass = nil
        }
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
        ownerBox?.release()
        ownerBox = nil
    }
}

/// The owner of a context as lws's callbacks reach it: weakly, so that a callback made while the owner's deinit
/// destroys the context finds nil rather than an object being deinitialized.
final class OwnerBox<Owner: AnyObject> {
    weak var owner: Owner?

    init(_ owner: Owner) { self.owner = owner }

    /// The owner behind a context user pointer or a timer's owner pointer set by `ServiceContext.create`, or nil
    /// once it is being deinitialized. The pointer is valid while the context exists (the box is retained until
    /// `destroy()` is done), which is whenever lws calls back.
    static func owner(from pointer: UnsafeMutableRawPointer) -> Owner? {
        Unmanaged<OwnerBox<Owner>>.fromOpaque(pointer).takeUnretainedValue().owner
    }

    /// The owner of the context `wsi` belongs to, from the context's user pointer (this box, valid while the
    /// context exists, which is whenever lws calls back for one of its connections).
    static func owner(of wsi: OpaquePointer) -> Owner? {
        guard let context = lws_get_context(wsi), let pointer = lws_context_user(context) else { return nil }
        return owner(from: pointer)
    }

    /// The owner of the timer lws fired: `sul` is the first member of a `clws_timer` made by `ServiceContext`,
    /// whose owner pointer is this box (valid until the context and the timer are destroyed together).
    static func owner(ofTimer sul: UnsafeMutablePointer<lws_sorted_usec_list_t>) -> Owner? {
        guard let pointer = clws_timer_from_sul(sul).pointee.owner else { return nil }
        return owner(from: pointer)
    }
}
