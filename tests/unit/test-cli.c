/*
 * test-cli.c - the CLI value parsers (integers, durations, sizes, escapes,
 * timestamps, broker lists), the option table, and the client's frame
 * handling against a fake broker on a socketpair-like loopback listener.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../common/cli/cli.h"
#include "../../common/net/client.h"
#include "t.h"

static int64_t
dur(const char *s)
{
	int64_t v = -12345;

	return kq_cli_parse_duration_ms(s, &v) < 0 ? -1 : v;
}

static void
test_durations(void)
{
	T_EQ(dur("250ms"), 250);
	T_EQ(dur("10s"), 10000);
	T_EQ(dur("5m"), 300000);
	T_EQ(dur("2h"), 7200000);
	T_EQ(dur("7d"), 7LL * 86400000);
	T_EQ(dur("1h30m"), 5400000);
	T_EQ(dur("1m30s500ms"), 90500);
	T_EQ(dur("1.5s"), 1500);
	T_EQ(dur("0"), 0);
	T_EQ(dur("0s"), 0);
	/* a unit is required, and nothing else may follow */
	T_EQ(dur("5"), -1);
	T_EQ(dur("10"), -1);
	T_EQ(dur(""), -1);
	T_EQ(dur("s"), -1);
	T_EQ(dur("5x"), -1);
	T_EQ(dur("5 s"), -1);
	T_EQ(dur("-5s"), -1);
	T_EQ(dur("5sec"), -1);
	T_EQ(dur("1.s"), -1);
	T_EQ(dur("99999999999999999999s"), -1);
	T_EQ(dur("9223372036854775807d"), -1);
}

static int64_t
size(const char *s)
{
	int64_t v = -12345;

	return kq_cli_parse_size(s, &v) < 0 ? -1 : v;
}

static void
test_sizes(void)
{
	T_EQ(size("512"), 512);
	T_EQ(size("0"), 0);
	T_EQ(size("64KiB"), 65536);
	T_EQ(size("1MiB"), 1048576);
	T_EQ(size("1mib"), 1048576);
	T_EQ(size("2GiB"), 2147483648LL);
	T_EQ(size("1GB"), 1000000000);
	T_EQ(size("1KB"), 1000);
	T_EQ(size("10B"), 10);
	T_EQ(size("1.5KiB"), 1536);
	T_EQ(size("1.5"), -1);
	T_EQ(size("1XB"), -1);
	T_EQ(size("KiB"), -1);
	T_EQ(size("-1"), -1);
	T_EQ(size("1MiBx"), -1);
	T_EQ(size(""), -1);
	T_EQ(size("99999999999TiB"), -1);
}

static void
test_ints(void)
{
	int64_t v = 7;

	T_EQ(kq_cli_parse_int("42", 0, 100, &v), 0);
	T_EQ(v, 42);
	T_EQ(kq_cli_parse_int("-3", -5, 5, &v), 0);
	T_EQ(v, -3);
	T_EQ(kq_cli_parse_int("100", 0, 100, &v), 0);
	v = 7;
	T_EQ(kq_cli_parse_int("101", 0, 100, &v), -1);
	T_EQ(kq_cli_parse_int("-1", 0, 100, &v), -1);
	T_EQ(kq_cli_parse_int("", 0, 100, &v), -1);
	T_EQ(kq_cli_parse_int("12abc", 0, 100, &v), -1);
	T_EQ(kq_cli_parse_int(" 1", 0, 100, &v), -1);
	T_EQ(kq_cli_parse_int("99999999999999999999", 0, INT64_MAX, &v), -1);
	T_EQ(v, 7);	/* untouched on failure */
	T_EQ(kq_cli_parse_int("9223372036854775807", 0, INT64_MAX, &v), 0);
	T_EQ(v, INT64_MAX);
}

static void
test_escapes(void)
{
	struct kq_buf b = { 0 };

	T_EQ(kq_cli_parse_escapes("\\r\\n", &b), 0);
	T_EQ(b.len, 2);
	T_MEMEQ(b.buf, "\r\n", 2);
	kq_buf_reset(&b);
	T_EQ(kq_cli_parse_escapes("a\\tb\\0c\\\\d\\x41\\xfF::", &b), 0);
	T_EQ(b.len, 11);
	T_MEMEQ(b.buf, "a\tb\0c\\dA\xff::", 11);
	kq_buf_reset(&b);
	T_EQ(kq_cli_parse_escapes("", &b), 0);
	T_EQ(b.len, 0);
	/* failures leave the buffer as it was */
	kq_buf_adds(&b, "keep");
	T_EQ(kq_cli_parse_escapes("x\\q", &b), -1);
	T_EQ(kq_cli_parse_escapes("x\\", &b), -1);
	T_EQ(kq_cli_parse_escapes("\\x4", &b), -1);
	T_EQ(kq_cli_parse_escapes("\\xg1", &b), -1);
	T_EQ(b.len, 4);
	T_EQ(kq_cli_unescape("\\n", &b), 0);
	T_EQ(b.len, 5);
	kq_buf_free(&b);
}

static int64_t
tm(const char *s, int64_t now)
{
	int64_t v = -12345;

	return kq_cli_parse_time_ms(s, strlen(s), now, &v) < 0 ? -99 : v;
}

static void
test_times(void)
{
	const int64_t now = 1714564800000LL;	/* 2024-05-01T12:00:00Z */
	char buf[40];

	T_EQ(tm("now", now), now);
	T_EQ(tm("1714560000123", now), 1714560000123LL);
	T_EQ(tm("1714560000", now), 1714560000000LL);
	T_EQ(tm("2024-05-01", now), 1714521600000LL);
	T_EQ(tm("1970-01-01", now), 0);
	T_EQ(tm("2024-05-01T12:00:00Z", now), now);
	T_EQ(tm("2024-05-01t12:00:00z", now), now);
	T_EQ(tm("2024-05-01 12:00:00", now), now);	/* no zone = UTC */
	T_EQ(tm("2024-05-01T12:00:00", now), now);
	T_EQ(tm("2024-05-01T12:00:00.123Z", now), now + 123);
	T_EQ(tm("2024-05-01T12:00:00.5Z", now), now + 500);
	T_EQ(tm("2024-05-01T12:00:00.123456789Z", now), now + 123);
	T_EQ(tm("2024-05-01T14:00:00+02:00", now), now);
	T_EQ(tm("2024-05-01T12:00:00.123+02:00", now), now - 7200000 + 123);
	T_EQ(tm("2024-05-01T07:30:00-04:30", now), now);
	T_EQ(tm("2024-02-29", now), 1709164800000LL);	/* leap day */
	T_EQ(tm("2000-03-01T00:00:00Z", now), 951868800000LL);
	T_EQ(tm("-1h", now), now - 3600000);
	T_EQ(tm("+30m", now), now + 1800000);
	T_EQ(tm("-1h30m", now), now - 5400000);
	/* bad */
	T_EQ(tm("", now), -99);
	T_EQ(tm("yesterday", now), -99);
	T_EQ(tm("2023-02-29", now), -99);
	T_EQ(tm("2024-13-01", now), -99);
	T_EQ(tm("2024-05-01T25:00:00Z", now), -99);
	T_EQ(tm("2024-05-01T12:00Z", now), -99);
	T_EQ(tm("2024-05-01T12:00:00+2", now), -99);
	T_EQ(tm("2024-05-01T12:00:00.Z", now), -99);
	T_EQ(tm("2024-05-01T12:00:00Zjunk", now), -99);
	T_EQ(tm("171456000012", now), -99);	/* 12 digits: neither s nor ms */
	T_EQ(tm("-1", now), -99);		/* relative needs a unit */
	T_EQ(tm("-", now), -99);
	/* length-bounded: only the first n bytes count */
	{
		int64_t v = 0;

		T_EQ(kq_cli_parse_time_ms("now:end", 3, now, &v), 0);
		T_EQ(v, now);
	}
	kq_cli_fmt_time(now + 123, buf, sizeof(buf));
	T_STREQ(buf, "2024-05-01T12:00:00.123Z");
	kq_cli_fmt_time(-1, buf, sizeof(buf));
	T_STREQ(buf, "1969-12-31T23:59:59.999Z");
	kq_cli_fmt_time(951868800000LL, buf, sizeof(buf));
	T_STREQ(buf, "2000-03-01T00:00:00.000Z");
}

static void
test_brokers(void)
{
	char err[200];
	struct kq_client *cl;

	unsetenv("KQ_BROKERS");
	T_STREQ(kq_cli_brokers(NULL), "localhost:9092");
	T_STREQ(kq_cli_brokers("a:1"), "a:1");
	setenv("KQ_BROKERS", "env:9093", 1);
	T_STREQ(kq_cli_brokers(NULL), "env:9093");
	T_STREQ(kq_cli_brokers("flag:1"), "flag:1");
	setenv("KQ_BROKERS", "", 1);
	T_STREQ(kq_cli_brokers(NULL), "localhost:9092");

	cl = kq_client_new("a:1, b ,[::1]:9093,::1", NULL, 1000, err, sizeof(err));
	T_OK(cl != NULL, "%s", err);
	kq_client_free(cl);
	T_OK(kq_client_new("a:0", NULL, 0, err, sizeof(err)) == NULL, "port 0");
	T_OK(kq_client_new("a:65536", NULL, 0, err, sizeof(err)) == NULL, "port 65536");
	T_OK(kq_client_new("a:x", NULL, 0, err, sizeof(err)) == NULL, "port x");
	T_OK(strstr(err, "a:x") != NULL, "error names the address: %s", err);
	T_OK(kq_client_new(" , ", NULL, 0, err, sizeof(err)) == NULL, "empty list");
	T_OK(kq_client_new(":9092", NULL, 0, err, sizeof(err)) == NULL, "no host");
}

static void
test_backoff(void)
{
	int i;
	int64_t d;

	for (i = 0; i < 20; i++) {
		d = kq_backoff_ms(0);
		T_OK(d >= 80 && d <= 120, "attempt 0: %lld", (long long)d);
		d = kq_backoff_ms(3);
		T_OK(d >= 640 && d <= 960, "attempt 3: %lld", (long long)d);
		d = kq_backoff_ms(50);
		T_OK(d >= 8000 && d <= 12000, "attempt 50: %lld", (long long)d);
	}
}

/* ---- a fake broker: a child process that answers from a script ---- */

static int
listen_any(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Read one request frame; returns its correlation id, or -1 at EOF. */
static int32_t
read_req(int fd, int16_t *api, int16_t *ver)
{
	unsigned char hdr[4], *body;
	uint32_t n;
	size_t got = 0;
	ssize_t r;
	int32_t corr;

	while (got < 4) {
		r = read(fd, hdr + got, 4 - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	n = kq_be32(hdr);
	if (n < 8 || n > 1 << 20)
		return -1;
	body = malloc(n);
	for (got = 0; got < n; got += (size_t)r) {
		r = read(fd, body + got, n - got);
		if (r <= 0) {
			free(body);
			return -1;
		}
	}
	*api = (int16_t)kq_be16(body);
	*ver = (int16_t)kq_be16(body + 2);
	corr = (int32_t)kq_be32(body + 4);
	free(body);
	return corr;
}

static void
write_all(int fd, const void *p, size_t n)
{
	const unsigned char *b = p;
	ssize_t r;

	while (n) {
		r = write(fd, b, n);
		if (r <= 0)
			_exit(3);
		b += r;
		n -= (size_t)r;
	}
}

static void
send_resp(int fd, int32_t corr, const struct kq_buf *body)
{
	unsigned char h[8];

	kq_put32(h, (uint32_t)(4 + body->len));
	kq_put32(h + 4, (uint32_t)corr);
	write_all(fd, h, 8);
	write_all(fd, body->buf, body->len);
}

/* The same in small pieces with pauses, so the client sees partial frames. */
static void
send_resp_split(int fd, int32_t corr, const struct kq_buf *body)
{
	struct kq_buf f = { 0 };
	size_t off, n;

	kq_wr_i32(&f, (int32_t)(4 + body->len));
	kq_wr_i32(&f, corr);
	kq_buf_add(&f, body->buf, body->len);
	for (off = 0; off < f.len; off += n) {
		n = KQ_MIN(f.len - off, off < 16 ? 3 : 100000);
		write_all(fd, f.buf + off, n);
		usleep(2000);
	}
	kq_buf_free(&f);
}

enum fake_mode { FAKE_GOOD, FAKE_BAD_CORR, FAKE_HUGE, FAKE_BIG_SPLIT };

/*
 * The child accepts one connection, answers ApiVersions (Metadata v1..8,
 * ListOffsets v1..5), then answers each Metadata request with an empty
 * cluster whose controller is 7 (FAKE_GOOD), with a wrong correlation id
 * (FAKE_BAD_CORR), or with a frame header claiming almost 2 GiB (FAKE_HUGE).
 */
static void
fake_broker(int lfd, enum fake_mode mode)
{
	struct kq_ApiVersionsResponse av;
	struct kq_ApiVersionsResponse_ApiVersion keys[2] = {
		{ KQ_API_METADATA, 0, 8 }, { KQ_API_LIST_OFFSETS, 1, 5 },
	};
	struct kq_MetadataResponse md;
	struct kq_buf b = { 0 };
	int16_t api, ver;
	int32_t corr;
	int fd = accept(lfd, NULL, NULL);

	if (fd < 0)
		_exit(2);
	corr = read_req(fd, &api, &ver);
	if (corr < 0 || api != KQ_API_API_VERSIONS)
		_exit(2);
	kq_ApiVersionsResponse_init(&av);
	av.ApiKeys = keys;
	av.ApiKeys_count = 2;
	kq_ApiVersionsResponse_encode(&b, 0, &av);
	send_resp(fd, corr, &b);
	kq_MetadataResponse_init(&md);
	md.ControllerId = 7;
	if (mode == FAKE_BIG_SPLIT) {
		static struct kq_MetadataResponse_MetadataResponseBroker brokers[20000];
		static char host[] = "broker-host-name-0123456789.example";
		int i;

		for (i = 0; i < 20000; i++) {
			kq_MetadataResponse_MetadataResponseBroker_init(&brokers[i]);
			brokers[i].NodeId = i;
			brokers[i].Host = kq_str_c(host);
			brokers[i].Port = 9092;
		}
		md.Brokers = brokers;
		md.Brokers_count = 20000;
	}
	while ((corr = read_req(fd, &api, &ver)) >= 0) {
		kq_buf_reset(&b);
		if (mode == FAKE_HUGE) {
			unsigned char h[8];

			kq_put32(h, 0x7fff0000u);
			kq_put32(h + 4, (uint32_t)corr);
			write_all(fd, h, 8);
			continue;
		}
		kq_MetadataResponse_encode(&b, ver, &md);
		if (mode == FAKE_BIG_SPLIT)
			send_resp_split(fd, corr, &b);
		else
			send_resp(fd, mode == FAKE_BAD_CORR ? corr + 100 : corr, &b);
	}
	_exit(0);
}

static pid_t
start_fake(enum fake_mode mode, int *port)
{
	int lfd = listen_any(port);
	pid_t pid;

	if (lfd < 0)
		return -1;
	pid = fork();
	if (pid == 0)
		fake_broker(lfd, mode);
	close(lfd);
	return pid;
}

static void
test_conn_pipelined(void)
{
	struct kq_conn *conn = NULL;
	struct kq_MetadataRequest req;
	struct kq_MetadataResponse resp;
	struct kq_arena a = { 0 };
	struct kq_resp rr;
	char err[256];
	int port, status, r, i, tags[3] = { 0 };
	pid_t pid = start_fake(FAKE_GOOD, &port);

	T_OK(pid > 0, "fork");
	r = kq_conn_open(&conn, "127.0.0.1", port, "t", 5000, err, sizeof(err));
	T_EQ(r, 0);
	if (r)
		return;
	T_EQ(kq_conn_version(conn, KQ_API_METADATA, 12), 8);	/* non-flexible cap */
	T_EQ(kq_conn_version(conn, KQ_API_METADATA, 4), 4);
	T_EQ(kq_conn_version(conn, KQ_API_LIST_OFFSETS, 0), -1);
	T_EQ(kq_conn_version(conn, KQ_API_PRODUCE, 8), -1);
	kq_MetadataRequest_init(&req);
	req.Topics_count = -1;
	for (i = 0; i < 3; i++)
		T_OK(kq_conn_enqueue(conn, KQ_API_METADATA, 8, &req, &tags[i]) >= 0, "enqueue");
	T_EQ(kq_conn_inflight(conn), 3);
	T_EQ(kq_conn_enqueue(conn, KQ_API_PRODUCE, 3, &req, NULL), KQ_ERR_UNSUPPORTED);
	for (i = 0; i < 3; i++) {
		r = kq_conn_recv(conn, 5000, &rr);
		T_EQ(r, 0);
		if (r)
			break;
		T_OK(rr.tag == &tags[i], "responses in order");
		T_EQ(kq_resp_decode(&rr, &a, &resp), 0);
		T_EQ(resp.ControllerId, 7);
	}
	T_EQ(kq_conn_inflight(conn), 0);
	T_EQ(kq_conn_recv_nb(conn, &rr), KQ_ERR_AGAIN);
	T_EQ(kq_conn_call(conn, KQ_API_METADATA, 1, &req, &a, &resp, 5000), 0);
	kq_conn_close(conn);
	waitpid(pid, &status, 0);
	T_OK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fake broker status %d", status);
	kq_arena_free(&a);
}

static void
test_conn_hostile(void)
{
	struct kq_conn *conn = NULL;
	struct kq_MetadataRequest req;
	struct kq_MetadataResponse resp;
	struct kq_arena a = { 0 };
	char err[256];
	int port, status, r;
	pid_t pid;

	kq_MetadataRequest_init(&req);
	pid = start_fake(FAKE_BAD_CORR, &port);
	r = kq_conn_open(&conn, "127.0.0.1", port, NULL, 5000, err, sizeof(err));
	T_EQ(r, 0);
	if (r == 0) {
		T_EQ(kq_conn_call(conn, KQ_API_METADATA, 1, &req, &a, &resp, 5000), KQ_ERR_CORRUPT);
		T_OK(kq_conn_broken(conn), "broken after a bad correlation id");
		T_EQ(kq_conn_call(conn, KQ_API_METADATA, 1, &req, &a, &resp, 5000), KQ_ERR_CORRUPT);
		kq_conn_close(conn);
	}
	waitpid(pid, &status, 0);

	pid = start_fake(FAKE_HUGE, &port);
	r = kq_conn_open(&conn, "127.0.0.1", port, NULL, 5000, err, sizeof(err));
	T_EQ(r, 0);
	if (r == 0) {
		T_EQ(kq_conn_call(conn, KQ_API_METADATA, 1, &req, &a, &resp, 5000),
		     KQ_ERR_TOO_LARGE);
		kq_conn_close(conn);
	}
	waitpid(pid, &status, 0);
	kq_arena_free(&a);

	/* nobody listening: refused, with the address in the message */
	port = 0;
	{
		int lfd = listen_any(&port);

		close(lfd);
	}
	r = kq_conn_open(&conn, "127.0.0.1", port, NULL, 2000, err, sizeof(err));
	T_EQ(r, KQ_ERR_IO);
	T_OK(strstr(err, "connection refused") != NULL, "%s", err);
}

/* A 900 KB answer arriving in pieces, read with the non-blocking calls. */
static void
test_conn_split_nb(void)
{
	struct kq_conn *conn = NULL;
	struct kq_MetadataRequest req;
	struct kq_MetadataResponse resp;
	struct kq_arena a = { 0 };
	struct kq_resp rr;
	struct pollfd pfd;
	char err[256];
	int port, status, r, again = 0, got = 0;
	pid_t pid = start_fake(FAKE_BIG_SPLIT, &port);

	r = kq_conn_open(&conn, "127.0.0.1", port, NULL, 5000, err, sizeof(err));
	T_EQ(r, 0);
	if (r)
		return;
	kq_MetadataRequest_init(&req);
	req.Topics_count = -1;
	T_OK(kq_conn_enqueue(conn, KQ_API_METADATA, 1, &req, NULL) >= 0, "enqueue");
	T_OK(kq_conn_enqueue(conn, KQ_API_METADATA, 1, &req, NULL) >= 0, "enqueue");
	T_OK(kq_conn_want_write(conn), "queued bytes");
	while (got < 2) {
		r = kq_conn_recv_nb(conn, &rr);
		if (r == KQ_ERR_AGAIN) {
			again++;
			pfd.fd = kq_conn_fd(conn);
			pfd.events = POLLIN | (kq_conn_want_write(conn) ? POLLOUT : 0);
			if (poll(&pfd, 1, 5000) <= 0)
				break;
			continue;
		}
		T_EQ(r, 0);
		if (r)
			break;
		kq_arena_reset(&a);
		T_EQ(kq_resp_decode(&rr, &a, &resp), 0);
		T_EQ(resp.Brokers_count, 20000);
		T_OK(resp.Brokers_count == 20000 && resp.Brokers[19999].NodeId == 19999, "last");
		got++;
	}
	T_EQ(got, 2);
	T_OK(again > 2, "partial frames were waited for (%d)", again);
	T_EQ(kq_conn_unsent(conn), 0);
	kq_conn_close(conn);
	waitpid(pid, &status, 0);
	kq_arena_free(&a);
}

static void
test_client_timeout(void)
{
	struct kq_client *cl;
	char err[256];
	int64_t t0;
	int port = 0, lfd = listen_any(&port), r;

	close(lfd);
	snprintf(err, sizeof(err), "127.0.0.1:%d", port);
	cl = kq_client_new(err, NULL, 500, err, sizeof(err));
	T_OK(cl != NULL, "new");
	if (!cl)
		return;
	t0 = kq_mono_ms();
	r = kq_client_connect(cl);
	T_EQ(r, KQ_ERR_TIMEOUT);
	T_OK(kq_mono_ms() - t0 >= 400 && kq_mono_ms() - t0 < 3000, "gave up after %lld ms",
	     (long long)(kq_mono_ms() - t0));
	T_OK(strstr(kq_client_errstr(cl), "cannot reach any broker") != NULL, "%s",
	     kq_client_errstr(cl));
	kq_client_free(cl);
}

enum { K_TOPIC = 256, K_STATE };

static const struct kq_opt table[] = {
	KQ_OPT_SECTION("Connection:"),
	KQ_OPTS_CLIENT_CONNECT,
	KQ_OPT_VALUE(0, "topic", K_TOPIC, "TOPIC", "the topic"),
	KQ_OPT_OPTIONAL(0, "state", K_STATE, "STATE", "a state"),
	KQ_OPT_FLAG('J', NULL, 0, "json"),
	KQ_OPT_FLAG('e', "exit", 0, "exit"),
	KQ_OPTS_CLIENT_CONFIG,
	KQ_OPT_END,
};

/* What kq_opt_next returns for argv, each key with its value: "b=h1 T=x ...". */
static void
next_all(char **argv, char *out, size_t len)
{
	int argc = 0, c;
	size_t n = 0;

	while (argv[argc])
		argc++;
	optind = 0;	/* glibc: start over */
	out[0] = '\0';
	while ((c = kq_opt_next(argc, argv, table)) != -1 && n < len)
		n += (size_t)snprintf(out + n, len - n, "%s%d=%s", n ? " " : "", c,
				      optarg ? optarg : "-");
	if (n < len)
		snprintf(out + n, len - n, " | %s", optind < argc ? argv[optind] : "");
}

static void
test_opt_table(void)
{
	char *argv[] = {
		"prog", "-b", "h1", "op1", "--bootstrap-server=h2", "-F", "f", "--timeout", "5s",
		"-eJ", "--top", "t", "--state", "--state=s", "--profile", "p", NULL,
	};
	const struct option *lo = kq_opt_longopts(table);
	char want[256], got[256];
	int n = 0;

	next_all(argv, got, sizeof(got));
	/* Aliases give the key of their option, short letters theirs, long-only
	 * options their key; an abbreviation is the option; operands move last. */
	snprintf(want, sizeof(want), "98=h1 98=h2 %d=f %d=5s 101=- 74=- %d=t %d=- %d=s %d=p | op1",
		 KQ_OPT_KEY_CONFIG, KQ_OPT_KEY_TIMEOUT, K_TOPIC, K_STATE, K_STATE,
		 KQ_OPT_KEY_PROFILE);
	T_STREQ(got, want);
	/* The getopt_long array: every long name once, plus --list-options. */
	for (; lo[n].name; n++)
		;
	T_EQ(n, 9);
	T_STREQ(lo[0].name, "brokers");
	T_EQ(lo[0].has_arg, required_argument);
	T_EQ(lo[1].val, 'b');
	T_EQ(lo[4].has_arg, optional_argument);
	T_STREQ(lo[n - 1].name, "list-options");
}

int
main(void)
{
	T_RUN(test_durations);
	T_RUN(test_sizes);
	T_RUN(test_ints);
	T_RUN(test_escapes);
	T_RUN(test_times);
	T_RUN(test_brokers);
	T_RUN(test_opt_table);
	T_RUN(test_backoff);
	T_RUN(test_conn_pipelined);
	T_RUN(test_conn_hostile);
	T_RUN(test_conn_split_nb);
	T_RUN(test_client_timeout);
	return t_done();
}
