/*
 * test-group.c - the group coordinator driven by synthetic requests and a
 * fake clock, the __consumer_offsets records, and the assignors.
 */
#include <stdlib.h>
#include <string.h>

#include "../../common/group/group.h"
#include "t.h"

#define RCTX_MAX 4096

/* ---- a fake broker ---- */

struct reply {
	void *ctx;
	int16_t api, v, err;
	int32_t gen;
	char member[160], leader[160], protocol[32];
	int nmembers;
	unsigned char assign[256];
	int32_t assign_len;
	int16_t perr;		/* first partition error (commit, offset delete, delete groups) */
};

struct append {
	int32_t partition;
	unsigned char *batch;
	size_t len;
	void *done;
};

static struct {
	struct reply r[64];
	int nr;
	struct append ap[256];
	int nap;
	int pending_first;	/* first append not yet acknowledged */
	bool auto_done;		/* acknowledge inside append() */
	int fail_err;		/* error for auto acknowledgements */
	struct kq_coord *c;
	int64_t now;
} fk;

static void
fill_join(struct reply *x, const struct kq_JoinGroupResponse *r)
{
	x->err = r->ErrorCode;
	x->gen = r->GenerationId;
	snprintf(x->member, sizeof(x->member), "%.*s", (int)KQ_MAX(r->MemberId.len, 0),
		 r->MemberId.p);
	snprintf(x->leader, sizeof(x->leader), "%.*s", (int)KQ_MAX(r->Leader.len, 0),
		 r->Leader.p);
	snprintf(x->protocol, sizeof(x->protocol), "%.*s",
		 (int)KQ_MAX(r->ProtocolName.len, 0), r->ProtocolName.p);
	x->nmembers = r->Members_count;
}

static void
fill_sync(struct reply *x, const struct kq_SyncGroupResponse *r)
{
	x->err = r->ErrorCode;
	x->assign_len = r->Assignment.len;
	if (r->Assignment.len > 0 && r->Assignment.len <= (int32_t)sizeof(x->assign))
		memcpy(x->assign, r->Assignment.p, (size_t)r->Assignment.len);
}

static void (*reply_hook)(void *ctx, int16_t api, const void *resp);

static void
on_reply(void *owner, void *ctx, int16_t api, int16_t v, const void *resp)
{
	struct reply *x;
	struct kq_buf w = { 0 };

	if (reply_hook) {
		KQ_ASSERT(kq_msg_encode(api, true, v, &w, resp) == 0);
		kq_buf_free(&w);
		reply_hook(ctx, api, resp);
		return;
	}
	KQ_ASSERT(fk.nr < (int)KQ_ARRAY_LEN(fk.r));
	x = &fk.r[fk.nr++];
	memset(x, 0, sizeof(*x));
	x->ctx = ctx;
	x->api = api;
	x->v = v;
	/* every delivered response must encode */
	KQ_ASSERT(kq_msg_encode(api, true, v, &w, resp) == 0);
	kq_buf_free(&w);
	if (api == KQ_API_JOIN_GROUP)
		fill_join(x, resp);
	else if (api == KQ_API_SYNC_GROUP)
		fill_sync(x, resp);
	else if (api == KQ_API_OFFSET_COMMIT) {
		const struct kq_OffsetCommitResponse *r = resp;

		x->perr = r->Topics_count ? r->Topics[0].Partitions[0].ErrorCode : -2;
	} else if (api == KQ_API_DELETE_GROUPS) {
		const struct kq_DeleteGroupsResponse *r = resp;

		x->perr = r->Results_count ? r->Results[0].ErrorCode : -2;
	}
}

static void ack_first(void);

static void
on_append(void *owner, int32_t partition, const unsigned char *batch, size_t len, void *done)
{
	struct append *a;

	if (fk.nap == (int)KQ_ARRAY_LEN(fk.ap)) {
		/* random test: keep the window small, acknowledge the oldest */
		KQ_ASSERT(!fk.auto_done);
		ack_first();
	}
	a = &fk.ap[fk.nap++];
	a->partition = partition;
	a->batch = kq_xmalloc(len);
	memcpy(a->batch, batch, len);
	a->len = len;
	a->done = done;
	if (fk.auto_done) {
		a->done = NULL;
		fk.pending_first = fk.nap;
		kq_coord_append_done(fk.c, done, fk.fail_err, fk.now);
	}
}

/* Acknowledge the oldest outstanding append and forget the acknowledged ones. */
static void
ack_first(void)
{
	void *d;

	if (fk.pending_first == fk.nap)
		return;
	d = fk.ap[fk.pending_first].done;
	fk.ap[fk.pending_first++].done = NULL;
	if (fk.pending_first == fk.nap || fk.nap == (int)KQ_ARRAY_LEN(fk.ap)) {
		/* compact */
		int n = fk.nap - fk.pending_first;

		for (int i = 0; i < fk.pending_first; i++)
			free(fk.ap[i].batch);
		memmove(fk.ap, fk.ap + fk.pending_first, sizeof(fk.ap[0]) * (size_t)n);
		fk.nap = n;
		fk.pending_first = 0;
	}
	if (d)
		kq_coord_append_done(fk.c, d, 0, fk.now);
}

/* Acknowledge every outstanding append. */
static void
ack_all(int err)
{
	while (fk.pending_first < fk.nap) {
		struct append *a = &fk.ap[fk.pending_first++];
		void *d = a->done;

		a->done = NULL;
		if (d)
			kq_coord_append_done(fk.c, d, err, fk.now);
	}
}

static void
fk_reset(int32_t delay_ms)
{
	struct kq_coord_config cc;

	for (int i = 0; i < fk.nap; i++)
		free(fk.ap[i].batch);
	if (fk.c)
		kq_coord_free(fk.c);
	memset(&fk, 0, sizeof(fk));
	kq_coord_config_defaults(&cc);
	cc.reply = on_reply;
	cc.append = on_append;
	cc.seed = 42;
	cc.initial_rebalance_delay_ms = delay_ms;
	fk.c = kq_coord_new(&cc);
	for (int p = 0; p < 50; p++) {
		kq_coord_load_begin(fk.c, p);
		kq_coord_load_end(fk.c, p, 0);
	}
	fk.now = 1000000;
}

static struct reply *
find_reply(void *ctx)
{
	for (int i = fk.nr - 1; i >= 0; i--)
		if (fk.r[i].ctx == ctx)
			return &fk.r[i];
	return NULL;
}

/* ---- request helpers ---- */

static struct kq_arena ar;

static struct kq_bytes
sub_blob(const char *t1, const char *t2)
{
	struct kq_ConsumerProtocolSubscription s;
	struct kq_str *ts = kq_arena_alloc(&ar, sizeof(*ts) * 2);
	struct kq_buf w = { 0 };
	unsigned char *p;
	struct kq_bytes b;

	kq_ConsumerProtocolSubscription_init(&s);
	ts[0] = kq_str_c(t1);
	s.Topics_count = 1;
	if (t2) {
		ts[1] = kq_str_c(t2);
		s.Topics_count = 2;
	}
	s.Topics = ts;
	s.UserData = KQ_BYTES_NULL;
	kq_consumer_sub_encode(&w, 0, &s);
	p = kq_arena_alloc(&ar, w.len);
	memcpy(p, w.buf, w.len);
	b = kq_bytes_of(p, w.len);
	kq_buf_free(&w);
	return b;
}

struct jr {
	int rc;
	struct kq_JoinGroupResponse resp;
	char member[160];
};

static void
join_full(struct jr *j, const char *group, const char *member, const char *instance, int16_t v,
	  void *ctx, const char *topic, const char *proto2)
{
	struct kq_JoinGroupRequest req;
	struct kq_JoinGroupRequest_JoinGroupRequestProtocol *ps;
	struct kq_coord_client cl = { kq_str_c("cli"), "/127.0.0.1" };

	kq_JoinGroupRequest_init(&req);
	req.GroupId = kq_str_c(group);
	req.SessionTimeoutMs = 10000;
	req.RebalanceTimeoutMs = 20000;
	req.MemberId = kq_str_c(member);
	req.GroupInstanceId = kq_str_c(instance);
	req.ProtocolType = kq_str_c("consumer");
	ps = kq_arena_alloc(&ar, sizeof(*ps) * 2);
	ps[0].Name = kq_str_c("range");
	ps[0].Metadata = sub_blob(topic, NULL);
	req.Protocols = ps;
	req.Protocols_count = 1;
	if (proto2) {
		ps[1].Name = kq_str_c(proto2);
		ps[1].Metadata = ps[0].Metadata;
		req.Protocols_count = 2;
	}
	j->rc = kq_coord_join(fk.c, &req, v, &cl, ctx, fk.now, &ar, &j->resp);
	j->member[0] = 0;
	if (j->rc == KQ_COORD_DONE)
		snprintf(j->member, sizeof(j->member), "%.*s", (int)KQ_MAX(j->resp.MemberId.len, 0),
			 j->resp.MemberId.p);
}

static void
join(struct jr *j, const char *group, const char *member, int16_t v, void *ctx)
{
	join_full(j, group, member, NULL, v, ctx, "t0", NULL);
}

static int
sync_req(const char *group, const char *member, int32_t gen, void *ctx,
	 const char **ids, const char **blobs, int n, struct kq_SyncGroupResponse *resp)
{
	struct kq_SyncGroupRequest req;
	struct kq_SyncGroupRequest_SyncGroupRequestAssignment *as;

	kq_SyncGroupRequest_init(&req);
	req.GroupId = kq_str_c(group);
	req.GenerationId = gen;
	req.MemberId = kq_str_c(member);
	req.GroupInstanceId = KQ_STR_NULL;
	as = kq_arena_alloc(&ar, sizeof(*as) * (size_t)(n + 1));
	for (int i = 0; i < n; i++) {
		as[i].MemberId = kq_str_c(ids[i]);
		as[i].Assignment = kq_bytes_of(blobs[i], strlen(blobs[i]));
	}
	req.Assignments = as;
	req.Assignments_count = n;
	return kq_coord_sync(fk.c, &req, 3, ctx, fk.now, &ar, resp);
}

static int
heartbeat(const char *group, const char *member, const char *instance, int32_t gen)
{
	struct kq_HeartbeatRequest req;
	struct kq_HeartbeatResponse resp;
	int rc;

	kq_HeartbeatRequest_init(&req);
	req.GroupId = kq_str_c(group);
	req.GenerationId = gen;
	req.MemberId = kq_str_c(member);
	req.GroupInstanceId = kq_str_c(instance);
	rc = kq_coord_heartbeat(fk.c, &req, 3, (void *)1, fk.now, &ar, &resp);
	KQ_ASSERT(rc == KQ_COORD_DONE);
	return resp.ErrorCode;
}

static int
leave(const char *group, const char *member)
{
	struct kq_LeaveGroupRequest req;
	struct kq_LeaveGroupResponse resp;

	kq_LeaveGroupRequest_init(&req);
	req.GroupId = kq_str_c(group);
	req.MemberId = kq_str_c(member);
	KQ_ASSERT(kq_coord_leave(fk.c, &req, 1, (void *)2, fk.now, &ar, &resp) == KQ_COORD_DONE);
	return resp.ErrorCode;
}

static int commit_v(int16_t v, int64_t ts, const char *group, const char *member, int32_t gen,
		    const char *topic, int32_t part, int64_t offset, int32_t mdlen, void *ctx,
		    int *err);

/* Commit one offset; returns the rc, *err = partition error if answered now. */
static int
commit(const char *group, const char *member, int32_t gen, const char *topic, int32_t part,
       int64_t offset, int32_t mdlen, void *ctx, int *err)
{
	return commit_v(7, -1, group, member, gen, topic, part, offset, mdlen, ctx, err);
}

/* The same in OffsetCommit version v; ts is v1's CommitTimestamp. */
static int
commit_v(int16_t v, int64_t ts, const char *group, const char *member, int32_t gen,
	 const char *topic, int32_t part, int64_t offset, int32_t mdlen, void *ctx, int *err)
{
	struct kq_OffsetCommitRequest req;
	struct kq_OffsetCommitRequest_OffsetCommitRequestTopic t;
	struct kq_OffsetCommitRequest_OffsetCommitRequestPartition p;
	struct kq_OffsetCommitResponse resp;
	char *md = kq_arena_alloc(&ar, (size_t)mdlen + 1);
	int rc;

	memset(md, 'm', (size_t)mdlen);
	kq_OffsetCommitRequest_init(&req);
	kq_OffsetCommitRequest_OffsetCommitRequestTopic_init(&t);
	kq_OffsetCommitRequest_OffsetCommitRequestPartition_init(&p);
	req.GroupId = kq_str_c(group);
	req.GenerationIdOrMemberEpoch = gen;
	req.MemberId = kq_str_c(member);
	req.GroupInstanceId = KQ_STR_NULL;
	t.Name = kq_str_c(topic);
	p.PartitionIndex = part;
	p.CommittedOffset = offset;
	p.CommittedLeaderEpoch = 7;
	p.CommittedMetadata = (struct kq_str){ md, mdlen };
	p.CommitTimestamp = ts;
	t.Partitions = &p;
	t.Partitions_count = 1;
	req.Topics = &t;
	req.Topics_count = 1;
	rc = kq_coord_commit(fk.c, &req, v, ctx, fk.now, &ar, &resp);
	*err = rc == KQ_COORD_DONE ? resp.Topics[0].Partitions[0].ErrorCode : -2;
	return rc;
}

/* Committed offset of (group, topic, part) through OffsetFetch v5; -1 if none. */
static int64_t
fetch(const char *group, const char *topic, int32_t part, int32_t *epoch)
{
	struct kq_OffsetFetchRequest req;
	struct kq_OffsetFetchRequest_OffsetFetchRequestTopic t;
	struct kq_OffsetFetchResponse resp;
	int32_t parts[1] = { part };

	kq_OffsetFetchRequest_init(&req);
	kq_OffsetFetchRequest_OffsetFetchRequestTopic_init(&t);
	req.GroupId = kq_str_c(group);
	t.Name = kq_str_c(topic);
	t.PartitionIndexes = parts;
	t.PartitionIndexes_count = 1;
	req.Topics = &t;
	req.Topics_count = 1;
	KQ_ASSERT(kq_coord_fetch(fk.c, &req, 5, (void *)3, fk.now, &ar, &resp) == KQ_COORD_DONE);
	KQ_ASSERT(resp.Topics_count == 1 && resp.Topics[0].Partitions_count == 1);
	if (epoch)
		*epoch = resp.Topics[0].Partitions[0].CommittedLeaderEpoch;
	return resp.Topics[0].Partitions[0].CommittedOffset;
}

static const char *
state(const char *group)
{
	return kq_group_state_name(kq_coord_group_state(fk.c, group));
}

/* Reply to ctx, or an empty one (err -3) if there was none. */
static struct reply *
rep(void *ctx)
{
	static struct reply none;
	struct reply *r = find_reply(ctx);

	if (r)
		return r;
	memset(&none, 0, sizeof(none));
	none.err = none.perr = -3;
	return &none;
}

static int ctxs[64];

static int *
ctxs_big(void)
{
	static int big[RCTX_MAX];

	return big;
}
#define CTX(i) ((void *)&ctxs[(i)])

/*
 * Three v5 members, each through the MEMBER_ID_REQUIRED round trip, end in
 * generation 1.  Ids land in ids[0..2] (ids[0] = leader, first to join).
 */
static int32_t
three_member_group(const char *group, char ids[3][160])
{
	struct jr j;
	struct reply *r;
	int32_t gen = -1;

	for (int i = 0; i < 3; i++) {
		join(&j, group, "", 5, CTX(i));
		T_EQ(j.rc, KQ_COORD_DONE);
		T_EQ(j.resp.ErrorCode, KQ_E_MEMBER_ID_REQUIRED);
		T_OK(strncmp(j.member, "cli-", 4) == 0 && strlen(j.member) == 40, "id %s", j.member);
		strcpy(ids[i], j.member);
		join(&j, group, ids[i], 5, CTX(i));
		T_EQ(j.rc, KQ_COORD_PENDING);
		fk.now += 10;
	}
	T_STREQ(state(group), "PreparingRebalance");
	T_EQ(fk.nr, 0);
	/* the initial delay (100) is extended once since members kept arriving */
	fk.now += 80;
	kq_coord_tick(fk.c, fk.now);
	T_EQ(fk.nr, 0);
	fk.now += 100;
	kq_coord_tick(fk.c, fk.now);
	T_EQ(fk.nr, 3);
	for (int i = 0; i < 3; i++) {
		r = find_reply(CTX(i));
		T_OK(r != NULL, "reply %d", i);
		if (!r)
			continue;
		T_EQ(r->err, 0);
		T_STREQ(r->member, ids[i]);
		T_STREQ(r->leader, ids[0]);
		T_STREQ(r->protocol, "range");
		T_EQ(r->nmembers, i == 0 ? 3 : 0);
		gen = r->gen;
	}
	T_EQ(gen, 1);
	T_STREQ(state(group), "CompletingRebalance");
	fk.nr = 0;
	return gen;
}

/* Sync all three; the leader's SyncGroup waits for its append. */
static void
sync_three(const char *group, char ids[3][160], int32_t gen)
{
	struct kq_SyncGroupResponse resp;
	const char *mids[3] = { ids[0], ids[1], ids[2] };
	const char *blobs[3] = { "A0", "A1", "A2" };
	struct reply *r;

	T_EQ(sync_req(group, ids[1], gen, CTX(11), NULL, NULL, 0, &resp), KQ_COORD_PENDING);
	T_EQ(sync_req(group, ids[2], gen, CTX(12), NULL, NULL, 0, &resp), KQ_COORD_PENDING);
	T_EQ(sync_req(group, ids[0], gen, CTX(10), mids, blobs, 3, &resp), KQ_COORD_PENDING);
	T_EQ(fk.nr, 0);
	T_STREQ(state(group), "CompletingRebalance");
	ack_all(0);
	T_EQ(fk.nr, 3);
	for (int i = 0; i < 3; i++) {
		r = find_reply(CTX(10 + i));
		T_OK(r && r->err == 0 && r->assign_len == 2 && memcmp(r->assign, blobs[i], 2) == 0,
		     "assignment %d", i);
	}
	T_STREQ(state(group), "Stable");
	fk.nr = 0;
}

/* ---- tests ---- */

static void
test_join_three(void)
{
	char ids[3][160];

	fk_reset(100);
	three_member_group("g1", ids);
	T_OK(strcmp(ids[0], ids[1]) != 0 && strcmp(ids[1], ids[2]) != 0, "distinct ids");
}

static void
test_sync(void)
{
	char ids[3][160];
	struct kq_SyncGroupResponse resp;
	int32_t gen;

	fk_reset(100);
	gen = three_member_group("g1", ids);
	T_EQ(sync_req("g1", ids[1], gen + 1, CTX(20), NULL, NULL, 0, &resp), KQ_COORD_DONE);
	T_EQ(resp.ErrorCode, KQ_E_ILLEGAL_GENERATION);
	T_EQ(sync_req("g1", "nobody", gen, CTX(20), NULL, NULL, 0, &resp), KQ_COORD_DONE);
	T_EQ(resp.ErrorCode, KQ_E_UNKNOWN_MEMBER_ID);
	sync_three("g1", ids, gen);
	/* in Stable, SyncGroup answers at once with the stored assignment */
	T_EQ(sync_req("g1", ids[2], gen, CTX(20), NULL, NULL, 0, &resp), KQ_COORD_DONE);
	T_EQ(resp.ErrorCode, 0);
	T_OK(resp.Assignment.len == 2 && memcmp(resp.Assignment.p, "A2", 2) == 0, "stored");
	/* the GroupMetadata record went to the group's partition */
	T_EQ(fk.nap, 1);
	T_EQ(fk.ap[0].partition, kq_coord_partition_for(fk.c, kq_str_c("g1")));
	T_EQ(heartbeat("g1", ids[1], NULL, gen), 0);
}

static void
test_sync_auto_done(void)
{
	struct jr j;
	struct kq_SyncGroupResponse resp;
	const char *ids[1];
	const char *blobs[1] = { "X" };

	/* a synchronous append acknowledgement answers the leader directly */
	fk_reset(0);
	fk.auto_done = true;
	join(&j, "g", "", 3, CTX(0));
	T_EQ(j.rc, KQ_COORD_DONE);
	T_EQ(j.resp.ErrorCode, 0);
	T_EQ(j.resp.GenerationId, 1);
	T_EQ(j.resp.Members_count, 1);
	ids[0] = j.member;
	T_EQ(sync_req("g", j.member, 1, CTX(1), ids, blobs, 1, &resp), KQ_COORD_DONE);
	T_EQ(resp.ErrorCode, 0);
	T_OK(resp.Assignment.len == 1 && resp.Assignment.p[0] == 'X', "assignment");
	T_EQ(fk.nr, 0);
	T_STREQ(state("g"), "Stable");
}

static void
test_heartbeat_rebalance(void)
{
	char ids[3][160];
	struct jr j;
	int32_t gen;

	fk_reset(100);
	gen = three_member_group("g", ids);
	sync_three("g", ids, gen);
	T_EQ(heartbeat("g", ids[1], NULL, gen), 0);
	T_EQ(heartbeat("g", ids[1], NULL, gen - 1), KQ_E_ILLEGAL_GENERATION);
	T_EQ(heartbeat("g", "x", NULL, gen), KQ_E_UNKNOWN_MEMBER_ID);
	T_EQ(heartbeat("nogroup", "x", NULL, gen), KQ_E_UNKNOWN_MEMBER_ID);
	T_EQ(heartbeat("", "x", NULL, gen), KQ_E_INVALID_GROUP_ID);
	/* a v3 member joins directly (no MEMBER_ID_REQUIRED) and starts a rebalance */
	join(&j, "g", "", 3, CTX(30));
	T_EQ(j.rc, KQ_COORD_PENDING);
	T_STREQ(state("g"), "PreparingRebalance");
	T_EQ(heartbeat("g", ids[1], NULL, gen), KQ_E_REBALANCE_IN_PROGRESS);
	/* everyone rejoins: the rebalance completes without waiting */
	for (int i = 0; i < 3; i++) {
		join(&j, "g", ids[i], 5, CTX(i));
		T_EQ(j.rc, i < 2 ? KQ_COORD_PENDING : KQ_COORD_DONE);
	}
	T_EQ(j.resp.ErrorCode, 0);
	T_EQ(j.resp.GenerationId, gen + 1);
	T_EQ(fk.nr, 3);
	T_EQ(rep(CTX(0))->nmembers, 4);
	T_STREQ(rep(CTX(0))->leader, ids[0]);
	T_STREQ(state("g"), "CompletingRebalance");
	T_EQ(heartbeat("g", ids[1], NULL, gen + 1), 0);
}

/* Rejoins that change nothing get the current generation back at once. */
static void
test_rejoin_same(void)
{
	char ids[3][160];
	struct jr j;
	int32_t gen;

	fk_reset(100);
	gen = three_member_group("g", ids);
	join(&j, "g", ids[1], 5, CTX(20));
	T_EQ(j.rc, KQ_COORD_DONE);
	T_EQ(j.resp.ErrorCode, 0);
	T_EQ(j.resp.GenerationId, gen);
	T_EQ(j.resp.Members_count, 0);
	join(&j, "g", ids[0], 5, CTX(21));
	T_EQ(j.rc, KQ_COORD_DONE);
	T_EQ(j.resp.Members_count, 3);
	T_STREQ(state("g"), "CompletingRebalance");
	sync_three("g", ids, gen);
	join(&j, "g", ids[2], 5, CTX(22));
	T_EQ(j.rc, KQ_COORD_DONE);
	T_EQ(j.resp.GenerationId, gen);
	T_STREQ(state("g"), "Stable");
	/* a changed subscription rebalances */
	join_full(&j, "g", ids[2], NULL, 5, CTX(23), "t7", NULL);
	T_EQ(j.rc, KQ_COORD_PENDING);
	T_STREQ(state("g"), "PreparingRebalance");
}

static void
test_session_expiry(void)
{
	char ids[3][160];
	struct jr j;
	int32_t gen;

	fk_reset(100);
	gen = three_member_group("g", ids);
	sync_three("g", ids, gen);
	/* members 0 and 1 heartbeat; member 2 goes silent */
	for (int i = 0; i < 6; i++) {
		fk.now += 3000;
		T_EQ(heartbeat("g", ids[0], NULL, gen), 0);
		T_EQ(heartbeat("g", ids[1], NULL, gen), 0);
		kq_coord_tick(fk.c, fk.now);
		if (strcmp(state("g"), "Stable") != 0)
			break;
	}
	T_STREQ(state("g"), "PreparingRebalance");
	T_EQ(heartbeat("g", ids[2], NULL, gen), KQ_E_UNKNOWN_MEMBER_ID);
	T_EQ(heartbeat("g", ids[0], NULL, gen), KQ_E_REBALANCE_IN_PROGRESS);
	join(&j, "g", ids[1], 5, CTX(1));
	T_EQ(j.rc, KQ_COORD_PENDING);
	join(&j, "g", ids[0], 5, CTX(0));
	T_EQ(j.rc, KQ_COORD_DONE);
	T_EQ(j.resp.GenerationId, gen + 1);
	T_EQ(j.resp.Members_count, 2);
}

static void
test_rebalance_timeout(void)
{
	char ids[3][160];
	struct jr j;
	int32_t gen;

	fk_reset(100);
	gen = three_member_group("g", ids);
	sync_three("g", ids, gen);
	/* the leader rejoins: rebalance; the others never rejoin but keep heartbeating */
	join(&j, "g", ids[0], 5, CTX(0));
	T_EQ(j.rc, KQ_COORD_PENDING);
	for (int i = 0; i < 7; i++) {
		fk.now += 3000;
		T_EQ(heartbeat("g", ids[1], NULL, gen), KQ_E_REBALANCE_IN_PROGRESS);
		kq_coord_tick(fk.c, fk.now);
	}
	/* 21 s > rebalance timeout 20 s: completed with the leader alone */
	T_EQ(fk.nr, 1);
	T_EQ(rep(CTX(0))->err, 0);
	T_EQ(rep(CTX(0))->nmembers, 1);
	T_EQ(rep(CTX(0))->gen, gen + 1);
	T_EQ(heartbeat("g", ids[1], NULL, gen), KQ_E_UNKNOWN_MEMBER_ID);
}

static void
test_leave(void)
{
	char ids[3][160];
	struct kq_LeaveGroupRequest req;
	struct kq_LeaveGroupResponse resp;
	struct kq_LeaveGroupRequest_MemberIdentity mi[2];
	struct jr j;
	int32_t gen;

	fk_reset(100);
	gen = three_member_group("g", ids);
	sync_three("g", ids, gen);
	T_EQ(leave("g", "nobody"), KQ_E_UNKNOWN_MEMBER_ID);
	T_EQ(leave("g", ids[2]), 0);
	T_STREQ(state("g"), "PreparingRebalance");
	T_EQ(heartbeat("g", ids[0], NULL, gen), KQ_E_REBALANCE_IN_PROGRESS);
	join(&j, "g", ids[0], 5, CTX(0));
	T_EQ(j.rc, KQ_COORD_PENDING);
	join(&j, "g", ids[1], 5, CTX(1));
	T_EQ(j.rc, KQ_COORD_DONE);
	T_EQ(j.resp.GenerationId, gen + 1);
	/* v3: a list, per-member errors; the last member out leaves it Empty */
	kq_LeaveGroupRequest_init(&req);
	req.GroupId = kq_str_c("g");
	kq_LeaveGroupRequest_MemberIdentity_init(&mi[0]);
	kq_LeaveGroupRequest_MemberIdentity_init(&mi[1]);
	mi[0].MemberId = kq_str_c(ids[0]);
	mi[1].MemberId = kq_str_c("ghost");
	req.Members = mi;
	req.Members_count = 2;
	T_EQ(kq_coord_leave(fk.c, &req, 3, CTX(40), fk.now, &ar, &resp), KQ_COORD_DONE);
	T_EQ(resp.ErrorCode, 0);
	T_EQ(resp.Members_count, 2);
	T_EQ(resp.Members[0].ErrorCode, 0);
	T_EQ(resp.Members[1].ErrorCode, KQ_E_UNKNOWN_MEMBER_ID);
	T_STREQ(state("g"), "PreparingRebalance");
	T_EQ(leave("g", ids[1]), 0);
	T_STREQ(state("g"), "Empty");
}

/*
 * A member stopped while the coordinator holds its JoinGroup or SyncGroup
 * sends LeaveGroup on another connection: it is out at once, the held
 * request is answered UNKNOWN_MEMBER_ID, and the others go on without
 * waiting for its timeouts.
 */
static void
test_leave_while_held(void)
{
	char ids[3][160], id[160];
	struct kq_SyncGroupResponse resp;
	struct jr j;
	int32_t gen;

	/* the first JoinGroup, parked in the initial rebalance delay */
	fk_reset(100);
	join(&j, "g", "", 5, CTX(0));
	T_EQ(j.resp.ErrorCode, KQ_E_MEMBER_ID_REQUIRED);
	strcpy(id, j.member);
	join(&j, "g", id, 5, CTX(0));
	T_EQ(j.rc, KQ_COORD_PENDING);
	T_EQ(leave("g", id), 0);
	T_EQ(rep(CTX(0))->api, KQ_API_JOIN_GROUP);
	T_EQ(rep(CTX(0))->err, KQ_E_UNKNOWN_MEMBER_ID);
	T_EQ(leave("g", id), KQ_E_UNKNOWN_MEMBER_ID);
	/* a newcomer waits out the delay (extended once, as it arrived in
	 * it) and has the group to itself */
	join(&j, "g", "", 3, CTX(1));
	T_EQ(j.rc, KQ_COORD_PENDING);
	for (int i = 0; i < 2; i++) {
		fk.now += 100;
		kq_coord_tick(fk.c, fk.now);
	}
	T_EQ(rep(CTX(1))->err, 0);
	T_EQ(rep(CTX(1))->nmembers, 1);
	T_STREQ(rep(CTX(1))->leader, rep(CTX(1))->member);

	/* the leader's rejoin, held in a rebalance: the others complete without it */
	fk_reset(100);
	gen = three_member_group("g", ids);
	sync_three("g", ids, gen);
	join(&j, "g", ids[0], 5, CTX(0));
	T_EQ(j.rc, KQ_COORD_PENDING);
	join(&j, "g", ids[1], 5, CTX(1));
	T_EQ(j.rc, KQ_COORD_PENDING);
	T_EQ(leave("g", ids[0]), 0);
	T_EQ(rep(CTX(0))->err, KQ_E_UNKNOWN_MEMBER_ID);
	T_EQ(fk.nr, 1);
	join(&j, "g", ids[2], 5, CTX(2));
	T_EQ(j.rc, KQ_COORD_DONE);
	T_EQ(j.resp.GenerationId, gen + 1);
	T_EQ(rep(CTX(1))->err, 0);
	T_EQ(rep(CTX(1))->gen, gen + 1);
	T_EQ(rep(CTX(1))->nmembers, 2);
	T_STREQ(rep(CTX(1))->leader, ids[1]);

	/* a follower's SyncGroup, held until the leader syncs */
	fk_reset(100);
	gen = three_member_group("g", ids);
	T_EQ(sync_req("g", ids[1], gen, CTX(11), NULL, NULL, 0, &resp), KQ_COORD_PENDING);
	T_EQ(leave("g", ids[1]), 0);
	T_EQ(rep(CTX(11))->api, KQ_API_SYNC_GROUP);
	T_EQ(rep(CTX(11))->err, KQ_E_UNKNOWN_MEMBER_ID);
	T_STREQ(state("g"), "PreparingRebalance");
	T_EQ(heartbeat("g", ids[0], NULL, gen), KQ_E_REBALANCE_IN_PROGRESS);
	join(&j, "g", ids[0], 5, CTX(0));
	T_EQ(j.rc, KQ_COORD_PENDING);
	join(&j, "g", ids[2], 5, CTX(2));
	T_EQ(j.rc, KQ_COORD_DONE);
	T_EQ(rep(CTX(0))->gen, gen + 1);
	T_EQ(rep(CTX(0))->nmembers, 2);
}

static void
test_commit_rules(void)
{
	char ids[3][160];
	struct jr j;
	int32_t gen;
	int err;

	fk_reset(100);
	gen = three_member_group("g", ids);
	/* CompletingRebalance */
	T_EQ(commit("g", ids[0], gen, "t0", 0, 5, 0, CTX(50), &err), KQ_COORD_DONE);
	T_EQ(err, KQ_E_REBALANCE_IN_PROGRESS);
	sync_three("g", ids, gen);
	T_EQ(commit("g", ids[0], gen - 1, "t0", 0, 5, 0, CTX(50), &err), KQ_COORD_DONE);
	T_EQ(err, KQ_E_ILLEGAL_GENERATION);
	T_EQ(commit("g", "stranger", gen, "t0", 0, 5, 0, CTX(50), &err), KQ_COORD_DONE);
	T_EQ(err, KQ_E_UNKNOWN_MEMBER_ID);
	/* member-less commit to a group with members */
	T_EQ(commit("g", "", -1, "t0", 0, 5, 0, CTX(50), &err), KQ_COORD_DONE);
	T_EQ(err, KQ_E_UNKNOWN_MEMBER_ID);
	T_EQ(commit("g", ids[0], gen, "t0", 0, 5, 4097, CTX(50), &err), KQ_COORD_DONE);
	T_EQ(err, KQ_E_OFFSET_METADATA_TOO_LARGE);
	/* unknown group: generation >= 0 is stale, -1 is a simple commit */
	T_EQ(commit("other", "m", 3, "t0", 0, 5, 0, CTX(50), &err), KQ_COORD_DONE);
	T_EQ(err, KQ_E_ILLEGAL_GENERATION);
	T_STREQ(state("other"), "Dead");
	T_EQ(commit("other", "", -1, "t0", 0, 5, 4096, CTX(50), &err), KQ_COORD_PENDING);
	ack_all(0);
	T_EQ(rep(CTX(50))->perr, 0);
	T_STREQ(state("other"), "Empty");
	/* PreparingRebalance still accepts the current generation */
	join(&j, "g", ids[0], 5, CTX(0));
	T_STREQ(state("g"), "PreparingRebalance");
	T_EQ(commit("g", ids[1], gen, "t0", 1, 9, 0, CTX(51), &err), KQ_COORD_PENDING);
	ack_all(0);
	T_EQ(rep(CTX(51))->perr, 0);
	T_EQ(fetch("g", "t0", 1, NULL), 9);
}

/* commitTimestamp of the one offset record in the last append (value v3). */
static int64_t
last_commit_ts(void)
{
	const struct append *a = &fk.ap[fk.nap - 1];
	struct kq_batch_iter it;
	struct kq_record rec;
	int64_t ts = -2;

	memset(&it, 0, sizeof(it));
	if (kq_batch_iter_init(&it, a->batch, a->len) == 0 && kq_batch_iter_next(&it, &rec) == 1 &&
	    rec.value.len >= 16) {
		size_t at = 2 + 8 + 4 + 2 + kq_be16(rec.value.p + 14);

		if ((size_t)rec.value.len >= at + 8)
			ts = (int64_t)kq_be64(rec.value.p + at);
	}
	kq_batch_iter_free(&it);
	return ts;
}

/* OffsetCommit v0 has no generation check (Kafka 3.9 keeps it apart); v1 has, and a time. */
static void
test_commit_old_versions(void)
{
	char ids[3][160];
	int32_t gen;
	int err;

	fk_reset(100);
	gen = three_member_group("g", ids);
	sync_three("g", ids, gen);
	T_EQ(commit_v(1, -1, "g", "", -1, "t0", 0, 5, 0, CTX(50), &err), KQ_COORD_DONE);
	T_EQ(err, KQ_E_UNKNOWN_MEMBER_ID);
	T_EQ(commit_v(0, -1, "g", "", -1, "t0", 0, 6, 0, CTX(50), &err), KQ_COORD_PENDING);
	T_EQ(last_commit_ts(), fk.now);
	ack_all(0);
	T_EQ(rep(CTX(50))->perr, 0);
	T_EQ(fetch("g", "t0", 0, NULL), 6);
	T_STREQ(state("g"), "Stable");
	/* v1: a member's commit, stored with its own timestamp (-1 = now) */
	T_EQ(commit_v(1, 1234, "g", ids[0], gen, "t0", 1, 7, 0, CTX(51), &err),
	     KQ_COORD_PENDING);
	T_EQ(last_commit_ts(), 1234);
	ack_all(0);
	T_EQ(rep(CTX(51))->perr, 0);
	T_EQ(commit_v(1, -1, "g", ids[0], gen, "t0", 1, 8, 0, CTX(52), &err), KQ_COORD_PENDING);
	T_EQ(last_commit_ts(), fk.now);
	ack_all(0);
	T_EQ(fetch("g", "t0", 1, NULL), 8);
	T_EQ(commit_v(1, 1234, "g", ids[0], gen - 1, "t0", 1, 9, 0, CTX(53), &err), KQ_COORD_DONE);
	T_EQ(err, KQ_E_ILLEGAL_GENERATION);
}

static void
test_commit_waits_for_append(void)
{
	int err;
	int32_t epoch;
	struct reply *r;

	fk_reset(100);
	T_EQ(commit("g", "", -1, "t0", 2, 42, 3, CTX(1), &err), KQ_COORD_PENDING);
	T_EQ(fk.nr, 0);
	T_EQ(fk.nap, 1);
	/* not durable yet: not visible, not answered */
	T_EQ(fetch("g", "t0", 2, NULL), -1);
	ack_all(0);
	T_EQ(fk.nr, 1);
	r = find_reply(CTX(1));
	T_OK(r && r->api == KQ_API_OFFSET_COMMIT && r->perr == 0, "answered");
	T_EQ(fetch("g", "t0", 2, &epoch), 42);
	T_EQ(epoch, 7);
	/* a failed append is reported with Kafka's mapping and changes nothing */
	T_EQ(commit("g", "", -1, "t0", 2, 50, 0, CTX(2), &err), KQ_COORD_PENDING);
	ack_all(KQ_E_KAFKA_STORAGE_ERROR);
	T_EQ(rep(CTX(2))->perr, KQ_E_NOT_COORDINATOR);
	T_EQ(fetch("g", "t0", 2, NULL), 42);
	/* a forgotten ctx gets nothing */
	fk.nr = 0;
	T_EQ(commit("g", "", -1, "t0", 2, 60, 0, CTX(3), &err), KQ_COORD_PENDING);
	kq_coord_forget_ctx(fk.c, CTX(3));
	ack_all(0);
	T_EQ(fk.nr, 0);
	T_EQ(fetch("g", "t0", 2, NULL), 60);
	/* synchronous acknowledgement: answered in the call */
	fk.auto_done = true;
	T_EQ(commit("g", "", -1, "t0", 2, 61, 0, CTX(4), &err), KQ_COORD_DONE);
	T_EQ(err, 0);
	T_EQ(fk.nr, 0);
	T_EQ(fetch("g", "t0", 2, NULL), 61);
}

/* Replay every appended batch into a fresh coordinator. */
static struct kq_coord *
replay(void)
{
	struct kq_coord_config cc;
	struct kq_coord *c2;
	int bad = 0;

	kq_coord_config_defaults(&cc);
	cc.reply = on_reply;
	cc.append = on_append;
	c2 = kq_coord_new(&cc);
	for (int p = 0; p < 50; p++)
		kq_coord_load_begin(c2, p);
	for (int i = 0; i < fk.nap; i++) {
		struct kq_batch_iter it;
		struct kq_record rec;

		T_EQ(kq_batch_iter_init(&it, fk.ap[i].batch, fk.ap[i].len), 0);
		T_OK(kq_batch_crc_ok(fk.ap[i].batch, fk.ap[i].len), "crc");
		while (kq_batch_iter_next(&it, &rec) == 1)
			if (kq_coord_load_record(c2, fk.ap[i].partition, rec.key, rec.value,
						 fk.now) != 0)
				bad++;
		kq_batch_iter_free(&it);
	}
	T_EQ(bad, 0);
	for (int p = 0; p < 50; p++)
		kq_coord_load_end(c2, p, fk.now);
	return c2;
}

static void
test_replay(void)
{
	char ids[3][160];
	struct kq_coord *c2, *save;
	struct kq_OffsetDeleteRequest dreq;
	struct kq_OffsetDeleteRequest_OffsetDeleteRequestTopic dt;
	struct kq_OffsetDeleteRequest_OffsetDeleteRequestPartition dp;
	struct kq_OffsetDeleteResponse dresp;
	struct kq_buf k = { 0 };
	int32_t gen, epoch;
	int err;

	fk_reset(100);
	gen = three_member_group("g", ids);
	sync_three("g", ids, gen);
	T_EQ(commit("g", ids[1], gen, "t0", 0, 100, 0, CTX(1), &err), KQ_COORD_PENDING);
	T_EQ(commit("g", ids[1], gen, "t0", 0, 101, 0, CTX(1), &err), KQ_COORD_PENDING);
	T_EQ(commit("s", "", -1, "t1", 3, 33, 0, CTX(1), &err), KQ_COORD_PENDING);
	T_EQ(commit("s", "", -1, "t1", 4, 44, 0, CTX(1), &err), KQ_COORD_PENDING);
	ack_all(0);
	/* delete one offset of "s" (Empty group: allowed) */
	kq_OffsetDeleteRequest_init(&dreq);
	dreq.GroupId = kq_str_c("s");
	dt.Name = kq_str_c("t1");
	dp.PartitionIndex = 4;
	dt.Partitions = &dp;
	dt.Partitions_count = 1;
	dreq.Topics = &dt;
	dreq.Topics_count = 1;
	T_EQ(kq_coord_offset_delete(fk.c, &dreq, 0, CTX(2), fk.now, &ar, &dresp),
	     KQ_COORD_PENDING);
	ack_all(0);
	c2 = replay();
	save = fk.c;
	fk.c = c2;
	T_EQ(fetch("g", "t0", 0, &epoch), 101);
	T_EQ(epoch, 7);
	T_EQ(fetch("s", "t1", 3, NULL), 33);
	T_EQ(fetch("s", "t1", 4, NULL), -1);
	/* groups come back Empty; the old generation's members are unknown */
	T_STREQ(state("g"), "Empty");
	T_EQ(commit("g", ids[1], gen, "t0", 0, 102, 0, CTX(1), &err), KQ_COORD_DONE);
	T_EQ(err, KQ_E_UNKNOWN_MEMBER_ID);
	/* bad records are refused, not fatal */
	kq_wr_i16(&k, 9);
	T_EQ(kq_coord_load_record(c2, 0, kq_bytes_of(k.buf, k.len), KQ_BYTES_NULL, fk.now),
	     KQ_ERR_UNSUPPORTED);
	kq_buf_reset(&k);
	kq_wr_i16(&k, 1);
	kq_wr_i16(&k, 200);	/* string longer than the key */
	T_EQ(kq_coord_load_record(c2, 0, kq_bytes_of(k.buf, k.len), KQ_BYTES_NULL, fk.now),
	     KQ_ERR_CORRUPT);
	kq_buf_free(&k);
	fk.c = save;
	kq_coord_free(c2);
}

static void
test_delete_groups(void)
{
	char ids[3][160];
	struct kq_DeleteGroupsRequest req;
	struct kq_DeleteGroupsResponse resp;
	struct kq_DescribeGroupsRequest dreq;
	struct kq_DescribeGroupsResponse dresp;
	struct kq_str names[3];
	struct kq_coord *c2, *save;
	int32_t gen;
	int err;

	fk_reset(100);
	gen = three_member_group("busy", ids);
	sync_three("busy", ids, gen);
	T_EQ(commit("idle", "", -1, "t0", 0, 5, 0, CTX(1), &err), KQ_COORD_PENDING);
	ack_all(0);
	kq_DeleteGroupsRequest_init(&req);
	names[0] = kq_str_c("busy");
	names[1] = kq_str_c("nothere");
	names[2] = kq_str_c("idle");
	req.GroupsNames = names;
	req.GroupsNames_count = 3;
	T_EQ(kq_coord_delete_groups(fk.c, &req, 1, CTX(2), fk.now, &ar, &resp), KQ_COORD_PENDING);
	T_EQ(find_reply(CTX(2)), NULL);
	ack_all(0);
	T_OK(find_reply(CTX(2)) != NULL, "answered after the tombstones");
	kq_DescribeGroupsRequest_init(&dreq);
	dreq.Groups = names;
	dreq.Groups_count = 3;
	T_EQ(kq_coord_describe(fk.c, &dreq, 4, CTX(3), fk.now, &ar, &dresp), KQ_COORD_DONE);
	T_EQ(dresp.Groups_count, 3);
	T_OK(kq_str_eq(dresp.Groups[0].GroupState, "Stable"), "busy stable");
	T_OK(kq_str_eq(dresp.Groups[0].ProtocolData, "range"), "protocol");
	T_EQ(dresp.Groups[0].Members_count, 3);
	T_OK(kq_str_eq(dresp.Groups[0].Members[0].ClientHost, "/127.0.0.1"), "host");
	T_OK(dresp.Groups[0].Members[1].MemberAssignment.len == 2, "assignment shown");
	T_OK(kq_str_eq(dresp.Groups[1].GroupState, "Dead"), "unknown is Dead");
	T_EQ(dresp.Groups[1].ErrorCode, 0);
	T_OK(kq_str_eq(dresp.Groups[2].GroupState, "Dead"), "deleted");
	/* the full response as the broker sends it */
	{
		struct reply *r = find_reply(CTX(2));

		T_EQ(r->perr, KQ_E_NON_EMPTY_GROUP);
	}
	/* check every result through a second request */
	names[0] = kq_str_c("idle");
	names[1] = kq_str_c("nothere");
	req.GroupsNames_count = 2;
	T_EQ(kq_coord_delete_groups(fk.c, &req, 1, CTX(4), fk.now, &ar, &resp), KQ_COORD_DONE);
	T_EQ(resp.Results[0].ErrorCode, KQ_E_GROUP_ID_NOT_FOUND);
	T_EQ(resp.Results[1].ErrorCode, KQ_E_GROUP_ID_NOT_FOUND);
	/* the deletion survives a reload: tombstones */
	c2 = replay();
	save = fk.c;
	fk.c = c2;
	T_STREQ(state("idle"), "Dead");
	T_STREQ(state("busy"), "Empty");
	fk.c = save;
	kq_coord_free(c2);
}

static void
test_offset_delete(void)
{
	char ids[3][160];
	struct kq_OffsetDeleteRequest req;
	struct kq_OffsetDeleteRequest_OffsetDeleteRequestTopic t[2];
	struct kq_OffsetDeleteRequest_OffsetDeleteRequestPartition p = { 0 };
	struct kq_OffsetDeleteResponse resp;
	int32_t gen;
	int err;

	fk_reset(100);
	gen = three_member_group("g", ids);
	sync_three("g", ids, gen);
	T_EQ(commit("g", ids[0], gen, "t0", 0, 5, 0, CTX(1), &err), KQ_COORD_PENDING);
	T_EQ(commit("g", ids[0], gen, "t9", 0, 6, 0, CTX(1), &err), KQ_COORD_PENDING);
	ack_all(0);
	kq_OffsetDeleteRequest_init(&req);
	req.GroupId = kq_str_c("g");
	t[0].Name = kq_str_c("t0");
	t[1].Name = kq_str_c("t9");
	t[0].Partitions = t[1].Partitions = &p;
	t[0].Partitions_count = t[1].Partitions_count = 1;
	req.Topics = t;
	req.Topics_count = 2;
	fk.auto_done = true;
	T_EQ(kq_coord_offset_delete(fk.c, &req, 0, CTX(2), fk.now, &ar, &resp), KQ_COORD_DONE);
	T_EQ(resp.ErrorCode, 0);
	T_EQ(resp.Topics[0].Partitions[0].ErrorCode, KQ_E_GROUP_SUBSCRIBED_TO_TOPIC);
	T_EQ(resp.Topics[1].Partitions[0].ErrorCode, 0);
	T_EQ(fetch("g", "t0", 0, NULL), 5);
	T_EQ(fetch("g", "t9", 0, NULL), -1);
	req.GroupId = kq_str_c("none");
	T_EQ(kq_coord_offset_delete(fk.c, &req, 0, CTX(3), fk.now, &ar, &resp), KQ_COORD_DONE);
	T_EQ(resp.ErrorCode, KQ_E_GROUP_ID_NOT_FOUND);
}

static void
test_join_errors(void)
{
	struct kq_JoinGroupRequest req;
	struct kq_JoinGroupResponse resp;
	struct kq_JoinGroupRequest_JoinGroupRequestProtocol ps = { kq_str_c("range"),
								  { (const unsigned char *)"", 0 } };
	struct jr j;

	fk_reset(0);
	kq_JoinGroupRequest_init(&req);
	req.GroupId = kq_str_c("");
	req.SessionTimeoutMs = 10000;
	req.MemberId = kq_str_c("");
	req.ProtocolType = kq_str_c("consumer");
	req.Protocols = &ps;
	req.Protocols_count = 1;
	T_EQ(kq_coord_join(fk.c, &req, 2, NULL, CTX(0), fk.now, &ar, &resp), KQ_COORD_DONE);
	T_EQ(resp.ErrorCode, KQ_E_INVALID_GROUP_ID);
	req.GroupId = kq_str_c("g");
	req.SessionTimeoutMs = 5999;
	T_EQ(kq_coord_join(fk.c, &req, 2, NULL, CTX(0), fk.now, &ar, &resp), KQ_COORD_DONE);
	T_EQ(resp.ErrorCode, KQ_E_INVALID_SESSION_TIMEOUT);
	req.SessionTimeoutMs = 1800001;
	T_EQ(kq_coord_join(fk.c, &req, 2, NULL, CTX(0), fk.now, &ar, &resp), KQ_COORD_DONE);
	T_EQ(resp.ErrorCode, KQ_E_INVALID_SESSION_TIMEOUT);
	req.SessionTimeoutMs = 10000;
	req.MemberId = kq_str_c("made-up");
	T_EQ(kq_coord_join(fk.c, &req, 2, NULL, CTX(0), fk.now, &ar, &resp), KQ_COORD_DONE);
	T_EQ(resp.ErrorCode, KQ_E_UNKNOWN_MEMBER_ID);
	T_STREQ(state("g"), "Dead");
	/* a group with a member using "range" refuses one offering only "sticky" */
	fk.auto_done = true;
	join(&j, "g", "", 2, CTX(1));
	T_EQ(j.rc, KQ_COORD_DONE);
	T_EQ(j.resp.ErrorCode, 0);
	req.MemberId = kq_str_c("");
	ps.Name = kq_str_c("sticky");
	T_EQ(kq_coord_join(fk.c, &req, 2, NULL, CTX(0), fk.now, &ar, &resp), KQ_COORD_DONE);
	T_EQ(resp.ErrorCode, KQ_E_INCONSISTENT_GROUP_PROTOCOL);
	/* a MEMBER_ID_REQUIRED id that never comes back expires with its group */
	join(&j, "lonely", "", 4, CTX(2));
	T_EQ(j.resp.ErrorCode, KQ_E_MEMBER_ID_REQUIRED);
	T_STREQ(state("lonely"), "Empty");
	fk.now += 9999;
	kq_coord_tick(fk.c, fk.now);
	T_STREQ(state("lonely"), "Empty");
	fk.now += 1;
	kq_coord_tick(fk.c, fk.now);
	T_STREQ(state("lonely"), "Dead");
	/* not ours / loading */
	kq_coord_unload(fk.c, kq_coord_partition_for(fk.c, kq_str_c("g")));
	T_EQ(heartbeat("g", j.member, NULL, 1), KQ_E_NOT_COORDINATOR);
	kq_coord_load_begin(fk.c, kq_coord_partition_for(fk.c, kq_str_c("g")));
	T_EQ(heartbeat("g", j.member, NULL, 1), KQ_E_COORDINATOR_LOAD_IN_PROGRESS);
}

static void
test_protocol_vote(void)
{
	struct jr j;

	/* (range, roundrobin), (roundrobin, range), (roundrobin, range):
	 * roundrobin wins 2 votes to 1 */
	fk_reset(50);
	join_full(&j, "g", "", NULL, 3, CTX(0), "t0", "roundrobin");
	T_EQ(j.rc, KQ_COORD_PENDING);
	for (int i = 1; i < 3; i++) {
		struct kq_JoinGroupRequest req;
		struct kq_JoinGroupResponse resp;
		struct kq_JoinGroupRequest_JoinGroupRequestProtocol ps[2];

		kq_JoinGroupRequest_init(&req);
		req.GroupId = kq_str_c("g");
		req.SessionTimeoutMs = 10000;
		req.MemberId = kq_str_c("");
		req.ProtocolType = kq_str_c("consumer");
		ps[0].Name = kq_str_c("roundrobin");
		ps[1].Name = kq_str_c("range");
		ps[0].Metadata = ps[1].Metadata = sub_blob("t0", NULL);
		req.Protocols = ps;
		req.Protocols_count = 2;
		T_EQ(kq_coord_join(fk.c, &req, 3, NULL, CTX(i), fk.now, &ar, &resp),
		     KQ_COORD_PENDING);
		/* a different protocol type is refused */
		req.ProtocolType = kq_str_c("connect");
		T_EQ(kq_coord_join(fk.c, &req, 3, NULL, CTX(9), fk.now, &ar, &resp), KQ_COORD_DONE);
		T_EQ(resp.ErrorCode, KQ_E_INCONSISTENT_GROUP_PROTOCOL);
	}
	fk.now += 50;
	kq_coord_tick(fk.c, fk.now);
	fk.now += 50;
	kq_coord_tick(fk.c, fk.now);
	T_EQ(fk.nr, 3);
	T_STREQ(rep(CTX(2))->protocol, "roundrobin");
	T_EQ(rep(CTX(0))->nmembers, 3);

	/* a tie (one vote each) goes to the first member's order */
	fk_reset(0);
	fk.auto_done = true;
	join_full(&j, "h", "", NULL, 3, CTX(0), "t0", "roundrobin");
	T_OK(kq_str_eq(j.resp.ProtocolName, "range"), "alone: its first choice");
}

static void
test_static_member(void)
{
	struct jr j;
	struct kq_SyncGroupResponse resp;
	char a[160], b[160];
	const char *ids[2];
	const char *blobs[2] = { "AA", "BB" };

	fk_reset(0);
	/* static members skip MEMBER_ID_REQUIRED */
	join_full(&j, "g", "", "inst-a", 5, CTX(0), "t0", NULL);
	T_EQ(j.rc, KQ_COORD_DONE);
	T_EQ(j.resp.ErrorCode, 0);
	strcpy(a, j.member);
	join_full(&j, "g", "", "inst-b", 5, CTX(1), "t0", NULL);
	T_EQ(j.rc, KQ_COORD_PENDING);
	join_full(&j, "g", a, "inst-a", 5, CTX(2), "t0", NULL);
	T_EQ(j.rc, KQ_COORD_DONE);
	T_EQ(j.resp.GenerationId, 2);
	T_STREQ(rep(CTX(1))->leader, a);
	strcpy(b, rep(CTX(1))->member);
	ids[0] = a;
	ids[1] = b;
	fk.auto_done = true;
	T_EQ(sync_req("g", b, 2, CTX(3), NULL, NULL, 0, &resp), KQ_COORD_PENDING);
	T_EQ(sync_req("g", a, 2, CTX(4), ids, blobs, 2, &resp), KQ_COORD_DONE);
	T_STREQ(state("g"), "Stable");
	/* inst-b restarts: new member id, no rebalance, old id fenced */
	join_full(&j, "g", "", "inst-b", 5, CTX(5), "t0", NULL);
	T_EQ(j.rc, KQ_COORD_DONE);
	T_EQ(j.resp.ErrorCode, 0);
	T_EQ(j.resp.GenerationId, 2);
	T_OK(strcmp(j.member, b) != 0, "new id");
	T_STREQ(state("g"), "Stable");
	T_EQ(heartbeat("g", b, "inst-b", 2), KQ_E_FENCED_INSTANCE_ID);
	T_EQ(heartbeat("g", j.member, "inst-b", 2), 0);
	T_EQ(sync_req("g", j.member, 2, CTX(6), NULL, NULL, 0, &resp), KQ_COORD_DONE);
	T_OK(resp.Assignment.len == 2 && memcmp(resp.Assignment.p, "BB", 2) == 0, "kept");
}

static void
test_forget_ctx(void)
{
	struct jr j;

	fk_reset(100);
	join(&j, "g", "", 3, CTX(0));
	T_EQ(j.rc, KQ_COORD_PENDING);
	kq_coord_forget_ctx(fk.c, CTX(0));
	fk.now += 200;
	kq_coord_tick(fk.c, fk.now);
	T_EQ(fk.nr, 0);
	T_STREQ(state("g"), "CompletingRebalance");
	/* it never syncs: dropped at the sync timeout (rebalance timeout) */
	fk.now += 20000;
	kq_coord_tick(fk.c, fk.now);
	T_STREQ(state("g"), "Empty");
}

static void
test_unload(void)
{
	struct jr j;
	int32_t p;

	fk_reset(100);
	join(&j, "g", "", 3, CTX(0));
	T_EQ(j.rc, KQ_COORD_PENDING);
	/* leadership of the offsets partition moves away: held requests are told */
	p = kq_coord_partition_for(fk.c, kq_str_c("g"));
	T_EQ(kq_coord_partition_state(fk.c, p), 2);
	kq_coord_unload(fk.c, p);
	T_EQ(fk.nr, 1);
	T_EQ(rep(CTX(0))->err, KQ_E_NOT_COORDINATOR);
	T_EQ(kq_coord_partition_state(fk.c, p), 0);
	T_STREQ(state("g"), "Dead");
	join(&j, "g", "", 3, CTX(1));
	T_EQ(j.resp.ErrorCode, KQ_E_NOT_COORDINATOR);
	/* a client id with a NUL still gets a full, unique id */
	kq_coord_load_begin(fk.c, p);
	kq_coord_load_end(fk.c, p, fk.now);
	{
		struct kq_JoinGroupRequest req;
		struct kq_JoinGroupResponse resp;
		struct kq_JoinGroupRequest_JoinGroupRequestProtocol ps;
		struct kq_coord_client cl = { { "ab\0cd", 5 }, NULL };

		kq_JoinGroupRequest_init(&req);
		req.GroupId = kq_str_c("g");
		req.SessionTimeoutMs = 10000;
		req.MemberId = kq_str_c("");
		req.ProtocolType = kq_str_c("consumer");
		ps.Name = kq_str_c("range");
		ps.Metadata = sub_blob("t0", NULL);
		req.Protocols = &ps;
		req.Protocols_count = 1;
		T_EQ(kq_coord_join(fk.c, &req, 4, &cl, CTX(2), fk.now, &ar, &resp), KQ_COORD_DONE);
		T_EQ(resp.ErrorCode, KQ_E_MEMBER_ID_REQUIRED);
		T_EQ(resp.MemberId.len, 2 + 1 + 36);
	}
}

static void
test_fetch_all_and_list(void)
{
	struct kq_OffsetFetchRequest req;
	struct kq_OffsetFetchResponse resp;
	struct kq_ListGroupsRequest lreq;
	struct kq_ListGroupsResponse lresp;
	struct kq_FindCoordinatorRequest freq;
	struct kq_FindCoordinatorResponse fresp;
	int err;

	fk_reset(100);
	fk.auto_done = true;
	commit("g", "", -1, "b", 1, 11, 0, CTX(0), &err);
	commit("g", "a", -1, "a", 0, 10, 0, CTX(0), &err);	/* member without generation */
	T_EQ(err, KQ_E_UNKNOWN_MEMBER_ID);
	commit("g", "", -1, "a", 0, 10, 0, CTX(0), &err);
	commit("g", "", -1, "b", 0, 12, 0, CTX(0), &err);
	kq_OffsetFetchRequest_init(&req);
	req.GroupId = kq_str_c("g");
	req.Topics_count = -1;
	T_EQ(kq_coord_fetch(fk.c, &req, 2, CTX(1), fk.now, &ar, &resp), KQ_COORD_DONE);
	T_EQ(resp.ErrorCode, 0);
	T_EQ(resp.Topics_count, 2);
	T_OK(kq_str_eq(resp.Topics[0].Name, "a") && resp.Topics[0].Partitions_count == 1, "a");
	T_OK(kq_str_eq(resp.Topics[1].Name, "b") && resp.Topics[1].Partitions_count == 2, "b");
	T_EQ(resp.Topics[1].Partitions[0].CommittedOffset, 12);
	T_EQ(resp.Topics[1].Partitions[1].CommittedOffset, 11);
	kq_ListGroupsRequest_init(&lreq);
	T_EQ(kq_coord_list(fk.c, &lreq, 2, CTX(2), fk.now, &ar, &lresp), KQ_COORD_DONE);
	T_EQ(lresp.ErrorCode, 0);
	T_EQ(lresp.Groups_count, 1);
	T_OK(kq_str_eq(lresp.Groups[0].GroupId, "g"), "listed");
	kq_FindCoordinatorRequest_init(&freq);
	freq.Key = kq_str_c("g");
	T_EQ(kq_coord_find(fk.c, &freq, 2, 7, "host1", 9092, &ar, &fresp), KQ_COORD_DONE);
	T_EQ(fresp.ErrorCode, 0);
	T_EQ(fresp.NodeId, 7);
	T_EQ(fresp.Port, 9092);
	freq.KeyType = 1;
	kq_coord_find(fk.c, &freq, 2, 7, "host1", 9092, &ar, &fresp);
	T_EQ(fresp.ErrorCode, KQ_E_INVALID_REQUEST);
}

static void
test_placement(void)
{
	fk_reset(0);
	/* values from Java's String.hashCode */
	T_EQ(kq_group_java_hash("test-group", 10), 627841412);
	T_EQ(kq_group_java_hash("my-group", 8), -1906497762);
	T_EQ(kq_group_java_hash("gr\xc3\xbcppe", 7), -1233264812);
	T_EQ(kq_group_java_hash("g\xf0\x9f\x98\x80", 5), 1871882);
	T_EQ(kq_group_java_hash("polygenelubricants", 18), INT32_MIN);
	T_EQ(kq_coord_partition_for(fk.c, kq_str_c("test-group")), 12);
	T_EQ(kq_coord_partition_for(fk.c, kq_str_c("my-group")), 12);
	T_EQ(kq_coord_partition_for(fk.c, kq_str_c("g\xf0\x9f\x98\x80")), 32);
	T_EQ(kq_coord_partition_for(fk.c, kq_str_c("polygenelubricants")), 0);
}


/* ---- random operation sequences: every held request is answered once ---- */

#define RCLIENTS 8
#define RCTX RCTX_MAX

static struct {
	char member[RCLIENTS][160];
	int32_t gen[RCLIENTS];
	bool leader[RCLIENTS];
	unsigned char outstanding[RCTX];	/* 1 = PENDING, not answered */
	int ctx_client[RCTX];
	int16_t ctx_api[RCTX];
	int next_ctx;
	int bad;
	uint64_t rng;
} rs;

static uint32_t
rnd(uint32_t n)
{
	rs.rng = rs.rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rs.rng >> 33) % n;
}

static void
learn_join(int cl, const struct kq_JoinGroupResponse *r)
{
	if (r->ErrorCode == 0 || r->ErrorCode == KQ_E_MEMBER_ID_REQUIRED)
		snprintf(rs.member[cl], sizeof(rs.member[cl]), "%.*s", (int)r->MemberId.len,
			 r->MemberId.p);
	if (r->ErrorCode == KQ_E_UNKNOWN_MEMBER_ID)
		rs.member[cl][0] = 0;
	if (r->ErrorCode == 0) {
		rs.gen[cl] = r->GenerationId;
		rs.leader[cl] = r->Members_count > 0;
	}
}

static void
random_hook(void *ctx, int16_t api, const void *resp)
{
	int i = (int)((int *)ctx - ctxs_big());

	if (i < 0 || i >= RCTX || !rs.outstanding[i] || rs.ctx_api[i] != api) {
		rs.bad++;
		return;
	}
	rs.outstanding[i] = 0;
	if (api == KQ_API_JOIN_GROUP)
		learn_join(rs.ctx_client[i], resp);
	if (getenv("KQ_TEST_STATS")) {
		int e = api == KQ_API_JOIN_GROUP ? ((const struct kq_JoinGroupResponse *)resp)->ErrorCode :
			api == KQ_API_SYNC_GROUP ? ((const struct kq_SyncGroupResponse *)resp)->ErrorCode :
			((const struct kq_OffsetCommitResponse *)resp)->Topics[0].Partitions[0].ErrorCode;
		fprintf(stderr, "stat %d %d\n", api, e);
	}
}

static void *
new_ctx(int cl, int16_t api)
{
	int i = rs.next_ctx++ % RCTX;

	KQ_ASSERT(!rs.outstanding[i]);
	rs.ctx_client[i] = cl;
	rs.ctx_api[i] = api;
	return ctxs_big() + i;
}

static void
track(void *ctx, int rc)
{
	int i = (int)((int *)ctx - ctxs_big());

	if (rc == KQ_COORD_PENDING)
		rs.outstanding[i] = 1;
}

static void
random_step(const char *group)
{
	int cl = (int)rnd(RCLIENTS), rc, err;
	void *ctx;

	switch (rnd(10)) {
	case 0:
	case 1: {
		struct jr j;

		ctx = new_ctx(cl, KQ_API_JOIN_GROUP);
		join_full(&j, group, rs.member[cl], NULL, (int16_t)(2 + rnd(4)), ctx,
			  rnd(2) ? "t0" : "t1", rnd(2) ? "roundrobin" : NULL);
		track(ctx, j.rc);
		if (j.rc == KQ_COORD_DONE)
			learn_join(cl, &j.resp);
		break;
	}
	case 2: {
		struct kq_SyncGroupResponse resp;
		const char *ids[RCLIENTS], *blobs[RCLIENTS];
		int n = 0;

		if (rs.leader[cl])
			for (int k = 0; k < RCLIENTS; k++)
				if (rs.member[k][0]) {
					ids[n] = rs.member[k];
					blobs[n++] = "x";
				}
		ctx = new_ctx(cl, KQ_API_SYNC_GROUP);
		rc = sync_req(group, rs.member[cl], rs.gen[cl], ctx, ids, blobs, n, &resp);
		track(ctx, rc);
		break;
	}
	case 3:
	case 4:
		heartbeat(group, rs.member[cl], NULL, rs.gen[cl]);
		break;
	case 5:
		if (rnd(4) == 0 && leave(group, rs.member[cl]) == 0)
			rs.member[cl][0] = 0;
		break;
	case 6:
		ctx = new_ctx(cl, KQ_API_OFFSET_COMMIT);
		rc = commit(group, rs.member[cl], rs.member[cl][0] ? rs.gen[cl] : -1, "t0",
			    (int32_t)rnd(3), rnd(1000), 0, ctx, &err);
		track(ctx, rc);
		break;
	case 7:
		fk.now += rnd(6000);
		kq_coord_tick(fk.c, fk.now);
		break;
	case 8:
		for (uint32_t k = rnd(4); k > 0; k--)
			ack_first();
		break;
	default: {
		/* a connection closes: forget one outstanding request */
		int i = (int)rnd(RCTX);

		if (rs.outstanding[i]) {
			kq_coord_forget_ctx(fk.c, ctxs_big() + i);
			rs.outstanding[i] = 0;
		}
		break;
	}
	}
}

static void
test_random_sequences(void)
{
	for (uint64_t seed = 1; seed <= 40; seed++) {
		int left = 0;

		fk_reset((int32_t)(seed % 3) * 100);
		memset(&rs, 0, sizeof(rs));
		rs.rng = seed;
		reply_hook = random_hook;
		for (int step = 0; step < 1500; step++)
			random_step(seed % 2 ? "g" : "h");
		/* drain: acknowledge everything, let every timer run out */
		for (int round = 0; round < 20; round++) {
			ack_all(0);
			fk.now += 30000;
			kq_coord_tick(fk.c, fk.now);
		}
		for (int i = 0; i < RCTX; i++)
			left += rs.outstanding[i];
		T_OK(rs.bad == 0, "seed %llu: %d unexpected replies", (unsigned long long)seed,
		     rs.bad);
		T_OK(left == 0, "seed %llu: %d requests never answered", (unsigned long long)seed,
		     left);
		reply_hook = NULL;
		if (rs.bad || left)
			break;
	}
}

/* ---- assignors ---- */

static void
fmt_result(const struct kq_assign_result *r, char *out, size_t n)
{
	size_t len = 0;

	out[0] = 0;
	for (int t = 0; t < r->ntopics; t++)
		for (int p = 0; p < r->topics[t].npartitions; p++)
			len += (size_t)snprintf(out + len, n - len, "%s%sp%d", len ? "," : "",
						r->topics[t].topic, r->topics[t].partitions[p]);
}

static void
test_assign_kafka_examples(void)
{
	const char *both[] = { "t0", "t1" };
	const char *s0[] = { "t0" }, *s1[] = { "t0", "t1" }, *s2[] = { "t0", "t1", "t2" };
	struct kq_assign_member m2[] = { { "C1", NULL, both, 2 }, { "C0", NULL, both, 2 } };
	struct kq_assign_topic t2[] = { { "t1", 3 }, { "t0", 3 } };
	struct kq_assign_member m3[] = { { "C0", NULL, s0, 1 }, { "C1", NULL, s1, 2 },
					 { "C2", NULL, s2, 3 } };
	struct kq_assign_topic t3[] = { { "t0", 1 }, { "t1", 2 }, { "t2", 3 } };
	struct kq_assign_result out[3];
	struct kq_arena a = { 0 };
	char buf[256];

	/* members given out of order: the result follows members[] */
	T_EQ(kq_assign_range(m2, 2, t2, 2, &a, out), 0);
	fmt_result(&out[1], buf, sizeof(buf));
	T_STREQ(buf, "t0p0,t0p1,t1p0,t1p1");
	fmt_result(&out[0], buf, sizeof(buf));
	T_STREQ(buf, "t0p2,t1p2");
	T_EQ(kq_assign_roundrobin(m2, 2, t2, 2, &a, out), 0);
	fmt_result(&out[1], buf, sizeof(buf));
	T_STREQ(buf, "t0p0,t0p2,t1p1");
	fmt_result(&out[0], buf, sizeof(buf));
	T_STREQ(buf, "t0p1,t1p0,t1p2");
	/* RoundRobinAssignor javadoc: unequal subscriptions */
	T_EQ(kq_assign_roundrobin(m3, 3, t3, 3, &a, out), 0);
	fmt_result(&out[0], buf, sizeof(buf));
	T_STREQ(buf, "t0p0");
	fmt_result(&out[1], buf, sizeof(buf));
	T_STREQ(buf, "t1p0");
	fmt_result(&out[2], buf, sizeof(buf));
	T_STREQ(buf, "t1p1,t2p0,t2p1,t2p2");
	T_EQ(kq_assign_range(m3, 3, t3, 3, &a, out), 0);
	fmt_result(&out[0], buf, sizeof(buf));
	T_STREQ(buf, "t0p0");
	fmt_result(&out[1], buf, sizeof(buf));
	T_STREQ(buf, "t1p0");
	fmt_result(&out[2], buf, sizeof(buf));
	T_STREQ(buf, "t1p1,t2p0,t2p1,t2p2");
	kq_arena_free(&a);
}

static void
test_assign_edges(void)
{
	const char *s[] = { "t", "missing" };
	struct kq_assign_member m[] = { { "b", NULL, s, 2 }, { "a", NULL, s, 2 },
					{ "c", "i0", s, 1 } };
	struct kq_assign_member dup[] = { { "a", NULL, s, 1 }, { "a", NULL, s, 1 } };
	struct kq_assign_topic t[] = { { "t", 7 }, { "zero", 0 } };
	struct kq_assign_result out[3];
	struct kq_ConsumerProtocolAssignment pa, back;
	struct kq_arena a = { 0 };
	struct kq_buf w = { 0 };
	char buf[256];
	int16_t ver;

	/* 7 partitions over 3 members: 3,2,2; a static member sorts first */
	T_EQ(kq_assign_range(m, 3, t, 2, &a, out), 0);
	fmt_result(&out[2], buf, sizeof(buf));
	T_STREQ(buf, "tp0,tp1,tp2");
	fmt_result(&out[1], buf, sizeof(buf));
	T_STREQ(buf, "tp3,tp4");
	fmt_result(&out[0], buf, sizeof(buf));
	T_STREQ(buf, "tp5,tp6");
	T_EQ(kq_assign_range(dup, 2, t, 2, &a, out), KQ_ERR_INVALID);
	T_EQ(kq_assign_range(m, 0, t, 2, &a, out), 0);
	T_EQ(kq_assign("sticky", m, 3, t, 2, &a, out), KQ_ERR_UNSUPPORTED);
	T_EQ(kq_assign("range", m, 3, t, 2, &a, out), 0);
	/* result -> protocol blob -> back */
	T_EQ(kq_assign_roundrobin(m, 3, t, 2, &a, out), 0);
	kq_assign_to_protocol(&out[2], &a, &pa);
	kq_consumer_asg_encode(&w, 0, &pa);
	T_EQ(kq_consumer_asg_decode(w.buf, w.len, &a, &ver, &back), 0);
	T_EQ(ver, 0);
	T_EQ(back.AssignedPartitions_count, 1);
	T_EQ(back.AssignedPartitions[0].Partitions_count, 3);
	T_EQ(back.AssignedPartitions[0].Partitions[2], 6);
	T_EQ(kq_consumer_asg_decode(w.buf, 1, &a, &ver, &back), KQ_ERR_TRUNCATED);
	kq_buf_free(&w);
	kq_arena_free(&a);
}

static void
test_subscription_blob(void)
{
	struct kq_ConsumerProtocolSubscription s, back;
	struct kq_str topics[2] = { kq_str_c("x"), kq_str_c("y") };
	struct kq_arena a = { 0 };
	struct kq_buf w = { 0 };
	int16_t ver;

	kq_ConsumerProtocolSubscription_init(&s);
	s.Topics = topics;
	s.Topics_count = 2;
	s.UserData = KQ_BYTES_NULL;
	s.GenerationId = 4;
	s.RackId = KQ_STR_NULL;
	kq_consumer_sub_encode(&w, 3, &s);
	/* a future version 9 with extra trailing fields reads as its v3 prefix */
	w.buf[1] = 9;
	kq_buf_add(&w, "extra", 5);
	T_EQ(kq_consumer_sub_decode(w.buf, w.len, &a, &ver, &back), 0);
	T_EQ(ver, 9);
	T_EQ(back.Topics_count, 2);
	T_OK(kq_str_eq(back.Topics[1], "y"), "topic");
	T_EQ(back.GenerationId, 4);
	w.buf[0] = 0xff;
	T_EQ(kq_consumer_sub_decode(w.buf, w.len, &a, &ver, &back), KQ_ERR_CORRUPT);
	kq_buf_free(&w);
	kq_arena_free(&a);
}

static size_t
unhex(const char *h, unsigned char *out)
{
	size_t n = 0;

	for (; h[0] && h[1]; h += 2)
		out[n++] = (unsigned char)strtoul((char[]){ h[0], h[1], 0 }, NULL, 16);
	return n;
}

/* Blobs written by kafka-python 2.0.2's ConsumerProtocol classes (version 0). */
static void
test_kafka_python_blobs(void)
{
	static const char sub_hex[] = "000000000002000274300002743100000000";
	static const char asg_hex[] = "000000000002000274300000000200000000000000020002743100"
				      "0000010000000100000000";
	unsigned char raw[64];
	size_t n;
	struct kq_ConsumerProtocolSubscription s;
	struct kq_ConsumerProtocolAssignment as;
	struct kq_arena a = { 0 };
	struct kq_buf w = { 0 };
	int16_t ver;

	n = unhex(sub_hex, raw);
	T_EQ(kq_consumer_sub_decode(raw, n, &a, &ver, &s), 0);
	T_EQ(ver, 0);
	T_EQ(s.Topics_count, 2);
	T_OK(kq_str_eq(s.Topics[0], "t0") && kq_str_eq(s.Topics[1], "t1"), "topics");
	T_EQ(s.UserData.len, 0);
	kq_consumer_sub_encode(&w, 0, &s);
	T_EQ(w.len, n);
	T_MEMEQ(w.buf, raw, n);
	n = unhex(asg_hex, raw);
	T_EQ(kq_consumer_asg_decode(raw, n, &a, &ver, &as), 0);
	T_EQ(as.AssignedPartitions_count, 2);
	T_EQ(as.AssignedPartitions[0].Partitions_count, 2);
	T_EQ(as.AssignedPartitions[0].Partitions[1], 2);
	T_OK(kq_str_eq(as.AssignedPartitions[1].Topic, "t1"), "t1");
	kq_buf_reset(&w);
	kq_consumer_asg_encode(&w, 0, &as);
	T_EQ(w.len, n);
	T_MEMEQ(w.buf, raw, n);
	kq_buf_free(&w);
	kq_arena_free(&a);
}

/* Kafka's byte layout of the offset commit key (v1) and value (v3). */
static void
test_record_layout(void)
{
	static const unsigned char key[] = { 0, 1, 0, 1, 'g', 0, 2, 't', '0', 0, 0, 0, 5 };
	static const unsigned char val[] = { 0, 3, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 7,
					     0, 2, 'm', 'd', 0, 0, 0, 0, 0, 0, 0x03, 0xe8 };
	static const unsigned char gkey[] = { 0, 2, 0, 1, 'g' };
	struct kq_buf w = { 0 };

	kq_offsets_key_offset(&w, kq_str_c("g"), kq_str_c("t0"), 5);
	T_EQ(w.len, sizeof(key));
	T_MEMEQ(w.buf, key, sizeof(key));
	kq_buf_reset(&w);
	kq_offsets_value_offset(&w, 42, 7, kq_str_c("md"), 1000);
	T_EQ(w.len, sizeof(val));
	T_MEMEQ(w.buf, val, sizeof(val));
	kq_buf_reset(&w);
	kq_offsets_key_group(&w, kq_str_c("g"));
	T_EQ(w.len, sizeof(gkey));
	T_MEMEQ(w.buf, gkey, sizeof(gkey));
	kq_buf_free(&w);
}

/* Mutated and truncated records never crash the loader. */
static void
test_load_hostile(void)
{
	struct kq_buf k = { 0 }, v = { 0 };
	unsigned char kb[64], vb[128];
	uint64_t x = 99;
	int ok = 0;

	fk_reset(0);
	kq_coord_load_begin(fk.c, 3);
	kq_offsets_key_offset(&k, kq_str_c("grp"), kq_str_c("topic"), 1);
	kq_offsets_value_offset(&v, 5, 1, kq_str_c("meta"), 1000);
	for (int i = 0; i < 20000; i++) {
		size_t kn = k.len, vn = v.len;

		memcpy(kb, k.buf, kn);
		memcpy(vb, v.buf, vn);
		for (int f = 0; f < 3; f++) {
			x = x * 6364136223846793005ULL + 1;
			if (x >> 63)
				kb[(x >> 8) % kn] = (unsigned char)(x >> 40);
			else
				vb[(x >> 8) % vn] = (unsigned char)(x >> 40);
		}
		if (i % 7 == 0)
			kn = (x >> 20) % (kn + 1);
		if (i % 5 == 0)
			vn = (x >> 24) % (vn + 1);
		if (kq_coord_load_record(fk.c, 3, kq_bytes_of(kb, kn),
					 i % 11 ? kq_bytes_of(vb, vn) : KQ_BYTES_NULL, fk.now) == 0)
			ok++;
	}
	T_OK(ok > 0 && ok < 20000, "%d accepted", ok);
	/* a group metadata value that lies about its member count */
	kq_buf_reset(&k);
	kq_buf_reset(&v);
	kq_offsets_key_group(&k, kq_str_c("grp"));
	kq_wr_i16(&v, 3);
	kq_wr_cstr(&v, "consumer");
	kq_wr_i32(&v, 4);
	kq_wr_cstr(&v, NULL);
	kq_wr_cstr(&v, NULL);
	kq_wr_i64(&v, 0);
	kq_wr_i32(&v, 1000000);
	T_EQ(kq_coord_load_record(fk.c, 3, kq_bytes_of(k.buf, k.len), kq_bytes_of(v.buf, v.len),
				  fk.now), KQ_ERR_CORRUPT);
	kq_coord_load_end(fk.c, 3, fk.now);
	kq_buf_free(&k);
	kq_buf_free(&v);
}

int
main(void)
{
	T_RUN(test_join_three);
	T_RUN(test_sync);
	T_RUN(test_sync_auto_done);
	T_RUN(test_heartbeat_rebalance);
	T_RUN(test_rejoin_same);
	T_RUN(test_session_expiry);
	T_RUN(test_rebalance_timeout);
	T_RUN(test_leave);
	T_RUN(test_leave_while_held);
	T_RUN(test_commit_rules);
	T_RUN(test_commit_old_versions);
	T_RUN(test_commit_waits_for_append);
	T_RUN(test_replay);
	T_RUN(test_delete_groups);
	T_RUN(test_offset_delete);
	T_RUN(test_join_errors);
	T_RUN(test_protocol_vote);
	T_RUN(test_static_member);
	T_RUN(test_forget_ctx);
	T_RUN(test_unload);
	T_RUN(test_fetch_all_and_list);
	T_RUN(test_placement);
	T_RUN(test_random_sequences);
	T_RUN(test_assign_kafka_examples);
	T_RUN(test_assign_edges);
	T_RUN(test_subscription_blob);
	T_RUN(test_kafka_python_blobs);
	T_RUN(test_record_layout);
	T_RUN(test_load_hostile);
	fk_reset(0);
	kq_coord_free(fk.c);
	for (int i = 0; i < fk.nap; i++)
		free(fk.ap[i].batch);
	kq_arena_free(&ar);
	return t_done();
}
