/*
 * h_legacy.c - the old-format halves of Produce, Fetch and ListOffsets:
 * Produce v0-2 message sets become one RecordBatch v2 before the normal
 * validation and append; Fetch v0-3 get the stored batches down-converted
 * to MessageSet v0 (Fetch v0-1) or v1 (v2-3); ListOffsets v0 answers with
 * Kafka's list of segment offsets.
 *
 * Down-conversion cannot be zero-copy: the batches are read (at most the
 * request's byte limits, capped at LEGACY_MAX_RESPONSE, or the one batch
 * past them) and converted into memory capped by the same limits, so one
 * request costs no more than its own max_bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "broker.h"

#define MAX_SLICES 8
/*
 * Down-converted bytes per response: v0-2 have no response limit and a
 * client may ask for 2 GiB a partition, which the zero-copy path never
 * holds in memory but this one would.  Past it the client asks again.
 */
#define LEGACY_MAX_RESPONSE (16 << 20)

int
legacy_produce_convert(struct req *rq, const struct topic *t, struct kq_bytes *rec)
{
	static struct kq_buf b;
	unsigned char *copy;
	int rc;

	kq_buf_reset(&b);
	rc = kq_msgset_to_batch(rec->p, (size_t)rec->len, (size_t)t->tc.max_message_bytes,
				kq_now_ms(), &b);
	if (rc)
		return rc;
	/* In the arena: the append may keep pointing into it until the handler returns. */
	copy = kq_arena_alloc(rq->arena, b.len);
	memcpy(copy, b.buf, b.len);
	*rec = kq_bytes_of(copy, b.len);
	return 0;
}

/* Down-convert the batches of one slice onto set; 1 = full, 0 = go on, else a Kafka error. */
static int
slice_convert(const struct kq_slice *s, int magic, int64_t min_offset, size_t limit,
	      struct kq_buf *raw, struct kq_buf *set)
{
	size_t pos = 0;
	int rc;

	kq_buf_reset(raw);
	kq_buf_grow(raw, (size_t)s->len);
	if (kq_io_pread_all(s->fd, raw->buf, (size_t)s->len, s->pos) != 0)
		return KQ_E_KAFKA_STORAGE_ERROR;
	raw->len = (size_t)s->len;
	while (pos + KQ_BATCH_HEADER_SIZE <= raw->len) {
		int64_t size = kq_batch_size(raw->buf + pos);

		if (size < KQ_BATCH_HEADER_SIZE || (uint64_t)size > raw->len - pos)
			return KQ_E_KAFKA_STORAGE_ERROR;
		rc = kq_msgset_from_batch(raw->buf + pos, (size_t)size, magic, min_offset, limit,
					  set);
		if (rc == 1)
			return 1;
		if (rc < 0)
			return KQ_E_KAFKA_STORAGE_ERROR;
		pos += (size_t)size;
	}
	return 0;
}

/* One partition's message set for an old fetcher. */
static int16_t
part_convert(struct partition *p, int64_t offset, int64_t limit, bool min_one, int magic,
	     struct kq_buf *set)
{
	static struct kq_buf raw;
	struct kq_slice sl[MAX_SLICES];
	int i, n = 0, rc;

	rc = kq_log_read(p->log, offset, p->hw, limit, min_one, sl, MAX_SLICES, &n);
	if (rc)
		return (int16_t)(rc > 0 ? rc : KQ_E_KAFKA_STORAGE_ERROR);
	for (i = 0; i < n; i++) {
		rc = slice_convert(&sl[i], magic, offset, (size_t)limit, &raw, set);
		if (rc == 1)
			break;
		if (rc) {
			kq_log_warnx("fetch: %s: cannot down-convert the batches at file offset %lld",
				     kq_log_dir(p->log), (long long)sl[i].pos);
			return (int16_t)rc;
		}
	}
	if (raw.cap > (1u << 20))
		kq_buf_free(&raw);	/* a big fetch does not keep its memory */
	return 0;
}

/*
 * Fetch v0-3: like fetch_eval, but each partition's records are
 * down-converted into the response.  NULL = wait (not forced, no error,
 * fewer than MinBytes converted).
 */
struct evbuffer *
legacy_fetch_eval(int16_t version, const struct kq_FetchRequest *m, bool force)
{
	static struct kq_buf set;
	struct kq_buf *w = api_wbuf();
	struct evbuffer *out;
	int magic = version >= 2 ? 1 : 0;
	int64_t total = 0, remaining = LEGACY_MAX_RESPONSE;
	bool any_err = false;
	int32_t i, j;

	if (version >= 3)
		remaining = KQ_MIN(remaining, (int64_t)m->MaxBytes);
	if (version >= 1)
		kq_wr_i32(w, 0);	/* throttle_time_ms */
	kq_wr_i32(w, m->Topics_count);
	for (i = 0; i < m->Topics_count; i++) {
		const struct kq_FetchRequest_FetchTopic *ft = &m->Topics[i];

		kq_wr_str(w, ft->Topic);
		kq_wr_i32(w, ft->Partitions_count);
		for (j = 0; j < ft->Partitions_count; j++) {
			const struct kq_FetchRequest_FetchPartition *rp = &ft->Partitions[j];
			struct partition *p = partition_find(ft->Topic, rp->Partition);
			int64_t limit = KQ_MIN((int64_t)rp->PartitionMaxBytes, remaining);
			int16_t err = 0;

			kq_buf_reset(&set);
			if (!p)
				err = KQ_E_UNKNOWN_TOPIC_OR_PARTITION;
			else if (p->role != ROLE_LEADER)
				err = KQ_E_NOT_LEADER_OR_FOLLOWER;
			else if (limit > 0 || total == 0)
				err = part_convert(p, rp->FetchOffset, KQ_MAX(limit, 0), total == 0,
						   magic, &set);
			if (err) {
				any_err = true;
				kq_buf_reset(&set);
			}
			total += (int64_t)set.len;
			remaining -= (int64_t)set.len;
			kq_wr_i32(w, rp->Partition);
			kq_wr_i16(w, err);
			kq_wr_i64(w, p && !err ? p->hw : -1);
			kq_wr_bytes(w, kq_bytes_of(set.buf, set.len));
		}
	}
	if (set.cap > (1u << 20))
		kq_buf_free(&set);
	if (!force && !any_err && total < m->MinBytes)
		return NULL;
	if (!(out = evbuffer_new()))
		kq_fatalx("out of memory");
	evbuffer_add(out, w->buf, w->len);
	return out;
}

/*
 * ListOffsets v0: Kafka's legacyFetchOffsetsBefore.  Each segment stands
 * for its base offset (at least the log start) and its file's modification
 * time, a non-empty active segment adds the LEO at now; the answer is up to
 * max_num_offsets of those, newest first, from the latest one not newer
 * than the timestamp (-1: the last, -2: the first).  A consumer never sees
 * past the HW: offsets above it give way to the HW.
 */
void
legacy_list_offsets(struct req *rq, int32_t replica, struct partition *p,
		    const struct kq_ListOffsetsRequest_ListOffsetsPartition *rp,
		    struct kq_ListOffsetsResponse_ListOffsetsPartitionResponse *pr)
{
	int64_t base, size = 0, mtime, *off, *tm, *ret;
	size_t nseg = 0, n, i;
	long start;
	int32_t k, nret;

	while (kq_log_segment(p->log, nseg, &base, &size, &mtime))
		nseg++;
	off = kq_arena_alloc(rq->arena, (nseg + 1) * sizeof(*off));
	tm = kq_arena_alloc(rq->arena, (nseg + 1) * sizeof(*tm));
	for (i = 0; i < nseg; i++) {
		kq_log_segment(p->log, i, &base, &size, &mtime);
		off[i] = KQ_MAX(base, kq_log_start(p->log));
		tm[i] = mtime;
	}
	n = nseg;
	if (size > 0) {
		off[n] = kq_log_end(p->log);
		tm[n++] = kq_now_ms();
	}
	if (rp->Timestamp == -2) {
		start = 0;
	} else {
		start = (long)n - 1;
		while (rp->Timestamp != -1 && start >= 0 && tm[start] > rp->Timestamp)
			start--;
	}
	nret = (int32_t)KQ_MIN((long)KQ_MAX(rp->MaxNumOffsets, 0), start + 1);
	ret = kq_arena_alloc(rq->arena, ((size_t)nret + 1) * sizeof(*ret));
	k = 0;
	if (replica == -1 && nret > 0 && off[start] > p->hw) {
		ret[k++] = p->hw;
		while (nret > 0 && off[start] > p->hw) {
			start--;
			nret--;
		}
	}
	while (nret-- > 0)
		ret[k++] = off[start--];
	pr->OldStyleOffsets = ret;
	pr->OldStyleOffsets_count = k;
}
