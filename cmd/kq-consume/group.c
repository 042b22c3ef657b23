/*
 * group.c - kq-consume -g GROUP: membership through common/net/member.h and
 * the at-least-once commit discipline of CLI.md section 3.  An offset is
 * committed only once every record before it was written to stdout and
 * stdout flushed: periodically (--commit-interval), before the partitions
 * are given up at a rebalance, and at exit.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "consume.h"

#define LEAVE_TIMEOUT_MS 5000
#define GROUP_AUTHORIZATION_FAILED 30

/* ---- -X properties ---- */

enum { P_STR, P_MS, P_STRATEGY };

static const struct prop {
	const char *key, *def, *help;
	int kind;
	size_t off;
} props[] = {
	{ "client.id", "kq-consume", "client id the broker sees", P_STR,
	  offsetof(struct group_opts, client_id) },
	{ "group.instance.id", "none", "static membership: keep the place across restarts",
	  P_STR, offsetof(struct group_opts, instance_id) },
	{ "session.timeout.ms", "10000", "a member silent this long is dropped", P_MS,
	  offsetof(struct group_opts, session_timeout_ms) },
	{ "heartbeat.interval.ms", "3000", "how often the member heartbeats", P_MS,
	  offsetof(struct group_opts, heartbeat_interval_ms) },
	{ "max.poll.interval.ms", "60000", "rebalance timeout: how long the group waits for "
	  "members to rejoin", P_MS, offsetof(struct group_opts, rebalance_timeout_ms) },
	{ "partition.assignment.strategy", "range,roundrobin", "assignors, preferred first",
	  P_STRATEGY, 0 },
};

static void
list_props(void)
{
	size_t i;

	for (i = 0; i < sizeof(props) / sizeof(props[0]); i++)
		printf("%-30s %-18s %s\n", props[i].key, props[i].def, props[i].help);
	kq_cli_exit(0);
}

static void
set_strategies(struct group_opts *g, const char *val)
{
	const char *p = val, *c;

	g->nstrategies = 0;
	for (;;) {
		size_t n;
		const char *name = NULL;

		c = strchr(p, ',');
		n = c ? (size_t)(c - p) : strlen(p);
		if (n == 5 && strncmp(p, "range", n) == 0)
			name = "range";
		else if (n == 10 && strncmp(p, "roundrobin", n) == 0)
			name = "roundrobin";
		if (!name)
			kq_usage_error("bad partition.assignment.strategy '%s' (known: range, "
				    "roundrobin)", val);
		if (g->nstrategies == 2 ||
		    (g->nstrategies == 1 && strcmp(g->strategies[0], name) == 0))
			kq_usage_error("partition.assignment.strategy '%s' names an assignor "
				    "twice", val);
		g->strategies[g->nstrategies++] = name;
		if (!c)
			break;
		p = c + 1;
	}
}

void
group_property(struct opts *op, const char *kv)
{
	const char *eq = strchr(kv, '=');
	const struct prop *pr = NULL;
	size_t i, klen;
	int64_t v;

	if (strcmp(kv, "list") == 0)
		list_props();
	if (!eq || eq == kv)
		kq_usage_error("bad property '%s' (expected KEY=VALUE; -X list shows the keys)", kv);
	klen = (size_t)(eq - kv);
	for (i = 0; i < sizeof(props) / sizeof(props[0]) && !pr; i++)
		if (strlen(props[i].key) == klen && strncmp(props[i].key, kv, klen) == 0)
			pr = &props[i];
	if (!pr)
		kq_usage_error("unknown property '%.*s' (-X list shows the supported ones)",
			    (int)klen, kv);
	switch (pr->kind) {
	case P_STR:
		if (!eq[1])
			kq_usage_error("empty value for property '%s'", pr->key);
		*(const char **)((char *)&op->g + pr->off) = eq + 1;
		break;
	case P_MS:
		if (kq_cli_parse_int(eq + 1, 1, INT32_MAX, &v) < 0)
			kq_usage_error("bad value '%s' for property '%s' (milliseconds)", eq + 1,
				    pr->key);
		*(int32_t *)((char *)&op->g + pr->off) = (int32_t)v;
		break;
	case P_STRATEGY:
		set_strategies(&op->g, eq + 1);
		break;
	}
}

void
group_check_opts(const struct opts *op)
{
	const struct group_opts *g = &op->g;

	if (!g->group)
		return;
	if (op->nparts)
		kq_usage_error("-p cannot be used with -g (the group assigns the partitions)");
	if (g->heartbeat_interval_ms && g->session_timeout_ms &&
	    g->heartbeat_interval_ms >= g->session_timeout_ms)
		kq_usage_error("heartbeat.interval.ms must be below session.timeout.ms");
}

/* ---- membership ---- */

/* Everything before each partition's position has reached stdout. */
static void
note_flushed(void *arg)
{
	struct run *rn = arg;
	int i;

	for (i = 0; i < rn->nparts; i++)
		if (rn->parts[i].assigned)
			rn->parts[i].flushed = rn->parts[i].next;
}

/* Stdout has no room: keep our place in the group meanwhile. */
static void
wait_for_reader(void *arg)
{
	group_poll(arg, false);
}

static struct part *
find_part(struct run *rn, const char *topic, int32_t id)
{
	int i;

	for (i = 0; i < rn->nparts; i++)
		if (rn->parts[i].id == id && strcmp(topic_name(rn, &rn->parts[i]), topic) == 0)
			return &rn->parts[i];
	return NULL;
}

/*
 * Commit each assigned partition's flushed position where it moved.  A
 * failure is a warning: the records since the last commit will be read
 * again by whoever gets the partition (at least once, never lost).
 */
static void
group_commit(struct run *rn, const char *why)
{
	struct kq_member_tp *tps;
	struct part **pts;
	int i, n = 0, err;

	rn->last_commit_ms = kq_mono_ms();
	if (rn->op->g.no_commit || !kq_member_can_commit(rn->member))
		return;
	out_flush(&rn->out);
	tps = kq_xcalloc((size_t)rn->nparts, sizeof(*tps));
	pts = kq_xcalloc((size_t)rn->nparts, sizeof(*pts));
	for (i = 0; i < rn->nparts; i++) {
		struct part *pt = &rn->parts[i];

		if (!pt->assigned || pt->flushed < 0 || pt->flushed == pt->committed)
			continue;
		tps[n].topic = topic_name(rn, pt);
		tps[n].partition = pt->id;
		tps[n].offset = pt->flushed;
		pts[n++] = pt;
	}
	if (n > 0) {
		err = kq_member_commit(rn->member, tps, n);
		for (i = 0; i < n; i++)
			if (err == 0 || (err > 0 && !tps[i].err))
				pts[i]->committed = tps[i].offset;
		if (err == 0)
			kq_debug("group '%s': committed %d offset%s (%s)", rn->op->g.group, n,
				 n == 1 ? "" : "s", why);
		else if (err != KQ_ERR_AGAIN)
			kq_warn("group '%s': cannot commit offsets (%s); records since the last "
				"commit may be read again", rn->op->g.group,
				kq_member_errstr(rn->member));
	}
	free(tps);
	free(pts);
}

void
group_poll(struct run *rn, bool idle)
{
	const struct group_opts *g = &rn->op->g;

	if (kq_member_poll(rn->member, idle) != 0)
		kq_debug("group '%s': %s; rejoining", g->group, kq_member_errstr(rn->member));
	if (idle && !kq_member_need_rejoin(rn->member) &&
	    kq_mono_ms() - rn->last_commit_ms >= g->commit_interval_ms)
		group_commit(rn, "periodic");
}

bool
group_rejoin_due(const struct run *rn)
{
	return kq_member_need_rejoin(rn->member);
}

KQ_NORETURN static void
join_failed(struct run *rn, int err)
{
	const char *group = rn->op->g.group, *why = kq_member_errstr(rn->member);

	out_flush(&rn->out);
	if (!*why)
		why = kq_err_str(err);
	if (err == KQ_ERR_TIMEOUT)
		kq_die(KQ_EXIT_UNAVAILABLE, "cannot join group '%s': %s", group, why);
	if (err == GROUP_AUTHORIZATION_FAILED)
		kq_die(KQ_EXIT_DENIED, "not authorized to join group '%s'", group);
	kq_die(KQ_EXIT_FAIL, "cannot join group '%s': %s", group, why);
}

static void
describe_assignment(struct run *rn)
{
	struct kq_buf b = { 0 };
	int i, n = 0, last = -1;

	for (i = 0; i < rn->nparts; i++) {
		const struct part *pt = &rn->parts[i];

		if (!pt->assigned)
			continue;
		if (pt->topic != last)
			kq_buf_addf(&b, "%s%s[", n ? "] " : "", topic_name(rn, pt));
		else
			kq_buf_addc(&b, ',');
		kq_buf_addf(&b, "%d", (int)pt->id);
		last = pt->topic;
		n++;
	}
	if (n)
		kq_buf_addc(&b, ']');
	kq_debug("group '%s': generation %d, %s via %s, protocol %s; assigned %s",
		 rn->op->g.group, (int)kq_member_generation(rn->member),
		 kq_member_is_leader(rn->member) ? "leader" : "member",
		 kq_member_coordinator(rn->member), kq_member_protocol(rn->member),
		 n ? kq_buf_cstr(&b) : "nothing");
	kq_buf_free(&b);
}

/*
 * Take the new generation's assignment.  Partitions we also held in the
 * generation just before keep their position (nobody else can have read
 * them meanwhile, and --no-commit must not rewind); the others start at
 * the committed offset, else where -o said.  prev_gen is -1 when we lost
 * our place in between (the coordinator may have forgotten the group, so
 * generation numbers prove nothing then).  0 or KQ_ERR_AGAIN (signal).
 */
static int
take_assignment(struct run *rn, int32_t prev_gen)
{
	struct kq_member *m = rn->member;
	const struct kq_member_tp *asg;
	struct kq_member_tp *tps;
	struct part **pts;
	bool keep = prev_gen >= 0 && kq_member_generation(m) == prev_gen + 1;
	bool *was = kq_xcalloc((size_t)rn->nparts + 1, sizeof(*was));
	int n = kq_member_assignment(m, &asg), i, nf = 0, err = 0;

	tps = kq_xcalloc((size_t)n + 1, sizeof(*tps));
	pts = kq_xcalloc((size_t)n + 1, sizeof(*pts));
	for (i = 0; i < rn->nparts; i++) {
		was[i] = rn->parts[i].assigned;
		rn->parts[i].assigned = false;
	}
	for (i = 0; i < n; i++) {
		struct part *pt = find_part(rn, asg[i].topic, asg[i].partition);

		if (!pt) {
			kq_warn("group '%s': assigned '%s' partition %d, which did not exist at "
				"startup; not reading it", rn->op->g.group, asg[i].topic,
				(int)asg[i].partition);
			continue;
		}
		pt->assigned = true;
		if (keep && was[pt - rn->parts])
			continue;
		tps[nf].topic = asg[i].topic;
		tps[nf].partition = asg[i].partition;
		pts[nf++] = pt;
	}
	err = kq_member_fetch_offsets(m, tps, nf);
	if (err == KQ_ERR_AGAIN)
		goto out;
	if (err == KQ_ERR_TIMEOUT)
		kq_die(KQ_EXIT_UNAVAILABLE, "group '%s': cannot fetch committed offsets: %s",
		       rn->op->g.group, kq_member_errstr(m));
	if (err)
		kq_warn("group '%s': cannot fetch committed offsets (%s); starting where -o "
			"says", rn->op->g.group, kq_member_errstr(m));
	for (i = 0; i < nf; i++) {
		struct part *pt = pts[i];
		int64_t off = err > 0 && tps[i].err ? -1 : tps[i].offset;

		if (err < 0)
			off = -1;
		pt->committed = off;
		pt->next = off >= 0 ? off : pt->start;
		pt->flushed = pt->next;
		pt->done = pt->end >= 0 && pt->next >= pt->end;
		kq_debug("'%s' partition %d: %s %lld", topic_name(rn, pt), (int)pt->id,
			 off >= 0 ? "resuming at committed offset" : "no committed offset; "
			 "starting at", (long long)pt->next);
	}
	err = 0;
	describe_assignment(rn);
out:
	free(was);
	free(tps);
	free(pts);
	return err;
}

int
group_run(struct run *rn)
{
	struct opts *op = rn->op;
	struct kq_member_config mc;
	struct stat st;
	int32_t prev_gen = -1;
	int i, err, status;

	for (i = 0; i < rn->nparts; i++) {
		struct part *pt = &rn->parts[i];

		pt->start = pt->next;
		pt->assigned = false;
		pt->committed = -1;
		pt->flushed = -1;
	}
	memset(&mc, 0, sizeof(mc));
	mc.group_id = op->g.group;
	mc.client_id = op->g.client_id;
	mc.instance_id = op->g.instance_id;
	mc.topics = (const char *const *)op->topics;
	mc.ntopics = op->ntopics;
	mc.protocols = op->g.nstrategies ? op->g.strategies : NULL;
	mc.nprotocols = op->g.nstrategies;
	mc.session_timeout_ms = op->g.session_timeout_ms;
	mc.rebalance_timeout_ms = op->g.rebalance_timeout_ms;
	mc.heartbeat_interval_ms = op->g.heartbeat_interval_ms;
	mc.stop = stop_requested;
	mc.warn = kq_cli_client_warn;
	rn->member = kq_member_new(rn->cl, &mc);
	rn->out.flushed = note_flushed;
	rn->out.wait = wait_for_reader;
	rn->out.regular = fstat(rn->out.fd, &st) == 0 &&
			  (S_ISREG(st.st_mode) || (S_ISCHR(st.st_mode) && !isatty(rn->out.fd)));
	rn->out.arg = rn;
	for (;;) {
		if (!kq_member_can_commit(rn->member))
			prev_gen = -1;
		err = kq_member_join(rn->member);
		if (err == KQ_ERR_AGAIN)
			break;
		if (err)
			join_failed(rn, err);
		if (take_assignment(rn, prev_gen) == KQ_ERR_AGAIN)
			break;
		prev_gen = kq_member_generation(rn->member);
		rn->last_commit_ms = kq_mono_ms();
		consume_loop(rn);
		if (got_signal || rn->count_reached || rn->out.state || rn->idle_expired ||
		    rn->finished)
			break;
		/* Revoke: what was written is committed before the partitions go. */
		kq_debug("group '%s' is rebalancing", op->g.group);
		group_commit(rn, "rebalance");
	}
	shutting_down = true;
	status = finish(rn);
	group_commit(rn, "exit");
	kq_member_leave(rn->member, LEAVE_TIMEOUT_MS);
	rn->out.flushed = NULL;
	rn->out.wait = NULL;
	kq_member_free(rn->member);
	rn->member = NULL;
	return status;
}
