/*
 * flush.c - group commit.  The loop takes one flush ticket per dirty
 * partition and hands the whole batch to a single flusher thread; while it
 * fsyncs, new appends only mark partitions dirty and ride on the next batch,
 * so one fdatasync covers every batch written in the meantime.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

/*
 * Tickets per batch: each holds a dup'd descriptor until its fsync, so
 * 10,000 dirty partitions must not take 10,000 at once.  The rest stay
 * dirty and go with the next batch.
 */
#define FLUSH_BATCH_MAX 256

struct job {
	struct partition *p;
	struct kq_flush_ticket t;
};

static struct handoff *flusher;
static bool started;

/* Loop-owned; the flusher reads jobs only while busy. */
static struct job *jobs;
static int njobs, jobcap;
static bool busy;
static struct partition *dirty_head;

/* Flusher thread: the one batch. */
static void
run_batch(void *arg)
{
	int i;

	for (i = 0; i < njobs; i++)
		kq_flush_ticket_run(&jobs[i].t);
}

static void
partition_flushed(struct partition *p)
{
	if (p->dead) {
		if (!p->dirty)
			free(p);
		return;
	}
	partition_set_hw(p, kq_log_flushed(p->log));
}

static void
batch_done(void *arg)
{
	int i;

	for (i = 0; i < njobs; i++) {
		struct partition *p = jobs[i].p;

		p->flushing = false;
		if (jobs[i].t.err) {
			if (!p->dead) {
				errno = jobs[i].t.sys_errno;
				kq_log_warn("fsync %s failed", kq_log_dir(p->log));
				p->flush_err = KQ_E_KAFKA_STORAGE_ERROR;
			}
		} else if (!p->dead) {
			kq_log_flush_done(p->log, &jobs[i].t);
			p->flush_err = 0;
		}
		partition_flushed(p);
	}
	njobs = 0;
	busy = false;
	produce_waiters_check();
	flush_kick();
}

int
flush_start(struct event_base *base)
{
	flusher = handoff_new(base, "flush completion", run_batch, batch_done);
	if (!flusher)
		return -1;
	started = true;
	return 0;
}

void
flush_mark_dirty(struct partition *p)
{
	if (p->dirty)
		return;
	p->dirty = true;
	p->dirty_next = dirty_head;
	dirty_head = p;
}

void
flush_kick(void)
{
	struct partition *p, *next;

	if (busy || !dirty_head || !started)
		return;
	for (p = dirty_head; p && njobs < FLUSH_BATCH_MAX; p = next) {
		struct kq_flush_ticket t;
		int rc;

		next = p->dirty_next;
		p->dirty = false;
		p->dirty_next = NULL;
		if (p->dead) {
			if (!p->flushing)
				free(p);
			continue;
		}
		rc = kq_log_flush_begin(p->log, &t);
		if (rc == KQ_ERR_AGAIN) {
			partition_set_hw(p, kq_log_flushed(p->log));
			continue;
		}
		if (rc < 0) {
			kq_log_warn("flush %s: %s", kq_log_dir(p->log), kq_err_str(rc));
			p->flush_err = KQ_E_KAFKA_STORAGE_ERROR;
			continue;
		}
		if (njobs == jobcap) {
			jobcap = jobcap ? jobcap * 2 : 64;
			jobs = kq_xrealloc(jobs, (size_t)jobcap * sizeof(*jobs));
		}
		jobs[njobs].p = p;
		jobs[njobs].t = t;
		njobs++;
		p->flushing = true;
	}
	dirty_head = p;
	if (njobs == 0) {
		produce_waiters_check();
		return;
	}
	busy = true;
	handoff_push(flusher, NULL);
}

bool
flush_busy(void)
{
	return busy;
}

void
flush_stop(void)
{
	if (!started)
		return;
	/* No new batch from batch_done's kick; flush_all_sync takes the rest. */
	started = false;
	/* The batch out finishes, and its completion runs, here. */
	handoff_free(flusher);
	flusher = NULL;
}

void
flush_all_sync(void)
{
	struct partition *p, *next;
	int i, n = topics_count();

	for (p = dirty_head, dirty_head = NULL; p; p = next) {
		next = p->dirty_next;
		p->dirty = false;
		if (p->dead && !p->flushing)
			free(p);
	}
	for (i = 0; i < n; i++) {
		struct topic *t = topic_at(i);
		int32_t j;

		for (j = 0; j < t->nparts; j++) {
			p = t->parts[j];
			if (kq_log_sync(p->log) < 0)
				kq_log_warn("fsync %s failed", kq_log_dir(p->log));
			else
				partition_set_hw(p, kq_log_flushed(p->log));
		}
	}
	produce_waiters_check();
}
