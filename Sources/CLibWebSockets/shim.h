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
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <unistd.h>

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

/// A libev prepare watcher with a pointer back to its owner: `callback(owner)` runs once per pass of the loop,
/// after the events of the previous pass were handled and before the loop waits for new ones. The watcher is the
/// first member, so the libev callback turns its watcher pointer back into the struct.
typedef struct clws_pass {
    ev_prepare watcher;
    void *owner;
    void (*callback)(void *owner);
    struct ev_loop *loop;
} clws_pass;

static inline void clws_pass_fired(struct ev_loop *loop, ev_prepare *watcher, int revents) {
    (void)loop;
    (void)revents;
    clws_pass *p = (clws_pass *)watcher;
    p->callback(p->owner);
}

static inline void clws_pass_start(struct ev_loop *loop, clws_pass *p, void (*callback)(void *), void *owner) {
    p->owner = owner;
    p->callback = callback;
    p->loop = loop;
    ev_prepare_init(&p->watcher, clws_pass_fired);
    ev_prepare_start(loop, &p->watcher);
}

static inline void clws_pass_stop(clws_pass *p) {
    if (p->loop) ev_prepare_stop(p->loop, &p->watcher);
    p->loop = NULL;
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

/// A listening socket the hub opens itself, shared with other hub processes on the same port (SO_REUSEPORT:
/// the kernel spreads new connections over every socket bound with it). lws 4.1 sets the option only on Windows
/// (LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE there means "not SO_EXCLUSIVEADDRUSE"), so the hub accepts on this socket
/// from its libev loop and hands each connection to lws with lws_adopt_socket_vhost, the path lws documents for
/// sockets accepted elsewhere. The watcher is the first member: the callback turns it back into the listener.
typedef struct clws_listener {
    ev_io watcher;
    struct lws_vhost *vhost;
    struct ev_loop *loop;
    int fd;
} clws_listener;

/// Opens a non-blocking IPv4 or IPv6 listening socket on host:port with SO_REUSEADDR and SO_REUSEPORT.
/// Returns the descriptor, or -errno (-EADDRINUSE when another socket without SO_REUSEPORT holds the port).
static inline int clws_listen_shared(const char *host, int port, int backlog) {
    struct addrinfo hints = {0}, *found = NULL;
    char service[8];
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%d", port);
    if (getaddrinfo(host, service, &hints, &found) != 0 || !found) return -EINVAL;
    int fd = socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, error = 0;
    if (fd < 0) error = errno;
    else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
             setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
             bind(fd, found->ai_addr, found->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
        error = errno;
        close(fd);
    }
    freeaddrinfo(found);
    return error ? -error : fd;
}

/// The port a socket is bound to (after binding port 0), or -1.
static inline int clws_bound_port(int fd) {
    struct sockaddr_storage address;
    socklen_t length = sizeof(address);
    if (getsockname(fd, (struct sockaddr *)&address, &length) < 0) return -1;
    if (address.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&address)->sin6_port);
    return ntohs(((struct sockaddr_in *)&address)->sin_port);
}

/// Accepts every connection waiting and hands each to lws, which owns (and closes) it from then on. A connection
/// lws cannot take is closed here. Stops at EAGAIN; on another error (EMFILE: out of descriptors) it returns and
/// the level-triggered watcher tries again on the next pass, as lws's own listener does.
static inline void clws_listener_ready(struct ev_loop *loop, ev_io *watcher, int revents) {
    (void)loop;
    (void)revents;
    clws_listener *listener = (clws_listener *)watcher;
    for (;;) {
        int fd = accept4(listener->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        if (!lws_adopt_socket_vhost(listener->vhost, fd)) close(fd);
    }
}

/// Starts accepting on `fd` for `vhost` in `loop`. The listener must stay allocated until clws_listener_stop.
static inline void clws_listener_start(struct ev_loop *loop, clws_listener *listener, struct lws_vhost *vhost, int fd) {
    listener->vhost = vhost;
    listener->loop = loop;
    listener->fd = fd;
    ev_io_init(&listener->watcher, clws_listener_ready, fd, EV_READ);
    ev_io_start(loop, &listener->watcher);
}

/// Stops accepting and closes the listening socket (connections already handed to lws stay open).
static inline void clws_listener_stop(clws_listener *listener) {
    if (listener->loop) ev_io_stop(listener->loop, &listener->watcher);
    listener->loop = NULL;
    if (listener->fd >= 0) close(listener->fd);
    listener->fd = -1;
}

#endif
