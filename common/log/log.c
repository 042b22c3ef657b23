/*
 * log.c - segments, sparse indexes, append, read, recovery and the
 * leader-epoch cache of one partition log.
 *
 * Indexes are kept in memory (sorted arrays searched with bsearch) and
 * appended to their files with pwrite; nothing is mmapped or preallocated,
 * so there is never a zero-filled tail to trim.  Descriptors are opened on
 * demand (seg_fd; the active segment's index files when entries are
 * written) and closed again by one LRU of segments shared by every log of
 * the process (fd_cap segments: a closed one holds its .log, the active one
 * up to three), so a broker with thousands of partitions and segments stays
 * within its RLIMIT_NOFILE.  A log that has never been written has no
 * directory and no files (lazy): the first append makes them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clean.h"
#include "log.h"
#include "../proto/proto.h"

#define HDR KQ_BATCH_HEADER_SIZE
#define OVERHEAD KQ_BATCH_LOG_OVERHEAD
#define BATCH_CAP ((int64_t)1 << 30)	/* no sane batch is larger */
#define SCAN_CHUNK (1 << 20)
#define EPOCH_FILE "leader-epoch-checkpoint"
#define EPOCH_MAX 100000		/* entries read from a checkpoint */

struct idx_ent {
	int64_t off;		/* absolute last offset of the batch */
	int64_t pos;
};

struct tidx_ent {
	int64_t ts;
	int64_t off;		/* absolute */
};

struct seg {
	int64_t base;
	int64_t size;		/* bytes of whole batches */
	int64_t next;		/* offset after the last batch (base if empty) */
	int64_t max_ts;		/* -1 if no batch */
	int64_t max_ts_off;	/* last offset of the batch holding max_ts */
	int64_t created_ms;
	int64_t since_idx;	/* bytes appended since the last index entry */
	bool synced;		/* everything in .log is fsynced */
	int fd;			/* -1 if closed by the LRU (or lazy); see seg_fd */
	bool in_lru;		/* its fd is open: the LRU may close it */
	struct seg *lru_prev, *lru_next;
	int idx_fd, tidx_fd;	/* -1 unless active */
	struct idx_ent *idx;
	size_t nidx, cidx;
	struct tidx_ent *tidx;
	size_t ntidx, ctidx;
};

/* A finished cleaning pass: offsets below end had been cleaned by time ms. */
struct clean_pass {
	int64_t end, ms;
};
#define CLEAN_PASSES 8
/* Written before the first compaction commits; never removed. */
#define GAPS_MARKER "kq-compacted"

struct epoch_ent {
	int32_t epoch;
	int64_t start;
};

struct kq_log {
	char *dir;
	bool lazy;		/* nothing on disk yet: see log_materialize */
	bool dirs_unsynced;	/* made by log_materialize: the next flush fsyncs them */
	struct kq_log_config cfg;
	struct seg **segs;
	size_t nseg, cseg;
	int64_t start, flushed;
	struct epoch_ent *ep;
	size_t nep, cep;
	/* Versions of the cache: in memory, and in EPOCH_FILE (flush=ack defers). */
	uint64_t epoch_gen, epoch_disk_gen;
	/* Sequential fetches resume where the previous one stopped. */
	int64_t cache_off, cache_pos, cache_base;
	/* Compaction state, in memory only (a restart just cleans once more). */
	uint64_t gen;		/* tells a cleaning task's log from a reopened one */
	bool cleaning;		/* a task is out */
	bool gappy;		/* compacted once (GAPS_MARKER): offset gaps are legal */
	int64_t clean_end;	/* offsets below were cleaned: the dirty part starts here */
	struct clean_pass tp[CLEAN_PASSES];
	size_t ntp;
	int64_t tomb_due_ms;	/* kept tombstones may expire then (0: none kept) */
};

void
kq_log_config_default(struct kq_log_config *cfg)
{
	cfg->segment_bytes = (int64_t)1 << 30;
	cfg->segment_ms = 7LL * 24 * 3600 * 1000;
	cfg->index_interval_bytes = 4096;
	cfg->segment_index_bytes = 10 << 20;
	cfg->max_message_bytes = 1048588;
	cfg->flush_mode = KQ_FLUSH_ACK;
}

static struct seg *
active(const struct kq_log *log)
{
	return log->segs[log->nseg - 1];
}

static char *
seg_path(const struct kq_log *log, int64_t base, const char *ext)
{
	return kq_xasprintf("%s/%020" PRId64 ".%s", log->dir, base, ext);
}

static int
fsync_dir(const char *dir)
{
	int fd, rc;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return KQ_ERR_IO;
	rc = kq_io.fsync(fd);
	close(fd);
	return rc < 0 ? KQ_ERR_IO : 0;
}

static int
write_full(int fd, const void *p, size_t n, int64_t pos)
{
	ssize_t w;

	w = kq_io.pwrite(fd, p, n, (off_t)pos);
	if (w < 0)
		return KQ_ERR_IO;
	if ((size_t)w != n) {
		errno = ENOSPC;
		return KQ_ERR_IO;
	}
	return 0;
}

/* ---- indexes ---- */

static size_t
idx_max(const struct kq_log_config *cfg)
{
	int32_t b = cfg->segment_index_bytes;

	return b < 8 ? 1 : (size_t)b / 8;
}

static void
idx_push(struct seg *s, int64_t off, int64_t pos)
{
	if (s->nidx == s->cidx) {
		s->cidx = s->cidx ? s->cidx * 2 : 64;
		s->idx = kq_xrealloc(s->idx, s->cidx * sizeof(*s->idx));
	}
	s->idx[s->nidx++] = (struct idx_ent){ off, pos };
}

static void
tidx_push(struct seg *s, int64_t ts, int64_t off)
{
	if (s->ntidx == s->ctidx) {
		s->ctidx = s->ctidx ? s->ctidx * 2 : 64;
		s->tidx = kq_xrealloc(s->tidx, s->ctidx * sizeof(*s->tidx));
	}
	s->tidx[s->ntidx++] = (struct tidx_ent){ ts, off };
}

/*
 * Account one batch (at pos, last offset last, max timestamp ts) in the
 * in-memory indexes, Kafka's way: an entry is added before the batch when
 * more than index_interval_bytes were appended since the previous one.
 * Returns true if entries were added.
 */
static bool
idx_account(const struct kq_log_config *cfg, struct seg *s, int64_t pos, int64_t size,
	    int64_t last, int64_t ts)
{
	bool added = false;

	if (ts > s->max_ts) {
		s->max_ts = ts;
		s->max_ts_off = last;
	}
	if (s->since_idx > cfg->index_interval_bytes && s->nidx < idx_max(cfg)) {
		idx_push(s, last, pos);
		if (s->max_ts >= 0 && (s->ntidx == 0 || s->max_ts > s->tidx[s->ntidx - 1].ts))
			tidx_push(s, s->max_ts, s->max_ts_off);
		s->since_idx = 0;
		added = true;
	}
	s->since_idx += size;
	return added;
}

static void
enc_idx(unsigned char *p, const struct seg *s, const struct idx_ent *e)
{
	kq_put32(p, (uint32_t)(e->off - s->base));
	kq_put32(p + 4, (uint32_t)e->pos);
}

static void
enc_tidx(unsigned char *p, const struct seg *s, const struct tidx_ent *e)
{
	kq_put64(p, (uint64_t)e->ts);
	kq_put32(p + 8, (uint32_t)(e->off - s->base));
}

/* Write index entries [from_i, nidx) and [from_t, ntidx) to the open files. */
static int
idx_flush(struct seg *s, size_t from_i, size_t from_t)
{
	unsigned char *buf;
	size_t i, n;
	int rc = 0;

	if (s->idx_fd < 0 || s->tidx_fd < 0)
		return 0;
	n = s->nidx - from_i;
	if (n > 0) {
		buf = kq_xmalloc(n * 8);
		for (i = 0; i < n; i++)
			enc_idx(buf + i * 8, s, &s->idx[from_i + i]);
		rc = write_full(s->idx_fd, buf, n * 8, (int64_t)from_i * 8);
		free(buf);
		if (rc < 0)
			return rc;
	}
	n = s->ntidx - from_t;
	if (n > 0) {
		buf = kq_xmalloc(n * 12);
		for (i = 0; i < n; i++)
			enc_tidx(buf + i * 12, s, &s->tidx[from_t + i]);
		rc = write_full(s->tidx_fd, buf, n * 12, (int64_t)from_t * 12);
		free(buf);
	}
	return rc;
}

/* Rewrite both index files from memory (after a rebuild or truncation). */
static int
idx_rewrite(struct kq_log *log, struct seg *s)
{
	char *p;
	int fd, tfd, rc;

	if (s->idx_fd >= 0)
		return ftruncate(s->idx_fd, 0) < 0 || ftruncate(s->tidx_fd, 0) < 0 ?
			       KQ_ERR_IO : idx_flush(s, 0, 0);
	p = seg_path(log, s->base, "index");
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	free(p);
	p = seg_path(log, s->base, "timeindex");
	tfd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	free(p);
	if (fd < 0 || tfd < 0) {
		if (fd >= 0)
			close(fd);
		if (tfd >= 0)
			close(tfd);
		return KQ_ERR_IO;
	}
	s->idx_fd = fd;
	s->tidx_fd = tfd;
	rc = idx_flush(s, 0, 0);
	close(fd);
	close(tfd);
	s->idx_fd = s->tidx_fd = -1;
	return rc;
}

/*
 * Load a segment's index files, keeping the valid prefix: entries must
 * grow, stay inside the segment and point below size.  A missing file gives
 * false so that the caller rebuilds it.
 */
static bool
idx_load(struct kq_log *log, struct seg *s)
{
	unsigned char *buf;
	struct stat st;
	char *p;
	int fd;
	size_t n, i;
	int64_t off, pos, ts;
	bool ok = true;

	p = seg_path(log, s->base, "index");
	fd = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) == 0 && st.st_size >= 8 && st.st_size <= ((int64_t)1 << 31)) {
		n = (size_t)st.st_size / 8;
		buf = kq_xmalloc(n * 8);
		if (kq_io_pread_all(fd, buf, n * 8, 0) == 0) {
			for (i = 0; i < n; i++) {
				off = s->base + (int32_t)kq_be32(buf + i * 8);
				pos = (int32_t)kq_be32(buf + i * 8 + 4);
				if (off < s->base || pos < 0 || pos + HDR > s->size)
					break;
				if (s->nidx && (off <= s->idx[s->nidx - 1].off ||
						pos <= s->idx[s->nidx - 1].pos))
					break;
				idx_push(s, off, pos);
			}
		}
		free(buf);
	}
	close(fd);

	p = seg_path(log, s->base, "timeindex");
	fd = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) == 0 && st.st_size >= 12 && st.st_size <= ((int64_t)1 << 31)) {
		n = (size_t)st.st_size / 12;
		buf = kq_xmalloc(n * 12);
		if (kq_io_pread_all(fd, buf, n * 12, 0) == 0) {
			for (i = 0; i < n; i++) {
				ts = (int64_t)kq_be64(buf + i * 12);
				off = s->base + (int32_t)kq_be32(buf + i * 12 + 8);
				if (off < s->base)
					break;
				if (s->ntidx && (ts <= s->tidx[s->ntidx - 1].ts ||
						 off < s->tidx[s->ntidx - 1].off))
					break;
				tidx_push(s, ts, off);
			}
		}
		free(buf);
	}
	close(fd);
	if (s->ntidx) {
		s->max_ts = s->tidx[s->ntidx - 1].ts;
		s->max_ts_off = s->tidx[s->ntidx - 1].off;
	}
	return ok;
}

/* Drop index entries at or after byte pos, or past offset next. */
static void
idx_cut(struct seg *s, int64_t pos, int64_t next)
{
	while (s->nidx && (s->idx[s->nidx - 1].pos >= pos || s->idx[s->nidx - 1].off >= next))
		s->nidx--;
	while (s->ntidx && s->tidx[s->ntidx - 1].off >= next)
		s->ntidx--;
	s->max_ts = s->ntidx ? s->tidx[s->ntidx - 1].ts : -1;
	s->max_ts_off = s->ntidx ? s->tidx[s->ntidx - 1].off : -1;
	s->since_idx = s->size - (s->nidx ? s->idx[s->nidx - 1].pos : 0);
}

/* Last index entry whose offset < target: the scan for target starts there. */
static int64_t
idx_lookup(const struct seg *s, int64_t target)
{
	size_t lo = 0, hi = s->nidx, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->idx[mid].off < target)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? s->idx[lo - 1].pos : 0;
}

/* ---- segments ---- */

static void
seg_close_idx(struct seg *s)
{
	if (s->idx_fd >= 0)
		close(s->idx_fd);
	if (s->tidx_fd >= 0)
		close(s->tidx_fd);
	s->idx_fd = s->tidx_fd = -1;
}

/* ---- descriptors of closed segments (owner thread) ---- */

static struct seg *lru_head, *lru_tail;	/* head: the least recently used */
static size_t lru_n, fd_cap = 1024;

static void
lru_unlink(struct seg *s)
{
	if (!s->in_lru)
		return;
	if (s->lru_prev)
		s->lru_prev->lru_next = s->lru_next;
	else
		lru_head = s->lru_next;
	if (s->lru_next)
		s->lru_next->lru_prev = s->lru_prev;
	else
		lru_tail = s->lru_prev;
	s->lru_prev = s->lru_next = NULL;
	s->in_lru = false;
	lru_n--;
}

/*
 * Close the descriptors of the least recently used segments beyond fd_cap.
 * An active segment may go too: its data is reached again through a new
 * descriptor (fsync flushes the file, whichever descriptor asks), its index
 * entries are rewritten at their positions (idx_flush).
 */
static void
lru_evict(void)
{
	struct seg *v;

	while (lru_n > fd_cap) {
		v = lru_head;
		lru_unlink(v);
		seg_close_idx(v);
		close(v->fd);
		v->fd = -1;
	}
}

/* s, with its fd open, becomes the most recently used. */
static void
lru_touch(struct seg *s)
{
	if (s->fd < 0)
		return;
	lru_unlink(s);
	s->lru_prev = lru_tail;
	if (lru_tail)
		lru_tail->lru_next = s;
	else
		lru_head = s;
	lru_tail = s;
	s->in_lru = true;
	lru_n++;
	lru_evict();	/* fd_cap >= 1 never evicts the tail, s */
}

void
kq_log_set_fd_cap(size_t n)
{
	fd_cap = n < KQ_LOG_FD_CAP_MIN ? KQ_LOG_FD_CAP_MIN : n;
	lru_evict();
}

size_t
kq_log_cached_fds(void)
{
	return lru_n;
}

static void
seg_free(struct seg *s)
{
	lru_unlink(s);
	seg_close_idx(s);
	if (s->fd >= 0)
		close(s->fd);
	free(s->idx);
	free(s->tidx);
	free(s);
}

static void
seg_unlink(struct kq_log *log, struct seg *s)
{
	static const char *const ext[] = { "log", "index", "timeindex" };
	char *p;
	size_t i;

	for (i = 0; i < KQ_ARRAY_LEN(ext); i++) {
		p = seg_path(log, s->base, ext[i]);
		unlink(p);
		free(p);
	}
}

static int
seg_open_idx(struct kq_log *log, struct seg *s, bool trunc)
{
	int fl = O_RDWR | O_CREAT | O_CLOEXEC | (trunc ? O_TRUNC : 0);
	char *p;

	if (s->idx_fd >= 0)
		return 0;
	p = seg_path(log, s->base, "index");
	s->idx_fd = open(p, fl, 0644);
	free(p);
	p = seg_path(log, s->base, "timeindex");
	s->tidx_fd = open(p, fl, 0644);
	free(p);
	if (s->idx_fd < 0 || s->tidx_fd < 0) {
		seg_close_idx(s);
		return KQ_ERR_IO;
	}
	return 0;
}

static struct seg *
seg_new(int64_t base)
{
	struct seg *s = kq_xcalloc(1, sizeof(*s));

	s->base = s->next = base;
	s->max_ts = -1;
	s->fd = s->idx_fd = s->tidx_fd = -1;
	return s;
}

static void
segs_push(struct kq_log *log, struct seg *s)
{
	if (log->nseg == log->cseg) {
		log->cseg = log->cseg ? log->cseg * 2 : 8;
		log->segs = kq_xrealloc(log->segs, log->cseg * sizeof(*log->segs));
	}
	log->segs[log->nseg++] = s;
}

/*
 * The segment's .log descriptor, opened again when the LRU closed it; -1
 * (errno set) if that fails.  It stays valid until the next call into the
 * log module on this thread, which may close it: use it (read, dup) first.
 */
static int
seg_fd(struct kq_log *log, struct seg *s)
{
	char *p;

	if (s->fd < 0) {
		if (log->lazy)
			return -1;
		p = seg_path(log, s->base, "log");
		s->fd = open(p, O_RDWR | O_APPEND | O_CLOEXEC);
		free(p);
		if (s->fd < 0)
			return -1;
	}
	lru_touch(s);
	return s->fd;
}

/* Create s's three files, empty. */
static int
seg_files_create(struct kq_log *log, struct seg *s)
{
	char *p;

	p = seg_path(log, s->base, "log");
	s->fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	free(p);
	if (s->fd < 0 || seg_open_idx(log, s, true) < 0) {
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		return KQ_ERR_IO;
	}
	return 0;
}

/* Create a fresh empty segment at base and make it active. */
static int
seg_create(struct kq_log *log, int64_t base)
{
	struct seg *s = seg_new(base);

	if (seg_files_create(log, s) < 0) {
		seg_free(s);
		return KQ_ERR_IO;
	}
	s->created_ms = kq_now_ms();
	s->synced = true;
	segs_push(log, s);
	lru_touch(s);
	if (log->cfg.flush_mode == KQ_FLUSH_ACK)
		(void)fsync_dir(log->dir);
	return 0;
}

/*
 * A lazy log's first write: its directory and its empty first segment.
 * Under flush=ack the new entries are fsynced in both directories.  On
 * failure the log stays lazy and whatever was made goes again.
 */
static int
log_materialize(struct kq_log *log)
{
	struct seg *s = active(log);
	int saved;

	if (!log->lazy)
		return 0;
	if (mkdir(log->dir, 0755) < 0 && errno != EEXIST)
		return KQ_ERR_IO;
	log->lazy = false;
	if (seg_files_create(log, s) < 0) {
		saved = errno;
		seg_unlink(log, s);
		(void)rmdir(log->dir);
		log->lazy = true;
		errno = saved;
		return KQ_ERR_IO;
	}
	lru_touch(s);
	/* The flusher's next ticket makes the new entries durable, off the loop. */
	log->dirs_unsynced = log->cfg.flush_mode == KQ_FLUSH_ACK;
	return 0;
}

static char *
parent_dir(const struct kq_log *log)
{
	char *parent = kq_xstrdup(log->dir);

	*strrchr(parent, '/') = '\0';
	return parent;
}

/* Like Kafka, a segment going inactive records its max timestamp. */
static void
seg_final_tidx(struct seg *s)
{
	if (s->max_ts >= 0 && (s->ntidx == 0 || s->max_ts > s->tidx[s->ntidx - 1].ts)) {
		tidx_push(s, s->max_ts, s->max_ts_off);
		(void)idx_flush(s, s->nidx, s->ntidx - 1);
	}
}

/* Seal the active segment: fsync it (ack mode) and close its index files. */
static int
seg_seal(struct kq_log *log, struct seg *s)
{
	if (log->cfg.flush_mode == KQ_FLUSH_ACK && !s->synced) {
		if (seg_fd(log, s) < 0 || kq_io.fsync(s->fd) < 0)
			return KQ_ERR_IO;
		s->synced = true;
		if (s->next > log->flushed)
			log->flushed = s->next;
	}
	(void)seg_open_idx(log, s, false);
	seg_final_tidx(s);
	if (s->idx_fd >= 0 && log->cfg.flush_mode == KQ_FLUSH_ACK) {
		(void)kq_io.fsync(s->idx_fd);
		(void)kq_io.fsync(s->tidx_fd);
	}
	seg_close_idx(s);
	return 0;
}

static int
roll(struct kq_log *log)
{
	struct seg *s = active(log);
	int rc;

	if (s->size == 0)
		return 0;
	rc = seg_seal(log, s);
	if (rc < 0)
		return rc;
	rc = seg_create(log, s->next);
	if (rc < 0) {
		seg_open_idx(log, s, false);
		return rc;
	}
	return 0;
}

/* ---- batch headers ---- */

/*
 * A batch header as the log takes it: the one parser (common/proto), then
 * offsets that cannot overflow and a size within BATCH_CAP.  Every caller
 * has HDR bytes at p.
 */
static bool
hdr_sane(const struct kq_batch_hdr *h)
{
	return h->BatchLength <= BATCH_CAP && h->LastOffsetDelta >= 0 && h->BaseOffset >= 0 &&
	       h->BaseOffset <= INT64_MAX - h->LastOffsetDelta - 1;
}

static bool
hdr_parse(const unsigned char *p, struct kq_batch_hdr *h)
{
	return kq_batch_hdr_parse(p, HDR, h) == 0 && hdr_sane(h);
}

static bool
hdr_read(struct kq_log *log, struct seg *s, int64_t pos, struct kq_batch_hdr *h)
{
	unsigned char p[HDR];
	int fd;

	if (pos + HDR > s->size || (fd = seg_fd(log, s)) < 0 ||
	    kq_io_pread_all(fd, p, HDR, pos) < 0)
		return false;
	return hdr_parse(p, h) && pos + kq_batch_hdr_size(h) <= s->size;
}

static bool
refill(int fd, unsigned char *buf, int64_t pos, int64_t file_size, int64_t *wpos,
       int64_t *wlen)
{
	*wpos = pos;
	*wlen = KQ_MIN(file_size - pos, SCAN_CHUNK);
	if (kq_io_pread_all(fd, buf, (size_t)*wlen, pos) < 0) {
		*wlen = 0;
		return false;
	}
	return true;
}

/*
 * CRC-32C of the batch at pos (size bytes): from the window when it holds
 * the whole batch, else streamed through buf (which empties the window), so
 * a hostile length never sizes an allocation.
 */
static bool
batch_crc_ok(int fd, unsigned char *buf, int64_t pos, int64_t wpos, int64_t *wlen,
	     int64_t size)
{
	uint32_t want, crc = 0;
	int64_t at, end = pos + size;
	size_t n;

	if (end <= wpos + *wlen) {
		const unsigned char *b = buf + (pos - wpos);

		return kq_crc32c(0, b + KQ_BATCH_OFF_ATTRIBUTES,
				 (size_t)size - KQ_BATCH_OFF_ATTRIBUTES) ==
		       kq_be32(b + KQ_BATCH_OFF_CRC);
	}
	want = kq_be32(buf + (pos - wpos) + KQ_BATCH_OFF_CRC);
	*wlen = 0;
	for (at = pos + KQ_BATCH_OFF_ATTRIBUTES; at < end; at += (int64_t)n) {
		n = (size_t)KQ_MIN(end - at, SCAN_CHUNK);
		if (kq_io_pread_all(fd, buf, n, at) < 0)
			return false;
		crc = kq_crc32c(crc, buf, n);
	}
	return crc == want;
}

/*
 * Walk the batches of s from byte pos (where offset next is expected),
 * adding index entries, checking CRCs if verify.  Stops at the end or the
 * first bad or partial batch; returns the byte position where valid data
 * ends and updates s->next.
 */
static int64_t
seg_scan(struct kq_log *log, struct seg *s, int64_t pos, int64_t file_size, bool verify)
{
	unsigned char *buf = kq_xmalloc(SCAN_CHUNK);
	int64_t wpos = 0, wlen = 0;	/* buffered window of the file */
	int64_t size, last;
	struct kq_batch_hdr h;

	while (pos + HDR <= file_size) {
		if (pos < wpos || pos + HDR > wpos + wlen) {
			if (!refill(s->fd, buf, pos, file_size, &wpos, &wlen))
				break;
		}
		/*
		 * baseOffset is outside the CRC: a jump means damage, except
		 * that compaction leaves gaps (forward only) in logs it cleaned.
		 */
		if (!hdr_parse(buf + (pos - wpos), &h))
			break;
		size = kq_batch_hdr_size(&h);
		last = kq_batch_hdr_last(&h);
		if (h.BaseOffset < s->next || (h.BaseOffset != s->next && !log->gappy) ||
		    last - s->base > INT32_MAX || pos + size > file_size)
			break;
		/* Batches up to SCAN_CHUNK are checked from the window. */
		if (verify && pos + size > wpos + wlen && size <= SCAN_CHUNK && pos != wpos) {
			if (!refill(s->fd, buf, pos, file_size, &wpos, &wlen))
				break;
		}
		if (verify && !batch_crc_ok(s->fd, buf, pos, wpos, &wlen, size))
			break;
		idx_account(&log->cfg, s, pos, size, last, h.MaxTimestamp);
		pos += size;
		s->next = last + 1;
	}
	free(buf);
	return pos;
}

/* ---- leader-epoch cache ---- */

static void
epoch_text(const struct kq_log *log, struct kq_buf *b)
{
	size_t i;

	kq_buf_addf(b, "0\n%zu\n", log->nep);
	for (i = 0; i < log->nep; i++)
		kq_buf_addf(b, "%d %" PRId64 "\n", (int)log->ep[i].epoch, log->ep[i].start);
}

/* Write the cache now (it changed, or a deferred write is due). */
static int
epoch_persist(struct kq_log *log)
{
	struct kq_buf b = { 0 };
	char *p;
	int rc;

	log->epoch_gen++;
	epoch_text(log, &b);
	p = kq_xasprintf("%s/%s", log->dir, EPOCH_FILE);
	rc = kq_write_file_atomic(p, b.buf, b.len);
	free(p);
	kq_buf_free(&b);
	if (rc == 0)
		log->epoch_disk_gen = log->epoch_gen;
	return rc;
}

static void
epoch_push(struct kq_log *log, int32_t epoch, int64_t start)
{
	if (log->nep == log->cep) {
		log->cep = log->cep ? log->cep * 2 : 8;
		log->ep = kq_xrealloc(log->ep, log->cep * sizeof(*log->ep));
	}
	log->ep[log->nep++] = (struct epoch_ent){ epoch, start };
}

/* Hostile-file parse: on any error the cache starts empty. */
static void
epoch_load(struct kq_log *log)
{
	char *p, buf[64];
	FILE *f;
	long long count, start;
	long epoch;
	int i;

	p = kq_xasprintf("%s/%s", log->dir, EPOCH_FILE);
	f = fopen(p, "re");
	free(p);
	if (!f)
		return;
	if (!fgets(buf, sizeof(buf), f) || strcmp(buf, "0\n") != 0)
		goto bad;
	if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%lld", &count) != 1 || count < 0 ||
	    count > EPOCH_MAX)
		goto bad;
	for (i = 0; i < count; i++) {
		if (!fgets(buf, sizeof(buf), f) || !strchr(buf, '\n') ||
		    sscanf(buf, "%ld %lld", &epoch, &start) != 2 || epoch < 0 ||
		    epoch > INT32_MAX || start < 0)
			goto bad;
		if (log->nep && (epoch <= log->ep[log->nep - 1].epoch ||
				 start < log->ep[log->nep - 1].start))
			goto bad;
		epoch_push(log, (int32_t)epoch, start);
	}
	fclose(f);
	return;
bad:
	fclose(f);
	log->nep = 0;
}

/* Drop entries at or above end; returns true if anything changed. */
static bool
epoch_cut(struct kq_log *log, int64_t end)
{
	size_t n = log->nep;

	while (log->nep && log->ep[log->nep - 1].start >= end)
		log->nep--;
	return n != log->nep;
}

int32_t
kq_log_latest_epoch(const struct kq_log *log)
{
	return log->nep ? log->ep[log->nep - 1].epoch : -1;
}

int64_t
kq_log_epoch_end(const struct kq_log *log, int32_t epoch, int32_t *epoch_out)
{
	size_t i;

	*epoch_out = -1;
	for (i = log->nep; i > 0; i--) {
		if (log->ep[i - 1].epoch <= epoch) {
			*epoch_out = log->ep[i - 1].epoch;
			return i == log->nep ? kq_log_end(log) : log->ep[i].start;
		}
	}
	return -1;
}

/* ---- open / close ---- */

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* True if name is 20 digits followed by suffix; the digits go to *base. */
static bool
seg_name(const char *name, const char *suffix, int64_t *base)
{
	size_t i;

	if (strlen(name) != 20 + strlen(suffix) || strcmp(name + 20, suffix) != 0)
		return false;
	for (i = 0; i < 20; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	if (strncmp(name, "09223372036854775807", 20) > 0)
		return false;
	*base = strtoll(name, NULL, 10);
	return true;
}

static bool
has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);

	return n > k && strcmp(name + n - k, suffix) == 0;
}

/* Base offsets of the NNNNNNNNNNNNNNNNNNNN.log files in dir, sorted. */
static int
list_segments(const char *dir, int64_t **out, size_t *n)
{
	struct dirent *de;
	int64_t *v = NULL, base;
	size_t nv = 0, cv = 0;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return KQ_ERR_IO;
	while ((de = readdir(d))) {
		if (!seg_name(de->d_name, ".log", &base))
			continue;
		if (nv == cv) {
			cv = cv ? cv * 2 : 16;
			v = kq_xrealloc(v, cv * sizeof(*v));
		}
		v[nv++] = base;
	}
	closedir(d);
	if (nv)
		qsort(v, nv, sizeof(*v), cmp_i64);
	*out = v;
	*n = nv;
	return 0;
}

static void
drop_segments_from(struct kq_log *log, size_t i)
{
	while (log->nseg > i) {
		struct seg *s = log->segs[--log->nseg];

		seg_unlink(log, s);
		seg_free(s);
	}
}

/* Cut s's .log at pos (bytes) after recovery found bad data there. */
static int
seg_cut(struct kq_log *log, struct seg *s, int64_t pos, int64_t file_size, const char *why)
{
	if (pos >= file_size)
		return 0;
	kq_log_warnx("%s/%020" PRId64 ".log: %s: truncated at byte %lld, %lld bytes cut",
		     log->dir, s->base, why, (long long)pos, (long long)(file_size - pos));
	if (ftruncate(s->fd, (off_t)pos) < 0)
		return KQ_ERR_IO;
	s->synced = false;
	return 0;
}

/*
 * Finish the swap of one cleaned segment B.log.swap (the commit point, see
 * log.h): the segments it replaced are those whose base lies in (B, L], L
 * being its last offset.  A replaced segment whose records were all
 * removed may start after L; keeping it is harmless (its records are older
 * versions, dropped by the next pass).
 */
static void
finish_swap(struct kq_log *log, int64_t base)
{
	static const char *const ext[] = { "log", "index", "timeindex" };
	int64_t *bases = NULL, last;
	struct stat st;
	struct seg *s;
	size_t nb = 0, i, j;
	char *p, *q;

	s = seg_new(base);
	p = kq_xasprintf("%s/%020" PRId64 ".log.swap", log->dir, base);
	s->fd = open(p, O_RDONLY | O_CLOEXEC);
	last = base - 1;
	if (s->fd >= 0 && fstat(s->fd, &st) == 0) {
		(void)seg_scan(log, s, 0, st.st_size, true);
		last = s->next - 1;
	}
	seg_free(s);
	if (list_segments(log->dir, &bases, &nb) == 0) {
		for (i = 0; i < nb; i++) {
			if (bases[i] <= base || bases[i] > last)
				continue;
			kq_log_warnx("%s: finishing an interrupted compaction: removing replaced "
				     "segment %020" PRId64, log->dir, bases[i]);
			for (j = 0; j < KQ_ARRAY_LEN(ext); j++) {
				q = seg_path(log, bases[i], ext[j]);
				unlink(q);
				free(q);
			}
		}
	}
	free(bases);
	/* Indexes are derived data: rebuilt from the new .log. */
	for (j = 1; j < KQ_ARRAY_LEN(ext); j++) {
		q = seg_path(log, base, ext[j]);
		unlink(q);
		free(q);
	}
	q = seg_path(log, base, "log");
	if (rename(p, q) < 0)
		kq_log_warn("rename %s", p);
	else
		kq_log_warnx("%s: finished an interrupted compaction swap at %020" PRId64,
			     log->dir, base);
	free(q);
	free(p);
}

/*
 * Leftovers of a cleaning pass: *.cleaned files were never committed and
 * go; index .swap files go (rebuilt); each B.log.swap is committed and is
 * finished.  Returns the lowest base finished, or -1.
 */
static int64_t
recover_swaps(struct kq_log *log)
{
	int64_t *sw = NULL, base, lowest = -1;
	size_t nsw = 0, csw = 0, i;
	struct dirent *de;
	bool changed = false;
	char *p;
	DIR *d;

	d = opendir(log->dir);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (has_suffix(de->d_name, ".cleaned") || has_suffix(de->d_name, ".index.swap") ||
		    has_suffix(de->d_name, ".timeindex.swap")) {
			p = kq_xasprintf("%s/%s", log->dir, de->d_name);
			kq_log_warnx("%s: removing leftover of an interrupted compaction", p);
			unlink(p);
			free(p);
			changed = true;
		} else if (seg_name(de->d_name, ".log.swap", &base)) {
			if (nsw == csw) {
				csw = csw ? csw * 2 : 8;
				sw = kq_xrealloc(sw, csw * sizeof(*sw));
			}
			sw[nsw++] = base;
		}
	}
	closedir(d);
	if (nsw)
		qsort(sw, nsw, sizeof(*sw), cmp_i64);
	for (i = 0; i < nsw; i++) {
		finish_swap(log, sw[i]);
		changed = true;
	}
	if (nsw)
		lowest = sw[0];
	free(sw);
	if (changed)
		(void)fsync_dir(log->dir);
	return lowest;
}

static int
open_segments(struct kq_log *log, int64_t recovery_point, bool clean, char *errbuf,
	      size_t errlen)
{
	int64_t *bases = NULL, end, fsize, swapped;
	struct seg *s;
	struct stat st;
	size_t nb, i;
	char *p;
	bool last, verify, ok;
	int rc;

	p = kq_xasprintf("%s/%s", log->dir, GAPS_MARKER);
	log->gappy = access(p, F_OK) == 0;
	free(p);
	/* A compaction swap cut short by a crash: finish it, then verify from there. */
	swapped = recover_swaps(log);
	if (swapped >= 0) {
		clean = false;
		recovery_point = KQ_MIN(recovery_point, swapped);
	}
	if (list_segments(log->dir, &bases, &nb) < 0) {
		snprintf(errbuf, errlen, "%s: %s", log->dir, strerror(errno));
		return KQ_ERR_IO;
	}
	for (i = 0; i < nb; i++) {
		/* Once past it, the LRU may close the previous one. */
		if (log->nseg)
			lru_touch(active(log));
		s = seg_new(bases[i]);
		p = seg_path(log, bases[i], "log");
		s->fd = open(p, O_RDWR | O_APPEND | O_CLOEXEC);
		if (s->fd < 0 || fstat(s->fd, &st) < 0) {
			snprintf(errbuf, errlen, "%s: %s", p, strerror(errno));
			free(p);
			seg_free(s);
			free(bases);
			return KQ_ERR_IO;
		}
		free(p);
		s->synced = true;
		segs_push(log, s);
		fsize = st.st_size;
		s->size = fsize;
		last = i + 1 == nb;
		verify = !clean && (last || bases[i + 1] > recovery_point);
		if (verify) {
			/* Everything here is suspect: rebuild from the first byte. */
			end = seg_scan(log, s, 0, fsize, true);
			s->size = end;
			if (seg_cut(log, s, end, fsize, "bad or partial batch") < 0 ||
			    idx_rewrite(log, s) < 0) {
				snprintf(errbuf, errlen, "%s: recovery: %s", log->dir,
					 strerror(errno));
				free(bases);
				return KQ_ERR_IO;
			}
			if (end < fsize || (!last && (s->next > bases[i + 1] ||
						      (!log->gappy && s->next != bases[i + 1])))) {
				/* Later segments follow lost data: drop them. */
				for (size_t j = i + 1; j < nb; j++) {
					struct seg *t = seg_new(bases[j]);

					kq_log_warnx("%s/%020" PRId64 ".log: after a bad batch, "
						     "segment deleted", log->dir, bases[j]);
					seg_unlink(log, t);
					seg_free(t);
				}
				break;
			}
			continue;
		}
		ok = idx_load(log, s);
		if (!ok || (s->nidx == 0 && s->size > 2 * (int64_t)log->cfg.index_interval_bytes)) {
			/* Missing or empty index of a trusted segment: rebuild it. */
			s->nidx = s->ntidx = 0;
			s->max_ts = -1;
			end = seg_scan(log, s, 0, fsize, false);
			if (last && end < fsize && seg_cut(log, s, end, fsize, "bad tail") < 0) {
				free(bases);
				return KQ_ERR_IO;
			}
			if (last)
				s->size = end;
			(void)idx_rewrite(log, s);
		} else if (last) {
			/* Cheap check of the active segment's tail, from its last entry. */
			int64_t from = 0;
			struct kq_batch_hdr h;

			s->next = s->base;
			if (s->nidx && hdr_read(log, s, s->idx[s->nidx - 1].pos, &h)) {
				from = s->idx[s->nidx - 1].pos;
				s->next = h.BaseOffset;
			}
			idx_cut(s, from, s->next);
			/* Rescanning re-adds the entry at from, as the append did. */
			s->since_idx = from ? log->cfg.index_interval_bytes + 1 : 0;
			end = seg_scan(log, s, from, fsize, false);
			if (seg_cut(log, s, end, fsize, "bad tail") < 0) {
				free(bases);
				return KQ_ERR_IO;
			}
			s->size = end;
			idx_cut(s, end, s->next);
			(void)idx_rewrite(log, s);
		}
		if (!last)
			s->next = bases[i + 1];
		s->since_idx = s->size - (s->nidx ? s->idx[s->nidx - 1].pos : 0);
	}
	free(bases);
	if (log->nseg == 0) {
		rc = seg_create(log, 0);
		if (rc < 0) {
			snprintf(errbuf, errlen, "%s: create segment: %s", log->dir,
				 strerror(errno));
			return rc;
		}
		return 0;
	}
	s = active(log);
	if (seg_open_idx(log, s, false) < 0) {
		snprintf(errbuf, errlen, "%s: open index: %s", log->dir, strerror(errno));
		return KQ_ERR_IO;
	}
	lru_touch(s);
	s->created_ms = kq_now_ms();
	if (s->size >= HDR) {
		struct kq_batch_hdr h;

		/* Age the segment from its first batch, as Kafka does. */
		if (hdr_read(log, s, 0, &h) && h.MaxTimestamp > 0 && h.MaxTimestamp < s->created_ms)
			s->created_ms = h.MaxTimestamp;
	}
	return 0;
}

/* Owner thread only, like everything but the task and ticket runners. */
static uint64_t log_gens;

int
kq_log_open(struct kq_log **out, const char *dir, const char *topic, int32_t partition,
	    const struct kq_log_config *cfg, int64_t recovery_point, bool clean, char *errbuf,
	    size_t errlen)
{
	struct kq_log *log;
	int rc;

	*out = NULL;
	if (!kq_topic_valid(topic, strlen(topic)) || partition < 0) {
		snprintf(errbuf, errlen, "invalid topic partition %s-%d", topic, (int)partition);
		return KQ_ERR_INVALID;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(errbuf, errlen, "%s: %s", dir, strerror(errno));
		return KQ_ERR_IO;
	}
	log = kq_xcalloc(1, sizeof(*log));
	log->dir = kq_xasprintf("%s/%s-%d", dir, topic, (int)partition);
	log->cfg = *cfg;
	log->cache_off = -1;
	log->gen = ++log_gens;
	if (access(log->dir, F_OK) < 0 && errno == ENOENT) {
		/* New: an empty segment in memory only, until the first append. */
		struct seg *s = seg_new(0);

		s->created_ms = kq_now_ms();
		s->synced = true;
		segs_push(log, s);
		log->lazy = true;
		*out = log;
		return 0;
	}
	if (mkdir(log->dir, 0755) < 0 && errno != EEXIST) {
		snprintf(errbuf, errlen, "%s: %s", log->dir, strerror(errno));
		free(log->dir);
		free(log);
		return KQ_ERR_IO;
	}
	rc = open_segments(log, recovery_point, clean, errbuf, errlen);
	if (rc < 0) {
		kq_log_close(log);
		return rc;
	}
	log->start = log->segs[0]->base;
	log->flushed = log->cfg.flush_mode == KQ_FLUSH_OS ? kq_log_end(log) :
		KQ_MIN(KQ_MAX(recovery_point, log->start), kq_log_end(log));
	if (clean)
		log->flushed = kq_log_end(log);
	epoch_load(log);
	if (epoch_cut(log, kq_log_end(log)))
		(void)epoch_persist(log);
	*out = log;
	return 0;
}

void
kq_log_close(struct kq_log *log)
{
	size_t i;

	if (!log)
		return;
	if (log->nseg)
		(void)kq_log_sync(log);
	/* The active segment's last time entry, even if the LRU closed its index. */
	if (log->nseg && !log->lazy && active(log)->fd >= 0)
		(void)seg_open_idx(log, active(log), false);
	for (i = 0; i < log->nseg; i++) {
		if (log->segs[i]->idx_fd >= 0)
			seg_final_tidx(log->segs[i]);
		if (log->segs[i]->idx_fd >= 0 && log->cfg.flush_mode == KQ_FLUSH_ACK) {
			(void)kq_io.fsync(log->segs[i]->idx_fd);
			(void)kq_io.fsync(log->segs[i]->tidx_fd);
		}
		seg_free(log->segs[i]);
	}
	free(log->segs);
	free(log->ep);
	free(log->dir);
	free(log);
}

int
kq_log_delete(struct kq_log *log)
{
	struct dirent *de;
	char *dir, *p;
	size_t i;
	DIR *d;
	int rc = 0;

	for (i = 0; i < log->nseg; i++)
		seg_free(log->segs[i]);
	log->nseg = 0;
	dir = kq_xstrdup(log->dir);
	kq_log_close(log);
	d = opendir(dir);
	if (d) {
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			p = kq_xasprintf("%s/%s", dir, de->d_name);
			if (unlink(p) < 0)
				rc = KQ_ERR_IO;
			free(p);
		}
		closedir(d);
	}
	if (rmdir(dir) < 0 && errno != ENOENT)
		rc = KQ_ERR_IO;
	free(dir);
	return rc;
}

int64_t
kq_log_start(const struct kq_log *log)
{
	return log->start;
}

int64_t
kq_log_end(const struct kq_log *log)
{
	return active(log)->next;
}

int64_t
kq_log_flushed(const struct kq_log *log)
{
	return log->cfg.flush_mode == KQ_FLUSH_OS ? kq_log_end(log) : log->flushed;
}

int64_t
kq_log_size(const struct kq_log *log)
{
	int64_t n = 0;
	size_t i;

	for (i = 0; i < log->nseg; i++)
		n += log->segs[i]->size;
	return n;
}

bool
kq_log_segment(const struct kq_log *log, size_t i, int64_t *base, int64_t *size,
	       int64_t *mtime_ms)
{
	struct stat st;

	if (i >= log->nseg)
		return false;
	*base = log->segs[i]->base;
	*size = log->segs[i]->size;
	*mtime_ms = fstat(log->segs[i]->fd, &st) == 0 ?
		    (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000 : 0;
	return true;
}

const char *
kq_log_dir(const struct kq_log *log)
{
	return log->dir;
}

void
kq_log_set_config(struct kq_log *log, const struct kq_log_config *cfg)
{
	bool to_ack = log->cfg.flush_mode == KQ_FLUSH_OS && cfg->flush_mode == KQ_FLUSH_ACK;

	log->cfg = *cfg;
	if (cfg->flush_mode == KQ_FLUSH_OS)
		log->flushed = kq_log_end(log);
	/* No flush ticket will come for a write deferred to one. */
	if (cfg->flush_mode == KQ_FLUSH_OS && log->epoch_disk_gen != log->epoch_gen)
		(void)epoch_persist(log);
	/* Page-cache-only data must not count as flushed from now on. */
	if (to_ack)
		(void)kq_log_sync(log);
}

/* ---- append ---- */

int
kq_log_append(struct kq_log *log, unsigned char *p, size_t n, const struct kq_batch_hdr *one,
	      int32_t leader_epoch, bool assign_offsets, int64_t *base_offset)
{
	struct seg *s;
	struct kq_batch_hdr h;
	size_t pos, nb = 0, from_i, from_t, i;
	int64_t next, first, last, old_size;
	ssize_t w;
	bool epoch_changed = false;
	int rc, saved;

	if (n == 0 || (one && (uint64_t)kq_batch_hdr_size(one) != n))
		return KQ_ERR_INVALID;
	/* Pass 1: check framing and assign offsets. */
	next = kq_log_end(log);
	first = assign_offsets ? next : -1;
	for (pos = 0; pos < n; pos += (size_t)kq_batch_hdr_size(&h), nb++) {
		if (one)
			h = *one;
		else if (kq_batch_hdr_parse(p + pos, n - pos, &h) != 0)
			return KQ_ERR_CORRUPT;
		if (assign_offsets) {
			h.BaseOffset = next;
			kq_put64(p + pos + KQ_BATCH_OFF_BASE_OFFSET, (uint64_t)next);
		}
		if (!hdr_sane(&h) || (uint64_t)kq_batch_hdr_size(&h) > n - pos)
			return KQ_ERR_CORRUPT;
		if (!assign_offsets) {
			/* Contiguous, like the leader's log: recovery relies on it. */
			if (h.BaseOffset != next)
				return KQ_ERR_INVALID;
			if (first < 0)
				first = h.BaseOffset;
		}
		if (leader_epoch >= 0) {
			h.PartitionLeaderEpoch = leader_epoch;
			kq_put32(p + pos + KQ_BATCH_OFF_LEADER_EPOCH, (uint32_t)leader_epoch);
		}
		next = kq_batch_hdr_last(&h) + 1;
	}
	last = next - 1;

	s = active(log);
	if (s->size > 0 &&
	    (s->size + (int64_t)n > log->cfg.segment_bytes ||
	     kq_now_ms() - s->created_ms >= log->cfg.segment_ms ||
	     s->nidx + nb > idx_max(&log->cfg) || s->ntidx + nb > idx_max(&log->cfg) ||
	     last - s->base > INT32_MAX)) {
		rc = roll(log);
		if (rc < 0)
			return rc;
		s = active(log);
	}
	if (last - s->base > INT32_MAX || first < s->base)
		return KQ_ERR_INVALID;

	if ((rc = log_materialize(log)) < 0)
		return rc;
	if (seg_fd(log, s) < 0)
		return KQ_ERR_IO;
	(void)seg_open_idx(log, s, false);	/* derived data: recovery repairs it */
	old_size = s->size;
	w = kq_io.write(s->fd, p, n);
	if (w < 0 || (size_t)w != n) {
		saved = w < 0 ? errno : ENOSPC;
		/* Leave no partial batch behind for readers or recovery. */
		if (ftruncate(s->fd, (off_t)old_size) < 0)
			saved = errno;
		errno = saved;
		return KQ_ERR_IO;
	}
	s->synced = false;
	if (s->size == 0)
		s->created_ms = kq_now_ms();

	from_i = s->nidx;
	from_t = s->ntidx;
	/* Pass 2: indexes and epochs; h still holds a single batch's header. */
	for (pos = 0, i = 0; i < nb; i++) {
		if (nb > 1)
			(void)hdr_parse(p + pos, &h);
		idx_account(&log->cfg, s, old_size + (int64_t)pos, kq_batch_hdr_size(&h),
			    kq_batch_hdr_last(&h), h.MaxTimestamp);
		if (h.PartitionLeaderEpoch >= 0 && h.PartitionLeaderEpoch > kq_log_latest_epoch(log)) {
			epoch_push(log, h.PartitionLeaderEpoch, h.BaseOffset);
			epoch_changed = true;
		}
		pos += (size_t)kq_batch_hdr_size(&h);
	}
	s->size = old_size + (int64_t)n;
	s->next = next;
	/* Index files are derived data: a failed write is repaired at recovery. */
	(void)idx_flush(s, from_i, from_t);
	/* Under flush=ack the flush ticket writes it, before the append is acknowledged. */
	if (epoch_changed && log->cfg.flush_mode == KQ_FLUSH_ACK)
		log->epoch_gen++;
	else if (epoch_changed)
		(void)epoch_persist(log);
	if (log->cfg.flush_mode == KQ_FLUSH_OS)
		log->flushed = next;
	*base_offset = first;
	return 0;
}

/* ---- read ---- */

/* Index of the segment holding offset (last with base <= offset). */
static size_t
seg_find(const struct kq_log *log, int64_t offset)
{
	size_t lo = 0, hi = log->nseg, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (log->segs[mid]->base <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? lo - 1 : 0;
}

/*
 * Byte position in s of the first batch whose last offset >= target, and
 * that batch's header; false if there is none in s.
 */
static bool
seg_locate(struct kq_log *log, struct seg *s, int64_t target, int64_t *pos,
	   struct kq_batch_hdr *h)
{
	int64_t p;

	if (log->cache_off == target && log->cache_base == s->base)
		p = log->cache_pos;
	else
		p = idx_lookup(s, target);
	while (p < s->size) {
		if (!hdr_read(log, s, p, h))
			return false;
		if (kq_batch_hdr_last(h) >= target) {
			*pos = p;
			return true;
		}
		p += kq_batch_hdr_size(h);
	}
	return false;
}

/*
 * Skip ahead from pos using the index: the last entry at or below limit_pos
 * whose batch ends below max_offset lets us jump over the whole batches in
 * between without reading their headers.
 */
static int64_t
idx_skip(const struct seg *s, int64_t pos, int64_t limit_pos, int64_t max_offset)
{
	size_t lo = 0, hi = s->nidx, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->idx[mid].pos <= limit_pos && s->idx[mid].off < max_offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && s->idx[lo - 1].pos > pos)
		return s->idx[lo - 1].pos;
	return pos;
}

int
kq_log_read(struct kq_log *log, int64_t offset, int64_t max_offset, int64_t max_bytes,
	    bool min_one, struct kq_slice *slices, int nslice, int *n)
{
	struct kq_slice *sl;
	struct seg *s;
	struct kq_batch_hdr h;
	int64_t pos, taken = 0, end, skip, rem;
	size_t i;
	bool first = true;

	*n = 0;
	if (offset < log->start || offset > kq_log_end(log))
		return KQ_E_OFFSET_OUT_OF_RANGE;
	if (max_offset > kq_log_end(log))
		max_offset = kq_log_end(log);
	if (offset >= max_offset || nslice <= 0)
		return 0;
	for (i = seg_find(log, offset); i < log->nseg && *n < nslice; i++) {
		s = log->segs[i];
		/* A segment that cannot be opened must not be skipped silently. */
		if (seg_fd(log, s) < 0)
			return *n ? 0 : KQ_ERR_IO;
		if (!seg_locate(log, s, offset, &pos, &h))
			continue;
		sl = NULL;
		end = pos;
		for (;;) {
			int64_t size = kq_batch_hdr_size(&h), last = kq_batch_hdr_last(&h);

			if (last >= max_offset)
				break;
			if (taken + size > max_bytes && !(first && min_one))
				break;
			if (!sl) {
				sl = &slices[(*n)++];
				sl->fd = seg_fd(log, s);
				sl->pos = pos;
				sl->first_offset = h.BaseOffset;
			}
			sl->last_offset = last;
			taken += size;
			end += size;
			first = false;
			offset = last + 1;
			if (end >= s->size)
				break;
			/* Jump over batches known to fit, via the index. */
			rem = KQ_MIN(max_bytes - taken, s->size);
			skip = idx_skip(s, end, end + rem, max_offset);
			if (skip > end && hdr_read(log, s, skip, &h)) {
				taken += skip - end;
				end = skip;
				sl->last_offset = h.BaseOffset - 1;
				offset = h.BaseOffset;
				continue;
			}
			if (!hdr_read(log, s, end, &h))
				break;
		}
		if (sl) {
			sl->len = end - sl->pos;
			log->cache_off = offset;
			log->cache_pos = end;
			log->cache_base = s->base;
		}
		if (end < s->size)
			break;
	}
	return 0;
}

/* ---- time lookup ---- */

#define TIME_BATCH_CAP (64 << 20)	/* bytes read to look inside one batch */

/*
 * Refine a batch-level answer to the first record with timestamp >= ts, as
 * Kafka does.  Off the fetch path, so reading the batch is fine; on any
 * trouble (too large, corrupt, log-append-time) the batch answer stands.
 */
static void
record_for_time(struct kq_log *log, struct seg *s, int64_t pos, const struct kq_batch_hdr *h,
		int64_t ts, int64_t *offset, int64_t *found_ts)
{
	struct kq_batch_iter it = { 0 };
	struct kq_record rec;
	size_t n = (size_t)kq_batch_hdr_size(h);
	unsigned char *p;

	if (n > TIME_BATCH_CAP || (h->Attributes & KQ_ATTR_LOG_APPEND_TIME))
		return;
	p = kq_xmalloc(n);
	if (seg_fd(log, s) < 0 || kq_io_pread_all(s->fd, p, n, pos) < 0) {
		free(p);
		return;
	}
	it.max_decompressed = TIME_BATCH_CAP;
	if (kq_batch_iter_init(&it, p, n) == 0) {
		while (kq_batch_iter_next(&it, &rec) == 1) {
			if (rec.timestamp >= ts && rec.offset >= log->start) {
				*offset = rec.offset;
				*found_ts = rec.timestamp;
				break;
			}
		}
	}
	kq_batch_iter_free(&it);
	free(p);
}

int
kq_log_offset_for_time(struct kq_log *log, int64_t ts, int64_t *offset, int64_t *found_ts)
{
	struct seg *s;
	struct kq_batch_hdr h;
	size_t i, lo, hi, mid;
	int64_t pos;

	for (i = 0; i < log->nseg; i++) {
		s = log->segs[i];
		if (s->size == 0 || (s->ntidx > 0 && s->max_ts < ts))
			continue;
		/* Last time entry below ts: everything up to its offset is older. */
		lo = 0;
		hi = s->ntidx;
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (s->tidx[mid].ts < ts)
				lo = mid + 1;
			else
				hi = mid;
		}
		pos = lo ? idx_lookup(s, s->tidx[lo - 1].off + 1) : 0;
		while (pos < s->size && hdr_read(log, s, pos, &h)) {
			if (h.MaxTimestamp >= ts && kq_batch_hdr_last(&h) >= log->start) {
				*offset = KQ_MAX(h.BaseOffset, log->start);
				*found_ts = h.MaxTimestamp;
				record_for_time(log, s, pos, &h, ts, offset, found_ts);
				return 0;
			}
			pos += kq_batch_hdr_size(&h);
		}
	}
	return KQ_ERR_NOT_FOUND;
}

/* ---- start, truncation, roll, flush ---- */

int
kq_log_advance_start(struct kq_log *log, int64_t offset)
{
	size_t k, i;
	int rc;

	if (offset <= log->start)
		return 0;
	if (offset > kq_log_end(log))
		return KQ_E_OFFSET_OUT_OF_RANGE;
	log->start = offset;
	/* Nothing left to read in the active segment: start a fresh one. */
	if (offset == kq_log_end(log) && active(log)->size > 0) {
		rc = roll(log);
		if (rc < 0)
			return rc;
	}
	for (k = 0; k + 1 < log->nseg && log->segs[k + 1]->base <= offset; k++)
		;
	for (i = 0; i < k; i++) {
		seg_unlink(log, log->segs[i]);
		seg_free(log->segs[i]);
	}
	memmove(log->segs, log->segs + k, (log->nseg - k) * sizeof(*log->segs));
	log->nseg -= k;
	log->cache_off = -1;

	/* The epoch in force at the new start now begins there. */
	for (k = 0; k + 1 < log->nep && log->ep[k + 1].start <= offset; k++)
		;
	if (log->nep && (k > 0 || log->ep[0].start < offset)) {
		memmove(log->ep, log->ep + k, (log->nep - k) * sizeof(*log->ep));
		log->nep -= k;
		if (log->ep[0].start < offset)
			log->ep[0].start = offset;
		(void)epoch_persist(log);
	}
	return 0;
}

int
kq_log_truncate(struct kq_log *log, int64_t offset)
{
	struct seg *s;
	struct kq_batch_hdr h;
	size_t i;
	int64_t pos;
	int rc;

	if (offset >= kq_log_end(log))
		return 0;
	log->cache_off = -1;
	if (offset <= log->segs[0]->base) {
		/* Nothing survives: start over, empty, at offset. */
		drop_segments_from(log, 0);
		rc = seg_create(log, KQ_MAX(offset, 0));
		if (rc < 0)
			return rc;
		log->start = KQ_MAX(offset, 0);
		goto done;
	}
	i = seg_find(log, offset);
	if (log->segs[i]->base == offset && i > 0)
		i--;
	drop_segments_from(log, i + 1);
	s = log->segs[i];
	if (seg_fd(log, s) < 0 || seg_open_idx(log, s, false) < 0)
		return KQ_ERR_IO;
	pos = 0;
	/* Whole batches only: the batch holding offset goes too. */
	if (seg_locate(log, s, offset, &pos, &h)) {
		if (ftruncate(s->fd, (off_t)pos) < 0)
			return KQ_ERR_IO;
		s->size = pos;
		/* In a compacted log offset may fall in a gap before that batch. */
		s->next = KQ_MIN(h.BaseOffset, offset);
		if (s->next < s->base)
			s->next = s->base;
	}
	idx_cut(s, s->size, s->next);
	(void)idx_rewrite(log, s);
	(void)seg_open_idx(log, s, false);
	if (i + 1 == log->nseg && s->created_ms == 0)
		s->created_ms = kq_now_ms();
	if (log->start > s->next)
		log->start = s->next;
done:
	if (log->flushed > kq_log_end(log))
		log->flushed = kq_log_end(log);
	/* Offsets appended again after the cut are dirty. */
	if (log->clean_end > kq_log_end(log))
		log->clean_end = kq_log_end(log);
	while (log->ntp && log->tp[log->ntp - 1].end > kq_log_end(log))
		log->ntp--;
	if (epoch_cut(log, kq_log_end(log)))
		(void)epoch_persist(log);
	return 0;
}

int
kq_log_maybe_roll(struct kq_log *log, int64_t now_ms)
{
	struct seg *s = active(log);

	if (s->size > 0 && now_ms - s->created_ms >= log->cfg.segment_ms)
		return roll(log);
	return 0;
}

int
kq_log_sync(struct kq_log *log)
{
	size_t i;
	struct seg *s;

	for (i = 0; i < log->nseg; i++) {
		s = log->segs[i];
		if (s->synced)
			continue;
		if (seg_fd(log, s) < 0 || kq_io.fsync(s->fd) < 0)
			return KQ_ERR_IO;
		s->synced = true;
	}
	if (log->epoch_disk_gen != log->epoch_gen && epoch_persist(log) < 0)
		return KQ_ERR_IO;
	if (log->dirs_unsynced) {
		char *parent = parent_dir(log);
		int rc = fsync_dir(log->dir) < 0 || fsync_dir(parent) < 0 ? KQ_ERR_IO : 0;

		free(parent);
		if (rc < 0)
			return rc;
		log->dirs_unsynced = false;
	}
	log->flushed = kq_log_end(log);
	return 0;
}

int
kq_log_flush_begin(struct kq_log *log, struct kq_flush_ticket *t)
{
	struct seg *s = active(log);
	char *parent;

	if (kq_log_flushed(log) >= kq_log_end(log))
		return KQ_ERR_AGAIN;
	memset(t, 0, sizeof(*t));
	t->dir_fd = t->parent_fd = -1;
	t->fd = seg_fd(log, s);
	if (t->fd >= 0)
		t->fd = fcntl(t->fd, F_DUPFD_CLOEXEC, 0);
	if (t->fd < 0)
		return KQ_ERR_IO;
	if (log->dirs_unsynced) {
		parent = parent_dir(log);
		t->dir_fd = open(log->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		t->parent_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		free(parent);
		if (t->dir_fd < 0 || t->parent_fd < 0) {
			kq_flush_ticket_free(t);
			return KQ_ERR_IO;
		}
		t->dirs = true;
	}
	if (log->epoch_disk_gen != log->epoch_gen) {
		t->epoch_path = kq_xasprintf("%s/%s", log->dir, EPOCH_FILE);
		epoch_text(log, &t->epoch);
		t->epoch_gen = log->epoch_gen;
	}
	t->end_offset = kq_log_end(log);
	return 0;
}

static void
ticket_fail(struct kq_flush_ticket *t)
{
	if (!t->err) {
		t->err = KQ_ERR_IO;
		t->sys_errno = errno;
	}
}

void
kq_flush_ticket_run(struct kq_flush_ticket *t)
{
	if (kq_io.fdatasync(t->fd) < 0)
		ticket_fail(t);
	if (t->epoch_path && kq_write_file_atomic(t->epoch_path, t->epoch.buf, t->epoch.len) < 0)
		ticket_fail(t);
	if (t->dir_fd >= 0 && kq_io.fsync(t->dir_fd) < 0)
		ticket_fail(t);
	if (t->parent_fd >= 0 && kq_io.fsync(t->parent_fd) < 0)
		ticket_fail(t);
	kq_flush_ticket_free(t);
}

void
kq_flush_ticket_free(struct kq_flush_ticket *t)
{
	if (t->fd >= 0)
		close(t->fd);
	if (t->dir_fd >= 0)
		close(t->dir_fd);
	if (t->parent_fd >= 0)
		close(t->parent_fd);
	t->fd = t->dir_fd = t->parent_fd = -1;
	free(t->epoch_path);
	t->epoch_path = NULL;
	kq_buf_free(&t->epoch);
}

void
kq_log_flush_done(struct kq_log *log, const struct kq_flush_ticket *t)
{
	if (t->err)
		return;
	if (t->dirs)
		log->dirs_unsynced = false;
	if (t->epoch_gen) {
		/* A synchronous write since the snapshot may have been replaced by it. */
		if (t->epoch_gen < log->epoch_disk_gen)
			(void)epoch_persist(log);
		else
			log->epoch_disk_gen = t->epoch_gen;
	}
	if (t->end_offset > log->flushed)
		log->flushed = KQ_MIN(t->end_offset, kq_log_end(log));
}

/* ---- retention ---- */

/* Newest record time of a segment; its file's mtime when no batch has one. */
static int64_t
seg_newest_ts(struct kq_log *log, struct seg *s)
{
	struct stat st;

	if (s->max_ts >= 0)
		return s->max_ts;
	if (seg_fd(log, s) >= 0 && fstat(s->fd, &st) == 0)
		return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	return -1;
}

int
kq_log_retain(struct kq_log *log, int64_t retention_ms, int64_t retention_bytes,
	      int64_t now_ms, int64_t max_start, int max_segments, int *deleted)
{
	int64_t total = kq_log_size(log), ts;
	size_t k = 0;
	bool expired, over;
	int rc;

	*deleted = 0;
	while (k + 1 < log->nseg && (int)k < max_segments) {
		struct seg *s = log->segs[k];

		ts = retention_ms >= 0 ? seg_newest_ts(log, s) : -1;
		expired = ts >= 0 && now_ms - ts > retention_ms;
		over = retention_bytes >= 0 && total - s->size >= retention_bytes;
		if ((!expired && !over) || log->segs[k + 1]->base > max_start)
			break;
		total -= s->size;
		k++;
	}
	if (k == 0)
		return 0;
	rc = kq_log_advance_start(log, log->segs[k]->base);
	if (rc == 0)
		*deleted = (int)k;
	return rc;
}

/* ---- compaction ---- */

#define CLEAN_MAX_SEGS 256		/* inputs per pass (each holds a dup'd fd) */
#define CLEAN_WRITE_CHUNK (1 << 20)

struct clean_in {
	int64_t base, size, next;	/* next: base of the following segment */
	int fd;				/* dup, owned by the task */
};

struct clean_out {
	struct seg *seg;		/* fd open on B.log.cleaned */
	size_t first, count;		/* inputs it replaces */
	bool committed;
};

struct kq_clean_task {
	char *dir;
	uint64_t gen;
	struct kq_log_config cfg;
	struct kq_clean_config cc;
	int64_t now_ms;
	int64_t first_dirty;		/* the key map covers offsets from here */
	int64_t end;			/* inputs end here */
	int64_t tomb_below;		/* tombstones below this offset may go */
	struct clean_in *in;
	size_t nin;
	struct clean_out *out;
	size_t nout;
	struct kq_log_map *map;
	struct kq_buf wbuf;		/* output not yet written */
	struct kq_clean_stats st;
	bool kept_tombstones;
	bool gappy;			/* the log's marker exists */
	atomic_bool cancel;
	int err;
};

void
kq_clean_config_default(struct kq_clean_config *cc)
{
	cc->delete_retention_ms = 86400000;
	cc->min_compaction_lag_ms = 0;
	cc->max_compaction_lag_ms = INT64_MAX;
	cc->min_cleanable_ratio = 0.5;
	cc->max_map_entries = (size_t)1 << 20;
	cc->max_batch_bytes = (size_t)64 << 20;
}

static char *
clean_path(const char *dir, int64_t base, const char *ext, const char *state)
{
	return kq_xasprintf("%s/%020" PRId64 ".%s%s", dir, base, ext, state);
}

int
kq_log_clean_begin(struct kq_log *log, const struct kq_clean_config *cc, int64_t now_ms,
		   bool force, struct kq_clean_task **out)
{
	struct kq_clean_task *t;
	int64_t dirty = 0, total = 0, ts, tomb_below = 0;
	size_t k = 0, i;
	bool tomb_due, overdue = false;

	*out = NULL;
	if (log->cleaning)
		return KQ_ERR_AGAIN;
	while (k + 1 < log->nseg && k < CLEAN_MAX_SEGS) {
		struct seg *s = log->segs[k];

		ts = seg_newest_ts(log, s);
		if (cc->min_compaction_lag_ms > 0 &&
		    (ts < 0 || now_ms - ts < cc->min_compaction_lag_ms))
			break;
		total += s->size;
		if (s->base >= log->clean_end) {
			/* Its newest record bounds its oldest: never early, maybe late. */
			if (dirty == 0 && ts >= 0 && now_ms - ts > cc->max_compaction_lag_ms)
				overdue = true;
			dirty += s->size;
		}
		k++;
	}
	if (k == 0 || total == 0)
		return KQ_ERR_AGAIN;
	tomb_due = log->tomb_due_ms > 0 && now_ms >= log->tomb_due_ms;
	if (!force && !tomb_due && !overdue &&
	    (dirty == 0 || (double)dirty < cc->min_cleanable_ratio * (double)total))
		return KQ_ERR_AGAIN;
	for (i = 0; i < log->ntp; i++)
		if (log->tp[i].ms + cc->delete_retention_ms <= now_ms)
			tomb_below = log->tp[i].end;

	t = kq_xcalloc(1, sizeof(*t));
	atomic_init(&t->cancel, false);
	t->dir = kq_xstrdup(log->dir);
	t->gen = log->gen;
	t->gappy = log->gappy;
	t->cfg = log->cfg;
	t->cc = *cc;
	t->now_ms = now_ms;
	t->first_dirty = log->clean_end;
	t->end = log->segs[k]->base;
	t->tomb_below = tomb_below;
	t->in = kq_xcalloc(k, sizeof(*t->in));
	for (i = 0; i < k; i++) {
		struct clean_in *in = &t->in[i];

		in->base = log->segs[i]->base;
		in->size = log->segs[i]->size;
		in->next = log->segs[i + 1]->base;
		in->fd = seg_fd(log, log->segs[i]);
		if (in->fd >= 0)
			in->fd = fcntl(in->fd, F_DUPFD_CLOEXEC, 0);
		t->nin = i + 1;
		if (in->fd < 0) {
			kq_clean_task_free(t);
			return KQ_ERR_IO;
		}
	}
	t->out = kq_xcalloc(k, sizeof(*t->out));
	log->cleaning = true;
	*out = t;
	return 0;
}

void
kq_clean_task_cancel(struct kq_clean_task *t)
{
	atomic_store(&t->cancel, true);
}

void
kq_clean_task_free(struct kq_clean_task *t)
{
	static const char *const ext[] = { "log", "index", "timeindex" };
	size_t i, j;
	char *p;

	if (!t)
		return;
	for (i = 0; i < t->nin; i++)
		if (t->in[i].fd >= 0)
			close(t->in[i].fd);
	for (i = 0; i < t->nout; i++) {
		if (!t->out[i].seg)
			continue;
		for (j = 0; j < KQ_ARRAY_LEN(ext) && !t->out[i].committed; j++) {
			p = clean_path(t->dir, t->out[i].seg->base, ext[j], ".cleaned");
			unlink(p);
			free(p);
			p = clean_path(t->dir, t->out[i].seg->base, ext[j], ".swap");
			unlink(p);
			free(p);
		}
		seg_free(t->out[i].seg);
	}
	kq_log_map_free(t->map);
	kq_buf_free(&t->wbuf);
	free(t->in);
	free(t->out);
	free(t->dir);
	free(t);
}

/*
 * Sequential batch reader over one input: a window of the file, or a
 * buffer of its own for a batch larger than the window.
 */
struct breader {
	int fd;
	int64_t size, pos;
	unsigned char *win;
	int64_t wpos, wlen;
	unsigned char *big;
};

/* 1 = a batch at *p (h filled, rd->pos moves past it), 0 = end, < 0 = damage. */
static int
breader_next(struct breader *rd, const unsigned char **p, struct kq_batch_hdr *h)
{
	int64_t size;

	if (rd->pos >= rd->size)
		return 0;
	if (rd->pos + HDR > rd->size)
		return KQ_ERR_CORRUPT;
	if (rd->pos < rd->wpos || rd->pos + HDR > rd->wpos + rd->wlen) {
		if (!refill(rd->fd, rd->win, rd->pos, rd->size, &rd->wpos, &rd->wlen))
			return KQ_ERR_IO;
	}
	if (!hdr_parse(rd->win + (rd->pos - rd->wpos), h))
		return KQ_ERR_CORRUPT;
	size = kq_batch_hdr_size(h);
	if (rd->pos + size > rd->size)
		return KQ_ERR_CORRUPT;
	if (rd->pos + size > rd->wpos + rd->wlen) {
		if (size <= SCAN_CHUNK) {
			if (!refill(rd->fd, rd->win, rd->pos, rd->size, &rd->wpos, &rd->wlen))
				return KQ_ERR_IO;
		} else {
			/* Bounded by the file's size, checked above. */
			free(rd->big);
			rd->big = kq_xmalloc((size_t)size);
			if (kq_io_pread_all(rd->fd, rd->big, (size_t)size, rd->pos) < 0)
				return KQ_ERR_IO;
			*p = rd->big;
			rd->pos += size;
			return 1;
		}
	}
	*p = rd->win + (rd->pos - rd->wpos);
	rd->pos += size;
	return 1;
}

static void
map_record(void *arg, const struct kq_record *rec)
{
	struct kq_clean_task *t = arg;

	if (rec->key.len < 0)
		return;
	if (!kq_log_map_put(t->map, rec->key, rec->offset))
		t->err = KQ_ERR_TOO_LARGE;
}

/*
 * Add the keys of one input to the map.  Returns 0, or KQ_ERR_TOO_LARGE
 * when the map filled up (the map then also holds some keys of this input:
 * harmless, their records stay, being outside the cleaned range).
 */
static int
map_input(struct kq_clean_task *t, const struct clean_in *in, unsigned char *win)
{
	struct breader rd = { in->fd, in->size, 0, win, 0, 0, NULL };
	const unsigned char *p;
	struct kq_batch_hdr h;
	int rc;

	while ((rc = breader_next(&rd, &p, &h)) == 1) {
		if (atomic_load(&t->cancel)) {
			rc = KQ_ERR_AGAIN;
			break;
		}
		if (kq_log_each_record(p, (size_t)kq_batch_hdr_size(&h), t->cc.max_batch_bytes,
				       map_record, t) < 0)
			t->st.batches_undecodable++;
		if (t->err) {
			rc = t->err;
			t->err = 0;
			break;
		}
	}
	free(rd.big);
	return rc;
}

static bool
keep_record(void *arg, const struct kq_record *rec)
{
	struct kq_clean_task *t = arg;

	t->st.records_in++;
	if (rec->key.len < 0) {
		t->st.keyless_dropped++;
		return false;
	}
	if (kq_log_map_get(t->map, rec->key) > rec->offset)
		return false;
	if (rec->value.len < 0) {
		if (rec->offset < t->tomb_below) {
			t->st.tombstones_dropped++;
			return false;
		}
		t->kept_tombstones = true;
	}
	t->st.records_kept++;
	return true;
}

static int
out_flush(struct kq_clean_task *t, struct seg *s)
{
	int rc = kq_io_write_all(s->fd, t->wbuf.buf, t->wbuf.len);

	kq_buf_reset(&t->wbuf);
	return rc;
}

/* Filter one input into the open output segment s. */
static int
clean_input(struct kq_clean_task *t, const struct clean_in *in, struct seg *s,
	    unsigned char *win)
{
	struct breader rd = { in->fd, in->size, 0, win, 0, 0, NULL };
	const unsigned char *p;
	struct kq_batch_hdr h, nh;
	size_t at, n;
	int rc, f;

	while ((rc = breader_next(&rd, &p, &h)) == 1) {
		if (atomic_load(&t->cancel)) {
			rc = KQ_ERR_AGAIN;
			break;
		}
		at = t->wbuf.len;
		n = (size_t)kq_batch_hdr_size(&h);
		f = kq_log_filter_batch(p, n, t->cc.max_batch_bytes, keep_record, t, &t->wbuf);
		if (f < 0)
			t->st.batches_undecodable++;
		if (f < 0 || f == KQ_FILTER_ALL)
			kq_buf_add(&t->wbuf, p, n);
		if (f == KQ_FILTER_NONE)
			continue;
		if (!hdr_parse(t->wbuf.buf + at, &nh)) {
			rc = KQ_ERR_CORRUPT;
			break;
		}
		idx_account(&t->cfg, s, s->size, kq_batch_hdr_size(&nh), kq_batch_hdr_last(&nh),
			    nh.MaxTimestamp);
		s->size += kq_batch_hdr_size(&nh);
		s->next = kq_batch_hdr_last(&nh) + 1;
		if (t->wbuf.len >= CLEAN_WRITE_CHUNK && (rc = out_flush(t, s)) < 0)
			break;
	}
	free(rd.big);
	return rc;
}

/* Write the output's index files (as *.cleaned) and fsync all three. */
static int
out_finish(struct kq_clean_task *t, struct seg *s)
{
	char *p, *q;
	int rc;

	rc = out_flush(t, s);
	if (rc < 0)
		return rc;
	seg_final_tidx(s);
	p = clean_path(t->dir, s->base, "index", ".cleaned");
	q = clean_path(t->dir, s->base, "timeindex", ".cleaned");
	s->idx_fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	s->tidx_fd = open(q, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	free(p);
	free(q);
	if (s->idx_fd < 0 || s->tidx_fd < 0)
		rc = KQ_ERR_IO;
	if (rc == 0)
		rc = idx_flush(s, 0, 0);
	if (rc == 0 && (kq_io.fsync(s->fd) < 0 || kq_io.fsync(s->idx_fd) < 0 ||
			kq_io.fsync(s->tidx_fd) < 0))
		rc = KQ_ERR_IO;
	seg_close_idx(s);
	s->synced = true;
	return rc;
}

void
kq_clean_task_run(struct kq_clean_task *t)
{
	unsigned char *win = kq_xmalloc(SCAN_CHUNK);
	struct clean_out *o;
	struct seg *s;
	size_t i, j, mapped = 0;
	char *p;
	int rc = 0;

	if (!t->gappy) {
		/* Durable (the directory is fsynced) before any commit can happen. */
		p = kq_xasprintf("%s/%s", t->dir, GAPS_MARKER);
		rc = kq_write_file_atomic(p, "", 0);
		free(p);
		if (rc < 0)
			goto out;
	}
	t->map = kq_log_map_new(t->cc.max_map_entries);
	for (i = 0; i < t->nin; i++) {
		if (t->in[i].next <= t->first_dirty)
			continue;
		/*
		 * The first dirty segment is mapped whatever its key count, so
		 * that every pass makes progress; its size bounds the memory.
		 */
		kq_log_map_limit(t->map, mapped ? t->cc.max_map_entries : SIZE_MAX);
		rc = map_input(t, &t->in[i], win);
		if (rc == KQ_ERR_TOO_LARGE && mapped > 0) {
			/* Clean what the map covers; the rest waits for the next pass. */
			for (j = i; j < t->nin; j++) {
				close(t->in[j].fd);
				t->in[j].fd = -1;
			}
			t->end = t->in[i].base;
			t->nin = i;
			rc = 0;
			break;
		}
		if (rc < 0)
			goto out;
		mapped++;
	}

	for (i = 0; i < t->nin; i = j) {
		o = &t->out[t->nout++];
		o->first = i;
		o->seg = s = seg_new(t->in[i].base);
		p = clean_path(t->dir, s->base, "log", ".cleaned");
		s->fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
		free(p);
		if (s->fd < 0) {
			rc = KQ_ERR_IO;
			goto out;
		}
		/* Group inputs while the result surely fits one segment. */
		j = i;
		do {
			rc = clean_input(t, &t->in[j], s, win);
			if (rc < 0)
				goto out;
			t->st.bytes_in += t->in[j].size;
			j++;
		} while (j < t->nin &&
			 s->size + t->in[j].size <= t->cfg.segment_bytes &&
			 t->in[j].next - 1 - s->base <= INT32_MAX);
		o->count = j - i;
		rc = out_finish(t, s);
		if (rc < 0)
			goto out;
		t->st.bytes_out += s->size;
	}
	if (fsync_dir(t->dir) < 0)
		rc = KQ_ERR_IO;
out:
	t->st.end = t->end;
	t->st.segments_in = (int64_t)t->nin;
	t->st.segments_out = (int64_t)t->nout;
	t->err = rc;
	kq_log_map_free(t->map);
	t->map = NULL;
	free(win);
}

static int
rename_state(const char *dir, int64_t base, const char *ext, const char *from,
	     const char *to)
{
	char *a = clean_path(dir, base, ext, from), *b = clean_path(dir, base, ext, to);
	int rc = rename(a, b) < 0 ? KQ_ERR_IO : 0;

	free(a);
	free(b);
	return rc;
}

/* Step 3 of the protocol in log.h for one committed output. */
static void
swap_finish(struct kq_log *log, struct kq_clean_task *t, const struct clean_out *o)
{
	static const char *const ext[] = { "log", "index", "timeindex" };
	size_t i, j;
	char *p;

	for (i = o->first + 1; i < o->first + o->count; i++)
		for (j = 0; j < KQ_ARRAY_LEN(ext); j++) {
			p = seg_path(log, t->in[i].base, ext[j]);
			unlink(p);
			free(p);
		}
	for (j = 1; j < KQ_ARRAY_LEN(ext); j++) {
		p = seg_path(log, o->seg->base, ext[j]);
		unlink(p);
		free(p);
		if (rename_state(log->dir, o->seg->base, ext[j], ".swap", "") < 0)
			kq_log_warn("%s: compaction: rename %s", log->dir, ext[j]);
	}
	/* Replaces the old B.log in one step. */
	if (rename_state(log->dir, o->seg->base, "log", ".swap", "") < 0)
		kq_log_warn("%s: compaction: rename .log.swap (recovery finishes it)", log->dir);
}

/* The inputs still are segments [k, k+nin) of the log, unchanged, none active. */
static bool
task_current(const struct kq_log *log, const struct kq_clean_task *t, size_t *first)
{
	size_t k, i;

	if (t->gen != log->gen || t->nin == 0)
		return false;
	for (k = 0; k < log->nseg && log->segs[k]->base != t->in[0].base; k++)
		;
	if (k + t->nin >= log->nseg)
		return false;
	for (i = 0; i < t->nin; i++)
		if (log->segs[k + i]->base != t->in[i].base ||
		    log->segs[k + i]->size != t->in[i].size ||
		    log->segs[k + i + 1]->base != t->in[i].next)
			return false;
	*first = k;
	return true;
}

/* Remember when offsets below end had been cleaned, for tombstone expiry. */
static void
note_pass(struct kq_log *log, const struct kq_clean_task *t)
{
	size_t i;

	log->clean_end = KQ_MAX(log->clean_end, t->end);
	if (log->ntp == 0 || log->tp[log->ntp - 1].end < t->end) {
		if (log->ntp == CLEAN_PASSES) {
			/* Forgetting the oldest only delays removals. */
			memmove(log->tp, log->tp + 1, (CLEAN_PASSES - 1) * sizeof(*log->tp));
			log->ntp--;
		}
		log->tp[log->ntp++] = (struct clean_pass){ t->end, t->now_ms };
	}
	log->tomb_due_ms = 0;
	if (!t->kept_tombstones)
		return;
	for (i = 0; i < log->ntp; i++)
		if (log->tp[i].ms + t->cc.delete_retention_ms > t->now_ms) {
			log->tomb_due_ms = log->tp[i].ms + t->cc.delete_retention_ms;
			break;
		}
}

int
kq_log_clean_done(struct kq_log *log, struct kq_clean_task *t, struct kq_clean_stats *st)
{
	struct seg **segs;
	size_t first = 0, i, j, n, g;
	int rc = 0;

	if (st)
		*st = t->st;
	log->cleaning = false;
	if (t->err) {
		rc = t->err;
		goto out;
	}
	if (!task_current(log, t, &first)) {
		rc = KQ_ERR_AGAIN;
		goto out;
	}
	/* Nothing dropped and nothing merged: the files are already what they would become. */
	if (t->st.records_kept == t->st.records_in && t->st.batches_undecodable == 0 &&
	    t->nout == t->nin) {
		note_pass(log, t);
		goto out;
	}
	log->gappy = true;	/* the task wrote the marker */
	/* Step 2: commit every output; stop at the first that cannot be. */
	for (g = 0; g < t->nout; g++) {
		int64_t b = t->out[g].seg->base;

		if (rename_state(log->dir, b, "index", ".cleaned", ".swap") < 0 ||
		    rename_state(log->dir, b, "timeindex", ".cleaned", ".swap") < 0 ||
		    rename_state(log->dir, b, "log", ".cleaned", ".swap") < 0) {
			kq_log_warn("%s: compaction: commit of %020" PRId64, log->dir, b);
			rc = KQ_ERR_IO;
			break;
		}
		t->out[g].committed = true;
	}
	if (g > 0 && fsync_dir(log->dir) < 0)
		kq_log_warn("%s: compaction: fsync", log->dir);
	for (i = 0; i < g; i++)
		swap_finish(log, t, &t->out[i]);
	if (g > 0 && fsync_dir(log->dir) < 0)
		kq_log_warn("%s: compaction: fsync", log->dir);

	/* The new segment list: committed outputs replace their inputs. */
	segs = kq_xcalloc(log->nseg, sizeof(*segs));
	for (n = 0; n < first; n++)
		segs[n] = log->segs[n];
	for (i = 0; i < t->nout; i++) {
		struct clean_out *o = &t->out[i];

		for (j = 0; j < o->count; j++) {
			struct seg *old = log->segs[first + o->first + j];

			if (!o->committed)
				segs[n++] = old;
			else
				seg_free(old);
		}
		if (o->committed) {
			segs[n++] = o->seg;
			lru_touch(o->seg);
			o->seg = NULL;
		}
	}
	for (j = first + t->nin; j < log->nseg; j++)
		segs[n++] = log->segs[j];
	free(log->segs);
	log->segs = segs;
	log->cseg = log->nseg;
	log->nseg = n;
	for (i = 0; i + 1 < log->nseg; i++)
		log->segs[i]->next = log->segs[i + 1]->base;
	log->cache_off = -1;
	if (rc == 0)
		note_pass(log, t);
out:
	kq_clean_task_free(t);
	return rc;
}

int
kq_log_clean(struct kq_log *log, const struct kq_clean_config *cc, int64_t now_ms, bool force,
	     struct kq_clean_stats *st)
{
	struct kq_clean_task *t;
	int rc;

	rc = kq_log_clean_begin(log, cc, now_ms, force, &t);
	if (rc < 0)
		return rc;
	kq_clean_task_run(t);
	return kq_log_clean_done(log, t, st);
}
