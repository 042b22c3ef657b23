/*
 * kq-perf - the load generator of `make bench` (tests/bench/run.sh).
 *
 *   kq-perf produce BROKERS TOPIC COUNT SIZE [ACKS [sync]]
 *	COUNT records of SIZE bytes, batched per partition (round robin) with
 *	up to 8 requests in flight; "sync" sends one record per request and
 *	waits for its answer (latency percentiles of the round trip).
 *   kq-perf e2e BROKERS TOPIC RATE SECONDS SIZE
 *	one record at a time at RATE/s (paced by sleeping), acks=1, while a
 *	second thread long-polls Fetch: percentiles of append-to-delivery.
 *   kq-perf fetch BROKERS TOPIC COUNT VERSION
 *	read COUNT records of partition 0 from offset 0 with Fetch VERSION,
 *	1 MiB per request: v4+ is served zero-copy (records counted from the
 *	batch headers), v0-3 down-converted to message sets (counted per message).
 *   kq-perf redis-e2e HOST:PORT RATE SECONDS SIZE
 *	the same with XADD and XREAD BLOCK against Redis Streams.
 *   kq-perf nats-pub HOST:PORT COUNT SIZE
 *	JetStream async publish with acks (1000 outstanding) to stream KQ.
 *   kq-perf nats-sub HOST:PORT COUNT
 *	JetStream pull consume of COUNT records, batches of 1000.
 *
 * Every mode prints one JSON object on stdout: records, seconds, rate (per
 * second), mb_s, and for the latency modes p50_us, p99_us, p999_us.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../common/base/base.h"
#include "../../common/net/client.h"
#include "../../common/proto/msgs.h"
#include "../../common/proto/proto.h"

#define INFLIGHT 8
#define BATCH_BYTES (512 * 1024)

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleep (never spin) until the monotonic time t (ns). */
static void
sleep_until(int64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000), (long)(t % 1000000000) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

KQ_NORETURN static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "kq-perf: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	exit(1);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void
report(int64_t n, int64_t ns, size_t size, int64_t *lat, int64_t nlat)
{
	double secs = (double)ns / 1e9;

	printf("{\"records\":%lld,\"seconds\":%.4f,\"rate\":%.0f,\"mb_s\":%.2f", (long long)n, secs,
	       secs > 0 ? (double)n / secs : 0.0, secs > 0 ? (double)n * (double)size / secs / 1e6 : 0);
	if (lat && nlat > 0) {
		qsort(lat, (size_t)nlat, sizeof(*lat), cmp_i64);
		printf(",\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"samples\":%lld",
		       (double)lat[nlat / 2] / 1e3, (double)lat[nlat * 99 / 100] / 1e3,
		       (double)lat[nlat * 999 / 1000] / 1e3, (long long)nlat);
	}
	printf("}\n");
}

/* ---- kq ---- */

static struct kq_client *
client(const char *brokers)
{
	char err[256];
	struct kq_client *cl = kq_client_new(brokers, "kq-perf", 30000, err, sizeof(err));

	if (!cl)
		die("client", err);
	if (kq_client_connect(cl) != 0)
		die("connect", kq_client_errstr(cl));
	return cl;
}

static int32_t
partitions(struct kq_client *cl, const char *topic)
{
	const char *t[1] = { topic };
	const struct kq_metadata *md;
	const struct kq_md_topic *mt;

	if (kq_client_metadata(cl, t, 1, false, &md) != 0)
		die("metadata", kq_client_errstr(cl));
	mt = kq_md_topic(md, topic);
	if (!mt || mt->err || mt->n_parts < 1)
		die("no such topic", topic);
	return mt->n_parts;
}

static void
fill_value(unsigned char *v, size_t size, int64_t stamp)
{
	memset(v, 'x', size);
	if (size >= 8)
		kq_put64(v, (uint64_t)stamp);
}

/* One Produce request with one batch for partition p; tag for the answer. */
static int
send_batch(struct kq_conn *conn, int16_t ver, const char *topic, int32_t p, int16_t acks,
	   const struct kq_buf *batch, void *tag)
{
	struct kq_ProduceRequest req;
	struct kq_ProduceRequest_TopicProduceData td;
	struct kq_ProduceRequest_PartitionProduceData pd;

	kq_ProduceRequest_PartitionProduceData_init(&pd);
	pd.Index = p;
	pd.Records = kq_bytes_of(batch->buf, batch->len);
	kq_ProduceRequest_TopicProduceData_init(&td);
	td.Name = kq_str_c(topic);
	td.PartitionData = &pd;
	td.PartitionData_count = 1;
	kq_ProduceRequest_init(&req);
	req.Acks = acks;
	req.TimeoutMs = 30000;
	req.TopicData = &td;
	req.TopicData_count = 1;
	return kq_conn_enqueue(conn, KQ_API_PRODUCE, ver, &req, tag);
}

static void
check_produce(const struct kq_resp *resp, struct kq_arena *a)
{
	struct kq_ProduceResponse pr;

	if (kq_resp_decode(resp, a, &pr) != 0 || pr.Responses_count < 1 ||
	    pr.Responses[0].PartitionResponses_count < 1)
		die("produce", "bad answer");
	if (pr.Responses[0].PartitionResponses[0].ErrorCode)
		die("produce", kq_err_str(pr.Responses[0].PartitionResponses[0].ErrorCode));
	kq_arena_reset(a);
}

static int
mode_produce(int argc, char **argv)
{
	const char *brokers = argv[2], *topic = argv[3];
	int64_t count = atoll(argv[4]), sent = 0, i, *lat = NULL;
	size_t size = (size_t)atoll(argv[5]);
	int16_t acks = argc > 6 ? (int16_t)atoi(argv[6]) : 1;
	bool sync = argc > 7 && strcmp(argv[7], "sync") == 0;
	struct kq_client *cl = client(brokers);
	int32_t np = partitions(cl, topic), p = 0;
	unsigned char *v = kq_xmalloc(size ? size : 1);
	struct kq_batch_builder bb;
	struct kq_buf batch = { 0 };
	struct kq_arena a = { 0 };
	struct kq_conn *conn;
	struct kq_resp resp;
	int64_t t0, per;
	int16_t ver;

	if (kq_client_leader_conn(cl, topic, 0, &conn) != 0)
		die("leader", kq_client_errstr(cl));
	ver = (int16_t)kq_conn_version(conn, KQ_API_PRODUCE, 8);
	fill_value(v, size, 0);
	kq_bb_init(&bb, KQ_CODEC_NONE);
	per = sync ? 1 : KQ_MAX((int64_t)(BATCH_BYTES / (size + 16)), 1);
	if (sync)
		lat = kq_xmalloc((size_t)count * sizeof(*lat));
	t0 = now_ns();
	while (sent < count) {
		int64_t n = KQ_MIN(per, count - sent), ts = kq_now_ms(), s0 = now_ns();

		for (i = 0; i < n; i++)
			kq_bb_add(&bb, ts, KQ_BYTES_NULL, kq_bytes_of(v, size), NULL, 0);
		kq_buf_reset(&batch);
		kq_bb_finish(&bb, &batch);
		kq_bb_reset(&bb);
		if (send_batch(conn, ver, topic, p, acks, &batch, NULL) < 0)
			die("send", kq_conn_errstr(conn));
		p = (p + 1) % np;
		sent += n;
		if (acks == 0) {
			if (kq_conn_flush(conn, 30000) != 0)
				die("send", kq_conn_errstr(conn));
			continue;
		}
		/* Keep INFLIGHT requests going (one for sync). */
		while (kq_conn_inflight(conn) >= (sync ? 1 : INFLIGHT) ||
		       (sent >= count && kq_conn_inflight(conn) > 0)) {
			if (kq_conn_recv(conn, 30000, &resp) != 0)
				die("receive", kq_conn_errstr(conn));
			check_produce(&resp, &a);
		}
		if (sync)
			lat[sent - 1] = now_ns() - s0;
	}
	report(count, now_ns() - t0, size, lat, sync ? count : 0);
	free(lat);
	free(v);
	kq_buf_free(&batch);
	kq_bb_free(&bb);
	kq_arena_free(&a);
	kq_client_free(cl);
	return 0;
}

/* ---- end to end ---- */

struct e2e {
	const char *brokers, *topic, *addr;
	int64_t count;
	int64_t *lat;
	int64_t got;
	volatile int ready;
	int64_t start_offset;
};

/*
 * One Fetch (long-polling 500 ms, 1 MiB) of partition 0 of topic from
 * offset, in version ver: the partition's answer, in a (reset first).
 */
static const struct kq_FetchResponse_PartitionData *
fetch_part0(struct kq_conn *conn, int16_t ver, const char *topic, int64_t offset,
	    struct kq_arena *a)
{
	struct kq_FetchRequest req;
	struct kq_FetchRequest_FetchTopic ft;
	struct kq_FetchRequest_FetchPartition fp;
	struct kq_FetchResponse *fr;
	struct kq_resp resp;

	kq_FetchRequest_FetchPartition_init(&fp);
	fp.Partition = 0;
	fp.CurrentLeaderEpoch = -1;
	fp.FetchOffset = offset;
	fp.LastFetchedEpoch = -1;
	fp.LogStartOffset = -1;
	fp.PartitionMaxBytes = 1 << 20;
	kq_FetchRequest_FetchTopic_init(&ft);
	ft.Topic = kq_str_c(topic);
	ft.Partitions = &fp;
	ft.Partitions_count = 1;
	kq_FetchRequest_init(&req);
	req.ReplicaId = -1;
	req.MaxWaitMs = 500;
	req.MinBytes = 1;
	req.MaxBytes = 1 << 20;
	req.SessionEpoch = -1;
	req.RackId = kq_str_c("");
	req.Topics = &ft;
	req.Topics_count = 1;
	if (kq_conn_enqueue(conn, KQ_API_FETCH, ver, &req, NULL) < 0 ||
	    kq_conn_recv(conn, 30000, &resp) != 0)
		die("fetch", kq_conn_errstr(conn));
	kq_arena_reset(a);
	fr = kq_arena_alloc(a, sizeof(*fr));
	if (kq_resp_decode(&resp, a, fr) != 0 || fr->Responses_count < 1 ||
	    fr->Responses[0].Partitions_count < 1)
		die("fetch", "bad answer");
	return &fr->Responses[0].Partitions[0];
}

static void *
kq_consumer(void *arg)
{
	struct e2e *e = arg;
	struct kq_client *cl = client(e->brokers);
	struct kq_conn *conn;
	struct kq_arena a = { 0 };
	int64_t next = e->start_offset;
	int16_t ver;

	if (kq_client_leader_conn(cl, e->topic, 0, &conn) != 0)
		die("leader", kq_client_errstr(cl));
	ver = (int16_t)kq_conn_version(conn, KQ_API_FETCH, 11);
	e->ready = 1;
	while (e->got < e->count) {
		const struct kq_FetchResponse_PartitionData *pd =
			fetch_part0(conn, ver, e->topic, next, &a);
		const unsigned char *r = pd->Records.p;
		size_t left = (size_t)KQ_MAX(pd->Records.len, 0);

		while (left >= KQ_BATCH_HEADER_SIZE && (size_t)kq_batch_size(r) <= left) {
			int64_t t = now_ns(), size = kq_batch_size(r);
			struct kq_batch_iter it;
			struct kq_record rec;

			if (kq_batch_iter_init(&it, r, (size_t)size) == 0) {
				while (kq_batch_iter_next(&it, &rec) == 1) {
					if (rec.offset < next || e->got >= e->count)
						continue;
					if (rec.value.len >= 8)
						e->lat[e->got++] = t - (int64_t)kq_be64(rec.value.p);
					next = rec.offset + 1;
				}
				kq_batch_iter_free(&it);
			}
			r += size;
			left -= (size_t)size;
		}
	}
	kq_arena_free(&a);
	kq_client_free(cl);
	return NULL;
}

static int
mode_e2e(int argc, char **argv)
{
	struct e2e e = { 0 };
	double rate = atof(argv[4]);
	size_t size = (size_t)KQ_MAX(atoll(argv[6]), 8);
	struct kq_client *cl;
	struct kq_conn *conn;
	struct kq_batch_builder bb;
	struct kq_buf batch = { 0 };
	struct kq_arena a = { 0 };
	struct kq_resp resp;
	unsigned char *v = kq_xmalloc(size);
	pthread_t th;
	int64_t i, t0, gap;
	int16_t ver;

	(void)argc;
	e.brokers = argv[2];
	e.topic = argv[3];
	e.count = (int64_t)(rate * atof(argv[5]));
	if (rate <= 0 || e.count < 1)
		die("e2e", "RATE and SECONDS must be positive");
	e.lat = kq_xmalloc((size_t)e.count * sizeof(*e.lat));
	cl = client(e.brokers);
	if (kq_client_list_offsets(cl, e.topic, 0, KQ_OFFSET_LATEST, &e.start_offset, NULL) != 0)
		die("list offsets", kq_client_errstr(cl));
	if (kq_client_leader_conn(cl, e.topic, 0, &conn) != 0)
		die("leader", kq_client_errstr(cl));
	ver = (int16_t)kq_conn_version(conn, KQ_API_PRODUCE, 8);
	pthread_create(&th, NULL, kq_consumer, &e);
	while (!e.ready)
		usleep(1000);
	usleep(100000);		/* the first fetch is parked */
	kq_bb_init(&bb, KQ_CODEC_NONE);
	gap = (int64_t)(1e9 / rate);
	t0 = now_ns();
	for (i = 0; i < e.count; i++) {
		sleep_until(t0 + i * gap);
		fill_value(v, size, now_ns());
		kq_bb_add(&bb, kq_now_ms(), KQ_BYTES_NULL, kq_bytes_of(v, size), NULL, 0);
		kq_buf_reset(&batch);
		kq_bb_finish(&bb, &batch);
		kq_bb_reset(&bb);
		if (send_batch(conn, ver, e.topic, 0, 1, &batch, NULL) < 0 ||
		    kq_conn_flush(conn, 30000) != 0)
			die("send", kq_conn_errstr(conn));
		while (kq_conn_inflight(conn) > 0 && kq_conn_recv_nb(conn, &resp) == 0)
			check_produce(&resp, &a);
	}
	while (kq_conn_inflight(conn) > 0) {
		if (kq_conn_recv(conn, 30000, &resp) != 0)
			die("receive", kq_conn_errstr(conn));
		check_produce(&resp, &a);
	}
	pthread_join(th, NULL);
	report(e.count, now_ns() - t0, size, e.lat, e.got);
	free(e.lat);
	free(v);
	kq_buf_free(&batch);
	kq_bb_free(&bb);
	kq_arena_free(&a);
	kq_client_free(cl);
	return 0;
}

/* ---- plain sockets for the peers ---- */

static int
dial(const char *addr)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints = { 0 }, *res;
	int fd, one = 1;

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		die("bad address", addr);
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		die("resolve", addr);
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0)
		die("connect", addr);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	freeaddrinfo(res);
	return fd;
}

static void
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write", strerror(errno));
		c += w;
		n -= (size_t)w;
	}
}

/* A buffered reader over a socket. */
struct rd {
	int fd;
	struct kq_buf b;
	size_t pos;
};

static void
rd_fill(struct rd *r)
{
	ssize_t n;

	if (r->pos > 0 && r->pos == r->b.len) {
		r->b.len = 0;
		r->pos = 0;
	} else if (r->pos > (1 << 20)) {
		kq_buf_consume(&r->b, r->pos);
		r->pos = 0;
	}
	kq_buf_grow(&r->b, 1 << 16);
	n = read(r->fd, r->b.buf + r->b.len, 1 << 16);
	if (n <= 0)
		die("read", n < 0 ? strerror(errno) : "connection closed");
	r->b.len += (size_t)n;
}

/* The next line (without CRLF), valid until the next read. */
static char *
rd_line(struct rd *r)
{
	for (;;) {
		char *s = (char *)r->b.buf + r->pos;
		char *e = memchr(s, '\n', r->b.len - r->pos);

		if (e) {
			r->pos += (size_t)(e - s) + 1;
			if (e > s && e[-1] == '\r')
				e--;
			*e = '\0';
			return s;
		}
		rd_fill(r);
	}
}

static const unsigned char *
rd_bytes(struct rd *r, size_t n)
{
	while (r->b.len - r->pos < n)
		rd_fill(r);
	r->pos += n;
	return r->b.buf + r->pos - n;
}

/* ---- Redis Streams (RESP) ---- */

static void
resp_cmd(struct kq_buf *out, int argc, const char **argv, const size_t *len)
{
	int i;

	kq_buf_addf(out, "*%d\r\n", argc);
	for (i = 0; i < argc; i++) {
		kq_buf_addf(out, "$%zu\r\n", len[i]);
		kq_buf_add(out, argv[i], len[i]);
		kq_buf_adds(out, "\r\n");
	}
}

struct redis_e2e {
	const char *addr;
	int64_t count, got;
	int64_t *lat;
};

/*
 * Read one XREAD reply: *1 [ *2 [ stream, *N [ *2 [ id, *2 [ field, value ] ] ] ] ]
 * or a null array (timeout).  Records each value's stamp; keeps the last id.
 */
static void
read_xread(struct rd *r, struct redis_e2e *e, char *last_id, size_t idlen)
{
	char *l = rd_line(r);
	int64_t n, i, t;

	if (l[0] == '*' && atoll(l + 1) <= 0)
		return;		/* *-1: nothing within BLOCK */
	if (l[0] != '*')
		die("XREAD", l);
	rd_line(r);			/* *2 */
	l = rd_line(r);			/* $len of the stream name */
	rd_bytes(r, (size_t)atoll(l + 1) + 2);
	n = atoll(rd_line(r) + 1);	/* entries */
	t = now_ns();
	for (i = 0; i < n; i++) {
		size_t len;
		const unsigned char *p;

		rd_line(r);		/* *2 */
		len = (size_t)atoll(rd_line(r) + 1);
		p = rd_bytes(r, len + 2);
		snprintf(last_id, idlen, "%.*s", (int)len, (const char *)p);
		rd_line(r);		/* *2 field value */
		len = (size_t)atoll(rd_line(r) + 1);
		rd_bytes(r, len + 2);	/* field */
		len = (size_t)atoll(rd_line(r) + 1);
		p = rd_bytes(r, len + 2);
		if (len >= 16 && e->got < e->count)
			e->lat[e->got++] = t - (int64_t)strtoll((const char *)p, NULL, 16);
	}
}

static void *
redis_consumer(void *arg)
{
	struct redis_e2e *e = arg;
	struct rd r = { dial(e->addr), { 0 }, 0 };
	struct kq_buf cmd = { 0 };
	char last[64] = "$";

	while (e->got < e->count) {
		const char *av[8] = { "XREAD", "BLOCK", "1000", "COUNT", "1000", "STREAMS", "kqs",
				      last };
		size_t lens[8];
		int i;

		for (i = 0; i < 8; i++)
			lens[i] = strlen(av[i]);
		kq_buf_reset(&cmd);
		resp_cmd(&cmd, 8, av, lens);
		write_all(r.fd, cmd.buf, cmd.len);
		read_xread(&r, e, last, sizeof(last));
	}
	close(r.fd);
	kq_buf_free(&r.b);
	kq_buf_free(&cmd);
	return NULL;
}

static int
mode_redis_e2e(int argc, char **argv)
{
	struct redis_e2e e = { 0 };
	double rate = atof(argv[3]);
	size_t size = (size_t)KQ_MAX(atoll(argv[5]), 16);
	struct rd r;
	struct kq_buf cmd = { 0 };
	char *v = kq_xmalloc(size + 1);
	int64_t i, t0, gap, answers = 0;
	pthread_t th;

	(void)argc;
	e.addr = argv[2];
	e.count = (int64_t)(rate * atof(argv[4]));
	if (rate <= 0 || e.count < 1)
		die("redis-e2e", "RATE and SECONDS must be positive");
	e.lat = kq_xmalloc((size_t)e.count * sizeof(*e.lat));
	r.fd = dial(e.addr);
	memset(&r.b, 0, sizeof(r.b));
	r.pos = 0;
	pthread_create(&th, NULL, redis_consumer, &e);
	usleep(200000);		/* XREAD BLOCK from "$" is waiting */
	gap = (int64_t)(1e9 / rate);
	t0 = now_ns();
	for (i = 0; i < e.count; i++) {
		const char *av[5] = { "XADD", "kqs", "*", "v", v };
		size_t lens[5] = { 4, 3, 1, 1, size };

		sleep_until(t0 + i * gap);
		memset(v, 'x', size);
		snprintf(v, size + 1, "%016llx", (unsigned long long)now_ns());
		v[16] = 'x';
		kq_buf_reset(&cmd);
		resp_cmd(&cmd, 5, av, lens);
		write_all(r.fd, cmd.buf, cmd.len);
		/* Read the answers that are already here, without waiting. */
		while (answers < i) {
			struct pollfd pf = { r.fd, POLLIN, 0 };

			if (r.pos == r.b.len && poll(&pf, 1, 0) <= 0)
				break;
			rd_line(&r);
			answers++;
		}
	}
	while (answers < e.count) {
		rd_line(&r);
		answers++;
	}
	pthread_join(th, NULL);
	report(e.count, now_ns() - t0, size, e.lat, e.got);
	close(r.fd);
	kq_buf_free(&r.b);
	kq_buf_free(&cmd);
	free(e.lat);
	free(v);
	return 0;
}

/* ---- NATS JetStream ---- */

static void
nats_connect(struct rd *r, const char *addr)
{
	static const char hello[] = "CONNECT {\"verbose\":false,\"pedantic\":false,"
		"\"headers\":true,\"no_responders\":true}\r\nPING\r\n";
	char *l;

	r->fd = dial(addr);
	memset(&r->b, 0, sizeof(r->b));
	r->pos = 0;
	l = rd_line(r);
	if (strncmp(l, "INFO ", 5) != 0)
		die("NATS", l);
	write_all(r->fd, hello, sizeof(hello) - 1);
	while (strcmp((l = rd_line(r)), "PONG") != 0)
		if (strncmp(l, "-ERR", 4) == 0)
			die("NATS", l);
}

/*
 * Read up to the next MSG/HMSG: subject, reply and payload (views until the
 * next read); answers PINGs on the way.  Returns the payload length.
 */
static size_t
nats_msg(struct rd *r, char *subj, size_t slen, char *reply, size_t rlen,
	 const unsigned char **payload, int *status)
{
	for (;;) {
		char *l = rd_line(r), *f[6] = { 0 };
		int nf = 0;
		size_t n, hdr = 0;

		if (strcmp(l, "PING") == 0) {
			write_all(r->fd, "PONG\r\n", 6);
			continue;
		}
		if (strncmp(l, "-ERR", 4) == 0)
			die("NATS", l);
		if (strncmp(l, "MSG ", 4) != 0 && strncmp(l, "HMSG ", 5) != 0)
			continue;
		for (char *s = strtok(l, " "); s && nf < 6; s = strtok(NULL, " "))
			f[nf++] = s;
		*status = 0;
		if (f[0][0] == 'H') {
			/* HMSG subject sid [reply] hdrlen total */
			hdr = (size_t)atoll(f[nf - 2]);
			n = (size_t)atoll(f[nf - 1]);
			snprintf(reply, rlen, "%s", nf == 6 ? f[3] : "");
		} else {
			n = (size_t)atoll(f[nf - 1]);
			snprintf(reply, rlen, "%s", nf == 5 ? f[3] : "");
		}
		snprintf(subj, slen, "%s", f[1]);
		*payload = rd_bytes(r, n + 2);
		if (hdr) {
			/* "NATS/1.0 404 No Messages": a status, not a record. */
			if (hdr >= 12 && memcmp(*payload, "NATS/1.0 ", 9) == 0)
				*status = atoi((const char *)*payload + 9);
			*payload += hdr;
			n -= hdr;
		}
		return n;
	}
}

static void
nats_request(struct rd *r, const char *subject, const char *json)
{
	char subj[256], reply[256], buf[1024];
	const unsigned char *p;
	int status, n;

	n = snprintf(buf, sizeof(buf), "PUB %s _INBOX.kqperf.req %zu\r\n%s\r\n", subject,
		     strlen(json), json);
	write_all(r->fd, buf, (size_t)n);
	nats_msg(r, subj, sizeof(subj), reply, sizeof(reply), &p, &status);
	(void)p;
}

static int
mode_nats_pub(int argc, char **argv)
{
	int64_t count = atoll(argv[3]), sent = 0, acked = 0, t0;
	size_t size = (size_t)atoll(argv[4]);
	struct rd r;
	struct kq_buf out = { 0 };
	char *v = kq_xmalloc(size + 1), subj[256], reply[256];
	const unsigned char *p;
	size_t n;
	int status;

	(void)argc;
	memset(v, 'x', size);
	nats_connect(&r, argv[2]);
	write_all(r.fd, "SUB _INBOX.kqperf.* 1\r\n", 23);
	nats_request(&r, "$JS.API.STREAM.DELETE.KQ", "");
	nats_request(&r, "$JS.API.STREAM.CREATE.KQ",
		     "{\"name\":\"KQ\",\"subjects\":[\"kq.bench\"],\"storage\":\"file\"}");
	t0 = now_ns();
	while (acked < count) {
		/* Up to 1000 publishes outstanding, written in one go. */
		kq_buf_reset(&out);
		while (sent < count && sent - acked < 1000) {
			kq_buf_addf(&out, "PUB kq.bench _INBOX.kqperf.a %zu\r\n", size);
			kq_buf_add(&out, v, size);
			kq_buf_adds(&out, "\r\n");
			sent++;
		}
		if (out.len)
			write_all(r.fd, out.buf, out.len);
		n = nats_msg(&r, subj, sizeof(subj), reply, sizeof(reply), &p, &status);
		if (memmem(p, n, "\"error\"", 7))
			die("JetStream publish", "error answer");
		acked++;
	}
	report(count, now_ns() - t0, size, NULL, 0);
	close(r.fd);
	kq_buf_free(&r.b);
	kq_buf_free(&out);
	free(v);
	return 0;
}

static int
mode_nats_sub(int argc, char **argv)
{
	int64_t count = atoll(argv[3]), got = 0, t0, inbatch = 0;
	size_t size = 0;
	struct rd r;
	char subj[256], reply[256], ackto[256] = "";
	const unsigned char *p;
	int status;

	(void)argc;
	nats_connect(&r, argv[2]);
	write_all(r.fd, "SUB _INBOX.kqperf.* 1\r\n", 23);
	nats_request(&r, "$JS.API.CONSUMER.DURABLE.CREATE.KQ.C",
		     "{\"stream_name\":\"KQ\",\"config\":{\"durable_name\":\"C\","
		     "\"ack_policy\":\"all\",\"deliver_policy\":\"all\"}}");
	t0 = now_ns();
	while (got < count) {
		static const char pull[] = "{\"batch\":1000,\"expires\":2000000000}";
		char buf[256];
		int n = snprintf(buf, sizeof(buf),
				 "PUB $JS.API.CONSUMER.MSG.NEXT.KQ.C _INBOX.kqperf.p %zu\r\n%s\r\n",
				 sizeof(pull) - 1, pull);

		write_all(r.fd, buf, (size_t)n);
		for (inbatch = 0; inbatch < 1000 && got < count;) {
			size_t len = nats_msg(&r, subj, sizeof(subj), reply, sizeof(reply), &p,
					      &status);

			if (status)
				break;	/* 404/408: the batch ended early */
			size = len;
			snprintf(ackto, sizeof(ackto), "%s", reply);
			got++;
			inbatch++;
		}
		if (ackto[0]) {
			/* AckAll: one ack covers the batch. */
			n = snprintf(buf, sizeof(buf), "PUB %s 4\r\n+ACK\r\n", ackto);
			write_all(r.fd, buf, (size_t)n);
		}
	}
	report(got, now_ns() - t0, size, NULL, 0);
	close(r.fd);
	kq_buf_free(&r.b);
	return 0;
}

/* Records in a fetched partition at or after *next, which moves past them. */
static int64_t
count_fetched(const unsigned char *r, size_t left, bool msgset, int64_t *next)
{
	int64_t n = 0;

	while (left >= KQ_MSG_LOG_OVERHEAD) {
		int64_t off = (int64_t)kq_be64(r), size;
		struct kq_batch_hdr h;

		if (msgset) {
			size = KQ_MSG_LOG_OVERHEAD + (int64_t)kq_be32(r + 8);
			if (size > (int64_t)left)
				break;
			if (off >= *next) {
				n++;
				*next = off + 1;
			}
		} else {
			if (kq_batch_hdr_parse(r, left, &h) != 0 ||
			    (size = kq_batch_hdr_size(&h)) > (int64_t)left)
				break;
			if (kq_batch_hdr_last(&h) >= *next) {
				n += kq_batch_hdr_last(&h) + 1 - KQ_MAX(*next, h.BaseOffset);
				*next = kq_batch_hdr_last(&h) + 1;
			}
		}
		r += size;
		left -= (size_t)size;
	}
	return n;
}

static int
mode_fetch(int argc, char **argv)
{
	struct kq_client *cl = client(argv[2]);
	int64_t count = atoll(argv[4]), got = 0, next = 0, t0;
	int16_t ver = (int16_t)atoi(argv[5]);
	struct kq_arena a = { 0 };
	struct kq_conn *conn;

	if (kq_client_leader_conn(cl, argv[3], 0, &conn) != 0)
		die("leader", kq_client_errstr(cl));
	t0 = now_ns();
	while (got < count) {
		const struct kq_FetchResponse_PartitionData *pd =
			fetch_part0(conn, ver, argv[3], next, &a);

		if (pd->ErrorCode != 0)
			die("fetch", kq_err_name(pd->ErrorCode));
		got += count_fetched(pd->Records.p, (size_t)KQ_MAX(pd->Records.len, 0), ver < 4,
				     &next);
	}
	report(got, now_ns() - t0, 100, NULL, 0);
	kq_arena_free(&a);
	kq_client_free(cl);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 6 && strcmp(argv[1], "produce") == 0)
		return mode_produce(argc, argv);
	if (argc >= 7 && strcmp(argv[1], "e2e") == 0)
		return mode_e2e(argc, argv);
	if (argc >= 6 && strcmp(argv[1], "fetch") == 0)
		return mode_fetch(argc, argv);
	if (argc >= 6 && strcmp(argv[1], "redis-e2e") == 0)
		return mode_redis_e2e(argc, argv);
	if (argc >= 5 && strcmp(argv[1], "nats-pub") == 0)
		return mode_nats_pub(argc, argv);
	if (argc >= 4 && strcmp(argv[1], "nats-sub") == 0)
		return mode_nats_sub(argc, argv);
	fprintf(stderr, "usage: kq-perf produce BROKERS TOPIC COUNT SIZE [ACKS [sync]]\n"
		"       kq-perf e2e BROKERS TOPIC RATE SECONDS SIZE\n"
		"       kq-perf fetch BROKERS TOPIC COUNT VERSION\n"
		"       kq-perf redis-e2e HOST:PORT RATE SECONDS SIZE\n"
		"       kq-perf nats-pub HOST:PORT COUNT SIZE\n"
		"       kq-perf nats-sub HOST:PORT COUNT\n");
	return 2;
}
