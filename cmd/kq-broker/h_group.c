/*
 * h_group.c - the group coordinator (common/group) inside the broker: the
 * group APIs, the internal topic __consumer_offsets (created and replayed at
 * start-up, appended to like an acks=-1 produce), the coordinator's timer,
 * and requests the coordinator holds (JoinGroup, SyncGroup, commits waiting
 * for fsync), which keep their place in the connection's response order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "../../common/group/group.h"
#include "../../common/proto/batch.h"
#include "broker.h"

#define TICK_MS 100
#define LOAD_READ_BYTES (1 << 20)
#define LOAD_SLICES 4

/* A request the coordinator answers later; its address is the coordinator's ctx. */
struct gwait {
	struct conn *conn;
	struct slot *slot;
	int32_t corr;
	struct gwait *prev, *next;
};

/* An append to __consumer_offsets waiting until the HW passes it. */
struct gappend {
	struct partition *p;	/* compared, never dereferenced unless still registered */
	int32_t part;
	int64_t need;
	void *done;
	struct gappend *next;
};

static struct kq_coord *coord;
static struct gwait *held;
static struct gappend *appends;
static struct event *tick_ev, *kick_ev;
static struct kq_buf abuf;

static struct partition *
offsets_partition(int32_t part)
{
	struct topic *t = topic_find(KQ_OFFSETS_TOPIC, strlen(KQ_OFFSETS_TOPIC));

	if (!t || part < 0 || part >= t->nparts)
		return NULL;
	return t->parts[part];
}

static void
held_unlink(struct gwait *gw)
{
	if (gw->prev)
		gw->prev->next = gw->next;
	else
		held = gw->next;
	if (gw->next)
		gw->next->prev = gw->prev;
}

static void
coord_reply(void *owner, void *ctx, int16_t api, int16_t v, const void *resp)
{
	struct gwait *gw = ctx;
	struct kq_buf *w = api_wbuf();

	(void)owner;
	if (kq_msg_encode(api, true, v, w, resp) != 0)
		kq_fatalx("cannot encode %s v%d response", kq_api_name(api), v);
	held_unlink(gw);
	slot_finish(gw->slot, gw->corr, w->buf, w->len);
	free(gw);
}

static void
coord_append(void *owner, int32_t part, const unsigned char *batch, size_t len, void *done)
{
	struct partition *p = offsets_partition(part);
	struct gappend *ga;
	int64_t base;
	int rc;

	(void)owner;
	if (!p || p->role != ROLE_LEADER) {
		kq_coord_append_done(coord, done, KQ_E_NOT_LEADER_OR_FOLLOWER, kq_now_ms());
		return;
	}
	/* The log rewrites baseOffset in place; the coordinator's bytes are const. */
	kq_buf_reset(&abuf);
	kq_buf_add(&abuf, batch, len);
	rc = partition_append(p, (unsigned char *)abuf.buf, abuf.len, NULL, &base);
	if (rc) {
		kq_coord_append_done(coord, done, rc, kq_now_ms());
		return;
	}
	if (p->hw >= kq_log_end(p->log)) {
		kq_coord_append_done(coord, done, 0, kq_now_ms());
		return;
	}
	ga = kq_xcalloc(1, sizeof(*ga));
	ga->p = p;
	ga->part = part;
	ga->need = kq_log_end(p->log);
	ga->done = done;
	ga->next = appends;
	appends = ga;
	/* Appends made from a timer or a flush completion have no conn_read to kick the flusher. */
	event_active(kick_ev, EV_READ, 0);
}

void
group_appends_check(void)
{
	struct gappend *list = appends, *ga, *next;
	int64_t now = kq_now_ms();

	if (!coord)
		return;
	/* append_done may append again: new waiters go to the fresh list. */
	appends = NULL;
	for (ga = list; ga; ga = next) {
		struct partition *p = offsets_partition(ga->part);
		int err = -1;

		next = ga->next;
		if (p != ga->p)
			err = KQ_E_NOT_LEADER_OR_FOLLOWER;
		else if (p->hw >= ga->need)
			err = 0;
		else if (p->flush_err)
			err = p->flush_err;
		if (err < 0) {
			ga->next = appends;
			appends = ga;
			continue;
		}
		kq_coord_append_done(coord, ga->done, err, now);
		free(ga);
	}
}

static bool
coord_topic_exists(void *owner, struct kq_str topic, int32_t partition)
{
	(void)owner;
	return partition_find(topic, partition) != NULL;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	kq_coord_tick(coord, kq_now_ms());
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	flush_kick();
}

/* Feed every record of a buffer of whole batches to the coordinator; returns the next offset. */
static int64_t
load_batches(int32_t part, const unsigned char *buf, size_t len, int64_t off, int *skipped)
{
	struct kq_batch_iter it;
	size_t pos = 0;
	int64_t now = kq_now_ms();

	memset(&it, 0, sizeof(it));
	while (len - pos >= KQ_BATCH_HEADER_SIZE) {
		struct kq_batch_hdr h;
		struct kq_record rec;
		int64_t size = kq_batch_size(buf + pos);
		int rc;

		/* Log bytes are hostile too: no offset arithmetic that could overflow. */
		if (size < KQ_BATCH_HEADER_SIZE || (uint64_t)size > len - pos ||
		    kq_batch_hdr_parse(buf + pos, (size_t)size, &h) != 0 || h.BaseOffset < 0 ||
		    h.LastOffsetDelta < 0 || h.BaseOffset > INT64_MAX - INT32_MAX - 1)
			break;
		if (h.BaseOffset + h.LastOffsetDelta + 1 > off)
			off = h.BaseOffset + h.LastOffsetDelta + 1;
		if (!(h.Attributes & KQ_ATTR_CONTROL)) {
			if (kq_batch_iter_init(&it, buf + pos, (size_t)size) != 0) {
				(*skipped)++;
			} else {
				while ((rc = kq_batch_iter_next(&it, &rec)) > 0)
					if (kq_coord_load_record(coord, part, rec.key, rec.value, now))
						(*skipped)++;
				if (rc < 0)
					(*skipped)++;
			}
			kq_batch_iter_free(&it);
		}
		pos += (size_t)size;
	}
	return off;
}

/* Replay one __consumer_offsets partition from its log start to its end. */
static void
load_partition(struct partition *p, int32_t part)
{
	struct kq_buf b = { 0 };
	int64_t off = kq_log_start(p->log), end = kq_log_end(p->log);
	int skipped = 0;

	kq_coord_load_begin(coord, part);
	while (off < end) {
		struct kq_slice sl[LOAD_SLICES];
		int64_t before = off;
		int i, n = 0, rc;

		rc = kq_log_read(p->log, off, end, LOAD_READ_BYTES, true, sl, LOAD_SLICES, &n);
		if (rc || n == 0) {
			if (rc)
				kq_log_warnx("load %s at %lld: %s", kq_log_dir(p->log),
					     (long long)off, kq_err_str(rc));
			break;
		}
		for (i = 0; i < n; i++) {
			if (sl[i].len <= 0 || sl[i].len > INT32_MAX)
				break;
			kq_buf_reset(&b);
			kq_buf_grow(&b, (size_t)sl[i].len);
			if (kq_io_pread_all(sl[i].fd, b.buf, (size_t)sl[i].len, sl[i].pos) < 0) {
				kq_log_warn("load %s: read", kq_log_dir(p->log));
				break;
			}
			off = load_batches(part, (unsigned char *)b.buf, (size_t)sl[i].len, off,
					   &skipped);
		}
		if (off <= before) {
			kq_log_warnx("load %s: no progress at offset %lld; rest skipped",
				     kq_log_dir(p->log), (long long)off);
			break;
		}
	}
	kq_buf_free(&b);
	kq_coord_load_end(coord, part, kq_now_ms());
	if (skipped)
		kq_log_warnx("%s: %d unreadable record%s skipped while loading groups",
			     kq_log_dir(p->log), skipped, skipped == 1 ? "" : "s");
}

static struct topic *
offsets_topic_ensure(void)
{
	static char k1[] = "cleanup.policy", v1[] = "compact";
	static char k2[] = "segment.bytes", v2[] = "104857600";
	char *keys[] = { k1, k2 }, *vals[] = { v1, v2 };
	struct topic *t = topic_find(KQ_OFFSETS_TOPIC, strlen(KQ_OFFSETS_TOPIC));
	char msg[512];
	int rc;

	if (t)
		return t;
	rc = topic_create(KQ_OFFSETS_TOPIC, cfg.offsets_partitions, keys, vals, 2, false, msg,
			  sizeof(msg));
	if (rc) {
		kq_log_warnx("cannot create %s: %s; consumer groups are unavailable",
			     KQ_OFFSETS_TOPIC, msg);
		return NULL;
	}
	return topic_find(KQ_OFFSETS_TOPIC, strlen(KQ_OFFSETS_TOPIC));
}

int
group_start(struct event_base *base)
{
	struct kq_coord_config cc;
	struct topic *t = offsets_topic_ensure();
	struct timeval tv = { 0, TICK_MS * 1000 };
	int64_t t0 = kq_mono_ms();
	int32_t i;

	kq_coord_config_defaults(&cc);
	cc.owner = NULL;
	cc.reply = coord_reply;
	cc.append = coord_append;
	cc.topic_exists = coord_topic_exists;
	cc.num_partitions = cfg.offsets_partitions;
	/* Placement must match the stored data, whatever the setting says now. */
	if (t && t->nparts != cfg.offsets_partitions) {
		kq_log_warnx("%s has %d partitions; offsets.topic.num.partitions=%d ignored",
			     KQ_OFFSETS_TOPIC, t->nparts, cfg.offsets_partitions);
		cc.num_partitions = t->nparts;
	}
	cc.min_session_timeout_ms = cfg.group_min_session_ms;
	cc.max_session_timeout_ms = cfg.group_max_session_ms;
	cc.initial_rebalance_delay_ms = cfg.group_initial_delay_ms;
	cc.max_group_size = cfg.group_max_size;
	cc.max_metadata_size = cfg.offset_metadata_max;
	if (getrandom(&cc.seed, sizeof(cc.seed), 0) != (ssize_t)sizeof(cc.seed))
		cc.seed = (uint64_t)kq_mono_us() ^ (uint64_t)getpid() << 32;
	/* Before loading: an append made while loading activates kick_ev. */
	tick_ev = watch_event_new(base, -1, EV_PERSIST, tick_cb, NULL, "group timer");
	kick_ev = watch_event_new(base, -1, 0, kick_cb, NULL, "group append");
	if (!tick_ev || !kick_ev)
		return -1;
	coord = kq_coord_new(&cc);
	if (t)
		for (i = 0; i < t->nparts && i < cc.num_partitions; i++)
			load_partition(t->parts[i], i);
	kq_log_info("group coordinator: %s loaded (%d partitions) in %lld ms", KQ_OFFSETS_TOPIC,
		    cc.num_partitions, (long long)(kq_mono_ms() - t0));
	evtimer_add(tick_ev, &tv);
	return 0;
}

/* Shutdown, after every connection is closed (so nothing is held). */
void
group_stop(void)
{
	struct gappend *ga;

	if (!coord)
		return;
	group_appends_check();
	while ((ga = appends) != NULL) {
		appends = ga->next;
		free(ga);
	}
	kq_coord_free(coord);
	coord = NULL;
	watch_event_free(tick_ev);
	watch_event_free(kick_ev);
	tick_ev = kick_ev = NULL;
	kq_buf_free(&abuf);
}

void
group_drop_conn(struct conn *conn)
{
	struct gwait *gw, *next;

	for (gw = held; gw; gw = next) {
		next = gw->next;
		if (gw->conn != conn)
			continue;
		kq_coord_forget_ctx(coord, gw);
		held_unlink(gw);
		slot_drop(gw->slot);
		free(gw);
	}
}

/* "/IP" as Kafka shows a member's host: the peer without its port. */
static const char *
client_host(struct req *rq, char *buf, size_t len)
{
	const char *peer = conn_peer(rq->conn), *colon = strrchr(peer, ':');
	int n = colon ? (int)(colon - peer) : (int)strlen(peer);

	snprintf(buf, len, "/%.*s", n, peer);
	return buf;
}

static int
coord_call(struct req *rq, const void *m, void *ctx, void *resp)
{
	int16_t v = rq->version;
	int64_t now = kq_now_ms();
	struct kq_arena *a = rq->arena;

	switch (rq->key) {
	case KQ_API_FIND_COORDINATOR:
		return kq_coord_find(coord, m, v, cfg.node_id, B.adv_host, B.adv_port, a, resp);
	case KQ_API_JOIN_GROUP: {
		char host[128];
		struct kq_coord_client cl = { rq->client_id, client_host(rq, host, sizeof(host)) };

		return kq_coord_join(coord, m, v, &cl, ctx, now, a, resp);
	}
	case KQ_API_SYNC_GROUP:
		return kq_coord_sync(coord, m, v, ctx, now, a, resp);
	case KQ_API_HEARTBEAT:
		return kq_coord_heartbeat(coord, m, v, ctx, now, a, resp);
	case KQ_API_LEAVE_GROUP:
		return kq_coord_leave(coord, m, v, ctx, now, a, resp);
	case KQ_API_OFFSET_COMMIT:
		return kq_coord_commit(coord, m, v, ctx, now, a, resp);
	case KQ_API_OFFSET_FETCH:
		return kq_coord_fetch(coord, m, v, ctx, now, a, resp);
	case KQ_API_DESCRIBE_GROUPS:
		return kq_coord_describe(coord, m, v, ctx, now, a, resp);
	case KQ_API_LIST_GROUPS:
		return kq_coord_list(coord, m, v, ctx, now, a, resp);
	case KQ_API_DELETE_GROUPS:
		return kq_coord_delete_groups(coord, m, v, ctx, now, a, resp);
	case KQ_API_OFFSET_DELETE:
		return kq_coord_offset_delete(coord, m, v, ctx, now, a, resp);
	}
	KQ_ASSERT(!"not a group API");
	return KQ_COORD_DONE;
}

/* Every group API: decode, hand to the coordinator, answer now or hold the slot. */
int
h_group(struct req *rq)
{
	void *m = kq_arena_alloc(rq->arena, kq_msg_size(rq->key, false));
	void *resp = kq_arena_alloc(rq->arena, kq_msg_size(rq->key, true));
	struct kq_buf *w;
	struct gwait *gw;

	if (kq_msg_decode(rq->key, false, rq->version, &rq->body, rq->arena, m))
		return -1;
	gw = kq_xcalloc(1, sizeof(*gw));
	if (coord_call(rq, m, gw, resp) == KQ_COORD_PENDING) {
		gw->conn = rq->conn;
		gw->slot = slot_new(rq->conn);
		gw->corr = rq->corr;
		gw->next = held;
		if (held)
			held->prev = gw;
		held = gw;
		return 0;
	}
	free(gw);
	w = api_wbuf();
	if (kq_msg_encode(rq->key, true, rq->version, w, resp) != 0)
		kq_fatalx("cannot encode %s v%d response", kq_api_name(rq->key), rq->version);
	respond_buf(rq, w);
	return 0;
}
