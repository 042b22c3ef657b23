/*
 * cleaner.c - retention and log compaction.
 *
 * A timer (log.retention.check.interval.ms) runs retention on the loop: it
 * only unlinks whole closed segments, a bounded number per partition and
 * tick.  Compaction is split as common/log/log.h describes: the loop picks
 * one partition whose dirty ratio is high enough (kq_log_clean_begin), a
 * single worker thread reads and rewrites (kq_clean_task_run), and the
 * loop swaps the result in (kq_log_clean_done), which is a few renames.
 * One pass is out at a time; when it returns, the next is looked for at
 * once, so a backlog drains without waiting.  Finding nothing to clean
 * arms the cleaner's own timer (log.cleaner.backoff.ms, as Kafka's
 * cleaner threads back off), independent of retention's interval.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"

#define RETAIN_MAX_SEGS 64		/* per partition and tick */

static struct handoff *worker;

/* Loop-owned. */
static struct kq_clean_task *job;	/* the pass out, while busy */
static bool busy, quitting;
static char *job_topic, *job_dir;
static int32_t job_part;
static int64_t job_start_ms;
static int cursor;			/* round robin over partitions */
static struct event *timer, *backoff;

/* Worker thread. */
static void
run_pass(void *arg)
{
	kq_clean_task_run(arg);
}

static void
clean_config(struct kq_clean_config *cc, const struct topic_config *tc)
{
	kq_clean_config_default(cc);
	cc->delete_retention_ms = tc->delete_retention_ms;
	cc->min_compaction_lag_ms = tc->min_compaction_lag_ms;
	cc->min_cleanable_ratio = tc->min_cleanable_ratio;
	cc->max_compaction_lag_ms = tc->max_compaction_lag_ms;
}

/* Hand t (for partition p) to the worker. */
static void
hand_over(struct topic *tp, struct partition *p, struct kq_clean_task *t)
{
	busy = true;
	job_topic = kq_xstrdup(tp->name);
	job_dir = kq_xstrdup(kq_log_dir(p->log));
	job_part = p->id;
	job_start_ms = kq_now_ms();
	job = t;
	handoff_push(worker, t);
}

static void
arm(struct event *ev, int64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

/*
 * Start a pass on the next partition that needs one; false if none does.
 * Partitions are numbered in topic order; the walk starts after the one
 * cleaned last (pass 0 from there to the end, pass 1 from the start), so
 * every compacted partition gets its turn.
 */
static bool
schedule(int64_t now)
{
	struct kq_clean_config cc;
	struct kq_clean_task *t;
	int i, j, at, pass, nt = topics_count();

	if (busy || B.stopping || !cfg.cleaner_enable)
		return false;
	for (pass = 0; pass < 2; pass++) {
		at = 0;
		for (i = 0; i < nt; i++) {
			struct topic *tp = topic_at(i);

			for (j = 0; j < tp->nparts; j++, at++) {
				struct partition *p = tp->parts[j];

				if ((pass == 0) != (at >= cursor))
					continue;
				if (!p->log || !(tp->tc.cleanup_policy & POLICY_COMPACT))
					continue;
				clean_config(&cc, &tp->tc);
				if (kq_log_clean_begin(p->log, &cc, now, false, &t) < 0)
					continue;
				cursor = at + 1;
				hand_over(tp, p, t);
				return true;
			}
		}
	}
	return false;
}

static void
pass_done(void *arg)
{
	struct kq_clean_stats st;
	struct kq_clean_task *t = arg;
	struct partition *p = NULL;
	struct topic *tp;
	int rc;

	job = NULL;
	tp = quitting ? NULL : topic_find(job_topic, strlen(job_topic));
	if (tp && job_part < tp->nparts)
		p = tp->parts[job_part];
	if (p && p->log) {
		rc = kq_log_clean_done(p->log, t, &st);
		if (rc == 0 && st.records_kept < st.records_in)
			kq_log_info("compacted %s-%d below offset %lld: %lld segments to %lld, "
				    "%lld of %lld records kept, %lld to %lld bytes, %lld ms",
				    job_topic, (int)job_part, (long long)st.end,
				    (long long)st.segments_in, (long long)st.segments_out,
				    (long long)st.records_kept, (long long)st.records_in,
				    (long long)st.bytes_in, (long long)st.bytes_out,
				    (long long)(kq_now_ms() - job_start_ms));
		else if (rc != KQ_ERR_AGAIN)
			kq_log_warnx("compaction of %s-%d failed: %s", job_topic, (int)job_part,
				     kq_err_str(rc));
	} else if (quitting) {
		/* A pass not swapped in is simply dropped: its files go with it. */
		kq_clean_task_free(t);
	} else {
		/* The topic went away meanwhile: drop the work and what it wrote. */
		kq_clean_task_free(t);
		(void)rmdir(job_dir);
	}
	free(job_topic);
	free(job_dir);
	job_topic = job_dir = NULL;
	busy = false;
	if (!quitting && !schedule(kq_now_ms()) && !B.stopping)
		arm(backoff, cfg.cleaner_backoff_ms);
}

static void
retain(int64_t now)
{
	int i, n = topics_count(), deleted;
	int32_t j;

	for (i = 0; i < n; i++) {
		struct topic *t = topic_at(i);

		if (!(t->tc.cleanup_policy & POLICY_DELETE))
			continue;
		for (j = 0; j < t->nparts; j++) {
			struct partition *p = t->parts[j];

			if (!p->log || (t->tc.retention_ms < 0 && t->tc.retention_bytes < 0))
				continue;
			if (kq_log_retain(p->log, t->tc.retention_ms, t->tc.retention_bytes, now,
					  p->hw, RETAIN_MAX_SEGS, &deleted) < 0) {
				kq_log_warn("retention of %s-%d", t->name, (int)j);
				continue;
			}
			if (deleted > 0)
				kq_log_info("retention deleted %d segment%s of %s-%d; log start "
					    "offset now %lld", deleted, deleted == 1 ? "" : "s",
					    t->name, (int)j, (long long)kq_log_start(p->log));
		}
	}
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	int64_t now = kq_now_ms();

	if (B.stopping)
		return;
	retain(now);
}

static void
backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	if (!B.stopping && !busy && !schedule(kq_now_ms()))
		arm(backoff, cfg.cleaner_backoff_ms);
}

int
cleaner_start(struct event_base *base)
{
	worker = handoff_new(base, "compaction swap", run_pass, pass_done);
	timer = watch_event_new(base, -1, EV_PERSIST, timer_cb, NULL, "retention timer");
	backoff = watch_event_new(base, -1, 0, backoff_cb, NULL, "cleaner backoff");
	if (!worker || !timer || !backoff)
		return -1;
	arm(timer, cfg.retention_check_ms);
	arm(backoff, cfg.cleaner_backoff_ms);
	return 0;
}

void
cleaner_stop(void)
{
	if (!worker)
		return;
	quitting = true;
	if (job)
		kq_clean_task_cancel(job);
	/* The cancelled pass returns and pass_done drops it. */
	handoff_free(worker);
	worker = NULL;
	watch_event_free(timer);
	watch_event_free(backoff);
	timer = backoff = NULL;
}
