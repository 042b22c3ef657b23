/*
 * conn.c - one client connection to a broker: connect, ApiVersions
 * handshake, request encoding with correlation ids, pipelined responses
 * matched in order, blocking and non-blocking I/O.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"

#define READ_CHUNK (64 * 1024)

struct pending {
	int32_t corr_id;
	int16_t api_key, version;
	void *tag;
};

struct kq_conn {
	int fd;
	int port;
	int32_t node;
	char *host, *client_id;
	char name[300];
	int16_t vmin[KQ_API_MAX], vmax[KQ_API_MAX];	/* vmax -1: unsupported */

	struct kq_buf out;
	size_t out_off;		/* bytes of out already written */
	struct kq_buf in;
	size_t in_off;		/* start of unconsumed input */
	size_t last_frame;	/* bytes handed out by the last recv, dropped next time */

	struct pending *pend;	/* ring of requests awaiting a response */
	size_t pend_cap, pend_head, pend_n;
	int32_t next_corr;

	int err;		/* sticky error once broken */
	char errstr[384];
};

static void
set_err(struct kq_conn *conn, int err, const char *fmt, ...) KQ_PRINTF(3, 4);

static void
set_err(struct kq_conn *conn, int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(conn->errstr, sizeof(conn->errstr), "%s: ", conn->name);
	if (n < 0 || (size_t)n >= sizeof(conn->errstr))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(conn->errstr + n, sizeof(conn->errstr) - (size_t)n, fmt, ap);
	va_end(ap);
	if (err != KQ_ERR_TIMEOUT && err != KQ_ERR_AGAIN && err != KQ_ERR_INVALID &&
	    err != KQ_ERR_UNSUPPORTED)
		conn->err = err;
}

/* strerror in the lower case kq's messages use ("connection refused"). */
static void
lc_strerror(int e, char *buf, size_t len)
{
	snprintf(buf, len, "%s", strerror(e));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
}

static int64_t
remaining(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - kq_mono_ms();
	return left > 0 ? left : 0;
}

static int
poll_ms(int64_t ms)
{
	if (ms < 0)
		return -1;
	return ms > 1000000000 ? 1000000000 : (int)ms;
}

static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int r;

	for (;;) {
		r = poll(&pfd, 1, poll_ms(remaining(deadline)));
		if (r > 0)
			return 0;
		if (r == 0)
			return KQ_ERR_TIMEOUT;
		if (errno != EINTR)
			return KQ_ERR_IO;
	}
}

/* One address: non-blocking connect, waiting until deadline. */
static int
connect_one(const struct addrinfo *ai, int64_t deadline, int *fdp, int *errnop)
{
	int fd, one = 1, soerr = 0, r;
	socklen_t sl = sizeof(soerr);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0) {
		*errnop = errno;
		return KQ_ERR_IO;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS && errno != EINTR) {
			*errnop = errno;
			close(fd);
			return KQ_ERR_IO;
		}
		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0) {
			*errnop = r == KQ_ERR_TIMEOUT ? ETIMEDOUT : errno;
			close(fd);
			return r;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
			*errnop = soerr ? soerr : errno;
			close(fd);
			return KQ_ERR_IO;
		}
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*fdp = fd;
	return 0;
}

static int
handshake(struct kq_conn *conn, int64_t deadline)
{
	struct kq_ApiVersionsRequest req;
	struct kq_ApiVersionsResponse resp;
	struct kq_arena a = { 0 };
	int32_t i;
	int r;

	kq_ApiVersionsRequest_init(&req);
	r = kq_conn_call(conn, KQ_API_API_VERSIONS, 0, &req, &a, &resp, remaining(deadline));
	if (r == 0 && resp.ErrorCode != 0) {
		set_err(conn, KQ_ERR_UNSUPPORTED, "ApiVersions failed: %s",
			kq_err_str(resp.ErrorCode));
		r = KQ_ERR_UNSUPPORTED;
	}
	if (r == 0) {
		for (i = 0; i < resp.ApiKeys_count; i++) {
			const struct kq_ApiVersionsResponse_ApiVersion *v = &resp.ApiKeys[i];

			if (v->ApiKey < 0 || v->ApiKey >= KQ_API_MAX || v->MinVersion < 0 ||
			    v->MaxVersion < v->MinVersion)
				continue;
			conn->vmin[v->ApiKey] = v->MinVersion;
			conn->vmax[v->ApiKey] = v->MaxVersion;
		}
	}
	kq_arena_free(&a);
	return r;
}

int
kq_conn_open(struct kq_conn **out, const char *host, int port, const char *client_id,
	     int64_t timeout_ms, char *errbuf, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct kq_conn *conn;
	char portstr[16], why[128] = "";
	int64_t deadline;
	int r, gai, fd = -1, e = 0;
	size_t i;

	if (timeout_ms <= 0)
		timeout_ms = 10000;
	deadline = kq_mono_ms() + timeout_ms;
	conn = kq_xcalloc(1, sizeof(*conn));
	conn->fd = -1;
	conn->node = -1;
	conn->port = port;
	conn->host = kq_xstrdup(host);
	conn->client_id = client_id ? kq_xstrdup(client_id) : NULL;
	if (strchr(host, ':'))
		snprintf(conn->name, sizeof(conn->name), "[%s]:%d", host, port);
	else
		snprintf(conn->name, sizeof(conn->name), "%s:%d", host, port);
	for (i = 0; i < KQ_API_MAX; i++)
		conn->vmax[i] = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	snprintf(portstr, sizeof(portstr), "%d", port);
	gai = getaddrinfo(host, portstr, &hints, &res);
	if (gai != 0) {
		snprintf(why, sizeof(why), "%s", gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		if (why[0] >= 'A' && why[0] <= 'Z')
			why[0] = (char)(why[0] - 'A' + 'a');
		snprintf(errbuf, errlen, "%s: cannot resolve host: %s", conn->name, why);
		kq_conn_close(conn);
		return KQ_ERR_IO;
	}
	r = KQ_ERR_IO;
	for (ai = res; ai; ai = ai->ai_next) {
		r = connect_one(ai, deadline, &fd, &e);
		if (r == 0 || r == KQ_ERR_TIMEOUT)
			break;
	}
	freeaddrinfo(res);
	if (r < 0) {
		if (r == KQ_ERR_TIMEOUT)
			snprintf(why, sizeof(why), "connection timed out");
		else
			lc_strerror(e, why, sizeof(why));
		snprintf(errbuf, errlen, "%s: %s", conn->name, why);
		kq_conn_close(conn);
		return r;
	}
	conn->fd = fd;
	r = handshake(conn, deadline);
	if (r < 0) {
		snprintf(errbuf, errlen, "%s", conn->errstr);
		kq_conn_close(conn);
		return r;
	}
	*out = conn;
	return 0;
}

void
kq_conn_close(struct kq_conn *conn)
{
	if (!conn)
		return;
	if (conn->fd >= 0)
		close(conn->fd);
	kq_buf_free(&conn->out);
	kq_buf_free(&conn->in);
	free(conn->pend);
	free(conn->host);
	free(conn->client_id);
	free(conn);
}

int
kq_conn_version(const struct kq_conn *conn, int16_t api_key, int16_t our_max)
{
	int16_t v, flex;

	if (api_key < 0 || api_key >= KQ_API_MAX || conn->vmax[api_key] < 0)
		return -1;
	/* kq only speaks non-flexible versions */
	flex = kq_api_first_flexible(api_key);
	if (flex >= 0 && our_max >= flex)
		our_max = (int16_t)(flex - 1);
	v = KQ_MIN(our_max, conn->vmax[api_key]);
	if (v < conn->vmin[api_key] || v < 0)
		return -1;
	return v;
}

int
kq_conn_fd(const struct kq_conn *conn)
{
	return conn->fd;
}

const char *
kq_conn_name(const struct kq_conn *conn)
{
	return conn->name;
}

int32_t
kq_conn_node(const struct kq_conn *conn)
{
	return conn->node;
}

void
kq_conn_set_node(struct kq_conn *conn, int32_t node)
{
	conn->node = node;
}

void
kq_conn_fail(struct kq_conn *conn, int err)
{
	if (!conn->err)
		conn->err = err < 0 ? err : KQ_ERR_IO;
}

const char *
kq_conn_errstr(const struct kq_conn *conn)
{
	return conn->errstr;
}

bool
kq_conn_broken(const struct kq_conn *conn)
{
	return conn->err != 0;
}

int
kq_conn_inflight(const struct kq_conn *conn)
{
	return (int)conn->pend_n;
}

size_t
kq_conn_unsent(const struct kq_conn *conn)
{
	return conn->out.len - conn->out_off;
}

static void
pend_push(struct kq_conn *conn, const struct pending *p)
{
	size_t i, ncap;
	struct pending *np;

	if (conn->pend_n == conn->pend_cap) {
		ncap = conn->pend_cap ? conn->pend_cap * 2 : 16;
		np = kq_xcalloc(ncap, sizeof(*np));
		for (i = 0; i < conn->pend_n; i++)
			np[i] = conn->pend[(conn->pend_head + i) % conn->pend_cap];
		free(conn->pend);
		conn->pend = np;
		conn->pend_cap = ncap;
		conn->pend_head = 0;
	}
	conn->pend[(conn->pend_head + conn->pend_n) % conn->pend_cap] = *p;
	conn->pend_n++;
}

int
kq_conn_enqueue(struct kq_conn *conn, int16_t api_key, int16_t version, const void *req,
		void *tag)
{
	struct pending p;
	size_t start, hole;
	int r;

	if (conn->err)
		return conn->err;
	if (version < 0 || (api_key != KQ_API_API_VERSIONS && kq_conn_version(conn, api_key,
	    version) != version)) {
		set_err(conn, KQ_ERR_UNSUPPORTED, "%s v%d is not supported by the broker",
			kq_api_name(api_key), version);
		return KQ_ERR_UNSUPPORTED;
	}
	start = conn->out.len;
	hole = kq_wr_hole32(&conn->out);
	kq_wr_i16(&conn->out, api_key);
	kq_wr_i16(&conn->out, version);
	kq_wr_i32(&conn->out, conn->next_corr);
	kq_wr_cstr(&conn->out, conn->client_id);
	r = kq_msg_encode(api_key, false, version, &conn->out, req);
	if (r < 0) {
		conn->out.len = start;
		set_err(conn, r, "cannot encode %s v%d", kq_api_name(api_key), version);
		return r;
	}
	if (conn->out.len - hole - 4 > INT32_MAX) {
		conn->out.len = start;
		set_err(conn, KQ_ERR_TOO_LARGE, "%s request too large", kq_api_name(api_key));
		return KQ_ERR_TOO_LARGE;
	}
	kq_wr_patch32(&conn->out, hole, (uint32_t)(conn->out.len - hole - 4));
	p.corr_id = conn->next_corr;
	p.api_key = api_key;
	p.version = version;
	p.tag = tag;
	conn->next_corr = conn->next_corr == INT32_MAX ? 0 : conn->next_corr + 1;
	/* acks=0 produce requests get no response at all */
	if (!(api_key == KQ_API_PRODUCE && ((const struct kq_ProduceRequest *)req)->Acks == 0))
		pend_push(conn, &p);
	return p.corr_id;
}

static int
io_error(struct kq_conn *conn, int e, const char *what)
{
	char why[128];

	if (e == ECONNRESET || e == EPIPE) {
		set_err(conn, KQ_ERR_CLOSED, "connection closed by broker");
		return KQ_ERR_CLOSED;
	}
	lc_strerror(e, why, sizeof(why));
	set_err(conn, KQ_ERR_IO, "%s: %s", what, why);
	return KQ_ERR_IO;
}

int
kq_conn_flush_nb(struct kq_conn *conn)
{
	ssize_t n;

	if (conn->err)
		return conn->err;
	while (conn->out_off < conn->out.len) {
		n = send(conn->fd, conn->out.buf + conn->out_off, conn->out.len - conn->out_off,
			 MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return io_error(conn, errno, "send");
		}
		conn->out_off += (size_t)n;
	}
	if (conn->out_off == conn->out.len) {
		conn->out.len = 0;
		conn->out_off = 0;
		return 0;
	}
	/* keep the buffer from growing forever under a slow broker */
	if (conn->out_off > conn->out.len / 2) {
		kq_buf_consume(&conn->out, conn->out_off);
		conn->out_off = 0;
	}
	return KQ_ERR_AGAIN;
}

int
kq_conn_flush(struct kq_conn *conn, int64_t timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : kq_mono_ms() + timeout_ms;
	int r;

	for (;;) {
		r = kq_conn_flush_nb(conn);
		if (r != KQ_ERR_AGAIN)
			return r;
		r = wait_fd(conn->fd, POLLOUT, deadline);
		if (r == KQ_ERR_TIMEOUT) {
			set_err(conn, r, "timed out sending a request");
			return r;
		}
		if (r < 0)
			return io_error(conn, errno, "poll");
	}
}

/* A complete frame at in_off?  0 yes, KQ_ERR_AGAIN no, or a framing error. */
static int
frame_ready(struct kq_conn *conn, size_t *flen)
{
	size_t avail = conn->in.len - conn->in_off;
	uint32_t size;

	if (avail < 4)
		return KQ_ERR_AGAIN;
	size = kq_be32(conn->in.buf + conn->in_off);
	if (size < 4 || size > (uint32_t)INT32_MAX) {
		set_err(conn, KQ_ERR_CORRUPT, "bad response frame size %u", size);
		return KQ_ERR_CORRUPT;
	}
	if (size > KQ_CLIENT_FRAME_MAX) {
		set_err(conn, KQ_ERR_TOO_LARGE, "response of %u bytes is over the %d byte limit",
			size, KQ_CLIENT_FRAME_MAX);
		return KQ_ERR_TOO_LARGE;
	}
	*flen = 4 + (size_t)size;
	return avail >= *flen ? 0 : KQ_ERR_AGAIN;
}

static int
take_frame(struct kq_conn *conn, size_t flen, struct kq_resp *resp)
{
	const unsigned char *f = conn->in.buf + conn->in_off;
	struct pending *p;
	int32_t corr;

	if (conn->pend_n == 0) {
		set_err(conn, KQ_ERR_CORRUPT, "unexpected response from broker");
		return KQ_ERR_CORRUPT;
	}
	p = &conn->pend[conn->pend_head];
	corr = (int32_t)kq_be32(f + 4);
	if (corr != p->corr_id) {
		set_err(conn, KQ_ERR_CORRUPT, "response correlation id %d, expected %d",
			corr, p->corr_id);
		return KQ_ERR_CORRUPT;
	}
	resp->corr_id = corr;
	resp->api_key = p->api_key;
	resp->version = p->version;
	resp->tag = p->tag;
	resp->body = f + 8;
	resp->len = flen - 8;
	conn->pend_head = (conn->pend_head + 1) % conn->pend_cap;
	conn->pend_n--;
	conn->last_frame = flen;
	return 0;
}

int
kq_conn_recv_nb(struct kq_conn *conn, struct kq_resp *resp)
{
	size_t flen = 0, want;
	ssize_t n;
	int r;

	if (conn->err)
		return conn->err;
	/* the previous response's views die now */
	conn->in_off += conn->last_frame;
	conn->last_frame = 0;
	if (conn->in_off == conn->in.len) {
		conn->in.len = 0;
		conn->in_off = 0;
	}
	if (conn->out_off < conn->out.len) {
		r = kq_conn_flush_nb(conn);
		if (r < 0 && r != KQ_ERR_AGAIN)
			return r;
	}
	for (;;) {
		r = frame_ready(conn, &flen);
		if (r == 0)
			return take_frame(conn, flen, resp);
		if (r != KQ_ERR_AGAIN)
			return r;
		/* make room: at least the rest of this frame, or a chunk */
		want = READ_CHUNK;
		if (flen > conn->in.len - conn->in_off)
			want = KQ_MAX(want, flen - (conn->in.len - conn->in_off));
		if (conn->in_off > 0 && conn->in.cap - conn->in.len < want) {
			kq_buf_consume(&conn->in, conn->in_off);
			conn->in_off = 0;
		}
		kq_buf_grow(&conn->in, want);
		n = recv(conn->fd, conn->in.buf + conn->in.len, conn->in.cap - conn->in.len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return KQ_ERR_AGAIN;
			return io_error(conn, errno, "recv");
		}
		if (n == 0) {
			set_err(conn, KQ_ERR_CLOSED, "connection closed by broker");
			return KQ_ERR_CLOSED;
		}
		conn->in.len += (size_t)n;
	}
}

int
kq_conn_recv(struct kq_conn *conn, int64_t timeout_ms, struct kq_resp *resp)
{
	int64_t deadline = timeout_ms < 0 ? -1 : kq_mono_ms() + timeout_ms;
	int r;

	for (;;) {
		r = kq_conn_recv_nb(conn, resp);
		if (r != KQ_ERR_AGAIN)
			return r;
		r = wait_fd(conn->fd, POLLIN | (kq_conn_want_write(conn) ? POLLOUT : 0), deadline);
		if (r == KQ_ERR_TIMEOUT) {
			set_err(conn, r, "timed out waiting for a response");
			return r;
		}
		if (r < 0)
			return io_error(conn, errno, "poll");
	}
}

int
kq_resp_decode(const struct kq_resp *resp, struct kq_arena *a, void *out)
{
	struct kq_rd r;

	kq_rd_init(&r, resp->body, resp->len);
	if (kq_msg_init(resp->api_key, true, out) < 0)
		return KQ_ERR_UNSUPPORTED;
	return kq_msg_decode(resp->api_key, true, resp->version, &r, a, out);
}

int
kq_conn_call(struct kq_conn *conn, int16_t api_key, int16_t version, const void *req,
	     struct kq_arena *a, void *out, int64_t timeout_ms)
{
	struct kq_resp resp;
	int r;

	if (conn->err)
		return conn->err;
	if (conn->pend_n) {
		set_err(conn, KQ_ERR_INVALID, "request issued with %zu in flight", conn->pend_n);
		return KQ_ERR_INVALID;
	}
	r = kq_conn_enqueue(conn, api_key, version, req, NULL);
	if (r < 0)
		return r;
	r = kq_conn_recv(conn, timeout_ms, &resp);
	if (r == KQ_ERR_TIMEOUT) {
		/* the answer may still come; nobody would be there to take it */
		conn->err = KQ_ERR_TIMEOUT;
		return r;
	}
	if (r < 0)
		return r;
	r = kq_resp_decode(&resp, a, out);
	if (r < 0)
		set_err(conn, KQ_ERR_CORRUPT, "malformed %s v%d response (%s)",
			kq_api_name(api_key), version, kq_err_name(r));
	return r;
}
