/*
 * log.h - one partition's append-only log on disk, in Kafka's layout:
 *
 *   DIR/TOPIC-PARTITION/00000000000000000000.log        record batches as on the wire
 *                       00000000000000000000.index      sparse offset index (8-byte entries)
 *                       00000000000000000000.timeindex  sparse time index (12-byte entries)
 *                       leader-epoch-checkpoint         "0\nN\nepoch startOffset\n..."
 *
 * The log knows nothing of sockets or threads: every function runs on the
 * thread that owns the log (the broker's loop), except kq_flush_ticket_run,
 * which may run anywhere (it only fsyncs a dup'd descriptor).
 *
 * Offsets: log start <= HW <= LEO.  The log tracks start and end (LEO) and
 * the flushed offset; the high watermark belongs to the partition (broker),
 * which persists it with kq_checkpoint_write.
 */
#ifndef KQ_LOG_H
#define KQ_LOG_H

#include "../base/base.h"

struct kq_batch_hdr;	/* common/proto/batch.h */

enum kq_flush_mode {
	KQ_FLUSH_ACK = 0,	/* fsync before acks=1/-1 answers (default) */
	KQ_FLUSH_OS = 1,	/* page cache only, like Kafka's default */
};

struct kq_log_config {
	int64_t segment_bytes;		/* 1 GiB */
	int64_t segment_ms;		/* 7 days */
	int32_t index_interval_bytes;	/* 4096 */
	int32_t segment_index_bytes;	/* 10 MiB: max .index size; roll when full */
	int32_t max_message_bytes;	/* 1048588 */
	int flush_mode;
};
void kq_log_config_default(struct kq_log_config *cfg);

/*
 * Where one fetched range lives: bytes [pos, pos+len) of fd.  The fd is
 * opened O_APPEND: read from it (pread, sendfile, evbuffer_add_file with
 * a dup), never pwrite through it.
 */
struct kq_slice {
	int fd;			/* owned by the log; valid until the next call into
				 * any log on this thread (kq_log_set_fd_cap) */
	int64_t pos;
	int64_t len;
	int64_t first_offset;	/* baseOffset of the first batch in the range */
	int64_t last_offset;	/* last offset of the last batch in the range */
};

struct kq_log;

/*
 * Open (creating if needed) the partition directory DIR/TOPIC-PARTITION.
 * If the log was not shut down cleanly (clean != true), every segment from
 * recovery_point on is validated batch by batch (size, magic, CRC) and the
 * log is truncated at the first bad or partial batch; what was cut is logged
 * with file and byte offset (kq_log_warnx, the broker's stderr logger).
 * Indexes of recovered segments are rebuilt.  With clean, the active
 * segment's tail after its last index entry is still walked (headers only)
 * and a missing or empty index is rebuilt.  A leader-epoch-checkpoint that
 * does not parse is ignored (the cache starts empty).
 * Returns 0 or an error with detail in errbuf.
 */
int kq_log_open(struct kq_log **out, const char *dir, const char *topic, int32_t partition,
		const struct kq_log_config *cfg, int64_t recovery_point, bool clean,
		char *errbuf, size_t errlen);
/*
 * A partition directory that does not exist is not made here: the log is
 * empty (offsets 0..0) and lazy, and its first kq_log_append creates the
 * directory and first segment (fsynced with its parent under flush=ack).
 * Until then nothing of it is on disk and deleting it costs nothing.
 */

/*
 * Descriptors: a segment's files are opened on demand and its segment put
 * in one LRU shared by every log of the process, which closes the files of
 * the least recently used segments beyond cap (at least KQ_LOG_FD_CAP_MIN;
 * default 1024).  A closed segment holds at most its .log, the active one
 * its .log, .index and .timeindex: so at most 3 * cap descriptors, however
 * many partitions.  A slice's fd may therefore be closed by any later call
 * into the log module on the owner thread: read or dup it at once.
 * kq_log_cached_fds: how many segments the LRU holds now.
 */
#define KQ_LOG_FD_CAP_MIN 64
void kq_log_set_fd_cap(size_t cap);
size_t kq_log_cached_fds(void);

/* Flush, trim indexes, close files.  Does not delete anything. */
void kq_log_close(struct kq_log *log);
/* Close and remove the directory and all its files. */
int kq_log_delete(struct kq_log *log);

int64_t kq_log_start(const struct kq_log *log);		/* log start offset */
int64_t kq_log_end(const struct kq_log *log);		/* LEO */
int64_t kq_log_flushed(const struct kq_log *log);	/* everything below is fsynced */
int64_t kq_log_size(const struct kq_log *log);		/* bytes in all segments */
const char *kq_log_dir(const struct kq_log *log);
/* Segment i (oldest first): base offset, bytes, last modification (ms); false past the end. */
bool kq_log_segment(const struct kq_log *log, size_t i, int64_t *base, int64_t *size,
		    int64_t *mtime_ms);
void kq_log_set_config(struct kq_log *log, const struct kq_log_config *cfg);

/*
 * Append one or more validated batches (n bytes, back to back).  Rewrites
 * each batch's baseOffset (consecutively from LEO) and, if leader_epoch >= 0,
 * partitionLeaderEpoch, in place in p; then writes them with one write(2).
 * Rolls the segment first if needed.  *base_offset = offset of the first
 * record.  Updates the indexes and the leader-epoch cache.  one: the header
 * of the single batch filling p, as the caller parsed it (a produce), so
 * it is not parsed again; NULL: each batch's header is parsed here.
 * As a follower (assign_offsets false) batches keep their offsets, which must
 * continue LEO without gaps (else KQ_ERR_INVALID).  Recovery accepts
 * forward offset jumps (compaction leaves them) but not backward ones.
 * Bad framing is KQ_ERR_CORRUPT.  A failed or short write truncates the
 * segment back and returns KQ_ERR_IO (errno set); LEO is unchanged.  A new leader epoch is
 * persisted to leader-epoch-checkpoint (an fsync, once per epoch).
 */
int kq_log_append(struct kq_log *log, unsigned char *p, size_t n, const struct kq_batch_hdr *one,
		  int32_t leader_epoch, bool assign_offsets, int64_t *base_offset);

/*
 * Find stored bytes to serve a fetch at offset, below max_offset (HW for
 * consumers, LEO for followers), up to max_bytes (whole batches only; the
 * first batch is returned even if larger when min_one).  Fills at most nslice
 * slices (one per segment touched) and sets *n.  offset outside
 * [start, LEO] gives KQ_E_OFFSET_OUT_OF_RANGE.  No data is not an error.
 */
int kq_log_read(struct kq_log *log, int64_t offset, int64_t max_offset, int64_t max_bytes,
		bool min_one, struct kq_slice *slices, int nslice, int *n);

/*
 * First offset whose timestamp >= ts, and that record's timestamp (via the
 * time index, then a scan of batch headers, then the records of the one
 * batch found).  Falls back to the batch's base offset and MaxTimestamp for
 * log-append-time batches or a batch that cannot be decoded.  Never below
 * the log start.  KQ_ERR_NOT_FOUND if none.
 */
int kq_log_offset_for_time(struct kq_log *log, int64_t ts, int64_t *offset, int64_t *found_ts);

/*
 * Raise the log start offset (DeleteRecords, retention); deletes whole
 * segments below it (rolling first when offset == LEO so the old active
 * segment can go).  offset > LEO is KQ_E_OFFSET_OUT_OF_RANGE; lower than
 * the current start is a no-op.  Slices into deleted segments become invalid.
 */
int kq_log_advance_start(struct kq_log *log, int64_t offset);

/*
 * Remove everything at or above offset (follower truncation, epoch fencing).
 * Whole batches only: the batch holding offset goes too, so LEO may end
 * up below offset.  At or below the first segment's base the log restarts
 * empty at offset.
 */
int kq_log_truncate(struct kq_log *log, int64_t offset);

/*
 * Retention (cleanup.policy=delete): delete whole closed segments, oldest
 * first, while the segment's newest timestamp (file mtime if it has none) is
 * more than retention_ms before now_ms, or while the log without it still
 * holds at least retention_bytes (-1 disables either rule).  At most
 * max_segments go per call, so one call has a bounded cost.  The active
 * segment never goes, nor does the start pass max_start (the high
 * watermark: consumers must not find the start above it).  Advances the
 * log start to the first kept segment; *deleted = segments removed.
 *
 * Deleting a segment unlinks its files and closes the log's descriptor.
 * A slice handed out earlier stays readable only through a dup of its fd
 * (the broker dups before evbuffer_add_file, so an in-flight sendfile keeps
 * the unlinked file alive); slices must not be kept across loop iterations.
 */
int kq_log_retain(struct kq_log *log, int64_t retention_ms, int64_t retention_bytes,
		  int64_t now_ms, int64_t max_start, int max_segments, int *deleted);

/*
 * Compaction (cleanup.policy=compact).  The cleaner keeps, in the closed
 * segments, only the latest record of every key; offsets, order and
 * timestamps are preserved (each rewritten batch keeps its baseOffset,
 * lastOffsetDelta, baseTimestamp and codec; gaps are legal).  Tombstones
 * (null values) are removed once they have been in a cleaned part of the
 * log for delete_retention_ms; records without a key are removed.  The
 * active segment and segments whose newest record is younger than
 * min_compaction_lag_ms are not touched.  Batches that cannot be decoded
 * are kept as they are.
 *
 * Threads: kq_log_clean_begin (owner thread) picks the segments and dups
 * their fds; kq_clean_task_run (any thread; the heavy part) reads them,
 * builds the key map and writes the cleaned segments; kq_log_clean_done
 * (owner thread) swaps them in with a few renames, or discards the work if
 * the log changed meanwhile (retention, truncation).  If the log was closed
 * or deleted meanwhile, call kq_clean_task_free instead of done.
 *
 * Crash safety, on disk (B = base offset of a cleaned segment, which
 * replaces the closed segments B = b0 < b1 < ... < bk):
 *   0. worker, first pass only: create the empty marker file kq-compacted
 *      (durably).  Recovery treats a forward offset jump as damage unless
 *      it exists: gaps are legal only in a log that was compacted.
 *   1. worker: write B.log.cleaned, B.index.cleaned, B.timeindex.cleaned;
 *      fsync them and the directory.
 *   2. owner: rename B.index.cleaned and B.timeindex.cleaned to *.swap, then
 *      B.log.cleaned to B.log.swap: this rename commits the segment; fsync
 *      the directory.
 *   3. owner: unlink b1..bk (.log, .index, .timeindex) and B.index,
 *      B.timeindex; rename the index .swap files into place; rename
 *      B.log.swap over B.log; fsync the directory.
 * Recovery (kq_log_open), before anything else: every *.cleaned file is
 * deleted (the old segments are intact); index *.swap files are deleted;
 * for each B.log.swap, the segments with base in (B, L] (L = its last
 * offset) and B's index files are deleted and B.log.swap is renamed to
 * B.log, then the log is verified from B on.  So a kill -9 at any point
 * leaves, for each cleaned segment, either it or all the old segments it
 * replaces, never a part of both.  A pass with several cleaned segments may
 * thus end half applied, which is still a valid, compacted-enough log:
 * every offset is in exactly one segment and every key's latest record is
 * kept (the next pass finishes the job).
 */
struct kq_clean_config {
	int64_t delete_retention_ms;	/* 86400000 */
	int64_t min_compaction_lag_ms;	/* 0 */
	int64_t max_compaction_lag_ms;	/* INT64_MAX: clean whatever the ratio once the
					 * oldest dirty segment's newest record is older */
	double min_cleanable_ratio;	/* 0.5: dirty bytes / closed bytes to start */
	size_t max_map_entries;		/* keys per pass (24 bytes each, load <= 1/2);
					 * 1 << 20; the first dirty segment may exceed it */
	size_t max_batch_bytes;		/* decompressed batch cap; 64 MiB */
};
void kq_clean_config_default(struct kq_clean_config *cc);

struct kq_clean_stats {
	int64_t segments_in, segments_out;
	int64_t bytes_in, bytes_out;
	int64_t records_in, records_kept;
	int64_t keyless_dropped, tombstones_dropped;
	int64_t batches_undecodable;
	int64_t end;			/* the pass cleaned offsets below this */
};

struct kq_clean_task;

/*
 * Start a pass when the dirty part (closed segments not yet cleaned) is at
 * least min_cleanable_ratio of the closed bytes, or kept tombstones are due
 * to expire, or force.  KQ_ERR_AGAIN when there is nothing to do or a task
 * is already out; KQ_ERR_IO if fds cannot be dup'd.
 */
int kq_log_clean_begin(struct kq_log *log, const struct kq_clean_config *cc, int64_t now_ms,
		       bool force, struct kq_clean_task **out);
void kq_clean_task_run(struct kq_clean_task *t);
/* Swap in (or discard) and free t.  0, the task's error, or KQ_ERR_AGAIN if stale. */
int kq_log_clean_done(struct kq_log *log, struct kq_clean_task *t,
		      struct kq_clean_stats *st);
/* Any thread: make a running kq_clean_task_run stop soon (its error: KQ_ERR_AGAIN). */
void kq_clean_task_cancel(struct kq_clean_task *t);
/* Free a task whose log is gone; its *.cleaned files are removed. */
void kq_clean_task_free(struct kq_clean_task *t);
/* All three steps in this thread (tests, tools).  KQ_ERR_AGAIN if nothing to do. */
int kq_log_clean(struct kq_log *log, const struct kq_clean_config *cc, int64_t now_ms,
		 bool force, struct kq_clean_stats *st);

/* Roll if the active segment is older than segment.ms (call periodically). */
int kq_log_maybe_roll(struct kq_log *log, int64_t now_ms);

/* fsync everything appended so far, in this thread.  Updates kq_log_flushed. */
int kq_log_sync(struct kq_log *log);

/*
 * Group commit off the loop thread: kq_log_flush_begin takes a dup of the
 * active segment's fd and the offset it covers (older segments are already
 * synced when they roll), plus what else must be durable before those
 * offsets are acknowledged: a new log's directory entries (descriptors of
 * the partition directory and its parent) and, if the leader-epoch cache
 * changed, its text for leader-epoch-checkpoint.  kq_flush_ticket_run (any
 * thread) fdatasyncs, writes the checkpoint atomically, fsyncs the
 * directories and frees the ticket's resources; kq_log_flush_done (owner
 * thread) records the new flushed offset.  begin returns KQ_ERR_AGAIN if
 * nothing needs flushing.  A ticket that is never run must be given to
 * kq_flush_ticket_free.
 */
struct kq_flush_ticket {
	int fd;
	int64_t end_offset;
	int err;		/* set by run: 0 or KQ_ERR_IO with errno in sys_errno */
	int sys_errno;
	int dir_fd, parent_fd;	/* -1, or directories to fsync */
	bool dirs;
	char *epoch_path;	/* NULL, or the epoch checkpoint to write ... */
	struct kq_buf epoch;	/* ... with this text, */
	uint64_t epoch_gen;	/* ... the cache's version (0: none) */
};
int kq_log_flush_begin(struct kq_log *log, struct kq_flush_ticket *t);
void kq_flush_ticket_run(struct kq_flush_ticket *t);
void kq_flush_ticket_free(struct kq_flush_ticket *t);
void kq_log_flush_done(struct kq_log *log, const struct kq_flush_ticket *t);

/* Leader-epoch cache. */
int32_t kq_log_latest_epoch(const struct kq_log *log);		/* -1 if none */
/* End offset of epoch (start of the next epoch, or LEO); -1 if unknown; *epoch_out = largest <= epoch. */
int64_t kq_log_epoch_end(const struct kq_log *log, int32_t epoch, int32_t *epoch_out);

/*
 * Checkpoint files ("topic partition offset" lines, Kafka's text format),
 * written atomically: temp file, fsync, rename, fsync of the directory.
 */
struct kq_checkpoint_entry {
	char *topic;
	int32_t partition;
	int64_t offset;
};
int kq_checkpoint_write(const char *path, const struct kq_checkpoint_entry *e, size_t n);
/* *e is malloc'd (free topics and array with kq_checkpoint_free); missing file = 0 entries. */
int kq_checkpoint_read(const char *path, struct kq_checkpoint_entry **e, size_t *n);
void kq_checkpoint_free(struct kq_checkpoint_entry *e, size_t n);

/*
 * Write a small file atomically (temp + fsync + rename + fsync dir).  Used for
 * checkpoints, topic configs, meta.properties.
 */
int kq_write_file_atomic(const char *path, const void *p, size_t n);

/*
 * I/O seam: tests may replace these to inject ENOSPC, EIO and short writes.
 */
struct kq_io {
	ssize_t (*write)(int fd, const void *p, size_t n);
	ssize_t (*pwrite)(int fd, const void *p, size_t n, off_t off);
	int (*fsync)(int fd);
	int (*fdatasync)(int fd);
};
extern struct kq_io kq_io;
/* write(2) through kq_io until all is written: 0, or KQ_ERR_IO (ENOSPC for a write of 0). */
int kq_io_write_all(int fd, const void *p, size_t n);
/*
 * pread(2) exactly n bytes at pos: 0; KQ_ERR_TRUNCATED when the file ends
 * first (the buffer then holds what was read, nothing made up); KQ_ERR_IO
 * with errno kept.  Any thread.
 */
int kq_io_pread_all(int fd, void *p, size_t n, int64_t pos);

#endif
