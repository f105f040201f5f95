// The C side of LWSTransport: libwebsockets plus the few wrappers Swift needs.
// Each wrapper exists because Swift cannot import a macro or a variadic function.
#ifndef HRHUB_CLIBWEBSOCKETS_SHIM_H
#define HRHUB_CLIBWEBSOCKETS_SHIM_H

#include <libwebsockets.h>
#include <ev.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

/// LWS_PRE is a computed macro: the headroom lws_write() needs before the payload.
static inline size_t clws_pre(void) { return LWS_PRE; }

/// lwsl_* are variadic macros; Swift logs through swift-log, so only the level setter is needed.
static inline void clws_set_log_level(int level) { lws_set_log_level(level, NULL); }

/// A timer: lws's sorted-usec-list entry plus a pointer back to its owner. lws hands the callback the
/// entry's address; because `sul` is the first member, that address is also the timer's address.
typedef struct clws_timer {
    lws_sorted_usec_list_t sul;
    void *owner;
} clws_timer;

static inline clws_timer *clws_timer_from_sul(lws_sorted_usec_list_t *sul) { return (clws_timer *)sul; }

static inline void clws_timer_schedule(struct lws_context *ctx, clws_timer *t, sul_cb_t cb, lws_usec_t us) {
    lws_sul_schedule(ctx, 0, &t->sul, cb, us);
}

static inline void clws_timer_cancel(clws_timer *t) { lws_sul_cancel(&t->sul); }

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
