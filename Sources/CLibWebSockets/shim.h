// The C side of LWSTransport: libwebsockets plus the few wrappers Swift needs.
// Each wrapper exists because Swift cannot import a macro or a variadic function.
#ifndef HRHUB_CLIBWEBSOCKETS_SHIM_H
#define HRHUB_CLIBWEBSOCKETS_SHIM_H

#include <libwebsockets.h>
#include <ev.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

/// LWS_PRE is a computed macro: the headroom lws_write() needs before the payload.
static inline size_t clws_pre(void) { return LWS_PRE; }

/// lwsl_* are variadic macros; Swift logs through swift-log, so only the level setter is needed.
static inline void clws_set_log_level(int level) { lws_set_log_level(level, NULL); }

/// A timer on the context's libev loop, with a pointer back to its owner. Not an lws_sul: lws 4.1 re-arms its
/// libev timer only from its own timer and idle callbacks, and libev runs idle callbacks only when no socket is
/// ready, so under load a newly scheduled lws_sul fired tens of ms late. The callback keeps lws's sul_cb_t
/// shape and gets `&sul`, the first member, so `clws_timer_from_sul` turns it back into the timer.
typedef struct clws_timer {
    lws_sorted_usec_list_t sul;
    void *owner;
    ev_timer watcher;
    sul_cb_t callback;
    struct ev_loop *loop;
} clws_timer;

static inline clws_timer *clws_timer_from_sul(lws_sorted_usec_list_t *sul) { return (clws_timer *)sul; }

static inline void clws_timer_fired(struct ev_loop *loop, ev_timer *watcher, int revents) {
    (void)loop;
    (void)revents;
    clws_timer *t = (clws_timer *)((char *)watcher - offsetof(clws_timer, watcher));
    t->callback(&t->sul);
}

/// Fires `cb` once after `us` microseconds, replacing any earlier schedule. ev_now_update first: the loop's
/// cached time is from the start of this pass, which may have been long.
static inline void clws_timer_schedule(struct ev_loop *loop, clws_timer *t, sul_cb_t cb, lws_usec_t us) {
    if (t->loop) ev_timer_stop(t->loop, &t->watcher);
    t->loop = loop;
    t->callback = cb;
    ev_now_update(loop);
    ev_timer_init(&t->watcher, clws_timer_fired, (ev_tstamp)us / 1e6, 0.);
    ev_timer_start(loop, &t->watcher);
}

static inline void clws_timer_cancel(clws_timer *t) {
    if (t->loop) ev_timer_stop(t->loop, &t->watcher);
    t->loop = NULL;
}

/// Keeps lws's own timers (ping and hang-up of idle connections, handshake timeouts) running on the libev loop.
/// lws 4.1 arms its libev timer only for the earliest timer it knows of when that timer fires, or from its idle
/// callback; a timer lws schedules while none is armed waits for the next socket event. This one re-schedules
/// itself every CLWS_HEARTBEAT_US, so lws's timer is always armed and its timers fire at most that late.
#define CLWS_HEARTBEAT_US 50000

typedef struct clws_heartbeat {
    lws_sorted_usec_list_t sul;
    struct lws_context *context;
} clws_heartbeat;

static inline void clws_heartbeat_fired(lws_sorted_usec_list_t *sul) {
    clws_heartbeat *h = (clws_heartbeat *)sul;
    lws_sul_schedule(h->context, 0, &h->sul, clws_heartbeat_fired, CLWS_HEARTBEAT_US);
}

static inline void clws_heartbeat_start(struct lws_context *context, clws_heartbeat *h) {
    h->context = context;
    lws_sul_schedule(context, 0, &h->sul, clws_heartbeat_fired, CLWS_HEARTBEAT_US);
    lws_cancel_service(context);  // a socket event, so lws's idle callback arms its timer now
}

/// Keeps the kernel's unsent bytes small so queued samples stay in reach of drop-oldest and the budget.
static inline int clws_set_notsent_lowat(int fd, int bytes) {
    return setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &bytes, sizeof(bytes));
}

/// Disables Nagle: samples are small and late samples are worthless.
static inline int clws_set_nodelay(int fd) {
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/// The event loop every context runs on: libev on epoll, created here and handed to lws as a foreign loop.
/// lws's default loop calls poll() over every socket on each pass, which at 10,000 mostly idle connections
/// was two thirds of the hub's CPU; epoll costs per event, not per connection. NOSIGMASK: signals belong to
/// the hub's sigwait thread, libev must not touch the mask. NULL when epoll is unavailable.
static inline struct ev_loop *clws_ev_loop_new(void) {
    return ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOSIGMASK);
}

/// One pass of the loop: waits for at least one event (or the lws timer / cancel pipe), handles what is ready.
static inline void clws_ev_run_once(struct ev_loop *loop) { ev_run(loop, EVRUN_ONCE); }

static inline void clws_ev_loop_destroy(struct ev_loop *loop) { ev_loop_destroy(loop); }

#endif
