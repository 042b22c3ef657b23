/*
 * watch.c - the loop-latency watchdog.  Every callback the loop runs is
 * bracketed by watch_begin/watch_end; one that holds the loop longer than
 * kq.loop.stall.ms is logged with what it was doing: the callback, the last
 * request it dispatched (API, version, peer, client) and the last partition
 * it touched.  The cost per callback is two reads of CLOCK_MONOTONIC_COARSE
 * (a load from the vDSO page, no system call) and a few stores.
 *
 * Test hook: KQ_TEST_STALL=API:MS in the environment at start-up makes every
 * request of that API (a name as in kq_api_name, e.g. ApiVersions) sleep MS
 * milliseconds after its handler, so a test can cause a stall on purpose.
 * Nothing from the network can turn it on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"

static struct {
	int depth;
	int64_t start_ms;
	const char *what;	/* static: "read", "timer checkpoint", ... */
	const struct conn *conn;
	int16_t key, version;	/* -1: no request */
	char client[48];
	int nreq;
	const struct partition *part;
} cur;

static int16_t stall_key = -1;
static int stall_ms;

void
watch_init(void)
{
	const char *env = getenv("KQ_TEST_STALL");
	const char *colon;
	int i;

	if (!env || !(colon = strchr(env, ':')))
		return;
	for (i = 0; i < KQ_API_MAX; i++)
		if (strlen(kq_api_name((int16_t)i)) == (size_t)(colon - env) &&
		    strncmp(kq_api_name((int16_t)i), env, (size_t)(colon - env)) == 0)
			break;
	stall_ms = atoi(colon + 1);
	if (i == KQ_API_MAX || stall_ms <= 0 || stall_ms > 60000) {
		kq_log_warnx("KQ_TEST_STALL=%s ignored (API:MS, MS 1..60000)", env);
		return;
	}
	stall_key = (int16_t)i;
	kq_log_warnx("test hook: every %s request stalls the loop for %d ms", kq_api_name(stall_key),
		     stall_ms);
}

void
watch_begin(const char *what)
{
	if (cur.depth++ > 0)
		return;
	cur.start_ms = cfg.loop_stall_ms > 0 ? kq_coarse_ms() : 0;
	cur.what = what;
	cur.conn = NULL;
	cur.key = -1;
	cur.nreq = 0;
	cur.part = NULL;
}

void
watch_request(const struct req *rq, const char *client)
{
	size_t n = strnlen(client, sizeof(cur.client) - 1);

	cur.conn = rq->conn;
	cur.key = rq->key;
	cur.version = rq->version;
	cur.nreq++;
	memcpy(cur.client, client, n);
	cur.client[n] = '\0';
}

void
watch_request_done(const struct req *rq)
{
	struct timespec ts;

	if (rq->key != stall_key)
		return;
	ts.tv_sec = stall_ms / 1000;
	ts.tv_nsec = (long)(stall_ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0)
		;
}

void
watch_partition(const struct partition *p)
{
	cur.part = p;
}

void
watch_forget(const void *gone)
{
	if (cur.part == gone)
		cur.part = NULL;
	if (cur.conn == gone)
		cur.conn = NULL;
}

void
watch_end(void)
{
	struct kq_buf b = { 0 };
	int64_t took;

	if (--cur.depth > 0 || cfg.loop_stall_ms <= 0)
		return;
	took = kq_coarse_ms() - cur.start_ms;
	if (took < cfg.loop_stall_ms)
		return;
	kq_buf_addf(&b, "loop stalled %lld ms in %s", (long long)took, cur.what);
	if (cur.key >= 0) {
		kq_buf_addf(&b, ": %s v%d", kq_api_name(cur.key), cur.version);
		if (cur.conn)
			kq_buf_addf(&b, " from %s", conn_peer(cur.conn));
		kq_buf_addf(&b, " (client '%s')", cur.client);
		if (cur.nreq > 1)
			kq_buf_addf(&b, ", the last of %d requests", cur.nreq);
	}
	if (cur.part)
		kq_buf_addf(&b, ", partition %s-%d", cur.part->topic->name, cur.part->id);
	kq_log_warnx("%s", kq_buf_cstr(&b));
	kq_buf_free(&b);
}

/* A libevent callback run inside watch_begin/watch_end under a fixed name. */
struct watched {
	event_callback_fn fn;
	void *arg;
	const char *what;
};

static void
watched_cb(evutil_socket_t fd, short events, void *arg)
{
	struct watched *w = arg;

	watch_begin(w->what);
	w->fn(fd, events, w->arg);
	watch_end();
}

struct event *
watch_event_new(struct event_base *base, evutil_socket_t fd, short events,
		event_callback_fn fn, void *arg, const char *what)
{
	struct watched *w = kq_xcalloc(1, sizeof(*w));
	struct event *ev;

	w->fn = fn;
	w->arg = arg;
	w->what = what;
	ev = event_new(base, fd, events, watched_cb, w);
	if (!ev)
		free(w);
	return ev;
}

void
watch_event_free(struct event *ev)
{
	if (!ev)
		return;
	free(event_get_callback_arg(ev));
	event_free(ev);
}
