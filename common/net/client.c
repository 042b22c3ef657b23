/*
 * client.c - the cluster view for the CLIs: bootstrap with backoff,
 * metadata snapshots, per-node connections, ListOffsets.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define WARN_EVERY_MS 30000
#define CONNECT_CAP_MS 10000

struct hostport {
	char *host;
	int port;
};

struct node_conn {
	int32_t id;
	struct kq_conn *conn;
};

struct kq_client {
	struct hostport *boot;
	int n_boot, next_boot;
	char *client_id;
	int64_t timeout_ms, req_timeout_ms;
	int8_t isolation;
	void (*warn)(void *, const char *);
	void *warn_arg;
	bool (*stop)(void *);
	void *stop_arg;

	struct kq_conn *bconn;		/* bootstrap connection */
	struct node_conn *nodes;
	int n_nodes;

	struct kq_metadata *md;
	char **md_topics;		/* topic set of the last request; NULL = all */
	int md_n;
	bool md_all;

	char errstr[512];
};

static void
cl_err(struct kq_client *cl, const char *fmt, ...) KQ_PRINTF(2, 3);

static void
cl_err(struct kq_client *cl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cl->errstr, sizeof(cl->errstr), fmt, ap);
	va_end(ap);
}

int64_t
kq_backoff_ms(int attempt)
{
	int64_t d = 100;
	double j;

	while (attempt-- > 0 && d < 10000)
		d *= 2;
	if (d > 10000)
		d = 10000;
	/* +-20% jitter; rand() is plenty for spreading retries */
	j = ((double)rand() / RAND_MAX) * 0.4 - 0.2;
	return d + (int64_t)((double)d * j);
}

static bool
stopping(const struct kq_client *cl)
{
	return cl->stop && cl->stop(cl->stop_arg);
}

/* A backoff sleep; a signal that makes stop() true ends it early. */
static void
sleep_ms(const struct kq_client *cl, int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stopping(cl))
		;
}

static int
parse_hostport(const char *s, size_t n, struct hostport *hp)
{
	const char *colon = NULL, *host = s, *p;
	size_t hlen = n;
	long port = 9092;
	char *end, buf[16];

	if (n == 0)
		return -1;
	if (s[0] == '[') {
		p = memchr(s, ']', n);
		if (!p)
			return -1;
		host = s + 1;
		hlen = (size_t)(p - host);
		if ((size_t)(p + 1 - s) < n) {
			if (p[1] != ':')
				return -1;
			colon = p + 1;
		}
	} else {
		colon = memrchr(s, ':', n);
		if (colon && memchr(s, ':', n) != colon)
			colon = NULL;	/* bare IPv6 address, no port */
		if (colon)
			hlen = (size_t)(colon - s);
		else
			hlen = n;
	}
	if (colon) {
		size_t plen = n - (size_t)(colon + 1 - s);

		if (plen == 0 || plen >= sizeof(buf))
			return -1;
		memcpy(buf, colon + 1, plen);
		buf[plen] = '\0';
		errno = 0;
		port = strtol(buf, &end, 10);
		if (*end || errno || port < 1 || port > 65535)
			return -1;
	}
	if (hlen == 0)
		return -1;
	hp->host = kq_xstrndup(host, hlen);
	hp->port = (int)port;
	return 0;
}

struct kq_client *
kq_client_new(const char *brokers, const char *client_id, int64_t timeout_ms, char *errbuf,
	      size_t errlen)
{
	struct kq_client *cl;
	const char *p = brokers, *comma;
	size_t n;

	cl = kq_xcalloc(1, sizeof(*cl));
	while (p && *p) {
		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		while (n && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n) {
			cl->boot = kq_xrealloc(cl->boot, (size_t)(cl->n_boot + 1) * sizeof(*cl->boot));
			if (parse_hostport(p, n, &cl->boot[cl->n_boot]) < 0) {
				snprintf(errbuf, errlen, "bad broker address '%.*s' (expected HOST[:PORT])",
					 (int)n, p);
				kq_client_free(cl);
				return NULL;
			}
			cl->n_boot++;
		}
		p = comma ? comma + 1 : NULL;
	}
	if (cl->n_boot == 0) {
		snprintf(errbuf, errlen, "no broker address given");
		kq_client_free(cl);
		return NULL;
	}
	cl->client_id = kq_xstrdup(client_id ? client_id : "kq");
	cl->timeout_ms = timeout_ms < 0 ? 0 : timeout_ms;
	cl->req_timeout_ms = cl->timeout_ms ? cl->timeout_ms : 30000;
	srand((unsigned)(kq_mono_us() ^ (int64_t)getpid()));
	return cl;
}

static void
md_free(struct kq_metadata *md)
{
	if (!md)
		return;
	kq_arena_free(&md->arena);
	free(md);
}

void
kq_client_free(struct kq_client *cl)
{
	int i;

	if (!cl)
		return;
	for (i = 0; i < cl->n_boot; i++)
		free(cl->boot[i].host);
	free(cl->boot);
	for (i = 0; i < cl->n_nodes; i++)
		kq_conn_close(cl->nodes[i].conn);
	free(cl->nodes);
	kq_conn_close(cl->bconn);
	md_free(cl->md);
	for (i = 0; i < cl->md_n; i++)
		free(cl->md_topics[i]);
	free(cl->md_topics);
	free(cl->client_id);
	free(cl);
}

void
kq_client_set_warn(struct kq_client *cl, void (*fn)(void *arg, const char *msg), void *arg)
{
	cl->warn = fn;
	cl->warn_arg = arg;
}

void
kq_client_set_stop(struct kq_client *cl, bool (*fn)(void *arg), void *arg)
{
	cl->stop = fn;
	cl->stop_arg = arg;
}

void
kq_client_set_request_timeout(struct kq_client *cl, int64_t ms)
{
	cl->req_timeout_ms = ms > 0 ? ms : 30000;
}

void
kq_client_set_read_committed(struct kq_client *cl, bool on)
{
	cl->isolation = on ? 1 : 0;
}

const char *
kq_client_errstr(const struct kq_client *cl)
{
	return cl->errstr;
}

int64_t
kq_client_timeout(const struct kq_client *cl)
{
	return cl->timeout_ms;
}

/* "30s", "2m", "1h30m" for the retry warning. */
static void
fmt_dur(int64_t ms, char *buf, size_t len)
{
	int64_t s = (ms + 999) / 1000;

	if (s < 60)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, s % 60 ? "%lldm%llds" : "%lldm", (long long)(s / 60),
			 (long long)(s % 60));
	else
		snprintf(buf, len, s % 3600 / 60 ? "%lldh%lldm" : "%lldh", (long long)(s / 3600),
			 (long long)(s % 3600 / 60));
}

int
kq_client_connect(struct kq_client *cl)
{
	int64_t start = kq_mono_ms(), last_warn = -1, now, left, wait, ctmo;
	char err[384], dur[32], msg[600];
	int attempt = 0, i, r = KQ_ERR_IO;

	if (cl->bconn && !kq_conn_broken(cl->bconn))
		return 0;
	kq_conn_close(cl->bconn);
	cl->bconn = NULL;
	for (;;) {
		if (stopping(cl)) {
			cl_err(cl, "interrupted");
			return KQ_ERR_AGAIN;
		}
		for (i = 0; i < cl->n_boot; i++) {
			struct hostport *hp = &cl->boot[(cl->next_boot + i) % cl->n_boot];

			ctmo = CONNECT_CAP_MS;
			if (cl->timeout_ms) {
				left = cl->timeout_ms - (kq_mono_ms() - start);
				if (left <= 0)
					break;
				ctmo = KQ_MIN(ctmo, left);
			}
			r = kq_conn_open(&cl->bconn, hp->host, hp->port, cl->client_id, ctmo, err,
					 sizeof(err));
			if (r == 0) {
				/* next reconnect starts with the one that worked */
				cl->next_boot = (cl->next_boot + i) % cl->n_boot;
				return 0;
			}
			cl->bconn = NULL;
		}
		now = kq_mono_ms();
		cl_err(cl, "cannot reach any broker (%s)", err);
		if (cl->timeout_ms && now - start >= cl->timeout_ms)
			return KQ_ERR_TIMEOUT;
		if (cl->warn && (last_warn < 0 || now - last_warn >= WARN_EVERY_MS)) {
			if (cl->timeout_ms) {
				fmt_dur(cl->timeout_ms - (now - start), dur, sizeof(dur));
				snprintf(msg, sizeof(msg), "%s; retrying for up to %s", cl->errstr, dur);
			} else {
				snprintf(msg, sizeof(msg), "%s; retrying", cl->errstr);
			}
			cl->warn(cl->warn_arg, msg);
			last_warn = now;
		}
		wait = kq_backoff_ms(attempt++);
		if (cl->timeout_ms)
			wait = KQ_MIN(wait, cl->timeout_ms - (now - start));
		sleep_ms(cl, wait);
	}
}

static int
node_index(const struct kq_client *cl, int32_t id)
{
	int i;

	for (i = 0; i < cl->n_nodes; i++)
		if (cl->nodes[i].id == id)
			return i;
	return -1;
}

int
kq_client_any_conn(struct kq_client *cl, struct kq_conn **out)
{
	int i, r;

	if (cl->bconn && !kq_conn_broken(cl->bconn)) {
		*out = cl->bconn;
		return 0;
	}
	for (i = 0; i < cl->n_nodes; i++) {
		if (cl->nodes[i].conn && !kq_conn_broken(cl->nodes[i].conn)) {
			*out = cl->nodes[i].conn;
			return 0;
		}
	}
	r = kq_client_connect(cl);
	if (r == 0)
		*out = cl->bconn;
	return r;
}

/* ---- metadata ---- */

static int
cmp_part(const void *a, const void *b)
{
	const struct kq_md_partition *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static char *
arena_str(struct kq_arena *a, struct kq_str s)
{
	if (s.len < 0)
		return NULL;
	return kq_arena_strndup(a, s.p ? s.p : "", (size_t)s.len);
}

static int32_t *
arena_ints(struct kq_arena *a, const int32_t *v, int32_t n)
{
	int32_t *r;

	if (n <= 0)
		return NULL;
	r = kq_arena_alloc(a, (size_t)n * sizeof(*r));
	memcpy(r, v, (size_t)n * sizeof(*r));
	return r;
}

static struct kq_metadata *
md_build(const struct kq_MetadataResponse *m)
{
	struct kq_metadata *md = kq_xcalloc(1, sizeof(*md));
	struct kq_arena *a = &md->arena;
	int32_t i, j;

	md->controller_id = m->ControllerId;
	md->cluster_id = arena_str(a, m->ClusterId);
	if (m->Brokers_count > 0) {
		md->brokers = kq_arena_alloc(a, (size_t)m->Brokers_count * sizeof(*md->brokers));
		for (i = 0; i < m->Brokers_count; i++) {
			const struct kq_MetadataResponse_MetadataResponseBroker *b = &m->Brokers[i];

			if (b->Host.len <= 0 || b->Port <= 0 || b->Port > 65535)
				continue;
			md->brokers[md->n_brokers].id = b->NodeId;
			md->brokers[md->n_brokers].host = arena_str(a, b->Host);
			md->brokers[md->n_brokers].port = b->Port;
			md->n_brokers++;
		}
	}
	if (m->Topics_count > 0) {
		md->topics = kq_arena_alloc(a, (size_t)m->Topics_count * sizeof(*md->topics));
		for (i = 0; i < m->Topics_count; i++) {
			const struct kq_MetadataResponse_MetadataResponseTopic *t = &m->Topics[i];
			struct kq_md_topic *mt = &md->topics[md->n_topics];

			if (t->Name.len < 0)
				continue;
			mt->name = arena_str(a, t->Name);
			mt->err = t->ErrorCode;
			mt->internal = t->IsInternal;
			if (t->Partitions_count > 0)
				mt->parts = kq_arena_alloc(a, (size_t)t->Partitions_count *
							   sizeof(*mt->parts));
			for (j = 0; j < t->Partitions_count; j++) {
				const struct kq_MetadataResponse_MetadataResponsePartition *p =
					&t->Partitions[j];
				struct kq_md_partition *mp = &mt->parts[j];

				mp->id = p->PartitionIndex;
				mp->err = p->ErrorCode;
				mp->leader = p->LeaderId;
				mp->leader_epoch = p->LeaderEpoch;
				mp->replicas = arena_ints(a, p->ReplicaNodes, p->ReplicaNodes_count);
				mp->n_replicas = KQ_MAX(p->ReplicaNodes_count, 0);
				mp->isr = arena_ints(a, p->IsrNodes, p->IsrNodes_count);
				mp->n_isr = KQ_MAX(p->IsrNodes_count, 0);
				mp->offline = arena_ints(a, p->OfflineReplicas, p->OfflineReplicas_count);
				mp->n_offline = KQ_MAX(p->OfflineReplicas_count, 0);
			}
			mt->n_parts = KQ_MAX(t->Partitions_count, 0);
			if (mt->n_parts > 1)
				qsort(mt->parts, (size_t)mt->n_parts, sizeof(*mt->parts), cmp_part);
			md->n_topics++;
		}
	}
	return md;
}

const struct kq_md_topic *
kq_md_topic(const struct kq_metadata *md, const char *name)
{
	int i;

	if (!md)
		return NULL;
	for (i = 0; i < md->n_topics; i++)
		if (strcmp(md->topics[i].name, name) == 0)
			return &md->topics[i];
	return NULL;
}

const struct kq_md_partition *
kq_md_partition(const struct kq_md_topic *t, int32_t id)
{
	int lo = 0, hi, mid;

	if (!t)
		return NULL;
	hi = t->n_parts - 1;
	while (lo <= hi) {
		mid = lo + (hi - lo) / 2;
		if (t->parts[mid].id == id)
			return &t->parts[mid];
		if (t->parts[mid].id < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

const struct kq_md_broker *
kq_md_broker(const struct kq_metadata *md, int32_t id)
{
	int i;

	if (!md)
		return NULL;
	for (i = 0; i < md->n_brokers; i++)
		if (md->brokers[i].id == id)
			return &md->brokers[i];
	return NULL;
}

/*
 * Send a request to any broker, reconnecting with backoff on connection
 * failure until the give-up timeout.  *connp is the connection used.
 */
static int
call_any(struct kq_client *cl, int16_t api, int16_t our_max, int16_t our_min,
	 const void *req, struct kq_arena *a, void *resp, int16_t *verp)
{
	int64_t start = kq_mono_ms();
	struct kq_conn *conn;
	int attempt = 0, v, r;

	for (;;) {
		r = kq_client_any_conn(cl, &conn);
		if (r < 0)
			return r;
		v = kq_conn_version(conn, api, our_max);
		if (v < our_min) {
			cl_err(cl, "%s: broker does not support %s v%d..%d", kq_conn_name(conn),
			       kq_api_name(api), our_min, our_max);
			return KQ_ERR_UNSUPPORTED;
		}
		kq_arena_reset(a);
		r = kq_conn_call(conn, api, (int16_t)v, req, a, resp, cl->req_timeout_ms);
		if (r == 0) {
			*verp = (int16_t)v;
			return 0;
		}
		cl_err(cl, "%s", kq_conn_errstr(conn));
		if (r == KQ_ERR_CORRUPT || r == KQ_ERR_TRUNCATED || r == KQ_ERR_UNSUPPORTED)
			return r;
		if (cl->timeout_ms && kq_mono_ms() - start >= cl->timeout_ms)
			return r == KQ_ERR_TIMEOUT ? r : KQ_ERR_TIMEOUT;
		if (stopping(cl))
			return KQ_ERR_AGAIN;
		sleep_ms(cl, kq_backoff_ms(attempt++));
	}
}

/* Remember the topic set; topics may point into the old set, so copy first. */
static void
set_topics(struct kq_client *cl, const char *const *topics, int n)
{
	char **nt = NULL;
	int i;

	if (topics && n > 0) {
		nt = kq_xcalloc((size_t)n, sizeof(char *));
		for (i = 0; i < n; i++)
			nt[i] = kq_xstrdup(topics[i]);
	}
	for (i = 0; i < cl->md_n; i++)
		free(cl->md_topics[i]);
	free(cl->md_topics);
	cl->md_topics = nt;
	cl->md_n = nt ? n : 0;
	cl->md_all = topics == NULL;
}

int
kq_client_metadata(struct kq_client *cl, const char *const *topics, int n, bool auto_create,
		   const struct kq_metadata **out)
{
	struct kq_MetadataRequest req;
	struct kq_MetadataResponse resp;
	struct kq_MetadataRequest_MetadataRequestTopic *rt = NULL;
	struct kq_arena a = { 0 };
	int16_t v;
	int i, r;

	kq_MetadataRequest_init(&req);
	if (topics) {
		if (n > 0) {
			rt = kq_xcalloc((size_t)n, sizeof(*rt));
			for (i = 0; i < n; i++) {
				kq_MetadataRequest_MetadataRequestTopic_init(&rt[i]);
				rt[i].Name = kq_str_c(topics[i]);
			}
		}
		req.Topics = rt;
		req.Topics_count = n > 0 ? n : 0;
	} else {
		req.Topics = NULL;
		req.Topics_count = -1;
	}
	req.AllowAutoTopicCreation = auto_create;
	/* v1+ is needed: v0 cannot say "no topics" and has no controller id */
	r = call_any(cl, KQ_API_METADATA, 8, 1, &req, &a, &resp, &v);
	free(rt);
	if (r == 0) {
		if (topics != (const char *const *)cl->md_topics)
			set_topics(cl, topics, n);
		md_free(cl->md);
		cl->md = md_build(&resp);
		if (v < 1)
			cl->md->controller_id = -1;
		if (out)
			*out = cl->md;
	}
	kq_arena_free(&a);
	return r;
}

int
kq_client_refresh(struct kq_client *cl, const struct kq_metadata **out)
{
	return kq_client_metadata(cl, cl->md_all ? NULL : (const char *const *)cl->md_topics,
				  cl->md_n, false, out);
}

const struct kq_metadata *
kq_client_cached(const struct kq_client *cl)
{
	return cl->md;
}

/* Make sure the cached snapshot covers topics[0..n-1], fetching if not. */
static int
ensure_topics(struct kq_client *cl, const char *const *topics, int n)
{
	static const char *const none[1];
	const char **all;
	int i, k, missing = 0, r;

	if (cl->md) {
		for (i = 0; i < n; i++)
			if (!kq_md_topic(cl->md, topics[i]))
				missing++;
		if (!missing)
			return 0;
		if (cl->md_all)
			return kq_client_refresh(cl, NULL);
	}
	all = kq_xcalloc((size_t)(cl->md_n + n), sizeof(*all));
	for (k = 0; k < cl->md_n; k++)
		all[k] = cl->md_topics[k];
	for (i = 0; i < n; i++) {
		int j;

		for (j = 0; j < k; j++)
			if (strcmp(all[j], topics[i]) == 0)
				break;
		if (j == k)
			all[k++] = topics[i];
	}
	/* a non-NULL list, even if empty: NULL would mean all topics */
	r = kq_client_metadata(cl, k ? all : none, k, false, NULL);
	free(all);
	return r;
}

static bool
conn_is(const struct kq_conn *conn, const struct kq_md_broker *b)
{
	char name[300];

	if (strchr(b->host, ':'))
		snprintf(name, sizeof(name), "[%s]:%d", b->host, b->port);
	else
		snprintf(name, sizeof(name), "%s:%d", b->host, b->port);
	return strcmp(kq_conn_name(conn), name) == 0;
}

int
kq_client_node_conn(struct kq_client *cl, int32_t node_id, struct kq_conn **out)
{
	const struct kq_md_broker *b;
	struct kq_conn *conn;
	char err[384];
	int k, r;

	if (!cl->md && (r = ensure_topics(cl, NULL, 0)) < 0)
		return r;
	b = kq_md_broker(cl->md, node_id);
	if (!b) {
		cl_err(cl, "broker %d is not in the cluster metadata", node_id);
		return KQ_E_BROKER_NOT_AVAILABLE;
	}
	k = node_index(cl, node_id);
	if (k >= 0 && cl->nodes[k].conn) {
		if (!kq_conn_broken(cl->nodes[k].conn) && conn_is(cl->nodes[k].conn, b)) {
			*out = cl->nodes[k].conn;
			return 0;
		}
		kq_conn_close(cl->nodes[k].conn);
		cl->nodes[k].conn = NULL;
	}
	r = kq_conn_open(&conn, b->host, b->port, cl->client_id,
			 KQ_MIN(cl->req_timeout_ms, CONNECT_CAP_MS), err, sizeof(err));
	if (r < 0) {
		cl_err(cl, "%s", err);
		return r;
	}
	kq_conn_set_node(conn, node_id);
	if (k < 0) {
		cl->nodes = kq_xrealloc(cl->nodes, (size_t)(cl->n_nodes + 1) * sizeof(*cl->nodes));
		k = cl->n_nodes++;
		cl->nodes[k].id = node_id;
	}
	cl->nodes[k].conn = conn;
	*out = conn;
	return 0;
}

int
kq_client_leader_conn(struct kq_client *cl, const char *topic, int32_t partition,
		      struct kq_conn **out)
{
	const struct kq_md_topic *t;
	const struct kq_md_partition *p;
	int r;

	if ((r = ensure_topics(cl, &topic, 1)) < 0)
		return r;
	t = kq_md_topic(cl->md, topic);
	if (!t || t->err) {
		r = t ? t->err : KQ_E_UNKNOWN_TOPIC_OR_PARTITION;
		cl_err(cl, "topic '%s': %s", topic, kq_err_str(r));
		return r;
	}
	p = kq_md_partition(t, partition);
	if (!p) {
		cl_err(cl, "partition %d of topic '%s' does not exist", partition, topic);
		return KQ_E_UNKNOWN_TOPIC_OR_PARTITION;
	}
	if (p->leader < 0) {
		cl_err(cl, "partition %d of topic '%s' has no leader", partition, topic);
		return KQ_E_LEADER_NOT_AVAILABLE;
	}
	return kq_client_node_conn(cl, p->leader, out);
}

int
kq_client_controller_conn(struct kq_client *cl, struct kq_conn **out)
{
	int r;

	if (!cl->md && (r = ensure_topics(cl, NULL, 0)) < 0)
		return r;
	if (cl->md->controller_id < 0 || !kq_md_broker(cl->md, cl->md->controller_id))
		return kq_client_any_conn(cl, out);
	return kq_client_node_conn(cl, cl->md->controller_id, out);
}

/* ---- ListOffsets ---- */

struct lo_ent {
	size_t idx;		/* into reqs */
	int32_t leader;
};

static const struct kq_lo_req *lo_sort_reqs;

static int
cmp_lo(const void *a, const void *b)
{
	const struct lo_ent *x = a, *y = b;
	const struct kq_lo_req *rx = &lo_sort_reqs[x->idx], *ry = &lo_sort_reqs[y->idx];
	int c;

	if (x->leader != y->leader)
		return x->leader < y->leader ? -1 : 1;
	if ((c = strcmp(rx->topic, ry->topic)) != 0)
		return c;
	if (rx->partition != ry->partition)
		return rx->partition < ry->partition ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* One leader's share of a round: ents[0..n-1], one per (topic, partition). */
struct lo_group {
	int32_t leader;
	struct lo_ent *ents;
	size_t n;
	struct kq_conn *conn;
	int16_t version;
	int err;
};

static void
lo_fail(struct kq_lo_req *reqs, const struct lo_group *g, int err)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		reqs[g->ents[i].idx].err = err;
}

static int
lo_send(struct kq_client *cl, struct kq_lo_req *reqs, struct lo_group *g)
{
	struct kq_ListOffsetsRequest req;
	struct kq_ListOffsetsRequest_ListOffsetsTopic *tp;
	struct kq_ListOffsetsRequest_ListOffsetsPartition *pp;
	size_t i, nt = 0;
	int v, r;

	r = kq_client_node_conn(cl, g->leader, &g->conn);
	if (r != 0)
		return r;
	if (kq_conn_inflight(g->conn) > 0) {
		cl_err(cl, "%s: connection busy with other requests", kq_conn_name(g->conn));
		return KQ_ERR_INVALID;
	}
	v = kq_conn_version(g->conn, KQ_API_LIST_OFFSETS, 5);
	if (v < 1) {
		cl_err(cl, "%s: broker does not support ListOffsets v1..v5",
		       kq_conn_name(g->conn));
		return KQ_ERR_UNSUPPORTED;
	}
	g->version = (int16_t)v;
	tp = kq_xcalloc(g->n, sizeof(*tp));
	pp = kq_xcalloc(g->n, sizeof(*pp));
	for (i = 0; i < g->n; i++) {
		const struct kq_lo_req *q = &reqs[g->ents[i].idx];

		if (nt == 0 || strcmp(q->topic, reqs[g->ents[i - 1].idx].topic) != 0) {
			kq_ListOffsetsRequest_ListOffsetsTopic_init(&tp[nt]);
			tp[nt].Name = kq_str_c(q->topic);
			tp[nt].Partitions = &pp[i];
			nt++;
		}
		kq_ListOffsetsRequest_ListOffsetsPartition_init(&pp[i]);
		pp[i].PartitionIndex = q->partition;
		pp[i].CurrentLeaderEpoch = -1;
		pp[i].Timestamp = q->timestamp;
		pp[i].MaxNumOffsets = 1;
		tp[nt - 1].Partitions_count++;
	}
	kq_ListOffsetsRequest_init(&req);
	req.ReplicaId = -1;
	req.IsolationLevel = cl->isolation;
	req.Topics = tp;
	req.Topics_count = (int32_t)nt;
	r = kq_conn_enqueue(g->conn, KQ_API_LIST_OFFSETS, g->version, &req, NULL);
	free(tp);
	free(pp);
	if (r < 0) {
		cl_err(cl, "%s", kq_conn_errstr(g->conn));
		return r;
	}
	return 0;
}

static int
lo_recv(struct kq_client *cl, struct kq_lo_req *reqs, struct lo_group *g)
{
	struct kq_ListOffsetsResponse resp;
	struct kq_arena a = { 0 };
	struct kq_resp rr;
	int32_t i, j;
	size_t k;
	int r;

	r = kq_conn_recv(g->conn, cl->req_timeout_ms, &rr);
	if (r == KQ_ERR_TIMEOUT)
		kq_conn_fail(g->conn, r);
	if (r == 0 && rr.api_key != KQ_API_LIST_OFFSETS)
		r = KQ_ERR_CORRUPT;
	if (r == 0)
		r = kq_resp_decode(&rr, &a, &resp);
	if (r < 0) {
		cl_err(cl, "%s", kq_conn_errstr(g->conn));
		kq_arena_free(&a);
		return r;
	}
	/* a partition the broker left out keeps an error */
	lo_fail(reqs, g, KQ_E_UNKNOWN_SERVER_ERROR);
	for (i = 0; i < resp.Topics_count; i++) {
		const struct kq_ListOffsetsResponse_ListOffsetsTopicResponse *t = &resp.Topics[i];

		for (j = 0; j < t->Partitions_count; j++) {
			const struct kq_ListOffsetsResponse_ListOffsetsPartitionResponse *p =
				&t->Partitions[j];

			for (k = 0; k < g->n; k++) {
				struct kq_lo_req *q = &reqs[g->ents[k].idx];

				if (q->partition == p->PartitionIndex && kq_str_eq(t->Name, q->topic)) {
					q->err = p->ErrorCode;
					q->offset = p->Offset;
					q->result_ts = p->Timestamp;
					break;
				}
			}
		}
	}
	kq_arena_free(&a);
	return 0;
}

int
kq_client_list_offsets_many(struct kq_client *cl, struct kq_lo_req *reqs, size_t n)
{
	const char **names;
	struct lo_ent *ents;
	struct lo_group *groups;
	bool *done;
	size_t i, j, ne, ng, left = n;
	int r, nn = 0;

	if (n == 0)
		return 0;
	/* one metadata request for all topics not yet cached */
	names = kq_xcalloc(n, sizeof(*names));
	for (i = 0; i < n; i++) {
		for (j = 0; j < (size_t)nn; j++)
			if (strcmp(names[j], reqs[i].topic) == 0)
				break;
		if (j == (size_t)nn && nn < INT32_MAX)
			names[nn++] = reqs[i].topic;
	}
	r = ensure_topics(cl, names, nn);
	free(names);
	if (r < 0)
		return r;

	ents = kq_xcalloc(n, sizeof(*ents));
	groups = kq_xcalloc(n, sizeof(*groups));
	done = kq_xcalloc(n, sizeof(*done));
	for (i = 0; i < n; i++) {
		const struct kq_md_topic *t = kq_md_topic(cl->md, reqs[i].topic);
		const struct kq_md_partition *p = kq_md_partition(t, reqs[i].partition);

		reqs[i].offset = -1;
		reqs[i].result_ts = -1;
		reqs[i].err = 0;
		if (!t || t->err)
			reqs[i].err = t ? t->err : KQ_E_UNKNOWN_TOPIC_OR_PARTITION;
		else if (!p)
			reqs[i].err = KQ_E_UNKNOWN_TOPIC_OR_PARTITION;
		else if (p->leader < 0)
			reqs[i].err = KQ_E_LEADER_NOT_AVAILABLE;
		if (reqs[i].err) {
			done[i] = true;
			left--;
		}
	}
	/*
	 * Rounds: a request may name a partition only once, so asking for the
	 * start and the end of one partition takes two rounds.
	 */
	while (left > 0) {
		ne = 0;
		for (i = 0; i < n; i++) {
			if (done[i])
				continue;
			ents[ne].idx = i;
			ents[ne].leader = kq_md_partition(kq_md_topic(cl->md, reqs[i].topic),
							  reqs[i].partition)->leader;
			ne++;
		}
		lo_sort_reqs = reqs;
		qsort(ents, ne, sizeof(*ents), cmp_lo);
		/* keep the first of each (leader, topic, partition); compact in place */
		j = 0;
		for (i = 0; i < ne; i++) {
			if (j > 0 && ents[j - 1].leader == ents[i].leader &&
			    reqs[ents[j - 1].idx].partition == reqs[ents[i].idx].partition &&
			    strcmp(reqs[ents[j - 1].idx].topic, reqs[ents[i].idx].topic) == 0)
				continue;
			ents[j++] = ents[i];
		}
		ne = j;
		ng = 0;
		for (i = 0; i < ne; i++) {
			if (ng == 0 || groups[ng - 1].leader != ents[i].leader) {
				memset(&groups[ng], 0, sizeof(groups[ng]));
				groups[ng].leader = ents[i].leader;
				groups[ng].ents = &ents[i];
				ng++;
			}
			groups[ng - 1].n++;
		}
		for (i = 0; i < ng; i++)
			groups[i].err = lo_send(cl, reqs, &groups[i]);
		for (i = 0; i < ng; i++) {
			if (groups[i].err == 0)
				groups[i].err = lo_recv(cl, reqs, &groups[i]);
			if (groups[i].err != 0)
				lo_fail(reqs, &groups[i], groups[i].err);
		}
		for (i = 0; i < ne; i++) {
			done[ents[i].idx] = true;
			left--;
		}
	}
	free(ents);
	free(groups);
	free(done);
	return 0;
}

int
kq_client_list_offsets(struct kq_client *cl, const char *topic, int32_t partition,
		       int64_t timestamp, int64_t *offset, int64_t *ts)
{
	struct kq_lo_req q = { .topic = topic, .partition = partition, .timestamp = timestamp };
	int r;

	r = kq_client_list_offsets_many(cl, &q, 1);
	if (r < 0)
		return r;
	if (q.err) {
		if (q.err > 0 || q.err == KQ_E_UNKNOWN_SERVER_ERROR)
			cl_err(cl, "ListOffsets for '%s' partition %d: %s", topic, partition,
			       kq_err_str(q.err));
		return q.err;
	}
	*offset = q.offset;
	if (ts)
		*ts = q.result_ts;
	return 0;
}
