/*
 * member.c - a consumer-group member on the client side: coordinator
 * discovery, join / sync (with the leader's assignment), heartbeats,
 * offset fetch and commit, leave.  See member.h for how a caller drives it.
 */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "member.h"
#include "../group/group.h"

#define DEFAULT_SESSION_MS 10000
#define DEFAULT_REBALANCE_MS 60000
#define DEFAULT_HEARTBEAT_MS 3000
#define REQUEST_TIMEOUT_MS 30000
#define CONNECT_TIMEOUT_MS 5000
/* A held JoinGroup/SyncGroup may last the whole rebalance timeout. */
#define HELD_SLACK_MS 10000
#define WARN_EVERY_MS 30000

/* Highest versions this code fills in (kq_conn_version caps them further
 * at the broker's maximum and below the first flexible version). */
#define V_FIND_COORDINATOR 2
#define V_JOIN_GROUP 5
#define V_SYNC_GROUP 3
#define V_HEARTBEAT 3
#define V_LEAVE_GROUP 3
#define V_OFFSET_COMMIT 7
#define V_OFFSET_FETCH 5

#define GROUP_AUTHORIZATION_FAILED 30
#define UNSTABLE_OFFSET_COMMIT 88

static const char *const default_protocols[] = { "range", "roundrobin" };

/* Tags telling a heartbeat's answer from a blocking call's. */
static char tag_heartbeat, tag_call;

struct kq_member {
	struct kq_client *cl;
	char *group, *client_id, *instance_id;
	char **topics;
	int ntopics;
	char **protocols;
	int nprotocols;
	int32_t session_ms, rebalance_ms, heartbeat_ms;
	bool (*stop)(void *arg);
	void (*warn)(void *arg, const char *msg);
	void *arg;

	struct kq_conn *conn;		/* to the coordinator; NULL while unknown */
	int32_t coord_node;
	int next_broker;		/* where discovery starts (metadata index) */
	char coord_name[320];
	char coord_host[256];		/* of the last coordinator, for kq_member_leave */
	int coord_port;
	/* The coordinator connection a stop left with a call in flight (a
	 * JoinGroup the broker holds): open until LeaveGroup has gone out on
	 * a fresh one, so the broker sees the leave first. */
	struct kq_conn *abandoned;

	char *member_id;		/* never NULL; "" before the first join */
	int32_t generation;
	char *leader_id, *protocol;
	bool gen_valid;			/* may commit with generation */
	bool need_rejoin;

	struct kq_member_tp *asg;
	int nasg;

	/* the leader's SyncGroup assignments, built from the JoinGroup answer */
	struct kq_SyncGroupRequest_SyncGroupRequestAssignment *plan;
	int32_t nplan;
	struct kq_arena ja;		/* join-scoped: subscription, plan */
	struct kq_arena ra;		/* responses of blocking calls */

	bool hb_inflight;
	int64_t hb_sent_ms, hb_next_ms, hb_ok_ms;

	int64_t last_warn_ms;
	char errstr[512];
};

struct retry {
	int attempt;
	int64_t first_ms;		/* 0: no failure yet */
	int64_t until_ms;		/* give up at this time too; 0: no limit */
};

static void
set_err(struct kq_member *m, const char *fmt, ...) KQ_PRINTF(2, 3);

static void
set_err(struct kq_member *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->errstr, sizeof(m->errstr), fmt, ap);
	va_end(ap);
}

static char *
dup_str(struct kq_str s)
{
	char *p = kq_str_dup(s);

	return p ? p : kq_xstrdup("");
}

static void
set_id(char **dst, struct kq_str s)
{
	free(*dst);
	*dst = dup_str(s);
}

static char **
dup_list(const char *const *v, int n)
{
	char **out = kq_xcalloc((size_t)(n > 0 ? n : 1), sizeof(*out));
	int i;

	for (i = 0; i < n; i++)
		out[i] = kq_xstrdup(v[i]);
	return out;
}

static void
free_list(char **v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

struct kq_member *
kq_member_new(struct kq_client *cl, const struct kq_member_config *cfg)
{
	struct kq_member *m = kq_xcalloc(1, sizeof(*m));

	m->cl = cl;
	m->group = kq_xstrdup(cfg->group_id);
	m->client_id = kq_xstrdup(cfg->client_id ? cfg->client_id : "kq");
	m->instance_id = cfg->instance_id ? kq_xstrdup(cfg->instance_id) : NULL;
	m->topics = dup_list(cfg->topics, cfg->ntopics);
	m->ntopics = cfg->ntopics;
	if (cfg->protocols && cfg->nprotocols > 0) {
		m->protocols = dup_list(cfg->protocols, cfg->nprotocols);
		m->nprotocols = cfg->nprotocols;
	} else {
		m->protocols = dup_list(default_protocols, 2);
		m->nprotocols = 2;
	}
	m->session_ms = cfg->session_timeout_ms > 0 ? cfg->session_timeout_ms : DEFAULT_SESSION_MS;
	m->rebalance_ms = cfg->rebalance_timeout_ms > 0 ? cfg->rebalance_timeout_ms
							: DEFAULT_REBALANCE_MS;
	m->heartbeat_ms = cfg->heartbeat_interval_ms > 0 ? cfg->heartbeat_interval_ms
							 : DEFAULT_HEARTBEAT_MS;
	m->stop = cfg->stop;
	m->warn = cfg->warn;
	m->arg = cfg->arg;
	m->coord_node = -1;
	m->member_id = kq_xstrdup("");
	m->leader_id = kq_xstrdup("");
	m->protocol = kq_xstrdup("");
	m->generation = -1;
	return m;
}

static void
clear_assignment(struct kq_member *m)
{
	int i;

	for (i = 0; i < m->nasg; i++)
		free((char *)m->asg[i].topic);
	free(m->asg);
	m->asg = NULL;
	m->nasg = 0;
}

static void
close_coord(struct kq_member *m)
{
	kq_conn_close(m->conn);
	m->conn = NULL;
	m->hb_inflight = false;
	m->coord_name[0] = 0;
}

/* A stop leaves the call in flight: its answer would come out of turn. */
static void
abandon_coord(struct kq_member *m)
{
	kq_conn_close(m->abandoned);
	m->abandoned = m->conn;
	m->conn = NULL;
	close_coord(m);
}

void
kq_member_free(struct kq_member *m)
{
	if (!m)
		return;
	close_coord(m);
	kq_conn_close(m->abandoned);
	clear_assignment(m);
	kq_arena_free(&m->ja);
	kq_arena_free(&m->ra);
	free_list(m->topics, m->ntopics);
	free_list(m->protocols, m->nprotocols);
	free(m->group);
	free(m->client_id);
	free(m->instance_id);
	free(m->member_id);
	free(m->leader_id);
	free(m->protocol);
	free(m);
}

static bool
stopping(const struct kq_member *m)
{
	return m->stop && m->stop(m->arg);
}

/* ---- retries ---- */

static bool
coordinator_error(int err)
{
	return err == KQ_E_NOT_COORDINATOR || err == KQ_E_COORDINATOR_NOT_AVAILABLE ||
	       err == KQ_E_COORDINATOR_LOAD_IN_PROGRESS;
}

/* Local failures worth another try: the connection, not the request. */
static bool
local_retriable(int err)
{
	return err == KQ_ERR_IO || err == KQ_ERR_CLOSED || err == KQ_ERR_TIMEOUT;
}

/*
 * Wait before the next attempt (100 ms doubling to 10 s), warning once and
 * then every 30 s.  0 to try again, KQ_ERR_TIMEOUT when the client's
 * give-up timeout has run out since the first failure, KQ_ERR_AGAIN on stop.
 */
static int
backoff(struct kq_member *m, struct retry *rt, const char *what)
{
	int64_t now = kq_mono_ms(), limit = kq_client_timeout(m->cl), delay;
	char msg[700];

	if (!rt->first_ms)
		rt->first_ms = now;
	if (rt->until_ms && now >= rt->until_ms) {
		snprintf(msg, sizeof(msg), "%s (%s); the group has dropped this member by now",
			 what, m->errstr);
		set_err(m, "%.*s", (int)sizeof(m->errstr) - 1, msg);
		return KQ_ERR_TIMEOUT;
	}
	if (limit > 0 && now - rt->first_ms >= limit) {
		snprintf(msg, sizeof(msg), "%s (%s); gave up after %llds", what, m->errstr,
			 (long long)(limit / 1000));
		set_err(m, "%.*s", (int)sizeof(m->errstr) - 1, msg);
		return KQ_ERR_TIMEOUT;
	}
	if (m->warn && rt->attempt > 0 &&
	    (!m->last_warn_ms || now - m->last_warn_ms >= WARN_EVERY_MS)) {
		snprintf(msg, sizeof(msg), "%s (%s); retrying", what, m->errstr);
		m->warn(m->arg, msg);
		m->last_warn_ms = now;
	}
	delay = kq_backoff_ms(rt->attempt++);
	if (limit > 0)
		delay = KQ_MIN(delay, KQ_MAX(limit - (now - rt->first_ms), 1));
	if (rt->until_ms)
		delay = KQ_MIN(delay, KQ_MAX(rt->until_ms - now, 1));
	while (delay > 0) {
		int64_t step = KQ_MIN(delay, 50);

		if (stopping(m))
			return KQ_ERR_AGAIN;
		usleep((useconds_t)step * 1000);
		delay -= step;
	}
	return stopping(m) ? KQ_ERR_AGAIN : 0;
}

/* ---- the coordinator connection ---- */

static void heartbeat_answer(struct kq_member *m, const struct kq_resp *resp);

/*
 * Send req to the coordinator and wait for its answer, decoded into out
 * (arena m->ra; views valid until the next call).  Heartbeat answers that
 * arrive first are handled on the way.  0, KQ_ERR_AGAIN on stop, or a
 * local error (the connection is then closed: a late answer would arrive
 * out of turn).
 */
static int
coord_call(struct kq_member *m, int16_t api, int16_t max_version, const void *req,
	   int64_t timeout_ms, void *out, int16_t *versionp)
{
	int64_t deadline = kq_mono_ms() + timeout_ms;
	struct kq_resp resp;
	int v, r;

	if (!m->conn)
		return KQ_ERR_CLOSED;
	v = kq_conn_version(m->conn, api, max_version);
	if (v < 0) {
		set_err(m, "%s: broker does not support %s v0..%d", kq_conn_name(m->conn),
			kq_api_name(api), max_version);
		return KQ_ERR_UNSUPPORTED;
	}
	if ((r = kq_conn_enqueue(m->conn, api, (int16_t)v, req, &tag_call)) < 0)
		goto fail;
	for (;;) {
		struct pollfd pfd = { kq_conn_fd(m->conn), POLLIN, 0 };

		r = kq_conn_recv_nb(m->conn, &resp);
		if (r == 0 && resp.tag == &tag_heartbeat) {
			heartbeat_answer(m, &resp);
			continue;
		}
		if (r == 0) {
			kq_arena_reset(&m->ra);
			if ((r = kq_resp_decode(&resp, &m->ra, out)) < 0) {
				set_err(m, "%s: bad %s response: %s", kq_conn_name(m->conn),
					kq_api_name(api), kq_err_str(r));
				close_coord(m);
				return r;
			}
			if (versionp)
				*versionp = (int16_t)v;
			return 0;
		}
		if (r != KQ_ERR_AGAIN)
			goto fail;
		if (stopping(m)) {
			abandon_coord(m);
			return KQ_ERR_AGAIN;
		}
		if (kq_mono_ms() >= deadline) {
			set_err(m, "%s: no answer to %s within %llds", kq_conn_name(m->conn),
				kq_api_name(api), (long long)(timeout_ms / 1000));
			close_coord(m);
			return KQ_ERR_TIMEOUT;
		}
		if (kq_conn_want_write(m->conn))
			pfd.events |= POLLOUT;
		(void)poll(&pfd, 1, 100);
	}
fail:
	set_err(m, "%s", kq_conn_errstr(m->conn));
	close_coord(m);
	return r;
}

/* Make conn (node id node, at host:port) the coordinator connection. */
static void
use_coord(struct kq_member *m, struct kq_conn *conn, int32_t node, const char *host, int port)
{
	close_coord(m);
	kq_conn_set_node(conn, node);
	m->conn = conn;
	m->coord_node = node;
	snprintf(m->coord_host, sizeof(m->coord_host), "%s", host);
	m->coord_port = port;
	snprintf(m->coord_name, sizeof(m->coord_name), "%s (node %d)", kq_conn_name(conn),
		 (int)node);
}

/*
 * FindCoordinator over conn.  0 with the answer in node/host/port, a Kafka
 * code (COORDINATOR_NOT_AVAILABLE while the broker sets up its offsets
 * topic), or a local error (conn is then out of step: fail it).
 */
static int
ask_coordinator(struct kq_member *m, struct kq_conn *conn, int32_t *node, char *host,
		size_t hostlen, int *port)
{
	struct kq_FindCoordinatorRequest req;
	struct kq_FindCoordinatorResponse resp;
	struct kq_arena a = { 0 };
	int v, r;

	if ((v = kq_conn_version(conn, KQ_API_FIND_COORDINATOR, V_FIND_COORDINATOR)) < 0) {
		set_err(m, "%s: broker does not support consumer groups (FindCoordinator)",
			kq_conn_name(conn));
		return KQ_ERR_UNSUPPORTED;
	}
	kq_FindCoordinatorRequest_init(&req);
	req.Key = kq_str_c(m->group);
	req.KeyType = 0;
	r = kq_conn_call(conn, KQ_API_FIND_COORDINATOR, (int16_t)v, &req, &a, &resp,
			 REQUEST_TIMEOUT_MS);
	if (r < 0) {
		set_err(m, "%s", kq_conn_errstr(conn));
		kq_conn_fail(conn, r);
	} else if ((r = resp.ErrorCode) != 0) {
		set_err(m, "FindCoordinator: %s", kq_err_str(r));
	} else if (resp.Host.len <= 0 || (size_t)resp.Host.len >= hostlen || resp.Port <= 0 ||
		   resp.Port > 65535) {
		set_err(m, "FindCoordinator: bad coordinator address");
		r = KQ_ERR_CORRUPT;
	} else {
		memcpy(host, resp.Host.p, (size_t)resp.Host.len);
		host[resp.Host.len] = 0;
		*port = resp.Port;
		*node = resp.NodeId;
	}
	kq_arena_free(&a);
	return r;
}

/*
 * One round of coordinator discovery: FindCoordinator to each broker of the
 * client's last metadata in turn, over connections of our own (the
 * client's may have fetches in flight, and its reconnect loop would hold us
 * for its whole give-up timeout), then a connection to the answer.  Before
 * any metadata, through the client's bootstrap connection.  0, a Kafka code
 * or a local error; errstr says why.
 */
static int
find_once(struct kq_member *m)
{
	const struct kq_metadata *md = kq_client_cached(m->cl);
	struct kq_conn *conn = NULL;
	char host[256], err[384];
	int32_t node = -1;
	int i, n, port = 0, r = KQ_ERR_IO;

	if (!md || md->n_brokers <= 0) {
		struct kq_conn *any;

		if ((r = kq_client_any_conn(m->cl, &any)) != 0) {
			set_err(m, "%s", kq_client_errstr(m->cl));
			return r;
		}
		r = ask_coordinator(m, any, &node, host, sizeof(host), &port);
	} else {
		n = md->n_brokers;
		for (i = 0; i < n; i++) {
			const struct kq_md_broker *b = &md->brokers[(m->next_broker + i) % n];

			r = kq_conn_open(&conn, b->host, b->port, m->client_id, CONNECT_TIMEOUT_MS,
					 err, sizeof(err));
			if (r < 0) {
				set_err(m, "%s", err);
				continue;
			}
			r = ask_coordinator(m, conn, &node, host, sizeof(host), &port);
			if (r == 0 && node == b->id) {
				/* The broker asked is the coordinator: keep talking. */
				m->next_broker = (m->next_broker + i) % n;
				use_coord(m, conn, node, b->host, b->port);
				return 0;
			}
			kq_conn_close(conn);
			if (r == 0 || !local_retriable(r)) {
				m->next_broker = (m->next_broker + i) % n;
				break;
			}
		}
	}
	if (r != 0)
		return r;
	r = kq_conn_open(&conn, host, port, m->client_id, CONNECT_TIMEOUT_MS, err, sizeof(err));
	if (r < 0) {
		set_err(m, "%s", err);
		return r;
	}
	use_coord(m, conn, node, host, port);
	return 0;
}

/* A working coordinator connection, retrying until the give-up timeout. */
static int
ensure_coord(struct kq_member *m, struct retry *rt)
{
	int r;

	while (!m->conn || kq_conn_broken(m->conn)) {
		if (stopping(m))
			return KQ_ERR_AGAIN;
		r = find_once(m);
		if (r == 0)
			break;
		if (!coordinator_error(r) && !local_retriable(r))
			return r;
		if ((r = backoff(m, rt, "cannot reach the group coordinator")) != 0)
			return r;
	}
	return 0;
}

/* ---- membership bookkeeping ---- */

/* The answer to any group request that says we lost our place. */
static void
lost_place(struct kq_member *m, int err)
{
	switch (err) {
	case KQ_E_REBALANCE_IN_PROGRESS:
		m->need_rejoin = true;
		break;
	case KQ_E_UNKNOWN_MEMBER_ID:
		set_id(&m->member_id, kq_str_c(""));
		/* fall through */
	case KQ_E_ILLEGAL_GENERATION:
	case KQ_E_FENCED_INSTANCE_ID:
		m->need_rejoin = true;
		m->gen_valid = false;
		break;
	}
}

static void
heartbeat_answer(struct kq_member *m, const struct kq_resp *resp)
{
	struct kq_HeartbeatResponse hb;
	struct kq_arena a = { 0 };
	int err;

	m->hb_inflight = false;
	err = kq_resp_decode(resp, &a, &hb);
	kq_arena_free(&a);
	/* A late answer for a generation we are already leaving behind
	 * (rejoining) must not touch the new member id. */
	if (!m->gen_valid && err >= 0)
		return;
	if (err < 0) {
		set_err(m, "bad Heartbeat response: %s", kq_err_str(err));
		kq_conn_fail(m->conn, KQ_ERR_CORRUPT);
		return;
	}
	err = hb.ErrorCode;
	if (err == 0) {
		m->hb_ok_ms = kq_mono_ms();
		return;
	}
	set_err(m, "Heartbeat: %s", kq_err_str(err));
	if (err == KQ_E_NOT_COORDINATOR || err == KQ_E_COORDINATOR_NOT_AVAILABLE)
		kq_conn_fail(m->conn, KQ_ERR_CLOSED);	/* find it again */
	lost_place(m, err);
}

int
kq_member_poll(struct kq_member *m, bool idle)
{
	struct kq_HeartbeatRequest req;
	struct kq_resp resp;
	int64_t now = kq_mono_ms();
	int r, v;

	if (!m->gen_valid || m->need_rejoin)
		return 0;
	if (m->conn && !kq_conn_broken(m->conn)) {
		while ((r = kq_conn_recv_nb(m->conn, &resp)) == 0)
			heartbeat_answer(m, &resp);	/* only heartbeats are in flight here */
		if (r != KQ_ERR_AGAIN)
			set_err(m, "%s", kq_conn_errstr(m->conn));
	}
	if (m->conn && (kq_conn_broken(m->conn) ||
			(m->hb_inflight && now - m->hb_sent_ms >= m->session_ms)))
		close_coord(m);
	if (m->need_rejoin)
		return m->gen_valid ? KQ_E_REBALANCE_IN_PROGRESS : KQ_E_UNKNOWN_MEMBER_ID;
	/* Silent for a whole session: the coordinator has dropped us by now. */
	if (now - m->hb_ok_ms >= m->session_ms) {
		set_err(m, "no heartbeat answered for the session timeout");
		m->need_rejoin = true;
		m->gen_valid = false;
		return KQ_ERR_TIMEOUT;
	}
	if (!m->conn && (!idle || find_once(m) != 0))
		return 0;	/* try again at the next (idle) poll */
	if (m->hb_inflight || now < m->hb_next_ms)
		return 0;
	if ((v = kq_conn_version(m->conn, KQ_API_HEARTBEAT, V_HEARTBEAT)) < 0)
		return 0;
	kq_HeartbeatRequest_init(&req);
	req.GroupId = kq_str_c(m->group);
	req.GenerationId = m->generation;
	req.MemberId = kq_str_c(m->member_id);
	req.GroupInstanceId = kq_str_c(m->instance_id);
	r = kq_conn_enqueue(m->conn, KQ_API_HEARTBEAT, (int16_t)v, &req, &tag_heartbeat);
	if (r >= 0)
		r = kq_conn_flush_nb(m->conn);
	if (r < 0 && r != KQ_ERR_AGAIN) {
		close_coord(m);
		return 0;
	}
	m->hb_inflight = true;
	m->hb_sent_ms = now;
	m->hb_next_ms = now + m->heartbeat_ms;
	return 0;
}

bool
kq_member_need_rejoin(const struct kq_member *m)
{
	return m->need_rejoin;
}

bool
kq_member_can_commit(const struct kq_member *m)
{
	return m->gen_valid;
}

int32_t
kq_member_generation(const struct kq_member *m)
{
	return m->generation;
}

const char *
kq_member_id(const struct kq_member *m)
{
	return m->member_id;
}

bool
kq_member_is_leader(const struct kq_member *m)
{
	return m->member_id[0] && strcmp(m->member_id, m->leader_id) == 0;
}

const char *
kq_member_protocol(const struct kq_member *m)
{
	return m->protocol;
}

const char *
kq_member_coordinator(const struct kq_member *m)
{
	return m->coord_name;
}

const char *
kq_member_errstr(const struct kq_member *m)
{
	return m->errstr;
}

int
kq_member_assignment(const struct kq_member *m, const struct kq_member_tp **out)
{
	*out = m->asg;
	return m->nasg;
}

/* ---- join and sync ---- */

/* NUL-terminated copy of s in a; "" for null or empty. */
static const char *
arena_str(struct kq_arena *a, struct kq_str s)
{
	return s.len > 0 ? kq_arena_strndup(a, s.p, (size_t)s.len) : "";
}

/*
 * The leader's job: decode every member's subscription, look up partition
 * counts, run the chosen assignor and keep one encoded assignment per
 * member for SyncGroup.  Views into resp die with the next receive, so
 * everything kept is copied into m->ja.
 */
static int
leader_plan(struct kq_member *m, const struct kq_JoinGroupResponse *resp)
{
	struct kq_arena *a = &m->ja;
	struct kq_assign_member *am;
	struct kq_assign_topic *at;
	struct kq_assign_result *res;
	const struct kq_metadata *md;
	const char **names;
	char *proto = dup_str(resp->ProtocolName);
	int32_t nm = resp->Members_count, i, j, k, nt = 0;
	struct kq_buf w = { 0 };
	int r;

	am = kq_arena_alloc(a, (size_t)(nm > 0 ? nm : 1) * sizeof(*am));
	names = kq_arena_alloc(a, sizeof(*names));
	for (i = 0; i < nm; i++) {
		const struct kq_JoinGroupResponse_JoinGroupResponseMember *jm = &resp->Members[i];
		struct kq_ConsumerProtocolSubscription sub;
		const char **mt;

		am[i].member_id = arena_str(a, jm->MemberId);
		am[i].instance_id = jm->GroupInstanceId.len >= 0 ?
			arena_str(a, jm->GroupInstanceId) : NULL;
		/* A member whose subscription cannot be read gets nothing. */
		if (jm->Metadata.len <= 0 ||
		    kq_consumer_sub_decode(jm->Metadata.p, (size_t)jm->Metadata.len, a, NULL,
					   &sub) != 0)
			continue;
		mt = kq_arena_alloc(a, (size_t)(sub.Topics_count > 0 ? sub.Topics_count : 1) *
				    sizeof(*mt));
		for (j = 0; j < sub.Topics_count; j++) {
			struct kq_str t = sub.Topics[j];

			if (t.len <= 0)
				continue;
			mt[am[i].ntopics++] = arena_str(a, t);
			for (k = 0; k < nt && !kq_str_eq(t, names[k]); k++)
				;
			if (k == nt) {
				const char **grown = kq_arena_alloc(a, (size_t)(nt + 1) *
								    sizeof(*grown));

				memcpy(grown, names, (size_t)nt * sizeof(*names));
				names = grown;
				names[nt++] = mt[am[i].ntopics - 1];
			}
		}
		am[i].topics = mt;
	}
	r = kq_client_metadata(m->cl, names, nt, false, &md);
	if (r != 0) {
		set_err(m, "metadata for the assignment: %s", kq_client_errstr(m->cl));
		goto out;
	}
	at = kq_arena_alloc(a, (size_t)(nt > 0 ? nt : 1) * sizeof(*at));
	for (k = 0; k < nt; k++) {
		const struct kq_md_topic *t = kq_md_topic(md, names[k]);

		at[k].name = names[k];
		at[k].partitions = t && !t->err ? t->n_parts : 0;
	}
	res = kq_arena_alloc(a, (size_t)(nm > 0 ? nm : 1) * sizeof(*res));
	if ((r = kq_assign(proto, am, nm, at, nt, a, res)) != 0) {
		set_err(m, "cannot assign partitions with protocol '%s': %s", proto,
			kq_err_str(r));
		goto out;
	}
	m->plan = kq_arena_alloc(a, (size_t)(nm > 0 ? nm : 1) * sizeof(*m->plan));
	m->nplan = nm;
	for (i = 0; i < nm; i++) {
		struct kq_ConsumerProtocolAssignment asg;
		unsigned char *p;

		kq_assign_to_protocol(&res[i], a, &asg);
		asg.UserData = KQ_BYTES_NULL;
		kq_buf_reset(&w);
		kq_consumer_asg_encode(&w, 0, &asg);
		p = kq_arena_alloc(a, w.len);
		memcpy(p, w.buf, w.len);
		m->plan[i].MemberId = kq_str_c(am[i].member_id);
		m->plan[i].Assignment = kq_bytes_of(p, w.len);
	}
out:
	kq_buf_free(&w);
	free(proto);
	return r;
}

/* One JoinGroup.  0 (generation, ids, protocol set; plan made if we lead) or a code. */
static int
join_once(struct kq_member *m)
{
	struct kq_JoinGroupRequest req;
	struct kq_JoinGroupResponse resp;
	struct kq_ConsumerProtocolSubscription sub;
	struct kq_buf w = { 0 };
	unsigned char *meta;
	int i, r;

	kq_arena_reset(&m->ja);
	m->plan = NULL;
	m->nplan = 0;
	kq_ConsumerProtocolSubscription_init(&sub);
	sub.Topics = kq_arena_alloc(&m->ja, (size_t)(m->ntopics + 1) * sizeof(*sub.Topics));
	for (i = 0; i < m->ntopics; i++)
		sub.Topics[i] = kq_str_c(m->topics[i]);
	sub.Topics_count = m->ntopics;
	sub.UserData = KQ_BYTES_NULL;
	kq_consumer_sub_encode(&w, 0, &sub);
	meta = kq_arena_alloc(&m->ja, w.len);
	memcpy(meta, w.buf, w.len);

	kq_JoinGroupRequest_init(&req);
	req.GroupId = kq_str_c(m->group);
	req.SessionTimeoutMs = m->session_ms;
	req.RebalanceTimeoutMs = m->rebalance_ms;
	req.MemberId = kq_str_c(m->member_id);
	req.GroupInstanceId = kq_str_c(m->instance_id);
	req.ProtocolType = kq_str_c("consumer");
	req.Protocols = kq_arena_alloc(&m->ja, (size_t)m->nprotocols * sizeof(*req.Protocols));
	for (i = 0; i < m->nprotocols; i++) {
		req.Protocols[i].Name = kq_str_c(m->protocols[i]);
		req.Protocols[i].Metadata = kq_bytes_of(meta, w.len);
	}
	req.Protocols_count = m->nprotocols;
	kq_buf_free(&w);

	r = coord_call(m, KQ_API_JOIN_GROUP, V_JOIN_GROUP, &req,
		       (int64_t)m->rebalance_ms + HELD_SLACK_MS, &resp, NULL);
	if (r != 0)
		return r;
	if (resp.ErrorCode == KQ_E_MEMBER_ID_REQUIRED) {
		set_id(&m->member_id, resp.MemberId);
		return resp.ErrorCode;
	}
	if (resp.ErrorCode) {
		set_err(m, "JoinGroup: %s", kq_err_str(resp.ErrorCode));
		return resp.ErrorCode;
	}
	m->generation = resp.GenerationId;
	set_id(&m->member_id, resp.MemberId);
	set_id(&m->leader_id, resp.Leader);
	set_id(&m->protocol, resp.ProtocolName);
	if (kq_member_is_leader(m))
		return leader_plan(m, &resp);
	return 0;
}

/* Keep the assignment decoded from a SyncGroup answer; topics are copied. */
static void
take_assignment(struct kq_member *m, struct kq_bytes b)
{
	struct kq_ConsumerProtocolAssignment asg;
	int32_t i, j, n = 0;

	clear_assignment(m);
	if (b.len <= 0)
		return;		/* the leader gave us nothing */
	if (kq_consumer_asg_decode(b.p, (size_t)b.len, &m->ra, NULL, &asg) != 0) {
		set_err(m, "SyncGroup: unreadable assignment; consuming nothing");
		return;
	}
	for (i = 0; i < asg.AssignedPartitions_count; i++)
		n += asg.AssignedPartitions[i].Partitions_count;
	m->asg = kq_xcalloc((size_t)(n > 0 ? n : 1), sizeof(*m->asg));
	for (i = 0; i < asg.AssignedPartitions_count; i++) {
		const struct kq_ConsumerProtocolAssignment_TopicPartition *tp =
			&asg.AssignedPartitions[i];

		for (j = 0; j < tp->Partitions_count; j++) {
			struct kq_member_tp *e = &m->asg[m->nasg++];

			e->topic = dup_str(tp->Topic);
			e->partition = tp->Partitions[j];
			e->offset = -1;
		}
	}
}

static int
sync_once(struct kq_member *m)
{
	struct kq_SyncGroupRequest req;
	struct kq_SyncGroupResponse resp;
	int r;

	kq_SyncGroupRequest_init(&req);
	req.GroupId = kq_str_c(m->group);
	req.GenerationId = m->generation;
	req.MemberId = kq_str_c(m->member_id);
	req.GroupInstanceId = kq_str_c(m->instance_id);
	req.Assignments = m->plan;
	req.Assignments_count = m->nplan;
	r = coord_call(m, KQ_API_SYNC_GROUP, V_SYNC_GROUP, &req,
		       (int64_t)m->rebalance_ms + HELD_SLACK_MS, &resp, NULL);
	if (r != 0)
		return r;
	if (resp.ErrorCode) {
		set_err(m, "SyncGroup: %s", kq_err_str(resp.ErrorCode));
		return resp.ErrorCode;
	}
	take_assignment(m, resp.Assignment);
	return 0;
}

int
kq_member_join(struct kq_member *m)
{
	struct retry rt = { 0 };
	int r;

	clear_assignment(m);
	m->gen_valid = false;
	m->need_rejoin = true;
	m->errstr[0] = 0;
	for (;;) {
		if ((r = ensure_coord(m, &rt)) != 0)
			return r;
		r = join_once(m);
		if (r == 0)
			r = sync_once(m);
		switch (r) {
		case 0:
			m->gen_valid = true;
			m->need_rejoin = false;
			m->hb_ok_ms = kq_mono_ms();
			m->hb_next_ms = m->hb_ok_ms + m->heartbeat_ms;
			m->hb_inflight = false;
			return 0;
		case KQ_E_MEMBER_ID_REQUIRED:
		case KQ_E_REBALANCE_IN_PROGRESS:
		case KQ_E_ILLEGAL_GENERATION:
			continue;	/* at once, as Kafka's clients do */
		case KQ_E_UNKNOWN_MEMBER_ID:
			set_id(&m->member_id, kq_str_c(""));
			continue;
		case KQ_ERR_AGAIN:
			return r;
		}
		if (coordinator_error(r)) {
			if (r != KQ_E_COORDINATOR_LOAD_IN_PROGRESS)
				close_coord(m);
		} else if (!local_retriable(r)) {
			return r;
		}
		if ((r = backoff(m, &rt, "cannot join the group")) != 0)
			return r;
	}
}

/* ---- offsets ---- */

/* Index of topic name t in names[0..n-1], or -1. */
static int
find_name(const char *const *names, int n, const char *t)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], t) == 0)
			return i;
	return -1;
}

/* Distinct topic names of tps, in first-seen order (from arena a). */
static int
distinct_topics(const struct kq_member_tp *tps, int n, struct kq_arena *a, const char ***out)
{
	const char **names = kq_arena_alloc(a, (size_t)(n > 0 ? n : 1) * sizeof(*names));
	int i, nt = 0;

	for (i = 0; i < n; i++)
		if (find_name(names, nt, tps[i].topic) < 0)
			names[nt++] = tps[i].topic;
	*out = names;
	return nt;
}

static struct kq_member_tp *
find_tp(struct kq_member_tp *tps, int n, struct kq_str topic, int32_t partition)
{
	int i;

	for (i = 0; i < n; i++)
		if (tps[i].partition == partition && kq_str_eq(topic, tps[i].topic))
			return &tps[i];
	return NULL;
}

static int
fetch_offsets_once(struct kq_member *m, struct kq_member_tp *tps, int n)
{
	struct kq_OffsetFetchRequest req;
	struct kq_OffsetFetchResponse resp;
	struct kq_arena a = { 0 };
	const char **names;
	int16_t v;
	int i, j, k, nt, r, first = 0;

	nt = distinct_topics(tps, n, &a, &names);
	kq_OffsetFetchRequest_init(&req);
	req.GroupId = kq_str_c(m->group);
	req.Topics = kq_arena_alloc(&a, (size_t)(nt > 0 ? nt : 1) * sizeof(*req.Topics));
	req.Topics_count = nt;
	for (k = 0; k < nt; k++) {
		req.Topics[k].Name = kq_str_c(names[k]);
		req.Topics[k].PartitionIndexes = kq_arena_alloc(&a, (size_t)n * sizeof(int32_t));
	}
	for (i = 0; i < n; i++) {
		struct kq_OffsetFetchRequest_OffsetFetchRequestTopic *t =
			&req.Topics[find_name(names, nt, tps[i].topic)];

		t->PartitionIndexes[t->PartitionIndexes_count++] = tps[i].partition;
		tps[i].offset = -1;
		tps[i].err = 0;
	}
	r = coord_call(m, KQ_API_OFFSET_FETCH, V_OFFSET_FETCH, &req, REQUEST_TIMEOUT_MS, &resp,
		       &v);
	kq_arena_free(&a);
	if (r != 0)
		return r;
	if (v >= 2 && resp.ErrorCode) {
		set_err(m, "OffsetFetch: %s", kq_err_str(resp.ErrorCode));
		return resp.ErrorCode;
	}
	for (i = 0; i < resp.Topics_count; i++) {
		const struct kq_OffsetFetchResponse_OffsetFetchResponseTopic *t = &resp.Topics[i];

		for (j = 0; j < t->Partitions_count; j++) {
			const struct kq_OffsetFetchResponse_OffsetFetchResponsePartition *p =
				&t->Partitions[j];
			struct kq_member_tp *tp = find_tp(tps, n, t->Name, p->PartitionIndex);

			if (!tp)
				continue;
			tp->err = p->ErrorCode;
			tp->offset = p->ErrorCode || p->CommittedOffset < 0 ? -1 : p->CommittedOffset;
			if (p->ErrorCode && !first)
				first = p->ErrorCode;
		}
	}
	if (first)
		set_err(m, "OffsetFetch: %s", kq_err_str(first));
	return first;
}

/*
 * once() until it succeeds or fails for good: the coordinator's moves and
 * broken connections (and the error also_retriable) are retried with
 * backoff until the give-up timeout, or until until_ms if that is not 0.
 */
static int
retrying(struct kq_member *m, int (*once)(struct kq_member *, struct kq_member_tp *, int),
	 struct kq_member_tp *tps, int n, int also_retriable, int64_t until_ms,
	 const char *what)
{
	struct retry rt = { 0 };
	int r;

	rt.until_ms = until_ms;
	for (;;) {
		if ((r = ensure_coord(m, &rt)) != 0)
			return r;
		r = once(m, tps, n);
		if (r == 0 || r == KQ_ERR_AGAIN)
			return r;
		if (coordinator_error(r)) {
			if (r != KQ_E_COORDINATOR_LOAD_IN_PROGRESS)
				close_coord(m);
		} else if (r != also_retriable && !local_retriable(r)) {
			return r;
		}
		if ((r = backoff(m, &rt, what)) != 0)
			return r;
	}
}

int
kq_member_fetch_offsets(struct kq_member *m, struct kq_member_tp *tps, int n)
{
	if (n <= 0)
		return 0;
	return retrying(m, fetch_offsets_once, tps, n, UNSTABLE_OFFSET_COMMIT, 0,
			"cannot fetch committed offsets");
}

static int
commit_once(struct kq_member *m, struct kq_member_tp *tps, int n)
{
	struct kq_OffsetCommitRequest req;
	struct kq_OffsetCommitResponse resp;
	struct kq_arena a = { 0 };
	const char **names;
	int i, j, k, nt, r, first = 0;

	if (!m->gen_valid) {
		set_err(m, "no current generation to commit with");
		return KQ_ERR_INVALID;
	}
	nt = distinct_topics(tps, n, &a, &names);
	kq_OffsetCommitRequest_init(&req);
	req.GroupId = kq_str_c(m->group);
	req.GenerationIdOrMemberEpoch = m->generation;
	req.MemberId = kq_str_c(m->member_id);
	req.GroupInstanceId = kq_str_c(m->instance_id);
	req.RetentionTimeMs = -1;
	req.Topics = kq_arena_alloc(&a, (size_t)(nt > 0 ? nt : 1) * sizeof(*req.Topics));
	req.Topics_count = nt;
	for (k = 0; k < nt; k++) {
		req.Topics[k].Name = kq_str_c(names[k]);
		req.Topics[k].Partitions = kq_arena_alloc(&a, (size_t)n *
							  sizeof(*req.Topics[k].Partitions));
	}
	for (i = 0; i < n; i++) {
		struct kq_OffsetCommitRequest_OffsetCommitRequestTopic *t =
			&req.Topics[find_name(names, nt, tps[i].topic)];
		struct kq_OffsetCommitRequest_OffsetCommitRequestPartition *p =
			&t->Partitions[t->Partitions_count++];

		kq_OffsetCommitRequest_OffsetCommitRequestPartition_init(p);
		p->PartitionIndex = tps[i].partition;
		p->CommittedOffset = tps[i].offset;
		p->CommittedLeaderEpoch = -1;
		p->CommitTimestamp = -1;
		p->CommittedMetadata = kq_str_c("");
		tps[i].err = 0;
	}
	r = coord_call(m, KQ_API_OFFSET_COMMIT, V_OFFSET_COMMIT, &req, REQUEST_TIMEOUT_MS, &resp,
		       NULL);
	kq_arena_free(&a);
	if (r != 0)
		return r;
	for (i = 0; i < resp.Topics_count; i++) {
		const struct kq_OffsetCommitResponse_OffsetCommitResponseTopic *t = &resp.Topics[i];

		for (j = 0; j < t->Partitions_count; j++) {
			const struct kq_OffsetCommitResponse_OffsetCommitResponsePartition *p =
				&t->Partitions[j];
			struct kq_member_tp *tp = find_tp(tps, n, t->Name, p->PartitionIndex);

			if (tp)
				tp->err = p->ErrorCode;
			if (p->ErrorCode && !first)
				first = p->ErrorCode;
		}
	}
	if (first) {
		set_err(m, "OffsetCommit: %s", kq_err_str(first));
		lost_place(m, first);
	}
	return first;
}

int
kq_member_commit(struct kq_member *m, struct kq_member_tp *tps, int n)
{
	if (n <= 0)
		return 0;
	/* Past our session the coordinator has dropped us, and a commit can
	 * only fail: stop retrying then (a shutdown with the broker gone). */
	return retrying(m, commit_once, tps, n, KQ_E_REQUEST_TIMED_OUT,
			m->hb_ok_ms + m->session_ms, "cannot commit offsets");
}

void
kq_member_leave(struct kq_member *m, int64_t timeout_ms)
{
	struct kq_LeaveGroupRequest req;
	struct kq_LeaveGroupResponse resp;
	struct kq_LeaveGroupRequest_MemberIdentity me;
	char err[384];

	if (timeout_ms <= 0)
		timeout_ms = 5000;
	/* Static members keep their place across restarts (Kafka does not
	 * send LeaveGroup for them either). */
	if (!m->member_id[0] || m->instance_id)
		goto out;
	/* Stopped while the coordinator held a call of ours (a JoinGroup in
	 * the initial rebalance delay, a follower's SyncGroup): that member
	 * would stay until the rebalance timeout, and a Kafka broker reads
	 * nothing more from that connection until it answers, so leave over
	 * a new one. */
	if (!m->conn && m->abandoned && m->coord_host[0] &&
	    kq_conn_open(&m->conn, m->coord_host, m->coord_port, m->client_id,
			 KQ_MIN(timeout_ms, CONNECT_TIMEOUT_MS), err, sizeof(err)) < 0)
		m->conn = NULL;
	/* Without a coordinator connection the session timeout frees the
	 * place just as well. */
	if (!m->conn || kq_conn_broken(m->conn))
		goto out;
	kq_LeaveGroupRequest_init(&req);
	req.GroupId = kq_str_c(m->group);
	req.MemberId = kq_str_c(m->member_id);
	kq_LeaveGroupRequest_MemberIdentity_init(&me);
	me.MemberId = kq_str_c(m->member_id);
	me.GroupInstanceId = KQ_STR_NULL;
	req.Members = &me;
	req.Members_count = 1;
	(void)coord_call(m, KQ_API_LEAVE_GROUP, V_LEAVE_GROUP, &req, timeout_ms, &resp, NULL);
out:
	kq_conn_close(m->abandoned);
	m->abandoned = NULL;
	set_id(&m->member_id, kq_str_c(""));
	m->gen_valid = false;
	m->need_rejoin = true;
	clear_assignment(m);
}
