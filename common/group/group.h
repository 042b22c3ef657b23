/*
 * group.h - the classic consumer group coordinator (JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup, OffsetCommit/Fetch/Delete, List/Describe/DeleteGroups,
 * FindCoordinator), the __consumer_offsets record formats, and the
 * client-side range and roundrobin assignors.
 *
 * The coordinator is pure logic: no sockets, no threads, no clock reads, no
 * randomness source of its own.  Every entry point takes now_ms (any
 * monotonic or wall clock, but always the same one).  It never prints and
 * never exits.  Thread: one thread (the broker's loop) makes every call.
 *
 * ---- Broker integration -----------------------------------------------
 *
 * 1. Create once at start-up:
 *	struct kq_coord_config cc;
 *	kq_coord_config_defaults(&cc);
 *	cc.owner = broker; cc.reply = my_reply; cc.append = my_append;
 *	cc.seed = <64 random bits, e.g. getrandom()>;  (member-id UUIDs)
 *	cc.initial_rebalance_delay_ms = cfg.group_initial_rebalance_delay_ms;
 *	struct kq_coord *coord = kq_coord_new(&cc);
 *
 * 2. Load: create the internal topic "__consumer_offsets" (cc.num_partitions
 *    partitions, cleanup.policy=compact, internal) at start-up if missing.
 *    For every partition p this broker leads (standalone: all of them):
 *	kq_coord_load_begin(coord, p);
 *	for every batch from the log start to the log end, for every record
 *	(kq_batch_iter; control batches skipped):
 *		kq_coord_load_record(coord, p, rec.key, rec.value, now);
 *	kq_coord_load_end(coord, p, now);
 *    A tombstone is value.len == -1.  load_record returns non-zero for a
 *    record it skipped (unknown key/value version, corrupt bytes); nothing
 *    is fatal - count them and log one line per partition.  Records replay
 *    in log order and the last one per key wins, so compaction is only an
 *    optimisation.  Until load_end, requests for p's groups get
 *    COORDINATOR_LOAD_IN_PROGRESS; for partitions never loaded,
 *    NOT_COORDINATOR (FindCoordinator: COORDINATOR_NOT_AVAILABLE).  Cluster
 *    mode: load_begin/record/end when becoming leader of p, and
 *    kq_coord_unload(coord, p) when losing it (held requests of its groups
 *    get NOT_COORDINATOR); kq_coord_partition_for() tells which partition's
 *    leader to name in FindCoordinator for a group led elsewhere.
 *
 * 3. Persist (the cc.append callback):
 *	append(owner, p, batch, len, done) must append the batch (one magic-2
 *	batch, baseOffset 0, already CRC'd) to __consumer_offsets partition p
 *	like a produce with acks=-1, and, once it is durable (flushed / HW past
 *	it), call kq_coord_append_done(coord, done, 0).  On failure call it with
 *	a Kafka error (e.g. KAFKA_STORAGE_ERROR, NOT_LEADER_OR_FOLLOWER).  It
 *	must be called exactly once per append; calling it from inside append()
 *	is allowed.  The batch bytes are only valid during the call: copy them.
 *
 * 4. Route the APIs (decode the request with the generated codec, then):
 *	FindCoordinator 10   kq_coord_find(coord, &req, v, node_id, host, port, a, &resp)
 *	JoinGroup 11         kq_coord_join(coord, &req, v, &client, ctx, now, a, &resp)
 *	Heartbeat 12         kq_coord_heartbeat(...)
 *	LeaveGroup 13        kq_coord_leave(...)
 *	SyncGroup 14         kq_coord_sync(...)
 *	OffsetCommit 8       kq_coord_commit(...)
 *	OffsetFetch 9        kq_coord_fetch(...)
 *	DescribeGroups 15    kq_coord_describe(...)
 *	ListGroups 16        kq_coord_list(...)
 *	DeleteGroups 42      kq_coord_delete_groups(...)
 *	OffsetDelete 47      kq_coord_offset_delete(...)
 *    Each returns KQ_COORD_DONE: resp is filled - encode and send it now,
 *    before the next call into the coordinator (it points into arena a or
 *    into coordinator memory that lives until then; never into the request
 *    frame, so the frame may go at once); or
 *    KQ_COORD_PENDING: keep ctx; the answer comes later through
 *    cc.reply(owner, ctx, api_key, version, resp), where resp points to the
 *    response struct of that API (struct kq_JoinGroupResponse *, ...), valid
 *    only during the callback: encode it there.  reply is never called for
 *    the ctx of the call in progress (that one gets KQ_COORD_DONE instead),
 *    but may be called for other waiting ctxs from inside any entry point.
 *    ctx identifies one request (e.g. the broker's response slot) and must
 *    be unique among outstanding requests; it is never dereferenced.  The
 *    reply callback must not call back into the coordinator.
 *
 *    Set cc.topic_exists so that commits to unknown topic-partitions get
 *    UNKNOWN_TOPIC_OR_PARTITION (without it every commit is stored, as
 *    old Kafka did).  client.host is what DescribeGroups shows as
 *    ClientHost (Kafka: "/" + peer IP).
 *
 * 5. When a connection closes, call kq_coord_forget_ctx(coord, ctx) for each
 *    of its outstanding (PENDING) requests: no reply is sent to it later.
 *    Held JoinGroups keep counting as joined (Kafka cannot see disconnects
 *    either); the member then expires through its session timeout.
 *
 * 6. Timers: call kq_coord_tick(coord, now) at least every 100 ms (or at the
 *    time it returns, whichever is sooner).  It expires sessions, pending
 *    member ids, rebalance and sync timeouts and the initial rebalance delay,
 *    and sends the replies those cause.
 *
 * 7. Shutdown: kq_coord_free() drops waiting requests without replies;
 *    finish or abandon the appends in flight first (append_done must not
 *    be called after free).
 *
 * ---- Choices (differences from Kafka, documented) ----------------------
 *
 * - Placement: partition = abs(Java String.hashCode(group id)) %
 *   num_partitions (Kafka's).  String.hashCode is computed over UTF-16 code
 *   units, decoded from UTF-8 (each invalid byte counts as U+FFFD, as
 *   Java's decoder does).
 * - Loading restores committed offsets and, from the GroupMetadata record,
 *   the group's protocol type and generation; members are not restored: the
 *   group comes back Empty.  Members of the old generation get
 *   UNKNOWN_MEMBER_ID on their next heartbeat/commit and rejoin (a commit
 *   not acknowledged before the restart may be replayed: at least once).
 * - GroupMetadata records (key v2, value v3) are written when the leader's
 *   SyncGroup stores the assignment (SyncGroup answers wait for it to be
 *   durable, as in Kafka) and when a group becomes Empty; DeleteGroups and
 *   OffsetDelete write tombstones and answer once those are durable.
 *   Offsets: key v1, value v3 (leader epoch; no expire timestamp).
 * - Offsets retention (offsets.retention.minutes) is not implemented: offsets
 *   live until deleted.  An Empty group that holds no offsets and has no
 *   GroupMetadata record is forgotten at once.
 * - The new-member join timeout (Kafka's fixed 5 minutes) is not needed: a
 *   held JoinGroup always completes within the rebalance timeout, and a
 *   member whose client went away then expires through its session.
 * - Static membership (group.instance.id, JoinGroup v5): a join with a known
 *   instance id and an empty member id replaces the old member (new member
 *   id; the old id gets FENCED_INSTANCE_ID); static members are not dropped
 *   at the rebalance timeout, only by session expiry or LeaveGroup.
 * - The protocol vote breaks ties by the order of the protocol list of the
 *   first member to join (Kafka's tie order is a hash map's).
 * - Transaction coordinators (FindCoordinator key_type 1) are not supported:
 *   INVALID_REQUEST.
 */
#ifndef KQ_GROUP_H
#define KQ_GROUP_H

#include "../proto/proto.h"

#define KQ_COORD_DONE 0
#define KQ_COORD_PENDING 1

#define KQ_OFFSETS_TOPIC "__consumer_offsets"

struct kq_coord;

struct kq_coord_config {
	int32_t num_partitions;			/* offsets.topic.num.partitions, 50 */
	int32_t min_session_timeout_ms;		/* group.min.session.timeout.ms, 6000 */
	int32_t max_session_timeout_ms;		/* group.max.session.timeout.ms, 1800000 */
	int32_t initial_rebalance_delay_ms;	/* group.initial.rebalance.delay.ms, 3000 */
	int32_t max_group_size;			/* group.max.size, INT32_MAX */
	int32_t max_metadata_size;		/* offset.metadata.max.bytes, 4096 */
	int codec;				/* batches to __consumer_offsets, none */
	uint64_t seed;				/* for member-id UUIDs; 0 = fixed */
	void *owner;				/* first argument of the callbacks */
	/* Deliver a held response; resp is valid only during the call. */
	void (*reply)(void *owner, void *ctx, int16_t api_key, int16_t version,
		      const void *resp);
	/* Append one batch to __consumer_offsets-partition; see the top. */
	void (*append)(void *owner, int32_t partition, const unsigned char *batch,
		       size_t len, void *done);
	/*
	 * Optional: does topic-partition exist?  OffsetCommit answers
	 * UNKNOWN_TOPIC_OR_PARTITION for those that do not.  NULL = all exist.
	 */
	bool (*topic_exists)(void *owner, struct kq_str topic, int32_t partition);
};

/* Who sent a JoinGroup: client id of the request header and peer host. */
struct kq_coord_client {
	struct kq_str client_id;	/* may be null */
	const char *host;		/* "/127.0.0.1" style as Kafka shows it; may be NULL */
};

void kq_coord_config_defaults(struct kq_coord_config *cfg);
/* New coordinator leading no partitions.  cfg is copied.  Never fails. */
struct kq_coord *kq_coord_new(const struct kq_coord_config *cfg);
/* Free everything; waiting requests get no reply; appends in flight are
 * abandoned (their later kq_coord_append_done calls must not happen). */
void kq_coord_free(struct kq_coord *c);

/* __consumer_offsets partition of a group (Kafka's placement). */
int32_t kq_coord_partition_for(const struct kq_coord *c, struct kq_str group_id);
/* Java String.hashCode of UTF-8 text. */
int32_t kq_group_java_hash(const char *s, size_t n);

/* Loading (see the top).  Partitions out of range are ignored. */
void kq_coord_load_begin(struct kq_coord *c, int32_t partition);
/*
 * Replay one record.  Returns 0, or KQ_ERR_CORRUPT / KQ_ERR_UNSUPPORTED for a
 * record that was skipped (bad key, unknown key or value version).
 */
int kq_coord_load_record(struct kq_coord *c, int32_t partition, struct kq_bytes key,
			 struct kq_bytes value, int64_t now_ms);
void kq_coord_load_end(struct kq_coord *c, int32_t partition, int64_t now_ms);
/* Drop the groups of a partition; their waiting requests get NOT_COORDINATOR. */
void kq_coord_unload(struct kq_coord *c, int32_t partition);
/* 0 not ours, 1 loading, 2 loaded. */
int kq_coord_partition_state(const struct kq_coord *c, int32_t partition);

/* The broker's answer to one append; err 0 = durable. */
void kq_coord_append_done(struct kq_coord *c, void *done, int err, int64_t now_ms);
/* Timers; returns the time of the next deadline (INT64_MAX if none). */
int64_t kq_coord_tick(struct kq_coord *c, int64_t now_ms);
/* Never reply to ctx. */
void kq_coord_forget_ctx(struct kq_coord *c, void *ctx);

/*
 * API entry points.  v = request version (the broker checked it is
 * advertised).  Return KQ_COORD_DONE (resp filled from a) or
 * KQ_COORD_PENDING (answer through cfg.reply).
 */
int kq_coord_find(struct kq_coord *c, const struct kq_FindCoordinatorRequest *req, int16_t v,
		  int32_t node_id, const char *host, int32_t port, struct kq_arena *a,
		  struct kq_FindCoordinatorResponse *resp);
int kq_coord_join(struct kq_coord *c, const struct kq_JoinGroupRequest *req, int16_t v,
		  const struct kq_coord_client *client, void *ctx, int64_t now_ms,
		  struct kq_arena *a, struct kq_JoinGroupResponse *resp);
int kq_coord_sync(struct kq_coord *c, const struct kq_SyncGroupRequest *req, int16_t v,
		  void *ctx, int64_t now_ms, struct kq_arena *a, struct kq_SyncGroupResponse *resp);
int kq_coord_heartbeat(struct kq_coord *c, const struct kq_HeartbeatRequest *req, int16_t v,
		       void *ctx, int64_t now_ms, struct kq_arena *a,
		       struct kq_HeartbeatResponse *resp);
int kq_coord_leave(struct kq_coord *c, const struct kq_LeaveGroupRequest *req, int16_t v,
		   void *ctx, int64_t now_ms, struct kq_arena *a, struct kq_LeaveGroupResponse *resp);
int kq_coord_commit(struct kq_coord *c, const struct kq_OffsetCommitRequest *req, int16_t v,
		    void *ctx, int64_t now_ms, struct kq_arena *a,
		    struct kq_OffsetCommitResponse *resp);
int kq_coord_fetch(struct kq_coord *c, const struct kq_OffsetFetchRequest *req, int16_t v,
		   void *ctx, int64_t now_ms, struct kq_arena *a, struct kq_OffsetFetchResponse *resp);
int kq_coord_describe(struct kq_coord *c, const struct kq_DescribeGroupsRequest *req, int16_t v,
		      void *ctx, int64_t now_ms, struct kq_arena *a,
		      struct kq_DescribeGroupsResponse *resp);
int kq_coord_list(struct kq_coord *c, const struct kq_ListGroupsRequest *req, int16_t v,
		  void *ctx, int64_t now_ms, struct kq_arena *a, struct kq_ListGroupsResponse *resp);
int kq_coord_delete_groups(struct kq_coord *c, const struct kq_DeleteGroupsRequest *req,
			   int16_t v, void *ctx, int64_t now_ms, struct kq_arena *a,
			   struct kq_DeleteGroupsResponse *resp);
int kq_coord_offset_delete(struct kq_coord *c, const struct kq_OffsetDeleteRequest *req,
			   int16_t v, void *ctx, int64_t now_ms, struct kq_arena *a,
			   struct kq_OffsetDeleteResponse *resp);

/* Group state names as DescribeGroups/ListGroups report them. */
enum kq_group_state {
	KQ_GROUP_EMPTY = 0,
	KQ_GROUP_PREPARING_REBALANCE,
	KQ_GROUP_COMPLETING_REBALANCE,
	KQ_GROUP_STABLE,
	KQ_GROUP_DEAD,
};
const char *kq_group_state_name(int state);
/* State of a group, KQ_GROUP_DEAD if unknown (for tests and tools). */
int kq_coord_group_state(const struct kq_coord *c, const char *group_id);

/* ---- __consumer_offsets records (key and value with INT16 version) ---- */

/* Append key v1 / value v3 of an offset commit to w. */
void kq_offsets_key_offset(struct kq_buf *w, struct kq_str group, struct kq_str topic,
			   int32_t partition);
void kq_offsets_value_offset(struct kq_buf *w, int64_t offset, int32_t leader_epoch,
			     struct kq_str metadata, int64_t commit_ts);
void kq_offsets_key_group(struct kq_buf *w, struct kq_str group);

/*
 * ---- client side: consumer protocol blobs and assignors ----
 *
 * kq-consume -g as a member: JoinGroup with ProtocolType "consumer" and
 * protocols "range" then "roundrobin", each with the metadata
 * kq_consumer_sub_encode(w, 0, &sub) (sub.Topics = the subscription,
 * UserData null).  If the JoinGroup answer has Members (we lead): decode each
 * member's Metadata with kq_consumer_sub_decode, fill kq_assign_member
 * (topics from sub.Topics, copied to C strings), get partition counts from
 * Metadata, call kq_assign(ProtocolName, ...), and send SyncGroup with one
 * assignment per member: kq_assign_to_protocol + kq_consumer_asg_encode(w,
 * 0, ...).  Every member decodes its SyncGroup Assignment with
 * kq_consumer_asg_decode.  The results match kafka-python 2.0.2's
 * RangePartitionAssignor / RoundRobinPartitionAssignor (checked on 400
 * random subscriptions) and Kafka's Java assignors.
 */

/*
 * Decode a ConsumerProtocolSubscription / Assignment blob (INT16 version
 * then body).  Versions above the highest known are read as the highest
 * (their known prefix).  Arrays come from a, strings point into p.
 * 0, KQ_ERR_TRUNCATED or KQ_ERR_CORRUPT (negative version).
 */
int kq_consumer_sub_decode(const void *p, size_t n, struct kq_arena *a, int16_t *version,
			   struct kq_ConsumerProtocolSubscription *m);
int kq_consumer_asg_decode(const void *p, size_t n, struct kq_arena *a, int16_t *version,
			   struct kq_ConsumerProtocolAssignment *m);
/* Append version prefix + body (version 0..3). */
void kq_consumer_sub_encode(struct kq_buf *w, int16_t version,
			    const struct kq_ConsumerProtocolSubscription *m);
void kq_consumer_asg_encode(struct kq_buf *w, int16_t version,
			    const struct kq_ConsumerProtocolAssignment *m);

struct kq_assign_member {
	const char *member_id;
	const char *instance_id;	/* group.instance.id or NULL */
	const char *const *topics;	/* subscription */
	int ntopics;
};

struct kq_assign_topic {
	const char *name;
	int32_t partitions;		/* count from metadata; <= 0 = unknown, skipped */
};

/* One member's result: topics in name order, partitions ascending. */
struct kq_assign_tp {
	const char *topic;		/* points to the kq_assign_topic name */
	int32_t *partitions;
	int32_t npartitions;
};
struct kq_assign_result {
	struct kq_assign_tp *topics;
	int32_t ntopics;
};

/*
 * Kafka's RangeAssignor and RoundRobinAssignor.  out has nm entries, in the
 * order of members[]; everything is allocated from a.  Members are ordered
 * as Kafka's MemberInfo (instance id first when both have one, members with
 * one before those without, else member id; byte order).  Topics not in
 * topics[] (or with partitions <= 0) are skipped.  Returns 0 or
 * KQ_ERR_INVALID for duplicate member ids or more than INT32_MAX partitions.
 */
int kq_assign_range(const struct kq_assign_member *members, int nm,
		    const struct kq_assign_topic *topics, int nt, struct kq_arena *a,
		    struct kq_assign_result *out);
int kq_assign_roundrobin(const struct kq_assign_member *members, int nm,
			 const struct kq_assign_topic *topics, int nt, struct kq_arena *a,
			 struct kq_assign_result *out);
/* By protocol name: "range" or "roundrobin"; KQ_ERR_UNSUPPORTED otherwise. */
int kq_assign(const char *protocol, const struct kq_assign_member *members, int nm,
	      const struct kq_assign_topic *topics, int nt, struct kq_arena *a,
	      struct kq_assign_result *out);
/* Result to a ConsumerProtocolAssignment (arrays from a, strings shared). */
void kq_assign_to_protocol(const struct kq_assign_result *r, struct kq_arena *a,
			   struct kq_ConsumerProtocolAssignment *m);

#endif
