/*
 * member.h - one consumer-group member on the client side (Kafka's classic
 * group protocol, WIRE.md section 9): FindCoordinator, JoinGroup with
 * protocol type "consumer" (MEMBER_ID_REQUIRED handled), the leader's
 * assignment with the range / roundrobin assignors of common/group,
 * SyncGroup, Heartbeat, OffsetFetch, OffsetCommit and LeaveGroup.
 *
 * The member talks to its coordinator over a connection of its own, so
 * group traffic never queues behind a long-poll Fetch on the kq_client's
 * connections.  It uses the kq_client only for bootstrap (FindCoordinator
 * is sent on kq_client_any_conn) and for Metadata when it leads.  No
 * threads: the caller drives it.
 *
 *   kq_member_join()      blocking: (re)discover the coordinator, join, sync;
 *                         afterwards kq_member_assignment() is the new
 *                         assignment.  Call it first and whenever
 *                         kq_member_need_rejoin() says so (after committing
 *                         what was consumed: "revoke").
 *   kq_member_poll()      non-blocking: sends a Heartbeat every
 *                         heartbeat_interval_ms and reads the answers; call
 *                         it at least every 100 ms or so while consuming.
 *                         With idle = true it may also block briefly to find
 *                         a lost coordinator (only when the caller has
 *                         nothing in flight on the kq_client's connections).
 *   kq_member_fetch_offsets(), kq_member_commit()
 *                         blocking OffsetFetch / OffsetCommit.
 *   kq_member_leave()     LeaveGroup (best effort) at exit.
 *
 * Blocking calls retry retriable failures (coordinator moved, loading or
 * unreachable; broken connection) with backoff until the client's give-up
 * timeout (kq_client_timeout; 0 = forever) and return early with
 * KQ_ERR_AGAIN when cfg.stop() turns true (a signal); for the final commit
 * and LeaveGroup of a clean shutdown, let stop() say false again (a second
 * signal is the caller's way out).  Nothing here prints
 * or exits: warnings go through cfg.warn, details through
 * kq_member_errstr().  Not thread-safe.
 */
#ifndef KQ_MEMBER_H
#define KQ_MEMBER_H

#include "client.h"

struct kq_member_config {
	const char *group_id;
	const char *client_id;		/* NULL: "kq" */
	const char *instance_id;	/* group.instance.id (static membership); NULL */
	const char *const *topics;	/* the subscription */
	int ntopics;
	/* Assignors in preference order ("range", "roundrobin"); NULL: both. */
	const char *const *protocols;
	int nprotocols;
	int32_t session_timeout_ms;	/* <= 0: 10000 */
	int32_t rebalance_timeout_ms;	/* <= 0: 60000 */
	int32_t heartbeat_interval_ms;	/* <= 0: 3000 */
	/* True when the caller wants blocking calls to give up (a signal). */
	bool (*stop)(void *arg);
	/* "cannot reach the group coordinator (...); retrying": once, then at
	 * most every 30 s while a blocking call keeps retrying. */
	void (*warn)(void *arg, const char *msg);
	void *arg;
};

/* One assigned (or committed) partition. */
struct kq_member_tp {
	const char *topic;		/* owned by the member / the caller */
	int32_t partition;
	int64_t offset;			/* fetch_offsets: committed, -1 none; commit: to store */
	int16_t err;			/* per-partition Kafka error of the last call */
};

struct kq_member;

/* No I/O yet.  cfg and the strings it points to are copied. */
struct kq_member *kq_member_new(struct kq_client *cl, const struct kq_member_config *cfg);
/* Closes the coordinator connection (no LeaveGroup); NULL is fine. */
void kq_member_free(struct kq_member *m);

/*
 * Join (or rejoin) the group and wait for the assignment.  0, KQ_ERR_AGAIN
 * (cfg.stop), KQ_ERR_TIMEOUT (coordinator unreachable until the timeout),
 * or a fatal Kafka code (INCONSISTENT_GROUP_PROTOCOL, INVALID_SESSION_TIMEOUT,
 * INVALID_GROUP_ID, GROUP_AUTHORIZATION_FAILED, GROUP_MAX_SIZE_REACHED,
 * FENCED_INSTANCE_ID, ...).
 */
int kq_member_join(struct kq_member *m);

/* The assignment of the current generation: *out (n entries, offset -1). */
int kq_member_assignment(const struct kq_member *m, const struct kq_member_tp **out);

/*
 * Heartbeats (see the top).  Returns 0, or the error that made the member
 * lose its place (then kq_member_need_rejoin() is true): REBALANCE_IN_PROGRESS,
 * ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, or a local error
 * when the coordinator stayed unreachable for a whole session timeout.
 */
int kq_member_poll(struct kq_member *m, bool idle);

/* The group is rebalancing or dropped us: commit, then kq_member_join(). */
bool kq_member_need_rejoin(const struct kq_member *m);
/*
 * May the current generation still commit?  False after ILLEGAL_GENERATION
 * or UNKNOWN_MEMBER_ID (someone else may own our partitions by now) and
 * before the first join.
 */
bool kq_member_can_commit(const struct kq_member *m);

/*
 * OffsetFetch for tps[0..n-1]: fills each offset (-1 = no commit) and err.
 * 0, KQ_ERR_AGAIN, KQ_ERR_TIMEOUT, or a Kafka code for the whole request.
 */
int kq_member_fetch_offsets(struct kq_member *m, struct kq_member_tp *tps, int n);

/*
 * OffsetCommit of tps[0..n-1] (offset = the next offset to consume) with
 * the current generation.  Per-partition errors land in tps[i].err and the
 * first one is returned; ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID /
 * REBALANCE_IN_PROGRESS also set need_rejoin.  Retries end early once no
 * heartbeat has been answered for a session timeout (the coordinator has
 * dropped us by then).  0, KQ_ERR_AGAIN, KQ_ERR_TIMEOUT, KQ_ERR_INVALID (no
 * generation to commit with) or a code.
 */
int kq_member_commit(struct kq_member *m, struct kq_member_tp *tps, int n);

/*
 * LeaveGroup within timeout_ms (<= 0: 5 s), so the others rebalance at once
 * instead of after our session timeout; errors are ignored.  Works at any
 * stage once the member has an id: when a stop left a JoinGroup or
 * SyncGroup held by the coordinator, the leave goes over a new connection
 * to it.  Skipped for a static member and when the coordinator connection
 * broke.  The member then has no id and no generation.
 */
void kq_member_leave(struct kq_member *m, int64_t timeout_ms);

int32_t kq_member_generation(const struct kq_member *m);	/* -1 none */
const char *kq_member_id(const struct kq_member *m);		/* "" none */
bool kq_member_is_leader(const struct kq_member *m);
const char *kq_member_protocol(const struct kq_member *m);	/* "" none */
/* The coordinator as "host:port (node N)", or "" while unknown. */
const char *kq_member_coordinator(const struct kq_member *m);
const char *kq_member_errstr(const struct kq_member *m);

#endif
