/*
 * assign.c - consumer protocol blobs and Kafka's range and roundrobin
 * assignors (client side; the coordinator treats the blobs as opaque except
 * for reading subscribed topics).
 */
#include <stdlib.h>
#include <string.h>

#include "group.h"

#define SUB_MAX_VERSION 3
#define ASG_MAX_VERSION 3

int
kq_consumer_sub_decode(const void *p, size_t n, struct kq_arena *a, int16_t *version,
		       struct kq_ConsumerProtocolSubscription *m)
{
	struct kq_rd r;
	int16_t v;

	kq_ConsumerProtocolSubscription_init(m);
	kq_rd_init(&r, p, n);
	v = kq_rd_i16(&r);
	if (r.err)
		return r.err;
	if (v < 0)
		return KQ_ERR_CORRUPT;
	if (version)
		*version = v;
	/* a newer client's blob: its known prefix is what we understand */
	return kq_ConsumerProtocolSubscription_decode(&r, KQ_MIN(v, SUB_MAX_VERSION), a, m);
}

int
kq_consumer_asg_decode(const void *p, size_t n, struct kq_arena *a, int16_t *version,
		       struct kq_ConsumerProtocolAssignment *m)
{
	struct kq_rd r;
	int16_t v;

	kq_ConsumerProtocolAssignment_init(m);
	kq_rd_init(&r, p, n);
	v = kq_rd_i16(&r);
	if (r.err)
		return r.err;
	if (v < 0)
		return KQ_ERR_CORRUPT;
	if (version)
		*version = v;
	return kq_ConsumerProtocolAssignment_decode(&r, KQ_MIN(v, ASG_MAX_VERSION), a, m);
}

void
kq_consumer_sub_encode(struct kq_buf *w, int16_t version,
		       const struct kq_ConsumerProtocolSubscription *m)
{
	KQ_ASSERT(version >= 0 && version <= SUB_MAX_VERSION);
	kq_wr_i16(w, version);
	kq_ConsumerProtocolSubscription_encode(w, version, m);
}

void
kq_consumer_asg_encode(struct kq_buf *w, int16_t version,
		       const struct kq_ConsumerProtocolAssignment *m)
{
	KQ_ASSERT(version >= 0 && version <= ASG_MAX_VERSION);
	kq_wr_i16(w, version);
	kq_ConsumerProtocolAssignment_encode(w, version, m);
}

/* ---- assignors ---- */

/* Kafka's MemberInfo.compareTo. */
static int
member_cmp(const struct kq_assign_member *x, const struct kq_assign_member *y)
{
	if (x->instance_id && y->instance_id)
		return strcmp(x->instance_id, y->instance_id);
	if (x->instance_id)
		return -1;
	if (y->instance_id)
		return 1;
	return strcmp(x->member_id, y->member_id);
}

/* Insertion sort of member indexes: groups are small and qsort has no context. */
static void
sort_members(const struct kq_assign_member *members, int *order, int nm)
{
	for (int i = 1; i < nm; i++) {
		int x = order[i], j = i;

		while (j > 0 && member_cmp(&members[order[j - 1]], &members[x]) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = x;
	}
}

static int
topic_idx_cmp(const void *a, const void *b)
{
	const struct kq_assign_topic *x = *(const struct kq_assign_topic *const *)a;
	const struct kq_assign_topic *y = *(const struct kq_assign_topic *const *)b;

	return strcmp(x->name, y->name);
}

static bool
subscribes(const struct kq_assign_member *m, const char *topic)
{
	for (int i = 0; i < m->ntopics; i++)
		if (strcmp(m->topics[i], topic) == 0)
			return true;
	return false;
}

/*
 * Shared set-up: members sorted (indexes), the usable topics sorted by name
 * and deduplicated.  Both arrays come from a.
 */
static int
prepare(const struct kq_assign_member *members, int nm, const struct kq_assign_topic *topics,
	int nt, struct kq_arena *a, int **order, const struct kq_assign_topic ***tsorted, int *ntu)
{
	const struct kq_assign_topic **ts;
	int64_t total = 0;
	int n = 0;

	if (nm < 0 || nt < 0)
		return KQ_ERR_INVALID;
	*order = kq_arena_alloc(a, sizeof(int) * (size_t)(nm + 1));
	for (int i = 0; i < nm; i++)
		(*order)[i] = i;
	sort_members(members, *order, nm);
	for (int i = 0; i < nm; i++)
		for (int j = i + 1; j < nm; j++)
			if (strcmp(members[i].member_id, members[j].member_id) == 0)
				return KQ_ERR_INVALID;
	ts = kq_arena_alloc(a, sizeof(*ts) * (size_t)(nt + 1));
	for (int i = 0; i < nt; i++)
		if (topics[i].partitions > 0)
			ts[n++] = &topics[i];
	qsort(ts, (size_t)n, sizeof(*ts), topic_idx_cmp);
	/* duplicates: keep the first */
	int k = 0;
	for (int i = 0; i < n; i++) {
		if (k > 0 && strcmp(ts[k - 1]->name, ts[i]->name) == 0)
			continue;
		ts[k++] = ts[i];
		total += ts[i]->partitions;
	}
	if (total > INT32_MAX)
		return KQ_ERR_INVALID;
	*tsorted = ts;
	*ntu = k;
	return 0;
}

/* Append partitions [p0, p0+cnt) of topic to member result r (topics arrive in name order). */
static void
result_add(struct kq_assign_result *r, int cap, const char *topic, const int32_t *parts,
	   int32_t cnt, struct kq_arena *a)
{
	struct kq_assign_tp *tp;

	if (cnt <= 0)
		return;
	KQ_ASSERT(r->ntopics < cap);
	tp = &r->topics[r->ntopics++];
	tp->topic = topic;
	tp->partitions = kq_arena_alloc(a, sizeof(int32_t) * (size_t)cnt);
	memcpy(tp->partitions, parts, sizeof(int32_t) * (size_t)cnt);
	tp->npartitions = cnt;
}

static void
results_init(struct kq_assign_result *out, int nm, int nt, struct kq_arena *a)
{
	for (int i = 0; i < nm; i++) {
		out[i].topics = kq_arena_alloc(a, sizeof(struct kq_assign_tp) * (size_t)(nt + 1));
		out[i].ntopics = 0;
	}
}

int
kq_assign_range(const struct kq_assign_member *members, int nm,
		const struct kq_assign_topic *topics, int nt, struct kq_arena *a,
		struct kq_assign_result *out)
{
	const struct kq_assign_topic **ts;
	int *order, *subs, ntu, err;
	int32_t *parts;
	int32_t maxp = 0;

	if ((err = prepare(members, nm, topics, nt, a, &order, &ts, &ntu)) != 0)
		return err;
	results_init(out, nm, ntu, a);
	subs = kq_arena_alloc(a, sizeof(int) * (size_t)(nm + 1));
	for (int t = 0; t < ntu; t++)
		maxp = KQ_MAX(maxp, ts[t]->partitions);
	parts = kq_arena_alloc(a, sizeof(int32_t) * (size_t)(maxp + 1));
	for (int32_t i = 0; i < maxp; i++)
		parts[i] = i;
	for (int t = 0; t < ntu; t++) {
		int ns = 0;
		int32_t n = ts[t]->partitions, per, extra;

		for (int i = 0; i < nm; i++)
			if (subscribes(&members[order[i]], ts[t]->name))
				subs[ns++] = order[i];
		if (ns == 0)
			continue;
		per = n / ns;
		extra = n % ns;
		for (int i = 0; i < ns; i++) {
			int32_t start = per * i + KQ_MIN(i, extra);
			int32_t len = per + (i + 1 > extra ? 0 : 1);

			result_add(&out[subs[i]], ntu, ts[t]->name, parts + start, len, a);
		}
	}
	return 0;
}

int
kq_assign_roundrobin(const struct kq_assign_member *members, int nm,
		     const struct kq_assign_topic *topics, int nt, struct kq_arena *a,
		     struct kq_assign_result *out)
{
	const struct kq_assign_topic **ts;
	int *order, ntu, err, cur = 0;
	int32_t **bufs, *cnt;

	if ((err = prepare(members, nm, topics, nt, a, &order, &ts, &ntu)) != 0)
		return err;
	results_init(out, nm, ntu, a);
	if (nm == 0)
		return 0;
	/* per member, per topic scratch of the partitions it gets */
	bufs = kq_arena_alloc(a, sizeof(*bufs) * (size_t)nm);
	cnt = kq_arena_alloc(a, sizeof(*cnt) * (size_t)nm);
	for (int t = 0; t < ntu; t++) {
		const char *name = ts[t]->name;
		bool any = false;

		for (int i = 0; i < nm; i++) {
			cnt[i] = 0;
			if (subscribes(&members[i], name))
				any = true;
		}
		/* Kafka lists only topics somebody subscribes to */
		if (!any)
			continue;
		for (int i = 0; i < nm; i++)
			bufs[i] = NULL;
		for (int32_t p = 0; p < ts[t]->partitions; p++) {
			int m;

			while (!subscribes(&members[order[cur]], name))
				cur = (cur + 1) % nm;
			m = order[cur];
			cur = (cur + 1) % nm;
			if (!bufs[m])
				bufs[m] = kq_arena_alloc(a, sizeof(int32_t) *
							 (size_t)ts[t]->partitions);
			bufs[m][cnt[m]++] = p;
		}
		for (int i = 0; i < nm; i++)
			result_add(&out[i], ntu, name, bufs[i], cnt[i], a);
	}
	return 0;
}

int
kq_assign(const char *protocol, const struct kq_assign_member *members, int nm,
	  const struct kq_assign_topic *topics, int nt, struct kq_arena *a,
	  struct kq_assign_result *out)
{
	if (strcmp(protocol, "range") == 0)
		return kq_assign_range(members, nm, topics, nt, a, out);
	if (strcmp(protocol, "roundrobin") == 0)
		return kq_assign_roundrobin(members, nm, topics, nt, a, out);
	return KQ_ERR_UNSUPPORTED;
}

void
kq_assign_to_protocol(const struct kq_assign_result *r, struct kq_arena *a,
		      struct kq_ConsumerProtocolAssignment *m)
{
	kq_ConsumerProtocolAssignment_init(m);
	m->AssignedPartitions = kq_arena_alloc(a, sizeof(*m->AssignedPartitions) *
					       (size_t)(r->ntopics + 1));
	for (int i = 0; i < r->ntopics; i++) {
		struct kq_ConsumerProtocolAssignment_TopicPartition *tp = &m->AssignedPartitions[i];

		kq_ConsumerProtocolAssignment_TopicPartition_init(tp);
		tp->Topic = kq_str_c(r->topics[i].topic);
		tp->Partitions = r->topics[i].partitions;
		tp->Partitions_count = r->topics[i].npartitions;
	}
	m->AssignedPartitions_count = r->ntopics;
	m->UserData = KQ_BYTES_NULL;
}
