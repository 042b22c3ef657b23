/*
 * clean.h - internal to common/log: the pure parts of log compaction, with
 * no files and no segments, so they can run on any thread.
 *
 * A key map remembers, for every key seen in the dirty part of a log, the
 * offset of its latest record.  Keys are stored as two independent 64-bit
 * hashes (like Kafka's MD5 digests): memory per key is fixed whatever the
 * key's size.
 */
#ifndef KQ_LOG_CLEAN_H
#define KQ_LOG_CLEAN_H

#include "../base/base.h"
#include "../proto/proto.h"

struct kq_log_map;

struct kq_log_map *kq_log_map_new(size_t max_entries);
void kq_log_map_free(struct kq_log_map *m);
/* Record offset as key's latest (the larger of the two wins).  false if the map is full. */
bool kq_log_map_put(struct kq_log_map *m, struct kq_bytes key, int64_t offset);
/* Latest offset of key, or -1. */
int64_t kq_log_map_get(const struct kq_log_map *m, struct kq_bytes key);
size_t kq_log_map_count(const struct kq_log_map *m);
/* Change the entry limit (entries already in stay). */
void kq_log_map_limit(struct kq_log_map *m, size_t max_entries);

/* The decision for one record: keep it (true) or drop it. */
typedef bool (*kq_log_keep_fn)(void *arg, const struct kq_record *rec);

enum {
	KQ_FILTER_ALL = 0,	/* every record kept: reuse the batch as it is */
	KQ_FILTER_SOME = 1,	/* a rebuilt batch was appended to out */
	KQ_FILTER_NONE = 2,	/* every record dropped */
};

/*
 * Filter the records of one whole batch (n bytes at p).  The rebuilt batch
 * keeps baseOffset, lastOffsetDelta, baseTimestamp, producer fields and the
 * codec; only the kept records' bytes (copied unchanged, so their offset and
 * timestamp deltas still hold), their count, the max timestamp and the CRC
 * change.  Control batches are never offered to keep (KQ_FILTER_ALL).  A
 * negative return means the batch could not be decoded (over max_decompressed,
 * corrupt, unknown codec): the caller keeps it untouched.
 */
int kq_log_filter_batch(const unsigned char *p, size_t n, size_t max_decompressed,
			kq_log_keep_fn keep, void *arg, struct kq_buf *out);

/* Call fn for every record of a batch; same error rules as the filter. */
int kq_log_each_record(const unsigned char *p, size_t n, size_t max_decompressed,
		       void (*fn)(void *arg, const struct kq_record *rec), void *arg);

#endif
