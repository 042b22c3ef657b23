/*
 * coord.c - the classic group coordinator: group state machine, offsets,
 * persistence through __consumer_offsets records.  Rules follow Kafka's
 * GroupCoordinator (see WIRE.md section 9); the design is in group.h.
 */
#include <stdlib.h>
#include <string.h>

#include "group.h"

enum { PART_NONE = 0, PART_LOADING = 1, PART_LOADED = 2 };

#define OFFSET_KEY_VERSION 1
#define OFFSET_VALUE_VERSION 3
#define GROUP_KEY_VERSION 2
#define GROUP_VALUE_VERSION 3

struct proto {
	char *name;
	unsigned char *meta;
	int32_t len;
};

struct member {
	struct member *next;		/* join order: the first is the oldest */
	char *id, *instance_id, *client_id, *client_host;
	int32_t session_timeout, rebalance_timeout;
	struct proto *protos;
	int nprotos;
	unsigned char *assignment;
	int32_t assignment_len;
	int64_t deadline;		/* session expiry */
	bool join_waiting;		/* JoinGroup held for this rebalance */
	bool join_has_ctx;
	void *join_ctx;
	int16_t join_v;
	bool sync_waiting;		/* SyncGroup held until the leader's */
	bool sync_has_ctx;
	void *sync_ctx;
	int16_t sync_v;
	bool pending_sync;		/* no SyncGroup yet in this generation */
};

/* Member ids handed out with MEMBER_ID_REQUIRED, not joined yet. */
struct pending {
	struct pending *next;
	char *id;
	int64_t deadline;
};

struct offset {
	char *topic;
	int32_t partition;
	int64_t offset;
	int32_t epoch;
	char *metadata;
	int64_t ts;
};

struct group {
	struct group *hnext;
	char *id;
	int32_t partition;
	int state;
	char *protocol_type;		/* NULL: none yet */
	char *protocol;
	char *leader;
	int32_t generation;
	struct member *members;
	int nmembers;
	struct pending *pending;
	int64_t join_deadline;		/* PreparingRebalance */
	bool initial_delay;		/* join_deadline is the initial delay */
	bool new_member_added;
	int32_t delay_remaining;
	int64_t sync_deadline;		/* 0: none */
	bool storing;			/* leader's assignment being persisted */
	bool has_meta;			/* a GroupMetadata record exists */
	int64_t state_ts;
	char **subscribed;		/* union of members' topics (consumer) */
	int nsubscribed;
	struct offset *offs;		/* sorted by (topic, partition) */
	size_t noffs, capoffs;
};

enum { OP_COMMIT, OP_SYNC, OP_DELETE_GROUPS, OP_OFFSET_DELETE, OP_META };

struct op_part {
	int32_t ti, pi;			/* response topic / partition index */
	char *topic;
	int32_t partition;
	int64_t offset;
	int32_t epoch;
	char *metadata;
	int64_t ts;			/* commit timestamp */
};

struct op {
	struct op *next, *prev;
	int kind;
	int pending;			/* appends in flight + 1 while building */
	int err;
	bool has_ctx;
	void *ctx;
	int16_t api, v;
	struct kq_arena arena;		/* the response */
	void *resp;
	char *group;
	int32_t generation;
	struct op_part *parts;
	int nparts;
};

struct kq_coord {
	struct kq_coord_config cfg;
	uint64_t rng;
	unsigned char *pstate;
	struct group **tab;
	size_t tabsize, ngroups;
	struct op *ops;
	struct op *dead_ops;		/* answered to the current caller; freed later */
	struct kq_arena scratch;
	struct {
		bool active;
		void *ctx;
		int16_t api;
		void *resp;
		struct kq_arena *a;
		bool done;
	} cur;
};

/* ---- small helpers ---- */

static struct kq_str
astr(struct kq_arena *a, const char *s)
{
	struct kq_str r;
	size_t n;

	if (s == NULL)
		return KQ_STR_NULL;
	n = strlen(s);
	r.p = kq_arena_strndup(a, s, n);
	r.len = (int32_t)n;
	return r;
}

/* Never null: "" for NULL (non-nullable fields). */
static struct kq_str
estr(struct kq_arena *a, const char *s)
{
	return astr(a, s ? s : "");
}

static struct kq_bytes
abytes(struct kq_arena *a, const unsigned char *p, int32_t n)
{
	unsigned char *q;

	if (n <= 0)
		return kq_bytes_of(NULL, 0);
	q = kq_arena_alloc(a, (size_t)n);
	memcpy(q, p, (size_t)n);
	return kq_bytes_of(q, (size_t)n);
}

/* Copy of a request string into a (null stays null). */
static struct kq_str
acopy(struct kq_arena *a, struct kq_str s)
{
	if (s.len < 0)
		return KQ_STR_NULL;
	return (struct kq_str){ kq_arena_strndup(a, s.p, (size_t)s.len), s.len };
}

static bool
has_nul(struct kq_str s)
{
	return s.len > 0 && memchr(s.p, '\0', (size_t)s.len) != NULL;
}

static char *
sdup(struct kq_str s)
{
	return s.len < 0 ? NULL : kq_xstrndup(s.p, (size_t)s.len);
}

static bool
str_empty(struct kq_str s)
{
	return s.len <= 0;
}

static void
set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = s ? kq_xstrdup(s) : NULL;
}

static uint64_t
rng_next(struct kq_coord *c)
{
	/* splitmix64 */
	uint64_t z = (c->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* client_id + "-" + a version 4 UUID, as Kafka names members. */
static char *
new_member_id(struct kq_coord *c, struct kq_str client_id)
{
	unsigned char u[16];
	uint64_t x = rng_next(c), y = rng_next(c);
	struct kq_buf b = { 0 };
	char *s;

	kq_put64(u, x);
	kq_put64(u + 8, y);
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	if (client_id.len > 0) {
		/* an embedded NUL would cut the id short: keep what precedes it */
		const char *nul = memchr(client_id.p, '\0', (size_t)client_id.len);

		kq_buf_add(&b, client_id.p, nul ? (size_t)(nul - client_id.p) :
			   (size_t)client_id.len);
	}
	kq_buf_addc(&b, '-');
	for (int i = 0; i < 16; i++) {
		kq_buf_addf(&b, "%02x", u[i]);
		if (i == 3 || i == 5 || i == 7 || i == 9)
			kq_buf_addc(&b, '-');
	}
	s = kq_xstrdup(kq_buf_cstr(&b));
	kq_buf_free(&b);
	return s;
}

/* Kafka's mapping of log append errors to group API errors. */
static int
map_append_err(int err)
{
	switch (err) {
	case KQ_E_NONE:
		return 0;
	case KQ_E_UNKNOWN_TOPIC_OR_PARTITION:
	case KQ_E_NOT_ENOUGH_REPLICAS:
	case KQ_E_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
	case KQ_E_REQUEST_TIMED_OUT:
		return KQ_E_COORDINATOR_NOT_AVAILABLE;
	case KQ_E_NOT_LEADER_OR_FOLLOWER:
	case KQ_E_KAFKA_STORAGE_ERROR:
		return KQ_E_NOT_COORDINATOR;
	case KQ_E_MESSAGE_TOO_LARGE:
	case KQ_E_RECORD_LIST_TOO_LARGE:
	case KQ_E_INVALID_FETCH_SIZE:
		return KQ_E_INVALID_COMMIT_OFFSET_SIZE;
	default:
		return err < 0 ? KQ_E_COORDINATOR_NOT_AVAILABLE : err;
	}
}

/* ---- placement ---- */

int32_t
kq_group_java_hash(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	uint32_t h = 0;

	while (p < end) {
		uint32_t cp;
		int len;

		if (p[0] < 0x80) {
			cp = p[0];
			len = 1;
		} else if ((p[0] & 0xe0) == 0xc0) {
			cp = p[0] & 0x1f;
			len = 2;
		} else if ((p[0] & 0xf0) == 0xe0) {
			cp = p[0] & 0x0f;
			len = 3;
		} else if ((p[0] & 0xf8) == 0xf0) {
			cp = p[0] & 0x07;
			len = 4;
		} else {
			cp = 0xfffd;
			len = 0;
		}
		if (len > 1) {
			if (end - p < len) {
				cp = 0xfffd;
				len = 0;
			} else {
				for (int i = 1; i < len; i++) {
					if ((p[i] & 0xc0) != 0x80) {
						cp = 0xfffd;
						len = 0;
						break;
					}
					cp = cp << 6 | (p[i] & 0x3f);
				}
			}
		}
		p += len ? len : 1;
		if (cp > 0xffff) {
			cp -= 0x10000;
			h = 31 * h + (0xd800 + (cp >> 10));
			h = 31 * h + (0xdc00 + (cp & 0x3ff));
		} else {
			h = 31 * h + cp;
		}
	}
	return (int32_t)h;
}

int32_t
kq_coord_partition_for(const struct kq_coord *c, struct kq_str group_id)
{
	int32_t h = kq_group_java_hash(group_id.p, group_id.len > 0 ? (size_t)group_id.len : 0);

	/* Kafka's Utils.abs: INT32_MIN maps to 0 */
	h = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
	return h % c->cfg.num_partitions;
}

/* 0, NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS for a group id. */
static int
check_coord(const struct kq_coord *c, struct kq_str gid)
{
	int32_t p = kq_coord_partition_for(c, gid);

	switch (c->pstate[p]) {
	case PART_LOADED:
		return 0;
	case PART_LOADING:
		return KQ_E_COORDINATOR_LOAD_IN_PROGRESS;
	default:
		return KQ_E_NOT_COORDINATOR;
	}
}

/* ---- group table ---- */

static size_t
hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return (size_t)h;
}

static struct group *
group_find(const struct kq_coord *c, struct kq_str id)
{
	struct group *g;

	if (id.len < 0)
		return NULL;
	g = c->tab[hash_bytes(id.p, (size_t)id.len) & (c->tabsize - 1)];
	for (; g; g = g->hnext)
		if (kq_str_eq(id, g->id))
			return g;
	return NULL;
}

static struct group *
group_find_c(const struct kq_coord *c, const char *id)
{
	return group_find(c, kq_str_c(id));
}

static void
table_grow(struct kq_coord *c)
{
	size_t nsize = c->tabsize * 2;
	struct group **nt = kq_xcalloc(nsize, sizeof(*nt));

	for (size_t i = 0; i < c->tabsize; i++) {
		struct group *g, *next;

		for (g = c->tab[i]; g; g = next) {
			size_t b = hash_bytes(g->id, strlen(g->id)) & (nsize - 1);

			next = g->hnext;
			g->hnext = nt[b];
			nt[b] = g;
		}
	}
	free(c->tab);
	c->tab = nt;
	c->tabsize = nsize;
}

static struct group *
group_new(struct kq_coord *c, struct kq_str id, int32_t partition, int64_t now)
{
	struct group *g = kq_xcalloc(1, sizeof(*g));
	size_t b;

	if (c->ngroups + 1 > c->tabsize)
		table_grow(c);
	g->id = sdup(id);
	g->partition = partition;
	g->state = KQ_GROUP_EMPTY;
	g->state_ts = now;
	b = hash_bytes(g->id, strlen(g->id)) & (c->tabsize - 1);
	g->hnext = c->tab[b];
	c->tab[b] = g;
	c->ngroups++;
	return g;
}

static void
member_free(struct member *m)
{
	for (int i = 0; i < m->nprotos; i++) {
		free(m->protos[i].name);
		free(m->protos[i].meta);
	}
	free(m->protos);
	free(m->id);
	free(m->instance_id);
	free(m->client_id);
	free(m->client_host);
	free(m->assignment);
	free(m);
}

static void
subscribed_clear(struct group *g)
{
	for (int i = 0; i < g->nsubscribed; i++)
		free(g->subscribed[i]);
	free(g->subscribed);
	g->subscribed = NULL;
	g->nsubscribed = 0;
}

/* Unlink and free; waiting requests get no reply (callers answer first). */
static void
group_destroy(struct kq_coord *c, struct group *g)
{
	struct group **pp = &c->tab[hash_bytes(g->id, strlen(g->id)) & (c->tabsize - 1)];
	struct member *m, *mn;
	struct pending *pm, *pn;

	while (*pp != g)
		pp = &(*pp)->hnext;
	*pp = g->hnext;
	c->ngroups--;
	for (m = g->members; m; m = mn) {
		mn = m->next;
		member_free(m);
	}
	for (pm = g->pending; pm; pm = pn) {
		pn = pm->next;
		free(pm->id);
		free(pm);
	}
	for (size_t i = 0; i < g->noffs; i++) {
		free(g->offs[i].topic);
		free(g->offs[i].metadata);
	}
	free(g->offs);
	subscribed_clear(g);
	free(g->id);
	free(g->protocol_type);
	free(g->protocol);
	free(g->leader);
	free(g);
}

/* A group that holds nothing worth keeping goes away. */
static void
maybe_drop_group(struct kq_coord *c, struct group *g)
{
	if (g->state == KQ_GROUP_EMPTY && g->nmembers == 0 && !g->pending && g->noffs == 0 &&
	    !g->has_meta && !g->storing)
		group_destroy(c, g);
}

/* ---- offsets in a group ---- */

static int
off_cmp(const char *topic, int32_t part, const struct offset *o)
{
	int r = strcmp(topic, o->topic);

	if (r)
		return r;
	return part < o->partition ? -1 : part > o->partition;
}

/* Index of (topic, part) or of where it would go; *found set. */
static size_t
off_search(const struct group *g, const char *topic, int32_t part, bool *found)
{
	size_t lo = 0, hi = g->noffs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = off_cmp(topic, part, &g->offs[mid]);

		if (r == 0) {
			*found = true;
			return mid;
		}
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*found = false;
	return lo;
}

static void
off_put(struct group *g, const char *topic, int32_t part, int64_t offset, int32_t epoch,
	const char *metadata, int64_t ts)
{
	bool found;
	size_t i = off_search(g, topic, part, &found);
	struct offset *o;

	if (!found) {
		if (g->noffs == g->capoffs) {
			g->capoffs = g->capoffs ? g->capoffs * 2 : 8;
			g->offs = kq_xrealloc(g->offs, g->capoffs * sizeof(*g->offs));
		}
		memmove(&g->offs[i + 1], &g->offs[i], (g->noffs - i) * sizeof(*g->offs));
		g->noffs++;
		o = &g->offs[i];
		o->topic = kq_xstrdup(topic);
		o->partition = part;
		o->metadata = NULL;
	} else {
		o = &g->offs[i];
	}
	o->offset = offset;
	o->epoch = epoch;
	set_str(&o->metadata, metadata ? metadata : "");
	o->ts = ts;
}

static void
off_del(struct group *g, const char *topic, int32_t part)
{
	bool found;
	size_t i = off_search(g, topic, part, &found);

	if (!found)
		return;
	free(g->offs[i].topic);
	free(g->offs[i].metadata);
	memmove(&g->offs[i], &g->offs[i + 1], (g->noffs - i - 1) * sizeof(*g->offs));
	g->noffs--;
}

static const struct offset *
off_get(const struct group *g, struct kq_str topic, int32_t part)
{
	bool found;
	size_t i;
	char *t;

	if (topic.len < 0 || has_nul(topic))
		return NULL;
	t = sdup(topic);
	i = off_search(g, t, part, &found);
	free(t);
	return found ? &g->offs[i] : NULL;
}

/* ---- records ---- */

void
kq_offsets_key_offset(struct kq_buf *w, struct kq_str group, struct kq_str topic,
		      int32_t partition)
{
	struct kq_OffsetCommitKey k;

	kq_OffsetCommitKey_init(&k);
	k.group = group;
	k.topic = topic;
	k.partition = partition;
	kq_wr_i16(w, OFFSET_KEY_VERSION);
	kq_OffsetCommitKey_encode(w, OFFSET_KEY_VERSION, &k);
}

void
kq_offsets_value_offset(struct kq_buf *w, int64_t offset, int32_t leader_epoch,
			struct kq_str metadata, int64_t commit_ts)
{
	struct kq_OffsetCommitValue v;

	kq_OffsetCommitValue_init(&v);
	v.offset = offset;
	v.leaderEpoch = leader_epoch;
	v.metadata = metadata.len < 0 ? kq_str_c("") : metadata;
	v.commitTimestamp = commit_ts;
	kq_wr_i16(w, OFFSET_VALUE_VERSION);
	kq_OffsetCommitValue_encode(w, OFFSET_VALUE_VERSION, &v);
}

void
kq_offsets_key_group(struct kq_buf *w, struct kq_str group)
{
	struct kq_GroupMetadataKey k;

	kq_GroupMetadataKey_init(&k);
	k.group = group;
	kq_wr_i16(w, GROUP_KEY_VERSION);
	kq_GroupMetadataKey_encode(w, GROUP_KEY_VERSION, &k);
}

static const struct proto *
member_proto(const struct member *m, const char *name)
{
	if (!name)
		return NULL;
	for (int i = 0; i < m->nprotos; i++)
		if (strcmp(m->protos[i].name, name) == 0)
			return &m->protos[i];
	return NULL;
}

static void
group_value(struct kq_buf *w, const struct group *g, struct kq_arena *a)
{
	struct kq_GroupMetadataValue v;
	const struct member *m;
	int i = 0;

	kq_GroupMetadataValue_init(&v);
	v.protocolType = kq_str_c(g->protocol_type ? g->protocol_type : "");
	v.generation = g->generation;
	v.protocol = kq_str_c(g->protocol);
	v.leader = kq_str_c(g->leader);
	v.currentStateTimestamp = g->state_ts;
	v.members = kq_arena_alloc(a, sizeof(*v.members) * (size_t)(g->nmembers + 1));
	for (m = g->members; m; m = m->next, i++) {
		struct kq_GroupMetadataValue_MemberMetadata *mm = &v.members[i];
		const struct proto *p = member_proto(m, g->protocol);

		kq_GroupMetadataValue_MemberMetadata_init(mm);
		mm->memberId = kq_str_c(m->id);
		mm->groupInstanceId = kq_str_c(m->instance_id);
		mm->clientId = kq_str_c(m->client_id ? m->client_id : "");
		mm->clientHost = kq_str_c(m->client_host ? m->client_host : "");
		mm->rebalanceTimeout = m->rebalance_timeout;
		mm->sessionTimeout = m->session_timeout;
		mm->subscription = p ? kq_bytes_of(p->meta, (size_t)p->len) : kq_bytes_of(NULL, 0);
		mm->assignment = kq_bytes_of(m->assignment, (size_t)m->assignment_len);
	}
	v.members_count = i;
	kq_wr_i16(w, GROUP_VALUE_VERSION);
	kq_GroupMetadataValue_encode(w, GROUP_VALUE_VERSION, &v);
}

/* ---- ops (requests waiting for appends) ---- */

static struct op *
op_new(struct kq_coord *c, int kind, void *ctx, int16_t api, int16_t v, size_t resp_size)
{
	struct op *op = kq_xcalloc(1, sizeof(*op));

	op->kind = kind;
	op->pending = 1;
	op->has_ctx = kind != OP_META && kind != OP_SYNC;
	op->ctx = ctx;
	op->api = api;
	op->v = v;
	if (resp_size)
		op->resp = kq_arena_alloc(&op->arena, resp_size);
	op->next = c->ops;
	if (c->ops)
		c->ops->prev = op;
	c->ops = op;
	return op;
}

static void
op_free(struct op *op)
{
	for (int i = 0; i < op->nparts; i++) {
		free(op->parts[i].topic);
		free(op->parts[i].metadata);
	}
	free(op->parts);
	free(op->group);
	kq_arena_free(&op->arena);
	free(op);
}

static void
free_dead_ops(struct kq_coord *c)
{
	struct op *op, *next;

	for (op = c->dead_ops; op; op = next) {
		next = op->next;
		op_free(op);
	}
	c->dead_ops = NULL;
}

static bool
is_cur(const struct kq_coord *c, bool has_ctx, void *ctx, int16_t api)
{
	return has_ctx && c->cur.active && c->cur.ctx == ctx && c->cur.api == api && !c->cur.done;
}

/* Send resp (size bytes, of API api) to ctx: into the caller's struct if it is the caller. */
static void
send_resp(struct kq_coord *c, bool has_ctx, void *ctx, int16_t api, int16_t v, const void *resp)
{
	if (!has_ctx)
		return;
	if (is_cur(c, has_ctx, ctx, api)) {
		memcpy(c->cur.resp, resp, kq_msg_size(api, true));
		c->cur.done = true;
		return;
	}
	c->cfg.reply(c->cfg.owner, ctx, api, v, resp);
}

/* Arena for a response to ctx: the caller's, or the scratch one. */
static struct kq_arena *
resp_arena(struct kq_coord *c, bool has_ctx, void *ctx, int16_t api)
{
	if (is_cur(c, has_ctx, ctx, api))
		return c->cur.a;
	kq_arena_reset(&c->scratch);
	return &c->scratch;
}

static void op_finish(struct kq_coord *c, struct op *op, int64_t now);

static void
op_release(struct kq_coord *c, struct op *op, int64_t now)
{
	KQ_ASSERT(op->pending > 0);
	if (--op->pending == 0)
		op_finish(c, op, now);
}

/* Hand a finished batch builder's records to the broker. */
static void
op_append(struct kq_coord *c, struct op *op, int32_t partition, struct kq_batch_builder *bb)
{
	struct kq_buf out = { 0 };
	int err = kq_bb_finish(bb, &out);

	if (err) {
		/* codec not linked: record the failure, append nothing */
		if (!op->err)
			op->err = KQ_E_UNKNOWN_SERVER_ERROR;
		kq_buf_free(&out);
		return;
	}
	op->pending++;
	c->cfg.append(c->cfg.owner, partition, out.buf, out.len, op);
	kq_buf_free(&out);
}

void
kq_coord_append_done(struct kq_coord *c, void *done, int err, int64_t now_ms)
{
	struct op *op = done;

	if (err && !op->err)
		op->err = err;
	op_release(c, op, now_ms);
}

/* Persist the group's metadata; op (may be NULL) waits for it. */
static void
store_group(struct kq_coord *c, struct group *g, struct op *op, int64_t now)
{
	struct kq_batch_builder bb;
	struct kq_buf k = { 0 }, v = { 0 };
	struct kq_arena a = { 0 };
	bool own = op == NULL;

	if (own)
		op = op_new(c, OP_META, NULL, 0, 0, 0);
	kq_offsets_key_group(&k, kq_str_c(g->id));
	group_value(&v, g, &a);
	kq_bb_init(&bb, c->cfg.codec);
	kq_bb_add(&bb, now, kq_bytes_of(k.buf, k.len), kq_bytes_of(v.buf, v.len), NULL, 0);
	op_append(c, op, g->partition, &bb);
	kq_bb_free(&bb);
	kq_buf_free(&k);
	kq_buf_free(&v);
	kq_arena_free(&a);
	g->has_meta = true;
	if (own)
		op_release(c, op, now);
}

/* Tombstones for the group's metadata and all its offsets. */
static void
store_group_tombstones(struct kq_coord *c, struct group *g, struct op *op, int64_t now)
{
	struct kq_batch_builder bb;
	struct kq_buf k = { 0 };

	kq_bb_init(&bb, c->cfg.codec);
	kq_offsets_key_group(&k, kq_str_c(g->id));
	kq_bb_add(&bb, now, kq_bytes_of(k.buf, k.len), KQ_BYTES_NULL, NULL, 0);
	for (size_t i = 0; i < g->noffs; i++) {
		kq_buf_reset(&k);
		kq_offsets_key_offset(&k, kq_str_c(g->id), kq_str_c(g->offs[i].topic),
				      g->offs[i].partition);
		kq_bb_add(&bb, now, kq_bytes_of(k.buf, k.len), KQ_BYTES_NULL, NULL, 0);
	}
	op_append(c, op, g->partition, &bb);
	kq_bb_free(&bb);
	kq_buf_free(&k);
}

/* ---- replies for held JoinGroup / SyncGroup ---- */

static void
join_fill_error(struct kq_JoinGroupResponse *r, struct kq_arena *a, int err, const char *member_id)
{
	kq_JoinGroupResponse_init(r);
	r->ErrorCode = (int16_t)err;
	r->GenerationId = -1;
	r->ProtocolName = estr(a, "");
	r->ProtocolType = KQ_STR_NULL;
	r->Leader = estr(a, "");
	r->MemberId = estr(a, member_id);
	r->Members_count = 0;
}

/* Success answer for m from the group's current generation. */
static void
join_fill_ok(struct kq_JoinGroupResponse *r, struct kq_arena *a, const struct group *g,
	     const struct member *m, bool with_members)
{
	const struct member *x;
	int i = 0;

	join_fill_error(r, a, 0, m->id);
	r->GenerationId = g->generation;
	r->ProtocolName = estr(a, g->protocol);
	r->ProtocolType = astr(a, g->protocol_type);
	r->Leader = estr(a, g->leader);
	if (!with_members)
		return;
	r->Members = kq_arena_alloc(a, sizeof(*r->Members) * (size_t)(g->nmembers + 1));
	for (x = g->members; x; x = x->next, i++) {
		const struct proto *p = member_proto(x, g->protocol);

		kq_JoinGroupResponse_JoinGroupResponseMember_init(&r->Members[i]);
		r->Members[i].MemberId = estr(a, x->id);
		r->Members[i].GroupInstanceId = astr(a, x->instance_id);
		r->Members[i].Metadata = p ? abytes(a, p->meta, p->len) : kq_bytes_of(NULL, 0);
	}
	r->Members_count = i;
}

static void
join_reply_error(struct kq_coord *c, struct member *m, int err)
{
	struct kq_JoinGroupResponse r;
	struct kq_arena *a;

	if (!m->join_waiting)
		return;
	m->join_waiting = false;
	a = resp_arena(c, m->join_has_ctx, m->join_ctx, KQ_API_JOIN_GROUP);
	join_fill_error(&r, a, err, m->id);
	send_resp(c, m->join_has_ctx, m->join_ctx, KQ_API_JOIN_GROUP, m->join_v, &r);
	m->join_has_ctx = false;
}

static void
join_reply_ok(struct kq_coord *c, const struct group *g, struct member *m)
{
	struct kq_JoinGroupResponse r;
	struct kq_arena *a;
	bool leader = g->leader && strcmp(g->leader, m->id) == 0;

	m->join_waiting = false;
	a = resp_arena(c, m->join_has_ctx, m->join_ctx, KQ_API_JOIN_GROUP);
	join_fill_ok(&r, a, g, m, leader);
	send_resp(c, m->join_has_ctx, m->join_ctx, KQ_API_JOIN_GROUP, m->join_v, &r);
	m->join_has_ctx = false;
}

static void
sync_reply(struct kq_coord *c, struct member *m, int err)
{
	struct kq_SyncGroupResponse r;
	struct kq_arena *a;

	if (!m->sync_waiting)
		return;
	m->sync_waiting = false;
	a = resp_arena(c, m->sync_has_ctx, m->sync_ctx, KQ_API_SYNC_GROUP);
	kq_SyncGroupResponse_init(&r);
	r.ErrorCode = (int16_t)err;
	r.Assignment = err ? kq_bytes_of(NULL, 0) : abytes(a, m->assignment, m->assignment_len);
	send_resp(c, m->sync_has_ctx, m->sync_ctx, KQ_API_SYNC_GROUP, m->sync_v, &r);
	m->sync_has_ctx = false;
}

/* ---- the state machine ---- */

static int32_t
group_rebalance_timeout(const struct group *g)
{
	int32_t t = 0;

	for (const struct member *m = g->members; m; m = m->next)
		t = KQ_MAX(t, m->rebalance_timeout);
	return t;
}

static struct member *
member_find(const struct group *g, struct kq_str id)
{
	for (struct member *m = g->members; m; m = m->next)
		if (kq_str_eq(id, m->id))
			return m;
	return NULL;
}

static struct member *
member_find_instance(const struct group *g, struct kq_str iid)
{
	if (iid.len < 0)
		return NULL;
	for (struct member *m = g->members; m; m = m->next)
		if (m->instance_id && kq_str_eq(iid, m->instance_id))
			return m;
	return NULL;
}

static struct pending *
pending_find(const struct group *g, struct kq_str id)
{
	for (struct pending *p = g->pending; p; p = p->next)
		if (kq_str_eq(id, p->id))
			return p;
	return NULL;
}

static void
pending_remove(struct group *g, struct pending *pm)
{
	struct pending **pp = &g->pending;

	while (*pp != pm)
		pp = &(*pp)->next;
	*pp = pm->next;
	free(pm->id);
	free(pm);
}

static bool
is_leader(const struct group *g, const struct member *m)
{
	return g->leader && strcmp(g->leader, m->id) == 0;
}

/* Kafka's validateCurrentMember: instance id first, then member id. */
static int
validate_member(const struct group *g, struct kq_str member_id, struct kq_str instance_id,
		struct member **out)
{
	struct member *m;

	*out = NULL;
	if (instance_id.len >= 0) {
		m = member_find_instance(g, instance_id);
		if (!m)
			return KQ_E_UNKNOWN_MEMBER_ID;
		if (!kq_str_eq(member_id, m->id))
			return KQ_E_FENCED_INSTANCE_ID;
		*out = m;
		return 0;
	}
	m = member_find(g, member_id);
	if (!m)
		return KQ_E_UNKNOWN_MEMBER_ID;
	*out = m;
	return 0;
}

static void
set_state(struct group *g, int state, int64_t now)
{
	g->state = state;
	g->state_ts = now;
}

static void
reset_assignments(struct kq_coord *c, struct group *g, int err)
{
	for (struct member *m = g->members; m; m = m->next) {
		free(m->assignment);
		m->assignment = NULL;
		m->assignment_len = 0;
		sync_reply(c, m, err);
	}
	g->storing = false;
}

static void
prepare_rebalance(struct kq_coord *c, struct group *g, int64_t now)
{
	if (g->state == KQ_GROUP_COMPLETING_REBALANCE)
		reset_assignments(c, g, KQ_E_REBALANCE_IN_PROGRESS);
	g->sync_deadline = 0;
	if (g->state == KQ_GROUP_EMPTY) {
		int32_t delay = c->cfg.initial_rebalance_delay_ms;

		g->initial_delay = true;
		g->new_member_added = false;
		g->delay_remaining = KQ_MAX(group_rebalance_timeout(g) - delay, 0);
		g->join_deadline = now + delay;
	} else {
		g->initial_delay = false;
		g->join_deadline = now + group_rebalance_timeout(g);
	}
	set_state(g, KQ_GROUP_PREPARING_REBALANCE, now);
}

static void
maybe_prepare_rebalance(struct kq_coord *c, struct group *g, int64_t now)
{
	if (g->state == KQ_GROUP_STABLE || g->state == KQ_GROUP_COMPLETING_REBALANCE ||
	    g->state == KQ_GROUP_EMPTY)
		prepare_rebalance(c, g, now);
}

static void
unlink_member(struct group *g, struct member *m)
{
	struct member **pp = &g->members;

	while (*pp != m)
		pp = &(*pp)->next;
	*pp = m->next;
	g->nmembers--;
	if (is_leader(g, m))
		set_str(&g->leader, g->members ? g->members->id : NULL);
}

/* Choose by votes among the protocols every member supports. */
static char *
select_protocol(const struct group *g)
{
	const struct member *first = g->members;
	int best = -1, best_votes = -1;
	int *votes;

	if (!first || first->nprotos == 0)
		return NULL;
	votes = kq_xcalloc((size_t)first->nprotos, sizeof(int));
	for (const struct member *m = g->members; m; m = m->next) {
		for (int i = 0; i < m->nprotos; i++) {
			int k = -1;

			for (int j = 0; j < first->nprotos; j++)
				if (strcmp(first->protos[j].name, m->protos[i].name) == 0)
					k = j;
			if (k < 0)
				continue;
			/* is it a candidate (supported by all)? */
			bool all = true;

			for (const struct member *x = g->members; x && all; x = x->next)
				all = member_proto(x, m->protos[i].name) != NULL;
			if (all) {
				votes[k]++;
				break;
			}
		}
	}
	for (int j = 0; j < first->nprotos; j++)
		if (votes[j] > best_votes) {
			best_votes = votes[j];
			best = j;
		}
	free(votes);
	return kq_xstrdup(first->protos[best].name);
}

static void
compute_subscribed(struct group *g)
{
	subscribed_clear(g);
	if (!g->protocol_type || strcmp(g->protocol_type, "consumer") != 0)
		return;
	for (struct member *m = g->members; m; m = m->next) {
		const struct proto *p = member_proto(m, g->protocol);
		struct kq_ConsumerProtocolSubscription sub;
		struct kq_arena a = { 0 };

		if (p && kq_consumer_sub_decode(p->meta, (size_t)p->len, &a, NULL, &sub) == 0) {
			for (int i = 0; i < sub.Topics_count; i++) {
				bool dup = false;

				if (sub.Topics[i].len < 0 || has_nul(sub.Topics[i]))
					continue;
				for (int j = 0; j < g->nsubscribed && !dup; j++)
					dup = kq_str_eq(sub.Topics[i], g->subscribed[j]);
				if (dup)
					continue;
				g->subscribed = kq_xrealloc(g->subscribed, sizeof(char *) *
							    (size_t)(g->nsubscribed + 1));
				g->subscribed[g->nsubscribed++] = sdup(sub.Topics[i]);
			}
		}
		kq_arena_free(&a);
	}
}

static bool
is_subscribed(const struct group *g, struct kq_str topic)
{
	for (int i = 0; i < g->nsubscribed; i++)
		if (kq_str_eq(topic, g->subscribed[i]))
			return true;
	return false;
}

static void
complete_join(struct kq_coord *c, struct group *g, int64_t now)
{
	struct member *m, *next;
	int32_t rt;

	/* dynamic members that did not rejoin are out */
	for (m = g->members; m; m = next) {
		next = m->next;
		if (!m->join_waiting && !m->instance_id) {
			unlink_member(g, m);
			sync_reply(c, m, KQ_E_UNKNOWN_MEMBER_ID);
			member_free(m);
		}
	}
	if (g->members) {
		m = NULL;
		for (struct member *x = g->members; x; x = x->next)
			if (g->leader && strcmp(g->leader, x->id) == 0 && x->join_waiting)
				m = x;
		if (!m) {
			for (struct member *x = g->members; x && !m; x = x->next)
				if (x->join_waiting)
					m = x;
			if (!m) {
				/* only static members that did not rejoin: wait for their sessions */
				g->initial_delay = false;
				g->join_deadline = now + group_rebalance_timeout(g);
				return;
			}
			set_str(&g->leader, m->id);
		}
	}
	g->generation++;
	g->initial_delay = false;
	free(g->protocol);
	g->protocol = NULL;
	if (!g->members) {
		set_str(&g->leader, NULL);
		subscribed_clear(g);
		set_state(g, KQ_GROUP_EMPTY, now);
		store_group(c, g, NULL, now);
		return;
	}
	g->protocol = select_protocol(g);
	compute_subscribed(g);
	set_state(g, KQ_GROUP_COMPLETING_REBALANCE, now);
	rt = group_rebalance_timeout(g);
	for (m = g->members; m; m = m->next) {
		m->pending_sync = true;
		if (m->join_waiting) {
			join_reply_ok(c, g, m);
			m->deadline = now + m->session_timeout;
		}
	}
	g->sync_deadline = now + rt;
}

static bool
all_joined(const struct group *g)
{
	if (g->pending)
		return false;
	for (const struct member *m = g->members; m; m = m->next)
		if (!m->join_waiting)
			return false;
	return true;
}

/* The join deadline passed (initial delay or rebalance timeout). */
static void
join_deadline_hit(struct kq_coord *c, struct group *g, int64_t now)
{
	if (g->initial_delay && g->new_member_added && g->delay_remaining > 0) {
		int32_t d = KQ_MIN(c->cfg.initial_rebalance_delay_ms, g->delay_remaining);

		g->new_member_added = false;
		g->delay_remaining -= d;
		g->join_deadline = now + d;
		return;
	}
	complete_join(c, g, now);
}

static void
maybe_complete_join(struct kq_coord *c, struct group *g, int64_t now)
{
	if (g->state != KQ_GROUP_PREPARING_REBALANCE)
		return;
	if (g->initial_delay) {
		if (now >= g->join_deadline)
			join_deadline_hit(c, g, now);
		return;
	}
	if (all_joined(g))
		complete_join(c, g, now);
}

/* Remove a member (left, expired, fenced) and move the group on. */
static void
remove_member(struct kq_coord *c, struct group *g, struct member *m, int64_t now)
{
	join_reply_error(c, m, KQ_E_UNKNOWN_MEMBER_ID);
	sync_reply(c, m, KQ_E_UNKNOWN_MEMBER_ID);
	unlink_member(g, m);
	member_free(m);
	if (g->state == KQ_GROUP_STABLE || g->state == KQ_GROUP_COMPLETING_REBALANCE)
		maybe_prepare_rebalance(c, g, now);
	maybe_complete_join(c, g, now);
}

static void
member_set_protocols(struct member *m, const struct kq_JoinGroupRequest *req)
{
	for (int i = 0; i < m->nprotos; i++) {
		free(m->protos[i].name);
		free(m->protos[i].meta);
	}
	free(m->protos);
	m->nprotos = req->Protocols_count;
	m->protos = kq_xcalloc((size_t)req->Protocols_count + 1, sizeof(*m->protos));
	for (int i = 0; i < req->Protocols_count; i++) {
		const struct kq_JoinGroupRequest_JoinGroupRequestProtocol *p = &req->Protocols[i];

		m->protos[i].name = sdup(p->Name.len < 0 ? kq_str_c("") : p->Name);
		m->protos[i].len = p->Metadata.len > 0 ? p->Metadata.len : 0;
		m->protos[i].meta = kq_xmalloc((size_t)m->protos[i].len + 1);
		if (m->protos[i].len)
			memcpy(m->protos[i].meta, p->Metadata.p, (size_t)m->protos[i].len);
	}
}

static bool
protocols_match(const struct member *m, const struct kq_JoinGroupRequest *req)
{
	if (m->nprotos != req->Protocols_count)
		return false;
	for (int i = 0; i < m->nprotos; i++) {
		const struct kq_JoinGroupRequest_JoinGroupRequestProtocol *p = &req->Protocols[i];
		int32_t n = p->Metadata.len > 0 ? p->Metadata.len : 0;

		if (!kq_str_eq(p->Name, m->protos[i].name) || n != m->protos[i].len ||
		    (n && memcmp(p->Metadata.p, m->protos[i].meta, (size_t)n) != 0))
			return false;
	}
	return true;
}

static bool
supports_protocols(const struct group *g, const struct kq_JoinGroupRequest *req)
{
	if (str_empty(req->ProtocolType) || req->Protocols_count <= 0)
		return false;
	if (g->nmembers == 0)
		return true;
	if (!g->protocol_type || !kq_str_eq(req->ProtocolType, g->protocol_type))
		return false;
	for (int i = 0; i < req->Protocols_count; i++) {
		int n = 0;

		for (const struct member *m = g->members; m; m = m->next)
			for (int j = 0; j < m->nprotos; j++)
				if (kq_str_eq(req->Protocols[i].Name, m->protos[j].name))
					n++;
		if (n == g->nmembers)
			return true;
	}
	return false;
}

static void
member_wait_join(struct member *m, void *ctx, int16_t v)
{
	m->join_waiting = true;
	m->join_has_ctx = true;
	m->join_ctx = ctx;
	m->join_v = v;
}

static void
member_update(struct kq_coord *c, struct member *m, const struct kq_JoinGroupRequest *req,
	      int32_t rebalance_timeout, void *ctx, int16_t v)
{
	/* a retried JoinGroup replaces the held one */
	join_reply_error(c, m, KQ_E_REBALANCE_IN_PROGRESS);
	member_set_protocols(m, req);
	m->session_timeout = req->SessionTimeoutMs;
	m->rebalance_timeout = rebalance_timeout;
	member_wait_join(m, ctx, v);
}

static void
update_member_and_rebalance(struct kq_coord *c, struct group *g, struct member *m,
			    const struct kq_JoinGroupRequest *req, int32_t rt, void *ctx,
			    int16_t v, int64_t now)
{
	member_update(c, m, req, rt, ctx, v);
	maybe_prepare_rebalance(c, g, now);
}

static struct member *
add_member_and_rebalance(struct kq_coord *c, struct group *g, char *id,
			 const struct kq_JoinGroupRequest *req, int32_t rt,
			 const struct kq_coord_client *cl, void *ctx, int16_t v, int64_t now)
{
	struct member *m = kq_xcalloc(1, sizeof(*m)), **pp;

	m->id = id;
	m->instance_id = sdup(req->GroupInstanceId);
	m->client_id = sdup(cl && cl->client_id.len >= 0 ? cl->client_id : kq_str_c(""));
	m->client_host = kq_xstrdup(cl && cl->host ? cl->host : "");
	m->session_timeout = req->SessionTimeoutMs;
	m->rebalance_timeout = rt;
	member_set_protocols(m, req);
	member_wait_join(m, ctx, v);
	m->deadline = now + m->session_timeout;
	if (g->state == KQ_GROUP_PREPARING_REBALANCE && g->initial_delay)
		g->new_member_added = true;
	if (g->nmembers == 0) {
		free(g->protocol_type);
		g->protocol_type = sdup(req->ProtocolType);
	}
	for (pp = &g->members; *pp; pp = &(*pp)->next)
		;
	*pp = m;
	g->nmembers++;
	if (!g->leader)
		g->leader = kq_xstrdup(m->id);
	maybe_prepare_rebalance(c, g, now);
	return m;
}

/* ---- entry point plumbing ---- */

static void
begin(struct kq_coord *c, void *ctx, int16_t api, void *resp, struct kq_arena *a)
{
	free_dead_ops(c);
	c->cur.active = true;
	c->cur.ctx = ctx;
	c->cur.api = api;
	c->cur.resp = resp;
	c->cur.a = a;
	c->cur.done = false;
}

static int
end(struct kq_coord *c, bool done)
{
	bool d = done || c->cur.done;

	c->cur.active = false;
	return d ? KQ_COORD_DONE : KQ_COORD_PENDING;
}

/* ---- JoinGroup ---- */

static int
join_new_member(struct kq_coord *c, struct group *g, const struct kq_JoinGroupRequest *req,
		int16_t v, int32_t rt, const struct kq_coord_client *cl, void *ctx, int64_t now,
		struct kq_arena *a, struct kq_JoinGroupResponse *resp)
{
	char *id;
	struct member *old;

	if (!supports_protocols(g, req)) {
		join_fill_error(resp, a, KQ_E_INCONSISTENT_GROUP_PROTOCOL, "");
		return 1;
	}
	if (g->nmembers >= c->cfg.max_group_size) {
		join_fill_error(resp, a, KQ_E_GROUP_MAX_SIZE_REACHED, "");
		return 1;
	}
	id = new_member_id(c, cl ? cl->client_id : KQ_STR_NULL);
	if (req->GroupInstanceId.len >= 0 && (old = member_find_instance(g, req->GroupInstanceId))) {
		/* a static member restarted: it takes over the old member's place */
		join_reply_error(c, old, KQ_E_FENCED_INSTANCE_ID);
		sync_reply(c, old, KQ_E_FENCED_INSTANCE_ID);
		if (is_leader(g, old))
			set_str(&g->leader, id);
		free(old->id);
		old->id = id;
		if (g->state == KQ_GROUP_STABLE && protocols_match(old, req) && !is_leader(g, old)) {
			old->deadline = now + old->session_timeout;
			old->session_timeout = req->SessionTimeoutMs;
			old->rebalance_timeout = rt;
			join_fill_ok(resp, a, g, old, false);
			store_group(c, g, NULL, now);
			return 1;
		}
		update_member_and_rebalance(c, g, old, req, rt, ctx, v, now);
		return 0;
	}
	if (req->GroupInstanceId.len < 0 && v >= 4) {
		struct pending *pm = kq_xcalloc(1, sizeof(*pm));

		pm->id = id;
		pm->deadline = now + req->SessionTimeoutMs;
		pm->next = g->pending;
		g->pending = pm;
		join_fill_error(resp, a, KQ_E_MEMBER_ID_REQUIRED, id);
		return 1;
	}
	add_member_and_rebalance(c, g, id, req, rt, cl, ctx, v, now);
	return 0;
}

static int
join_known_member(struct kq_coord *c, struct group *g, const struct kq_JoinGroupRequest *req,
		  int16_t v, int32_t rt, const struct kq_coord_client *cl, void *ctx, int64_t now,
		  struct kq_arena *a, struct kq_JoinGroupResponse *resp)
{
	struct pending *pm;
	struct member *m;
	int err;

	if (!supports_protocols(g, req)) {
		join_fill_error(resp, a, KQ_E_INCONSISTENT_GROUP_PROTOCOL, "");
		return 1;
	}
	if ((pm = pending_find(g, req->MemberId)) != NULL) {
		char *id = pm->id;

		if (req->GroupInstanceId.len >= 0) {
			join_fill_error(resp, a, KQ_E_UNKNOWN_MEMBER_ID, "");
			return 1;
		}
		if (g->nmembers >= c->cfg.max_group_size) {
			join_fill_error(resp, a, KQ_E_GROUP_MAX_SIZE_REACHED, "");
			return 1;
		}
		pm->id = NULL;
		pending_remove(g, pm);
		add_member_and_rebalance(c, g, id, req, rt, cl, ctx, v, now);
		return 0;
	}
	if ((err = validate_member(g, req->MemberId, req->GroupInstanceId, &m)) != 0) {
		join_fill_error(resp, a, err, "");
		return 1;
	}
	switch (g->state) {
	case KQ_GROUP_PREPARING_REBALANCE:
		update_member_and_rebalance(c, g, m, req, rt, ctx, v, now);
		return 0;
	case KQ_GROUP_COMPLETING_REBALANCE:
		if (protocols_match(m, req)) {
			/* it missed our answer: give it again */
			join_fill_ok(resp, a, g, m, is_leader(g, m));
			return 1;
		}
		update_member_and_rebalance(c, g, m, req, rt, ctx, v, now);
		return 0;
	case KQ_GROUP_STABLE:
		if (is_leader(g, m) || !protocols_match(m, req)) {
			update_member_and_rebalance(c, g, m, req, rt, ctx, v, now);
			return 0;
		}
		m->deadline = now + m->session_timeout;
		join_fill_ok(resp, a, g, m, false);
		return 1;
	default:
		join_fill_error(resp, a, KQ_E_UNKNOWN_MEMBER_ID, "");
		return 1;
	}
}

int
kq_coord_join(struct kq_coord *c, const struct kq_JoinGroupRequest *req, int16_t v,
	      const struct kq_coord_client *client, void *ctx, int64_t now_ms,
	      struct kq_arena *a, struct kq_JoinGroupResponse *resp)
{
	struct group *g;
	int32_t rt;
	int err, done;
	begin(c, ctx, KQ_API_JOIN_GROUP, resp, a);
	join_fill_error(resp, a, 0, "");
	if (str_empty(req->GroupId) || has_nul(req->GroupId)) {
		join_fill_error(resp, a, KQ_E_INVALID_GROUP_ID, "");
		return end(c, true);
	}
	if ((err = check_coord(c, req->GroupId)) != 0) {
		join_fill_error(resp, a, err, "");
		return end(c, true);
	}
	if (v >= 5 && has_nul(req->GroupInstanceId)) {
		join_fill_error(resp, a, KQ_E_INVALID_REQUEST, "");
		return end(c, true);
	}
	if (req->SessionTimeoutMs < c->cfg.min_session_timeout_ms ||
	    req->SessionTimeoutMs > c->cfg.max_session_timeout_ms) {
		join_fill_error(resp, a, KQ_E_INVALID_SESSION_TIMEOUT, "");
		return end(c, true);
	}
	rt = v >= 1 && req->RebalanceTimeoutMs > 0 ? req->RebalanceTimeoutMs : req->SessionTimeoutMs;
	g = group_find(c, req->GroupId);
	if (!g) {
		if (!str_empty(req->MemberId)) {
			join_fill_error(resp, a, KQ_E_UNKNOWN_MEMBER_ID, "");
			return end(c, true);
		}
		g = group_new(c, req->GroupId, kq_coord_partition_for(c, req->GroupId), now_ms);
	}
	if (str_empty(req->MemberId))
		done = join_new_member(c, g, req, v, rt, client, ctx, now_ms, a, resp);
	else
		done = join_known_member(c, g, req, v, rt, client, ctx, now_ms, a, resp);
	if (done)
		maybe_drop_group(c, g);
	else
		maybe_complete_join(c, g, now_ms);
	return end(c, done);
}

/* ---- SyncGroup ---- */

static int
sync_immediate(struct kq_SyncGroupResponse *resp, int err)
{
	resp->ErrorCode = (int16_t)err;
	return err;
}

int
kq_coord_sync(struct kq_coord *c, const struct kq_SyncGroupRequest *req, int16_t v,
	      void *ctx, int64_t now_ms, struct kq_arena *a, struct kq_SyncGroupResponse *resp)
{
	struct group *g;
	struct member *m;
	struct op *op;
	int err;

	begin(c, ctx, KQ_API_SYNC_GROUP, resp, a);
	kq_SyncGroupResponse_init(resp);
	resp->Assignment = kq_bytes_of(NULL, 0);
	if (str_empty(req->GroupId) || has_nul(req->GroupId)) {
		sync_immediate(resp, KQ_E_INVALID_GROUP_ID);
		return end(c, true);
	}
	if ((err = check_coord(c, req->GroupId)) != 0) {
		sync_immediate(resp, err);
		return end(c, true);
	}
	if (!(g = group_find(c, req->GroupId))) {
		sync_immediate(resp, KQ_E_UNKNOWN_MEMBER_ID);
		return end(c, true);
	}
	if ((err = validate_member(g, req->MemberId, req->GroupInstanceId, &m)) != 0) {
		sync_immediate(resp, err);
		return end(c, true);
	}
	if (req->GenerationId != g->generation) {
		sync_immediate(resp, KQ_E_ILLEGAL_GENERATION);
		return end(c, true);
	}
	switch (g->state) {
	case KQ_GROUP_PREPARING_REBALANCE:
		sync_immediate(resp, KQ_E_REBALANCE_IN_PROGRESS);
		return end(c, true);
	case KQ_GROUP_STABLE:
		m->pending_sync = false;
		m->deadline = now_ms + m->session_timeout;
		resp->Assignment = abytes(a, m->assignment, m->assignment_len);
		return end(c, true);
	case KQ_GROUP_COMPLETING_REBALANCE:
		break;
	default:
		sync_immediate(resp, KQ_E_UNKNOWN_MEMBER_ID);
		return end(c, true);
	}
	/* a retried SyncGroup replaces the held one */
	sync_reply(c, m, KQ_E_REBALANCE_IN_PROGRESS);
	m->sync_waiting = true;
	m->sync_has_ctx = true;
	m->sync_ctx = ctx;
	m->sync_v = v;
	m->pending_sync = false;
	if (!is_leader(g, m) || g->storing)
		return end(c, false);
	for (struct member *x = g->members; x; x = x->next) {
		free(x->assignment);
		x->assignment = NULL;
		x->assignment_len = 0;
		/* the last entry for a member wins */
		for (int i = req->Assignments_count - 1; i >= 0; i--) {
			const struct kq_SyncGroupRequest_SyncGroupRequestAssignment *as =
				&req->Assignments[i];

			if (!kq_str_eq(as->MemberId, x->id))
				continue;
			if (as->Assignment.len > 0) {
				x->assignment = kq_xmalloc((size_t)as->Assignment.len);
				memcpy(x->assignment, as->Assignment.p, (size_t)as->Assignment.len);
				x->assignment_len = as->Assignment.len;
			}
			break;
		}
	}
	g->storing = true;
	op = op_new(c, OP_SYNC, NULL, 0, 0, 0);
	op->group = kq_xstrdup(g->id);
	op->generation = g->generation;
	store_group(c, g, op, now_ms);
	op_release(c, op, now_ms);
	return end(c, false);
}

static void
sync_stored(struct kq_coord *c, struct op *op, int64_t now)
{
	struct group *g = group_find_c(c, op->group);

	if (!g || !g->storing || g->state != KQ_GROUP_COMPLETING_REBALANCE ||
	    g->generation != op->generation)
		return;
	g->storing = false;
	if (op->err) {
		reset_assignments(c, g, map_append_err(op->err));
		maybe_prepare_rebalance(c, g, now);
		return;
	}
	set_state(g, KQ_GROUP_STABLE, now);
	for (struct member *m = g->members; m; m = m->next) {
		if (m->sync_waiting) {
			sync_reply(c, m, 0);
			m->deadline = now + m->session_timeout;
		}
	}
}

/* ---- Heartbeat ---- */

int
kq_coord_heartbeat(struct kq_coord *c, const struct kq_HeartbeatRequest *req, int16_t v,
		   void *ctx, int64_t now_ms, struct kq_arena *a, struct kq_HeartbeatResponse *resp)
{
	struct group *g;
	struct member *m;
	int err;

	begin(c, ctx, KQ_API_HEARTBEAT, resp, a);
	kq_HeartbeatResponse_init(resp);
	if (str_empty(req->GroupId) || has_nul(req->GroupId))
		err = KQ_E_INVALID_GROUP_ID;
	else if ((err = check_coord(c, req->GroupId)) != 0)
		;
	else if (!(g = group_find(c, req->GroupId)))
		err = KQ_E_UNKNOWN_MEMBER_ID;
	else if ((err = validate_member(g, req->MemberId, req->GroupInstanceId, &m)) != 0)
		;
	else if (g->state == KQ_GROUP_EMPTY)
		err = KQ_E_UNKNOWN_MEMBER_ID;
	else if (req->GenerationId != g->generation)
		err = KQ_E_ILLEGAL_GENERATION;
	else {
		m->deadline = now_ms + m->session_timeout;
		err = g->state == KQ_GROUP_PREPARING_REBALANCE ? KQ_E_REBALANCE_IN_PROGRESS : 0;
	}
	resp->ErrorCode = (int16_t)err;
	return end(c, true);
}

/* ---- LeaveGroup ---- */

static int
leave_one(struct kq_coord *c, struct group *g, struct kq_str member_id, struct kq_str iid,
	  int64_t now)
{
	struct pending *pm;
	struct member *m;
	int err;

	if (str_empty(member_id)) {
		if (!(m = member_find_instance(g, iid)))
			return KQ_E_UNKNOWN_MEMBER_ID;
		remove_member(c, g, m, now);
		return 0;
	}
	if ((pm = pending_find(g, member_id)) != NULL) {
		pending_remove(g, pm);
		maybe_complete_join(c, g, now);
		return 0;
	}
	if ((err = validate_member(g, member_id, iid, &m)) != 0)
		return err;
	remove_member(c, g, m, now);
	return 0;
}

int
kq_coord_leave(struct kq_coord *c, const struct kq_LeaveGroupRequest *req, int16_t v,
	       void *ctx, int64_t now_ms, struct kq_arena *a, struct kq_LeaveGroupResponse *resp)
{
	struct kq_LeaveGroupRequest_MemberIdentity one, *ids;
	struct group *g = NULL;
	int32_t n;
	int err;

	begin(c, ctx, KQ_API_LEAVE_GROUP, resp, a);
	kq_LeaveGroupResponse_init(resp);
	if (v >= 3) {
		ids = req->Members;
		n = req->Members_count > 0 ? req->Members_count : 0;
	} else {
		kq_LeaveGroupRequest_MemberIdentity_init(&one);
		one.MemberId = req->MemberId;
		one.GroupInstanceId = KQ_STR_NULL;
		ids = &one;
		n = 1;
	}
	if (str_empty(req->GroupId) || has_nul(req->GroupId))
		err = KQ_E_INVALID_GROUP_ID;
	else
		err = check_coord(c, req->GroupId);
	if (err) {
		resp->ErrorCode = (int16_t)err;
		return end(c, true);
	}
	g = group_find(c, req->GroupId);
	resp->Members = kq_arena_alloc(a, sizeof(*resp->Members) * (size_t)(n + 1));
	for (int32_t i = 0; i < n; i++) {
		struct kq_LeaveGroupResponse_MemberResponse *mr = &resp->Members[i];
		int e = g ? leave_one(c, g, ids[i].MemberId, ids[i].GroupInstanceId, now_ms)
			  : KQ_E_UNKNOWN_MEMBER_ID;

		kq_LeaveGroupResponse_MemberResponse_init(mr);
		mr->MemberId = acopy(a, ids[i].MemberId);
		if (mr->MemberId.len < 0)
			mr->MemberId = estr(a, "");
		mr->GroupInstanceId = acopy(a, ids[i].GroupInstanceId);
		mr->ErrorCode = (int16_t)e;
	}
	resp->Members_count = v >= 3 ? n : 0;
	if (v < 3)
		resp->ErrorCode = resp->Members[0].ErrorCode;
	return end(c, true);
}

/* ---- OffsetCommit ---- */

static int
commit_check(struct kq_coord *c, const struct kq_OffsetCommitRequest *req, int16_t v,
	     int64_t now, struct group **gp, bool *created)
{
	struct group *g;
	struct member *m;
	int32_t gen = v >= 1 ? req->GenerationIdOrMemberEpoch : -1;
	struct kq_str mid = v >= 1 ? req->MemberId : kq_str_c("");
	struct kq_str iid = v >= 7 ? req->GroupInstanceId : KQ_STR_NULL;
	int err;

	*gp = NULL;
	*created = false;
	if (req->GroupId.len < 0 || has_nul(req->GroupId))
		return KQ_E_INVALID_GROUP_ID;
	if ((err = check_coord(c, req->GroupId)) != 0)
		return err;
	g = group_find(c, req->GroupId);
	if (!g) {
		if (gen >= 0)
			return KQ_E_ILLEGAL_GENERATION;
		*gp = group_new(c, req->GroupId, kq_coord_partition_for(c, req->GroupId), now);
		*created = true;
		return 0;
	}
	*gp = g;
	if (v == 0)
		return 0;	/* Kafka 3.9 keeps v0 commits apart (ZooKeeper), unchecked */
	if (gen >= 0 || !str_empty(mid) || iid.len >= 0) {
		if ((err = validate_member(g, mid, iid, &m)) != 0)
			return err;
		if (gen != g->generation)
			return KQ_E_ILLEGAL_GENERATION;
		if (g->state == KQ_GROUP_COMPLETING_REBALANCE)
			return KQ_E_REBALANCE_IN_PROGRESS;
		m->deadline = now + m->session_timeout;
		return 0;
	}
	if (g->nmembers > 0 || g->state != KQ_GROUP_EMPTY)
		return KQ_E_UNKNOWN_MEMBER_ID;
	return 0;
}

int
kq_coord_commit(struct kq_coord *c, const struct kq_OffsetCommitRequest *req, int16_t v,
		void *ctx, int64_t now_ms, struct kq_arena *a, struct kq_OffsetCommitResponse *resp)
{
	struct kq_OffsetCommitResponse *r;
	struct kq_batch_builder bb;
	struct kq_buf k = { 0 }, val = { 0 };
	struct kq_arena *ra;
	struct group *g;
	struct op *op;
	bool created;
	int err, nt = req->Topics_count > 0 ? req->Topics_count : 0;
	int nvalid = 0;

	begin(c, ctx, KQ_API_OFFSET_COMMIT, resp, a);
	err = commit_check(c, req, v, now_ms, &g, &created);
	op = op_new(c, OP_COMMIT, ctx, KQ_API_OFFSET_COMMIT, v, sizeof(*r));
	ra = &op->arena;
	r = op->resp;
	kq_OffsetCommitResponse_init(r);
	r->Topics = kq_arena_alloc(ra, sizeof(*r->Topics) * (size_t)(nt + 1));
	r->Topics_count = nt;
	kq_bb_init(&bb, c->cfg.codec);
	for (int ti = 0; ti < nt; ti++) {
		const struct kq_OffsetCommitRequest_OffsetCommitRequestTopic *t = &req->Topics[ti];
		struct kq_OffsetCommitResponse_OffsetCommitResponseTopic *rt = &r->Topics[ti];
		int np = t->Partitions_count > 0 ? t->Partitions_count : 0;

		kq_OffsetCommitResponse_OffsetCommitResponseTopic_init(rt);
		rt->Name = t->Name.len >= 0 ? acopy(ra, t->Name) : estr(ra, "");
		rt->Partitions = kq_arena_alloc(ra, sizeof(*rt->Partitions) * (size_t)(np + 1));
		rt->Partitions_count = np;
		for (int pi = 0; pi < np; pi++) {
			const struct kq_OffsetCommitRequest_OffsetCommitRequestPartition *p =
				&t->Partitions[pi];
			struct kq_OffsetCommitResponse_OffsetCommitResponsePartition *rp =
				&rt->Partitions[pi];
			int e = err;
			struct op_part *opp;

			kq_OffsetCommitResponse_OffsetCommitResponsePartition_init(rp);
			rp->PartitionIndex = p->PartitionIndex;
			if (!e && (str_empty(t->Name) || has_nul(t->Name) ||
				   (c->cfg.topic_exists &&
				    !c->cfg.topic_exists(c->cfg.owner, t->Name, p->PartitionIndex))))
				e = KQ_E_UNKNOWN_TOPIC_OR_PARTITION;
			if (!e && p->CommittedMetadata.len > c->cfg.max_metadata_size)
				e = KQ_E_OFFSET_METADATA_TOO_LARGE;
			rp->ErrorCode = (int16_t)e;
			if (e)
				continue;
			op->parts = kq_xrealloc(op->parts, sizeof(*op->parts) * (size_t)(nvalid + 1));
			opp = &op->parts[nvalid++];
			op->nparts = nvalid;
			opp->ti = ti;
			opp->pi = pi;
			opp->topic = sdup(t->Name);
			opp->partition = p->PartitionIndex;
			opp->offset = p->CommittedOffset;
			opp->epoch = v >= 6 ? p->CommittedLeaderEpoch : -1;
			opp->metadata = sdup(p->CommittedMetadata.len >= 0 ? p->CommittedMetadata :
					     kq_str_c(""));
			/* v1 names its own commit time (-1: now), as Kafka stores it. */
			opp->ts = v == 1 && p->CommitTimestamp >= 0 ? p->CommitTimestamp : now_ms;
			kq_buf_reset(&k);
			kq_buf_reset(&val);
			kq_offsets_key_offset(&k, req->GroupId, t->Name, p->PartitionIndex);
			kq_offsets_value_offset(&val, opp->offset, opp->epoch,
						kq_str_c(opp->metadata), opp->ts);
			kq_bb_add(&bb, now_ms, kq_bytes_of(k.buf, k.len),
				  kq_bytes_of(val.buf, val.len), NULL, 0);
		}
	}
	if (nvalid > 0) {
		op->group = kq_xstrdup(g->id);
		op_append(c, op, g->partition, &bb);
	} else if (g && created) {
		maybe_drop_group(c, g);
	}
	kq_bb_free(&bb);
	kq_buf_free(&k);
	kq_buf_free(&val);
	op_release(c, op, now_ms);
	return end(c, false);
}

static void
commit_stored(struct kq_coord *c, struct op *op, int64_t now)
{
	struct kq_OffsetCommitResponse *r = op->resp;
	struct group *g = op->group ? group_find_c(c, op->group) : NULL;
	int err = op->err ? map_append_err(op->err) : 0;

	if (op->nparts > 0 && !g && !err) {
		/* the group went away meanwhile (dropped while it held nothing):
		 * the offsets are durable, so it comes back if we still lead it */
		struct kq_str id = kq_str_c(op->group);
		int32_t p = kq_coord_partition_for(c, id);

		if (c->pstate[p] == PART_LOADED)
			g = group_new(c, id, p, now);
		else
			err = KQ_E_NOT_COORDINATOR;
	}
	for (int i = 0; i < op->nparts; i++) {
		struct op_part *p = &op->parts[i];

		r->Topics[p->ti].Partitions[p->pi].ErrorCode = (int16_t)err;
		if (!err)
			off_put(g, p->topic, p->partition, p->offset, p->epoch, p->metadata, p->ts);
	}
	if (g && err)
		maybe_drop_group(c, g);
}

/* ---- OffsetFetch ---- */

static void
fetch_fill_part(struct kq_OffsetFetchResponse_OffsetFetchResponsePartition *rp,
		struct kq_arena *a, int32_t part, const struct offset *o, int err)
{
	kq_OffsetFetchResponse_OffsetFetchResponsePartition_init(rp);
	rp->PartitionIndex = part;
	rp->CommittedOffset = o ? o->offset : -1;
	rp->CommittedLeaderEpoch = o ? o->epoch : -1;
	rp->Metadata = estr(a, o ? o->metadata : "");
	rp->ErrorCode = (int16_t)err;
}

int
kq_coord_fetch(struct kq_coord *c, const struct kq_OffsetFetchRequest *req, int16_t v,
	       void *ctx, int64_t now_ms, struct kq_arena *a, struct kq_OffsetFetchResponse *resp)
{
	struct group *g = NULL;
	int err = 0;

	begin(c, ctx, KQ_API_OFFSET_FETCH, resp, a);
	kq_OffsetFetchResponse_init(resp);
	if (req->GroupId.len < 0 || has_nul(req->GroupId))
		err = KQ_E_INVALID_GROUP_ID;
	else
		err = check_coord(c, req->GroupId);
	if (!err)
		g = group_find(c, req->GroupId);
	if (err && v >= 2) {
		resp->ErrorCode = (int16_t)err;
		return end(c, true);
	}
	if (req->Topics_count < 0) {
		/* all committed offsets of the group, grouped by topic */
		size_t nt = 0, i = 0;
		int32_t ti = -1;

		for (size_t j = 0; g && j < g->noffs; j++)
			if (j == 0 || strcmp(g->offs[j].topic, g->offs[j - 1].topic) != 0)
				nt++;
		resp->Topics = kq_arena_alloc(a, sizeof(*resp->Topics) * (nt + 1));
		while (g && i < g->noffs) {
			struct kq_OffsetFetchResponse_OffsetFetchResponseTopic *rt;
			size_t j = i;

			while (j < g->noffs && strcmp(g->offs[j].topic, g->offs[i].topic) == 0)
				j++;
			rt = &resp->Topics[++ti];
			kq_OffsetFetchResponse_OffsetFetchResponseTopic_init(rt);
			rt->Name = estr(a, g->offs[i].topic);
			rt->Partitions = kq_arena_alloc(a, sizeof(*rt->Partitions) * (j - i));
			rt->Partitions_count = (int32_t)(j - i);
			for (size_t k = i; k < j; k++)
				fetch_fill_part(&rt->Partitions[k - i], a, g->offs[k].partition,
						&g->offs[k], 0);
			i = j;
		}
		resp->Topics_count = (int32_t)nt;
		return end(c, true);
	}
	resp->Topics = kq_arena_alloc(a, sizeof(*resp->Topics) * (size_t)(req->Topics_count + 1));
	resp->Topics_count = req->Topics_count;
	for (int ti = 0; ti < req->Topics_count; ti++) {
		const struct kq_OffsetFetchRequest_OffsetFetchRequestTopic *t = &req->Topics[ti];
		struct kq_OffsetFetchResponse_OffsetFetchResponseTopic *rt = &resp->Topics[ti];
		int np = t->PartitionIndexes_count > 0 ? t->PartitionIndexes_count : 0;

		kq_OffsetFetchResponse_OffsetFetchResponseTopic_init(rt);
		rt->Name = t->Name.len >= 0 ? acopy(a, t->Name) : estr(a, "");
		rt->Partitions = kq_arena_alloc(a, sizeof(*rt->Partitions) * (size_t)(np + 1));
		rt->Partitions_count = np;
		for (int pi = 0; pi < np; pi++) {
			int32_t part = t->PartitionIndexes[pi];

			fetch_fill_part(&rt->Partitions[pi], a, part,
					g && !err ? off_get(g, t->Name, part) : NULL, err);
		}
	}
	return end(c, true);
}

/* ---- DescribeGroups, ListGroups ---- */

const char *
kq_group_state_name(int state)
{
	static const char *const names[] = {
		[KQ_GROUP_EMPTY] = "Empty",
		[KQ_GROUP_PREPARING_REBALANCE] = "PreparingRebalance",
		[KQ_GROUP_COMPLETING_REBALANCE] = "CompletingRebalance",
		[KQ_GROUP_STABLE] = "Stable",
		[KQ_GROUP_DEAD] = "Dead",
	};

	if (state < 0 || state >= (int)KQ_ARRAY_LEN(names))
		return "Dead";
	return names[state];
}

int
kq_coord_group_state(const struct kq_coord *c, const char *group_id)
{
	const struct group *g = group_find_c(c, group_id);

	return g ? g->state : KQ_GROUP_DEAD;
}

int
kq_coord_describe(struct kq_coord *c, const struct kq_DescribeGroupsRequest *req, int16_t v,
		  void *ctx, int64_t now_ms, struct kq_arena *a,
		  struct kq_DescribeGroupsResponse *resp)
{
	int n = req->Groups_count > 0 ? req->Groups_count : 0;

	begin(c, ctx, KQ_API_DESCRIBE_GROUPS, resp, a);
	kq_DescribeGroupsResponse_init(resp);
	resp->Groups = kq_arena_alloc(a, sizeof(*resp->Groups) * (size_t)(n + 1));
	resp->Groups_count = n;
	for (int i = 0; i < n; i++) {
		struct kq_DescribeGroupsResponse_DescribedGroup *d = &resp->Groups[i];
		struct kq_str gid = req->Groups[i];
		const struct group *g = NULL;
		bool stable;
		int err = 0, k = 0;

		kq_DescribeGroupsResponse_DescribedGroup_init(d);
		d->GroupId = gid.len >= 0 ? acopy(a, gid) : estr(a, "");
		d->GroupState = estr(a, "");
		d->ProtocolType = estr(a, "");
		d->ProtocolData = estr(a, "");
		d->AuthorizedOperations = INT32_MIN;
		if (gid.len < 0 || has_nul(gid))
			err = KQ_E_INVALID_GROUP_ID;
		else
			err = check_coord(c, gid);
		d->ErrorCode = (int16_t)err;
		if (err)
			continue;
		if (!(g = group_find(c, gid))) {
			d->GroupState = estr(a, "Dead");
			continue;
		}
		stable = g->state == KQ_GROUP_STABLE;
		d->GroupState = estr(a, kq_group_state_name(g->state));
		d->ProtocolType = estr(a, g->protocol_type);
		d->ProtocolData = estr(a, stable ? g->protocol : "");
		d->Members = kq_arena_alloc(a, sizeof(*d->Members) * (size_t)(g->nmembers + 1));
		for (const struct member *m = g->members; m; m = m->next, k++) {
			struct kq_DescribeGroupsResponse_DescribedGroupMember *dm = &d->Members[k];
			const struct proto *p = stable ? member_proto(m, g->protocol) : NULL;

			kq_DescribeGroupsResponse_DescribedGroupMember_init(dm);
			dm->MemberId = estr(a, m->id);
			dm->GroupInstanceId = astr(a, m->instance_id);
			dm->ClientId = estr(a, m->client_id);
			dm->ClientHost = estr(a, m->client_host);
			dm->MemberMetadata = p ? abytes(a, p->meta, p->len) : kq_bytes_of(NULL, 0);
			dm->MemberAssignment = stable ? abytes(a, m->assignment, m->assignment_len)
						      : kq_bytes_of(NULL, 0);
		}
		d->Members_count = k;
	}
	return end(c, true);
}

int
kq_coord_list(struct kq_coord *c, const struct kq_ListGroupsRequest *req, int16_t v,
	      void *ctx, int64_t now_ms, struct kq_arena *a, struct kq_ListGroupsResponse *resp)
{
	int i = 0;

	begin(c, ctx, KQ_API_LIST_GROUPS, resp, a);
	kq_ListGroupsResponse_init(resp);
	for (int32_t p = 0; p < c->cfg.num_partitions; p++)
		if (c->pstate[p] == PART_LOADING)
			resp->ErrorCode = KQ_E_COORDINATOR_LOAD_IN_PROGRESS;
	if (resp->ErrorCode)
		return end(c, true);
	resp->Groups = kq_arena_alloc(a, sizeof(*resp->Groups) * (c->ngroups + 1));
	for (size_t b = 0; b < c->tabsize; b++) {
		for (const struct group *g = c->tab[b]; g; g = g->hnext, i++) {
			kq_ListGroupsResponse_ListedGroup_init(&resp->Groups[i]);
			resp->Groups[i].GroupId = estr(a, g->id);
			resp->Groups[i].ProtocolType = estr(a, g->protocol_type);
			resp->Groups[i].GroupState = estr(a, kq_group_state_name(g->state));
		}
	}
	resp->Groups_count = i;
	return end(c, true);
}

/* ---- DeleteGroups ---- */

int
kq_coord_delete_groups(struct kq_coord *c, const struct kq_DeleteGroupsRequest *req,
		       int16_t v, void *ctx, int64_t now_ms, struct kq_arena *a,
		       struct kq_DeleteGroupsResponse *resp)
{
	struct kq_DeleteGroupsResponse *r;
	int n = req->GroupsNames_count > 0 ? req->GroupsNames_count : 0;
	struct op *op;

	begin(c, ctx, KQ_API_DELETE_GROUPS, resp, a);
	op = op_new(c, OP_DELETE_GROUPS, ctx, KQ_API_DELETE_GROUPS, v, sizeof(*r));
	r = op->resp;
	kq_DeleteGroupsResponse_init(r);
	r->Results = kq_arena_alloc(&op->arena, sizeof(*r->Results) * (size_t)(n + 1));
	r->Results_count = n;
	for (int i = 0; i < n; i++) {
		struct kq_DeleteGroupsResponse_DeletableGroupResult *dr = &r->Results[i];
		struct kq_str gid = req->GroupsNames[i];
		struct group *g;
		int err;

		kq_DeleteGroupsResponse_DeletableGroupResult_init(dr);
		dr->GroupId = gid.len >= 0 ? acopy(&op->arena, gid) : estr(&op->arena, "");
		if (gid.len < 0 || has_nul(gid))
			err = KQ_E_INVALID_GROUP_ID;
		else if ((err = check_coord(c, gid)) != 0)
			;
		else if (!(g = group_find(c, gid)))
			err = KQ_E_GROUP_ID_NOT_FOUND;
		else if (g->state != KQ_GROUP_EMPTY || g->nmembers > 0)
			err = KQ_E_NON_EMPTY_GROUP;
		else {
			struct op_part *pp;

			op->parts = kq_xrealloc(op->parts, sizeof(*op->parts) *
						(size_t)(op->nparts + 1));
			pp = &op->parts[op->nparts++];
			memset(pp, 0, sizeof(*pp));
			pp->ti = i;
			store_group_tombstones(c, g, op, now_ms);
			group_destroy(c, g);
		}
		dr->ErrorCode = (int16_t)err;
	}
	op_release(c, op, now_ms);
	return end(c, false);
}

/* ---- OffsetDelete ---- */

int
kq_coord_offset_delete(struct kq_coord *c, const struct kq_OffsetDeleteRequest *req,
		       int16_t v, void *ctx, int64_t now_ms, struct kq_arena *a,
		       struct kq_OffsetDeleteResponse *resp)
{
	struct kq_OffsetDeleteResponse *r;
	struct kq_batch_builder bb;
	struct kq_buf k = { 0 };
	struct group *g = NULL;
	struct op *op;
	int err, nt = req->Topics_count > 0 ? req->Topics_count : 0;
	bool consumer;

	begin(c, ctx, KQ_API_OFFSET_DELETE, resp, a);
	kq_OffsetDeleteResponse_init(resp);
	if (str_empty(req->GroupId) || has_nul(req->GroupId))
		err = KQ_E_INVALID_GROUP_ID;
	else if ((err = check_coord(c, req->GroupId)) != 0)
		;
	else if (!(g = group_find(c, req->GroupId)))
		err = KQ_E_GROUP_ID_NOT_FOUND;
	consumer = g && g->protocol_type && strcmp(g->protocol_type, "consumer") == 0;
	if (!err && g->state != KQ_GROUP_EMPTY && !consumer)
		err = KQ_E_NON_EMPTY_GROUP;
	if (err) {
		resp->ErrorCode = (int16_t)err;
		return end(c, true);
	}
	op = op_new(c, OP_OFFSET_DELETE, ctx, KQ_API_OFFSET_DELETE, v, sizeof(*r));
	r = op->resp;
	kq_OffsetDeleteResponse_init(r);
	r->Topics = kq_arena_alloc(&op->arena, sizeof(*r->Topics) * (size_t)(nt + 1));
	r->Topics_count = nt;
	kq_bb_init(&bb, c->cfg.codec);
	for (int ti = 0; ti < nt; ti++) {
		const struct kq_OffsetDeleteRequest_OffsetDeleteRequestTopic *t = &req->Topics[ti];
		struct kq_OffsetDeleteResponse_OffsetDeleteResponseTopic *rt = &r->Topics[ti];
		int np = t->Partitions_count > 0 ? t->Partitions_count : 0;
		bool sub = g->state != KQ_GROUP_EMPTY && is_subscribed(g, t->Name);

		kq_OffsetDeleteResponse_OffsetDeleteResponseTopic_init(rt);
		rt->Name = t->Name.len >= 0 ? acopy(&op->arena, t->Name) : estr(&op->arena, "");
		rt->Partitions = kq_arena_alloc(&op->arena, sizeof(*rt->Partitions) *
						(size_t)(np + 1));
		rt->Partitions_count = np;
		for (int pi = 0; pi < np; pi++) {
			int32_t part = t->Partitions[pi].PartitionIndex;
			struct op_part *pp;
			char *topic;

			kq_OffsetDeleteResponse_OffsetDeleteResponsePartition_init(&rt->Partitions[pi]);
			rt->Partitions[pi].PartitionIndex = part;
			if (sub) {
				rt->Partitions[pi].ErrorCode = KQ_E_GROUP_SUBSCRIBED_TO_TOPIC;
				continue;
			}
			if (t->Name.len < 0 || has_nul(t->Name))
				continue;	/* nothing can be stored under it */
			op->parts = kq_xrealloc(op->parts, sizeof(*op->parts) *
						(size_t)(op->nparts + 1));
			pp = &op->parts[op->nparts++];
			memset(pp, 0, sizeof(*pp));
			pp->ti = ti;
			pp->pi = pi;
			topic = sdup(t->Name);
			off_del(g, topic, part);
			free(topic);
			kq_buf_reset(&k);
			kq_offsets_key_offset(&k, req->GroupId, t->Name, part);
			kq_bb_add(&bb, now_ms, kq_bytes_of(k.buf, k.len), KQ_BYTES_NULL, NULL, 0);
		}
	}
	if (op->nparts > 0)
		op_append(c, op, g->partition, &bb);
	kq_bb_free(&bb);
	kq_buf_free(&k);
	op_release(c, op, now_ms);
	return end(c, false);
}

/* Fill append errors into a finished op's response and answer it. */
static void
op_finish(struct kq_coord *c, struct op *op, int64_t now)
{
	int err = op->err ? map_append_err(op->err) : 0;

	switch (op->kind) {
	case OP_COMMIT:
		commit_stored(c, op, now);
		break;
	case OP_SYNC:
		sync_stored(c, op, now);
		break;
	case OP_DELETE_GROUPS:
		for (int i = 0; i < op->nparts && err; i++)
			((struct kq_DeleteGroupsResponse *)op->resp)->Results[op->parts[i].ti]
				.ErrorCode = (int16_t)err;
		break;
	case OP_OFFSET_DELETE:
		for (int i = 0; i < op->nparts && err; i++) {
			struct kq_OffsetDeleteResponse *r = op->resp;

			r->Topics[op->parts[i].ti].Partitions[op->parts[i].pi].ErrorCode =
				(int16_t)err;
		}
		break;
	default:
		break;
	}
	if (op->prev)
		op->prev->next = op->next;
	else
		c->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	op->prev = NULL;
	if (op->resp && op->has_ctx && is_cur(c, true, op->ctx, op->api)) {
		send_resp(c, true, op->ctx, op->api, op->v, op->resp);
		/* the caller's struct points into op->arena: free it later */
		op->next = c->dead_ops;
		c->dead_ops = op;
		return;
	}
	if (op->resp)
		send_resp(c, op->has_ctx, op->ctx, op->api, op->v, op->resp);
	op_free(op);
}

/* ---- FindCoordinator ---- */

int
kq_coord_find(struct kq_coord *c, const struct kq_FindCoordinatorRequest *req, int16_t v,
	      int32_t node_id, const char *host, int32_t port, struct kq_arena *a,
	      struct kq_FindCoordinatorResponse *resp)
{
	int err = 0;

	kq_FindCoordinatorResponse_init(resp);
	resp->NodeId = -1;
	resp->Host = estr(a, "");
	resp->Port = -1;
	if (v >= 1 && req->KeyType != 0)
		err = KQ_E_INVALID_REQUEST;
	else if (req->Key.len < 0 || has_nul(req->Key))
		err = KQ_E_INVALID_GROUP_ID;
	else if (c->pstate[kq_coord_partition_for(c, req->Key)] == PART_NONE)
		/* led elsewhere (cluster mode asks the leader first): the client retries */
		err = KQ_E_COORDINATOR_NOT_AVAILABLE;
	resp->ErrorCode = (int16_t)err;
	resp->ErrorMessage = err ? estr(a, kq_err_str(err)) : KQ_STR_NULL;
	if (!err) {
		resp->NodeId = node_id;
		resp->Host = estr(a, host);
		resp->Port = port;
	}
	return KQ_COORD_DONE;
}

/* ---- timers ---- */

int64_t
kq_coord_tick(struct kq_coord *c, int64_t now_ms)
{
	int64_t next = INT64_MAX;

	free_dead_ops(c);
	for (size_t b = 0; b < c->tabsize; b++) {
		struct group *g, *gn;

		for (g = c->tab[b]; g; g = gn) {
			struct pending *pm, *pn;
			struct member *m, *mn;

			gn = g->hnext;
			for (pm = g->pending; pm; pm = pn) {
				pn = pm->next;
				if (now_ms >= pm->deadline) {
					pending_remove(g, pm);
					maybe_complete_join(c, g, now_ms);
				} else {
					next = KQ_MIN(next, pm->deadline);
				}
			}
			for (m = g->members; m; m = mn) {
				mn = m->next;
				/* held requests are ours to answer: no expiry meanwhile */
				if (m->join_waiting || m->sync_waiting)
					continue;
				if (now_ms >= m->deadline) {
					remove_member(c, g, m, now_ms);
					mn = g->members;	/* the list may have changed */
				} else {
					next = KQ_MIN(next, m->deadline);
				}
			}
			if (g->state == KQ_GROUP_PREPARING_REBALANCE) {
				if (now_ms >= g->join_deadline)
					join_deadline_hit(c, g, now_ms);
				if (g->state == KQ_GROUP_PREPARING_REBALANCE)
					next = KQ_MIN(next, g->join_deadline);
			}
			if ((g->state == KQ_GROUP_COMPLETING_REBALANCE ||
			     g->state == KQ_GROUP_STABLE) && g->sync_deadline) {
				if (now_ms >= g->sync_deadline) {
					bool any = false;

					g->sync_deadline = 0;
					for (m = g->members; m; m = mn) {
						mn = m->next;
						if (!m->pending_sync)
							continue;
						join_reply_error(c, m, KQ_E_UNKNOWN_MEMBER_ID);
						unlink_member(g, m);
						member_free(m);
						any = true;
					}
					if (any) {
						maybe_prepare_rebalance(c, g, now_ms);
						maybe_complete_join(c, g, now_ms);
					}
				} else {
					next = KQ_MIN(next, g->sync_deadline);
				}
			}
			/* e.g. only a MEMBER_ID_REQUIRED id that never came back */
			maybe_drop_group(c, g);
		}
	}
	return next;
}

void
kq_coord_forget_ctx(struct kq_coord *c, void *ctx)
{
	for (size_t b = 0; b < c->tabsize; b++)
		for (struct group *g = c->tab[b]; g; g = g->hnext)
			for (struct member *m = g->members; m; m = m->next) {
				if (m->join_has_ctx && m->join_ctx == ctx)
					m->join_has_ctx = false;
				if (m->sync_has_ctx && m->sync_ctx == ctx)
					m->sync_has_ctx = false;
			}
	for (struct op *op = c->ops; op; op = op->next)
		if (op->has_ctx && op->ctx == ctx)
			op->has_ctx = false;
}

/* ---- loading ---- */

static bool
part_ok(const struct kq_coord *c, int32_t p)
{
	return p >= 0 && p < c->cfg.num_partitions;
}

static void
drop_partition_groups(struct kq_coord *c, int32_t partition, bool answer)
{
	for (size_t b = 0; b < c->tabsize; b++) {
		struct group *g, *gn;

		for (g = c->tab[b]; g; g = gn) {
			gn = g->hnext;
			if (g->partition != partition)
				continue;
			if (answer)
				for (struct member *m = g->members; m; m = m->next) {
					join_reply_error(c, m, KQ_E_NOT_COORDINATOR);
					sync_reply(c, m, KQ_E_NOT_COORDINATOR);
				}
			group_destroy(c, g);
		}
	}
}

void
kq_coord_load_begin(struct kq_coord *c, int32_t partition)
{
	if (!part_ok(c, partition))
		return;
	drop_partition_groups(c, partition, true);
	c->pstate[partition] = PART_LOADING;
}

void
kq_coord_load_end(struct kq_coord *c, int32_t partition, int64_t now_ms)
{
	if (part_ok(c, partition) && c->pstate[partition] == PART_LOADING)
		c->pstate[partition] = PART_LOADED;
}

void
kq_coord_unload(struct kq_coord *c, int32_t partition)
{
	if (!part_ok(c, partition))
		return;
	free_dead_ops(c);
	drop_partition_groups(c, partition, true);
	c->pstate[partition] = PART_NONE;
}

int
kq_coord_partition_state(const struct kq_coord *c, int32_t partition)
{
	return part_ok(c, partition) ? c->pstate[partition] : PART_NONE;
}

static struct group *
load_group(struct kq_coord *c, struct kq_str id, int32_t partition, int64_t now)
{
	struct group *g = group_find(c, id);

	return g ? g : group_new(c, id, partition, now);
}

int
kq_coord_load_record(struct kq_coord *c, int32_t partition, struct kq_bytes key,
		     struct kq_bytes value, int64_t now_ms)
{
	struct kq_arena a = { 0 };
	struct kq_rd r;
	struct group *g;
	int16_t kv, vv = 0;
	int err = 0;

	if (!part_ok(c, partition) || key.len < 2)
		return KQ_ERR_CORRUPT;
	kq_rd_init(&r, key.p, (size_t)key.len);
	kv = kq_rd_i16(&r);
	if (kv == 0 || kv == 1) {
		struct kq_OffsetCommitKey k;
		struct kq_OffsetCommitValue val;
		char *topic;

		if (kq_OffsetCommitKey_decode(&r, kv, &a, &k) != 0 || k.group.len < 0 ||
		    has_nul(k.group) || k.topic.len < 0 || has_nul(k.topic)) {
			err = KQ_ERR_CORRUPT;
			goto out;
		}
		if (value.len >= 0) {
			struct kq_rd vr;

			kq_rd_init(&vr, value.p, (size_t)value.len);
			vv = kq_rd_i16(&vr);
			if (vv < 0 || vv > 3) {
				err = vr.err ? KQ_ERR_CORRUPT : KQ_ERR_UNSUPPORTED;
				goto out;
			}
			if (kq_OffsetCommitValue_decode(&vr, vv, &a, &val) != 0) {
				err = KQ_ERR_CORRUPT;
				goto out;
			}
		}
		topic = sdup(k.topic);
		if (value.len < 0) {
			if ((g = group_find(c, k.group)) != NULL) {
				off_del(g, topic, k.partition);
				maybe_drop_group(c, g);
			}
		} else {
			char *md = sdup(val.metadata.len >= 0 ? val.metadata : kq_str_c(""));

			g = load_group(c, k.group, partition, now_ms);
			off_put(g, topic, k.partition, val.offset, vv >= 3 ? val.leaderEpoch : -1,
				md, val.commitTimestamp);
			free(md);
		}
		free(topic);
	} else if (kv == 2) {
		struct kq_GroupMetadataKey k;
		struct kq_GroupMetadataValue val;

		if (kq_GroupMetadataKey_decode(&r, kv, &a, &k) != 0 || k.group.len < 0 ||
		    has_nul(k.group)) {
			err = KQ_ERR_CORRUPT;
			goto out;
		}
		if (value.len < 0) {
			if ((g = group_find(c, k.group)) != NULL) {
				g->has_meta = false;
				g->generation = 0;
				set_str(&g->protocol_type, NULL);
				maybe_drop_group(c, g);
			}
			goto out;
		}
		struct kq_rd vr;

		kq_rd_init(&vr, value.p, (size_t)value.len);
		vv = kq_rd_i16(&vr);
		if (vv < 0 || vv > 3) {
			err = vr.err ? KQ_ERR_CORRUPT : KQ_ERR_UNSUPPORTED;
			goto out;
		}
		if (kq_GroupMetadataValue_decode(&vr, vv, &a, &val) != 0 ||
		    has_nul(val.protocolType)) {
			err = KQ_ERR_CORRUPT;
			goto out;
		}
		g = load_group(c, k.group, partition, now_ms);
		g->has_meta = true;
		g->generation = val.generation;
		free(g->protocol_type);
		g->protocol_type = val.protocolType.len > 0 ? sdup(val.protocolType) : NULL;
		g->state_ts = vv >= 2 && val.currentStateTimestamp >= 0 ?
			val.currentStateTimestamp : now_ms;
	} else {
		err = KQ_ERR_UNSUPPORTED;
	}
out:
	kq_arena_free(&a);
	return err;
}

/* ---- life cycle ---- */

void
kq_coord_config_defaults(struct kq_coord_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->num_partitions = 50;
	cfg->min_session_timeout_ms = 6000;
	cfg->max_session_timeout_ms = 1800000;
	cfg->initial_rebalance_delay_ms = 3000;
	cfg->max_group_size = INT32_MAX;
	cfg->max_metadata_size = 4096;
	cfg->codec = KQ_CODEC_NONE;
}

struct kq_coord *
kq_coord_new(const struct kq_coord_config *cfg)
{
	struct kq_coord *c = kq_xcalloc(1, sizeof(*c));

	c->cfg = *cfg;
	if (c->cfg.num_partitions <= 0)
		c->cfg.num_partitions = 50;
	KQ_ASSERT(c->cfg.reply && c->cfg.append);
	c->rng = cfg->seed;
	c->pstate = kq_xcalloc((size_t)c->cfg.num_partitions, 1);
	c->tabsize = 64;
	c->tab = kq_xcalloc(c->tabsize, sizeof(*c->tab));
	return c;
}

void
kq_coord_free(struct kq_coord *c)
{
	struct op *op, *next;

	if (!c)
		return;
	for (size_t b = 0; b < c->tabsize; b++)
		while (c->tab[b])
			group_destroy(c, c->tab[b]);
	for (op = c->ops; op; op = next) {
		next = op->next;
		op_free(op);
	}
	free_dead_ops(c);
	kq_arena_free(&c->scratch);
	free(c->tab);
	free(c->pstate);
	free(c);
}
