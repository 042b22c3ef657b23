/*
 * server.c - the listener, per-connection framing and response ordering.
 *
 * Each request reserves a slot in its connection's queue when it is read;
 * slots leave in that order however late they are filled (long-poll fetch,
 * produce waiting for fsync).  A connection stops being read while its
 * output is large or too many responses are pending, so a slow client costs
 * bounded memory.
 *
 * A request must arrive whole within kq.request.read.timeout.ms of its
 * first byte (slowloris); the timer runs only while a partial frame waits
 * and the connection is being read.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/listener.h>

#include "broker.h"

#define OUT_HIGH (64u * 1024 * 1024)	/* stop reading above this much queued output */
#define OUT_LOW (16u * 1024 * 1024)	/* write callback (resume) at or below this */
#define MAX_PENDING 1024		/* responses not yet written */

struct conn {
	struct bufferevent *bev;
	struct event *rd_timer;	/* request-read timeout; NULL until first needed */
	struct slot *head, *tail;
	int npending;		/* slots not yet moved to the output */
	bool dead;		/* socket closed; freed when npending hits 0 */
	bool failed;		/* close after the current frame */
	bool paused;
	bool in_read;
	char peer[96];
	struct conn *prev, *next;
};

static struct evconnlistener *listener;
static struct conn *conns;
static int nconns;

const char *
conn_peer(const struct conn *conn)
{
	return conn->peer;
}

static void
conn_unlink(struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	nconns--;
}

static void
conn_maybe_free(struct conn *c)
{
	if (c->dead && c->npending == 0 && !c->in_read) {
		watch_forget(c);
		free(c);
	}
}

static void conn_send_ready(struct conn *c);
static void accept_slot_freed(void);

static void
conn_close(struct conn *c)
{
	if (c->dead)
		return;
	kq_log_debug("closing connection from %s", c->peer);
	c->dead = true;
	conn_unlink(c);
	bufferevent_free(c->bev);
	c->bev = NULL;
	if (c->rd_timer) {
		event_free(c->rd_timer);
		c->rd_timer = NULL;
	}
	accept_slot_freed();
	/* Parked fetches go now; produces still waiting for fsync free their slots later. */
	fetch_waiters_drop_conn(c);
	group_drop_conn(c);
	conn_send_ready(c);
}

void
conn_fail(struct conn *conn)
{
	conn->failed = true;
}

static bool
over_limits(struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) > OUT_HIGH ||
	       c->npending >= MAX_PENDING;
}

/*
 * Frames may already sit in the input buffer, so ask for a read callback;
 * deferred, so that no request is dispatched from inside another's answer.
 */
static void
conn_resume(struct conn *c)
{
	c->paused = false;
	bufferevent_enable(c->bev, EV_READ);
	bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

static void
conn_send_ready(struct conn *c)
{
	struct evbuffer *out;

	if (c->dead) {
		/* Drop finished slots at the head; the rest are freed as they finish. */
		while (c->head && c->head->ready) {
			struct slot *s = c->head;

			c->head = s->next;
			evbuffer_free(s->buf);
			free(s);
			c->npending--;
		}
		if (!c->head)
			c->tail = NULL;
		conn_maybe_free(c);
		return;
	}
	out = bufferevent_get_output(c->bev);
	while (c->head && c->head->ready) {
		struct slot *s = c->head;

		c->head = s->next;
		evbuffer_add_buffer(out, s->buf);
		evbuffer_free(s->buf);
		free(s);
		c->npending--;
	}
	if (!c->head)
		c->tail = NULL;
	if (c->paused && !over_limits(c))
		conn_resume(c);
}

void
slot_drop(struct slot *s)
{
	struct conn *c = s->conn;
	struct slot **pp, *prev = NULL;

	for (pp = &c->head; *pp; prev = *pp, pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			if (c->tail == s)
				c->tail = prev;
			break;
		}
	if (s->buf)
		evbuffer_free(s->buf);
	free(s);
	c->npending--;
}

struct slot *
slot_new(struct conn *conn)
{
	struct slot *s = kq_xcalloc(1, sizeof(*s));

	s->conn = conn;
	if (conn->tail)
		conn->tail->next = s;
	else
		conn->head = s;
	conn->tail = s;
	conn->npending++;
	return s;
}

void
slot_finish_evbuf(struct slot *s, int32_t corr, struct evbuffer *body)
{
	unsigned char hdr[8];
	size_t n = evbuffer_get_length(body);

	kq_put32(hdr, (uint32_t)(n + 4));
	kq_put32(hdr + 4, (uint32_t)corr);
	evbuffer_prepend(body, hdr, sizeof(hdr));
	s->buf = body;
	s->ready = true;
	conn_send_ready(s->conn);
}

void
slot_finish(struct slot *s, int32_t corr, const void *body, size_t n)
{
	struct evbuffer *b = evbuffer_new();

	if (!b)
		kq_fatalx("out of memory");
	evbuffer_add(b, body, n);
	slot_finish_evbuf(s, corr, b);
}

static void
read_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	watch_begin("request-read timeout");
	kq_log_info("%s: no whole request within %d ms of its first byte; closing", c->peer,
		    cfg.request_read_timeout_ms);
	conn_close(c);
	watch_end();
}

/*
 * After a read: a partial frame starts its clock when its first byte came
 * in this read (nothing was pending, or a frame before it completed); no
 * partial frame, or a paused connection, stops it.
 */
static void
read_timer_update(struct conn *c, bool restart)
{
	struct timeval tv;

	if (c->dead || cfg.request_read_timeout_ms <= 0)
		return;
	if (c->paused || evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
		if (c->rd_timer)
			event_del(c->rd_timer);
		return;
	}
	if (!c->rd_timer) {
		c->rd_timer = evtimer_new(bufferevent_get_base(c->bev), read_timeout, c);
		if (!c->rd_timer)
			return;
	} else if (!restart && evtimer_pending(c->rd_timer, NULL)) {
		return;
	}
	tv.tv_sec = cfg.request_read_timeout_ms / 1000;
	tv.tv_usec = (cfg.request_read_timeout_ms % 1000) * 1000;
	evtimer_add(c->rd_timer, &tv);
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	bool framed = false;

	if (c->in_read)
		return;
	watch_begin("request");
	c->in_read = true;
	while (!c->dead) {
		unsigned char szb[4];
		size_t avail = evbuffer_get_length(in);
		int32_t size;
		unsigned char *p;

		if (over_limits(c)) {
			c->paused = true;
			bufferevent_disable(bev, EV_READ);
			break;
		}
		if (avail < 4)
			break;
		evbuffer_copyout(in, szb, 4);
		size = (int32_t)kq_be32(szb);
		if (size < 8 || size > cfg.socket_request_max_bytes) {
			kq_log_info("%s: bad frame size %d; closing", c->peer, size);
			conn_close(c);
			break;
		}
		if (avail < (size_t)size + 4)
			break;
		p = evbuffer_pullup(in, (ssize_t)size + 4);
		if (!p) {
			kq_log_warnx("%s: out of memory for a %d-byte frame", c->peer, size);
			conn_close(c);
			break;
		}
		api_dispatch(c, p + 4, (size_t)size);
		framed = true;
		if (c->dead)
			break;
		evbuffer_drain(in, (size_t)size + 4);
		if (c->failed) {
			conn_close(c);
			break;
		}
	}
	c->in_read = false;
	read_timer_update(c, framed);
	flush_kick();
	conn_maybe_free(c);
	watch_end();
}

static void
conn_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	watch_begin("write");
	if (c->paused && !over_limits(c))
		conn_resume(c);
	watch_end();
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	watch_begin("connection event");
	if (what & BEV_EVENT_ERROR)
		kq_log_debug("%s: connection error: %s", c->peer,
			     evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		conn_close(c);
	} else if (what & BEV_EVENT_TIMEOUT) {
		/* Idle only if nothing is owed to it (a long poll is not idleness). */
		if (c->npending == 0 &&
		    evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
			kq_log_debug("%s: idle for %d ms; closing", c->peer,
				     cfg.connections_max_idle_ms);
			conn_close(c);
		} else if (!c->paused) {
			bufferevent_enable(bev, EV_READ);
		}
	}
	watch_end();
}

static struct event *accept_retry;
static bool accept_paused;	/* out of descriptors, listener disabled */
/* A condition that can repeat thousands of times a second gets one log line per 10 s. */
struct ratelimit {
	bool said;
	int64_t at_ms;
	int n;		/* times since the last line */
};
static struct ratelimit refusals, accept_fails;

/* Count one more; 0, or the count to log when a line is due (the first, then every 10 s). */
static int
ratelimit_due(struct ratelimit *r)
{
	int64_t now = kq_mono_ms();
	int n;

	r->n++;
	if (r->said && now - r->at_ms < 10000)
		return 0;
	r->said = true;
	r->at_ms = now;
	n = r->n;
	r->n = 0;
	return n;
}

/* At max.connections: close at once. */
static void
refuse(evutil_socket_t fd)
{
	int n;

	evutil_closesocket(fd);
	if ((n = ratelimit_due(&refusals)))
		kq_log_warnx("max.connections (%d) reached: refused %d connection%s",
			     cfg.max_connections, n, n == 1 ? "" : "s");
}

static void
accept_one(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen)
{
	struct conn *c;
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	int one = 1;

	if (nconns >= cfg.max_connections) {
		refuse(fd);
		return;
	}
	c = kq_xcalloc(1, sizeof(*c));
	if (getnameinfo(sa, (socklen_t)salen, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		snprintf(c->peer, sizeof(c->peer), "%.64s:%.16s", host, serv);
	else
		snprintf(c->peer, sizeof(c->peer), "?");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, OUT_LOW, 0);
	/* Big produce frames: fewer, larger reads. */
	bufferevent_set_max_single_read(c->bev, 256 * 1024);
	if (cfg.connections_max_idle_ms > 0) {
		struct timeval tv = { cfg.connections_max_idle_ms / 1000,
				      (cfg.connections_max_idle_ms % 1000) * 1000 };

		bufferevent_set_timeouts(c->bev, &tv, NULL);
	}
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = conns;
	if (conns)
		conns->prev = c;
	conns = c;
	nconns++;
	kq_log_debug("connection from %s", c->peer);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
	  void *arg)
{
	watch_begin("accept");
	accept_one(l, fd, sa, salen);
	watch_end();
}

static void
accept_resume(evutil_socket_t fd, short what, void *arg)
{
	if (listener && accept_paused) {
		accept_paused = false;
		evconnlistener_enable(listener);
	}
}

/* A descriptor came free: retry a listener stopped by EMFILE now. */
static void
accept_slot_freed(void)
{
	if (accept_paused) {
		if (accept_retry)
			evtimer_del(accept_retry);
		accept_resume(-1, 0, NULL);
	}
}

static void
accept_error(struct evconnlistener *l, void *arg)
{
	struct timeval tv = { 0, 100000 };
	int err = EVUTIL_SOCKET_ERROR(), n;

	if ((n = ratelimit_due(&accept_fails))) {
		errno = err;
		kq_log_warn("accept failed %d time%s", n, n == 1 ? "" : "s");
	}
	/* Out of descriptors: the listening socket stays readable; do not spin on it. */
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		evconnlistener_disable(l);
		accept_paused = true;
		if (!accept_retry)
			accept_retry = evtimer_new(evconnlistener_get_base(l), accept_resume, NULL);
		if (accept_retry)
			evtimer_add(accept_retry, &tv);
	}
}

int
server_listen(struct event_base *base, const char *host, int port, int *real_port,
	      char *errbuf, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	char pbuf[16];
	int fd = -1, rc, one = 1;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(pbuf, sizeof(pbuf), "%d", port);
	rc = getaddrinfo(host, pbuf, &hints, &res);
	if (rc != 0) {
		snprintf(errbuf, errlen, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, cfg.listen_backlog) == 0)
			break;
		snprintf(errbuf, errlen, "listen on %s:%d: %s", host, port, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		if (!ai && errbuf[0] == '\0')
			snprintf(errbuf, errlen, "listen on %s:%d: no usable address", host, port);
		return -1;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			*real_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else
			*real_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else {
		*real_port = port;
	}
	/* Backlog 0: already listening (-1 would make libevent listen again with 128). */
	listener = evconnlistener_new(base, accept_cb, NULL, LEV_OPT_CLOSE_ON_FREE, 0, fd);
	if (!listener) {
		snprintf(errbuf, errlen, "evconnlistener_new failed");
		close(fd);
		return -1;
	}
	evconnlistener_set_error_cb(listener, accept_error);
	return 0;
}

void
server_stop_accepting(void)
{
	if (listener) {
		evconnlistener_free(listener);
		listener = NULL;
	}
}

/* Shutdown: push what is ready, then close every connection. */
void
server_close_all(void)
{
	while (conns) {
		struct conn *c = conns;
		struct evbuffer *out = bufferevent_get_output(c->bev);
		int fd = bufferevent_getfd(c->bev);

		/* Best effort, non-blocking: whatever the socket takes now. */
		while (evbuffer_get_length(out) > 0 && evbuffer_write(out, fd) > 0)
			;
		conn_close(c);
	}
}
