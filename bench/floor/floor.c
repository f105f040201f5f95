/*
 * floor: the bare libwebsockets broadcast the bench compares hrhub against (issue 7, item 3).
 *
 * No logic: every WebSocket message a client sends to a path is sent, unchanged, to every *other* client of
 * that path that receives (a client whose query has role=publisher only sends), one frame per message. No
 * parsing, no batching, no budget; the same libwebsockets 4.1 and the same default poll() loop as hrhub, so
 * the hub's cost above this is its own logic and the distance below it is what batching saves.
 *
 * Each message is copied once into a reference-counted buffer (with LWS_PRE headroom) and queued on every
 * receiver; a receiver's queue holds at most QUEUE_MAX messages and drops the newest beyond that (the probe
 * then counts unexplained loss: the floor has no gaps).
 *
 * Build: gcc -O2 -o floor floor.c $(pkg-config --cflags --libs libwebsockets)
 * Run:   floor PORT   (127.0.0.1; PORT 0 picks one). First line: "floor listening on ws://127.0.0.1:PORT".
 */
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX 1024
#define PATH_MAX_LEN 128

struct message {
	int refs;
	size_t len;
	unsigned char bytes[]; /* LWS_PRE headroom, then the payload */
};

struct group;

struct session {
	struct lws *wsi;
	struct group *group;
	struct session *next; /* in the group's list */
	int receives;
	struct message *queue[QUEUE_MAX];
	unsigned head, count;
	unsigned char *partial; /* a message arriving in several fragments */
	size_t partial_len, partial_cap;
};

struct group {
	char path[PATH_MAX_LEN];
	struct session *members;
	struct group *next;
};

static struct group *groups;
static unsigned long long dropped, relayed;
static volatile int interrupted;

static struct group *group_for(const char *path)
{
	struct group *g;
	for (g = groups; g; g = g->next)
		if (!strcmp(g->path, path))
			return g;
	g = calloc(1, sizeof(*g));
	snprintf(g->path, sizeof(g->path), "%s", path);
	g->next = groups;
	groups = g;
	return g;
}

static void unref(struct message *m)
{
	if (--m->refs == 0)
		free(m);
}

static void broadcast(struct session *from, const unsigned char *data, size_t len, int binary)
{
	struct session *s;
	struct message *m = malloc(sizeof(*m) + LWS_PRE + len + 1);
	m->refs = 1; /* ours, dropped below */
	m->len = len;
	m->bytes[LWS_PRE + len] = binary ? 1 : 0; /* the frame kind rides after the payload */
	memcpy(m->bytes + LWS_PRE, data, len);
	for (s = from->group->members; s; s = s->next) {
		if (s == from || !s->receives)
			continue;
		if (s->count == QUEUE_MAX) {
			dropped++;
			continue;
		}
		s->queue[(s->head + s->count) % QUEUE_MAX] = m;
		s->count++;
		m->refs++;
		relayed++;
		lws_callback_on_writable(s->wsi);
	}
	unref(m);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct session *s = user;
	char path[PATH_MAX_LEN], args[64];
	int n;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		memset(s, 0, sizeof(*s));
		s->wsi = wsi;
		if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0)
			snprintf(path, sizeof(path), "/");
		s->receives = 1;
		for (n = 0; lws_hdr_copy_fragment(wsi, args, sizeof(args), WSI_TOKEN_HTTP_URI_ARGS, n) > 0; n++)
			if (!strcmp(args, "role=publisher"))
				s->receives = 0;
		s->group = group_for(path);
		s->next = s->group->members;
		s->group->members = s;
		break;

	case LWS_CALLBACK_RECEIVE: {
		int final = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
		int binary = lws_frame_is_binary(wsi);
		if (final && !s->partial_len) {
			broadcast(s, in, len, binary);
			break;
		}
		if (s->partial_len + len > s->partial_cap) {
			s->partial_cap = (s->partial_len + len) * 2;
			s->partial = realloc(s->partial, s->partial_cap);
		}
		memcpy(s->partial + s->partial_len, in, len);
		s->partial_len += len;
		if (final) {
			broadcast(s, s->partial, s->partial_len, binary);
			s->partial_len = 0;
		}
		break;
	}

	case LWS_CALLBACK_SERVER_WRITEABLE: {
		struct message *m;
		size_t size;
		if (!s->count)
			break;
		m = s->queue[s->head];
		s->head = (s->head + 1) % QUEUE_MAX;
		s->count--;
		size = m->len;
		n = lws_write(wsi, m->bytes + LWS_PRE, size,
			      m->bytes[LWS_PRE + size] ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
		unref(m);
		if (n < 0)
			return -1;
		if (s->count)
			lws_callback_on_writable(wsi);
		break;
	}

	case LWS_CALLBACK_CLOSED: {
		struct session **p;
		if (!s->group)
			break;
		for (p = &s->group->members; *p; p = &(*p)->next)
			if (*p == s) {
				*p = s->next;
				break;
			}
		while (s->count) {
			unref(s->queue[s->head]);
			s->head = (s->head + 1) % QUEUE_MAX;
			s->count--;
		}
		free(s->partial);
		s->group = NULL;
		break;
	}

	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "floor", callback, sizeof(struct session), 4096, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

int main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct lws_context *context;
	struct lws_vhost *vhost;

	memset(&info, 0, sizeof(info));
	info.port = argc > 1 ? atoi(argv[1]) : 0;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	lws_set_log_level(LLL_ERR, NULL);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	context = lws_create_context(&info);
	if (!context)
		return 1;
	vhost = lws_create_vhost(context, &info);
	if (!vhost)
		return 1;
	printf("floor listening on ws://127.0.0.1:%d\n", lws_get_vhost_listen_port(vhost));
	fflush(stdout);
	while (!interrupted)
		if (lws_service(context, 0) < 0)
			break;
	fprintf(stderr, "floor: relayed %llu, dropped %llu (queue full)\n", relayed, dropped);
	lws_context_destroy(context);
	return 0;
}
