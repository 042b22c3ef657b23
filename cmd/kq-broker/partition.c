/*
 * partition.c - one partition as the broker sees it: its log, the high
 * watermark (kept apart from the LEO), leader epoch and role.  Standalone,
 * this node leads every partition in epoch 0.
 */
#include <stdlib.h>
#include <string.h>

#include "broker.h"

static void
log_config(struct kq_log_config *lc, const struct topic_config *tc)
{
	kq_log_config_default(lc);
	lc->segment_bytes = tc->segment_bytes;
	lc->segment_ms = tc->segment_ms;
	lc->index_interval_bytes = tc->index_interval_bytes;
	lc->segment_index_bytes = tc->segment_index_bytes;
	lc->max_message_bytes = tc->max_message_bytes;
	lc->flush_mode = cfg.flush_mode;
}

int
partition_open(struct partition **out, struct topic *t, int32_t id, int64_t recovery,
	       int64_t hw, int64_t log_start, bool clean, char *errbuf, size_t errlen)
{
	struct kq_log_config lc;
	struct partition *p;
	int rc;

	log_config(&lc, &t->tc);
	p = kq_xcalloc(1, sizeof(*p));
	p->topic = t;
	p->id = id;
	p->role = ROLE_LEADER;
	p->leader_epoch = 0;
	rc = kq_log_open(&p->log, cfg.data_dir, t->name, id, &lc, recovery, clean, errbuf, errlen);
	if (rc < 0) {
		free(p);
		return rc;
	}
	if (log_start > kq_log_start(p->log) && log_start <= kq_log_end(p->log))
		kq_log_advance_start(p->log, log_start);
	/*
	 * What survived recovery is this leader's whole log, and with no other
	 * replica the HW is the LEO once it is on disk.  The checkpointed HW
	 * is only a lower bound kept for Kafka's file layout.
	 */
	if ((!clean || kq_log_flushed(p->log) < kq_log_end(p->log)) && kq_log_sync(p->log) < 0)
		kq_log_warn("fsync %s", kq_log_dir(p->log));
	(void)hw;
	p->hw = cfg.flush_mode == KQ_FLUSH_OS ? kq_log_end(p->log) : kq_log_flushed(p->log);
	if (p->hw > kq_log_end(p->log))
		p->hw = kq_log_end(p->log);
	p->ck_recovery = p->ck_hw = p->ck_start = -1;
	watch_partition(p);
	producer_state_rebuild(p);
	*out = p;
	return 0;
}

void
partition_close(struct partition *p, bool delete)
{
	watch_forget(p);
	produce_waiters_drop(p);
	producer_state_free(p);
	if (delete) {
		if (kq_log_delete(p->log) < 0)
			kq_log_warn("delete partition %s-%d", p->topic->name, p->id);
	} else {
		kq_log_close(p->log);
	}
	p->log = NULL;
	if (p->dirty || p->flushing)
		p->dead = true;	/* flush.c frees it */
	else
		free(p);
}

void
partition_set_hw(struct partition *p, int64_t hw)
{
	if (cfg.flush_mode == KQ_FLUSH_OS)
		hw = kq_log_end(p->log);
	if (hw > kq_log_end(p->log))
		hw = kq_log_end(p->log);
	if (hw <= p->hw)
		return;
	p->hw = hw;
	partition_hw_advanced(p);
}

int
partition_append(struct partition *p, unsigned char *b, size_t n, const struct kq_batch_hdr *h,
		 int64_t *base_offset)
{
	int rc;

	watch_partition(p);
	rc = kq_log_append(p->log, b, n, h, p->leader_epoch, true, base_offset);
	if (rc == KQ_ERR_IO) {
		kq_log_warn("append to %s", kq_log_dir(p->log));
		return KQ_E_KAFKA_STORAGE_ERROR;
	}
	if (rc < 0) {
		kq_log_warnx("append to %s: %s", kq_log_dir(p->log), kq_err_str(rc));
		return KQ_E_KAFKA_STORAGE_ERROR;
	}
	if (rc > 0)
		return rc;
	if (cfg.flush_mode == KQ_FLUSH_OS)
		partition_set_hw(p, kq_log_end(p->log));
	else
		flush_mark_dirty(p);
	return 0;
}

void
partition_hw_advanced(struct partition *p)
{
	(void)p;
	fetch_waiters_wake();
}
