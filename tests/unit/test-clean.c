/*
 * test-clean.c - retention and compaction of a partition log: segment
 * deletion by time and size, the key-map cleaner (offsets, order,
 * timestamps, codecs, tombstones, keyless records, compaction lag) and
 * recovery from a crash at every step of the swap.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/log/clean.h"
#include "../../common/log/log.h"
#include "../../common/proto/proto.h"
#include "t.h"

static char root[64];
static int ndir;

static char *
fresh_dir(void)
{
	char *d = kq_xasprintf("%s/d%d", root, ndir++);

	mkdir(d, 0755);
	return d;
}

static void
run(const char *cmd)
{
	if (system(cmd) != 0)
		printf("# command failed: %s\n", cmd);
}

static int
count_files(const char *dir, const char *suffix)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	size_t n = strlen(suffix), l;
	int c = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		l = strlen(de->d_name);
		if (l > n && !strcmp(de->d_name + l - n, suffix))
			c++;
	}
	closedir(d);
	return c;
}

static void
cfg_small(struct kq_log_config *c, int64_t segment_bytes)
{
	kq_log_config_default(c);
	c->segment_bytes = segment_bytes;
	c->index_interval_bytes = 256;
}

static struct kq_log *
open_log(const char *dir, const struct kq_log_config *c, bool clean)
{
	struct kq_log *log = NULL;
	char err[256];

	if (kq_log_open(&log, dir, "t", 0, c, 0, clean, err, sizeof(err)) != 0)
		printf("# open %s: %s\n", dir, err);
	KQ_ASSERT(log);
	return log;
}

/* ---- a model of what was appended ---- */

#define MAXREC 20000

struct rec {
	int64_t offset, ts;
	int key;		/* -1: no key */
	int val;		/* -1: tombstone */
};

struct model {
	struct rec r[MAXREC];
	int n;
};

static struct kq_bytes
kbytes(char *buf, size_t n, int v, const char *prefix)
{
	if (v < 0)
		return (struct kq_bytes){ NULL, -1 };
	snprintf(buf, n, "%s%d", prefix, v);
	return (struct kq_bytes){ (const unsigned char *)buf, (int32_t)strlen(buf) };
}

/* Append one batch of n records (keys[i], vals[i]) with codec at ts. */
static void
append_batch(struct kq_log *log, struct model *m, int codec, int n, const int *keys,
	     const int *vals, int64_t ts)
{
	struct kq_batch_builder bb;
	struct kq_buf b = { 0 };
	char kb[32], vb[64];
	int64_t base;
	int i;

	kq_bb_init(&bb, codec);
	bb.producer_id = -1;
	bb.producer_epoch = -1;
	bb.base_sequence = -1;
	for (i = 0; i < n; i++)
		kq_bb_add(&bb, ts + i, kbytes(kb, sizeof(kb), keys[i], "key-"),
			  kbytes(vb, sizeof(vb), vals[i], "value-"), NULL, 0);
	KQ_ASSERT(kq_bb_finish(&bb, &b) == 0);
	kq_bb_free(&bb);
	KQ_ASSERT(kq_log_append(log, b.buf, b.len, NULL, 0, true, &base) == 0);
	kq_buf_free(&b);
	for (i = 0; i < n; i++) {
		KQ_ASSERT(m->n < MAXREC);
		m->r[m->n++] = (struct rec){ base + i, ts + i, keys[i], vals[i] };
	}
}

/* Parse "key-N"/"value-N" back; -1 for null. */
static int
num(struct kq_bytes b, const char *prefix)
{
	char tmp[64];
	size_t pl = strlen(prefix);

	if (b.len < 0)
		return -1;
	if ((size_t)b.len <= pl || (size_t)b.len >= sizeof(tmp) || memcmp(b.p, prefix, pl) != 0)
		return -2;
	memcpy(tmp, b.p + pl, (size_t)b.len - pl);
	tmp[b.len - pl] = '\0';
	return atoi(tmp);
}

/*
 * Read the whole log back through kq_log_read into out (records in order)
 * and count batches by codec.  Returns the number of records, -1 on error.
 */
static int
read_all(struct kq_log *log, struct model *out, int *codec_seen)
{
	struct kq_slice sl[64];
	int64_t off = kq_log_start(log);
	int n, i;

	out->n = 0;
	while (off < kq_log_end(log)) {
		if (kq_log_read(log, off, kq_log_end(log), 1 << 20, true, sl, 64, &n) != 0 || n == 0)
			return -1;
		for (i = 0; i < n; i++) {
			unsigned char *p = kq_xmalloc((size_t)sl[i].len);
			size_t pos = 0;

			if (pread(sl[i].fd, p, (size_t)sl[i].len, sl[i].pos) != sl[i].len) {
				free(p);
				return -1;
			}
			while (pos < (size_t)sl[i].len) {
				struct kq_batch_iter it = { 0 };
				struct kq_record rec;
				int64_t sz = kq_batch_size(p + pos);

				if (!kq_batch_crc_ok(p + pos, (size_t)sz)) {
					free(p);
					return -1;
				}
				if (codec_seen)
					codec_seen[kq_be16(p + pos + KQ_BATCH_OFF_ATTRIBUTES) &
						   KQ_ATTR_CODEC_MASK]++;
				it.max_decompressed = 1 << 24;
				KQ_ASSERT(kq_batch_iter_init(&it, p + pos, (size_t)sz) == 0);
				while (kq_batch_iter_next(&it, &rec) == 1) {
					KQ_ASSERT(out->n < MAXREC);
					out->r[out->n++] = (struct rec){ rec.offset, rec.timestamp,
									 num(rec.key, "key-"),
									 num(rec.value, "value-") };
				}
				kq_batch_iter_free(&it);
				pos += (size_t)sz;
			}
			free(p);
			off = sl[i].last_offset + 1;
		}
	}
	return out->n;
}

/* Offset of key's latest record below end. */
static int64_t
latest_below(const struct model *m, int key, int64_t end)
{
	int i;

	for (i = m->n - 1; i >= 0; i--)
		if (m->r[i].key == key && m->r[i].offset < end)
			return m->r[i].offset;
	return -1;
}

static int64_t
latest_offset(const struct model *m, int key)
{
	return latest_below(m, key, INT64_MAX);
}

/*
 * got must be exactly what a correct cleaner may leave of want when it
 * cleaned below end: records are a subsequence of want (same offset,
 * timestamp, key and value); below end, exactly the latest record of each
 * key among those below end survives (a tombstone only if not
 * tombstones_gone); at or above end nothing changed.
 */
static void
check_compacted(const struct model *want, const struct model *got, int64_t end,
		bool tombstones_gone)
{
	int i = 0, j, bad = 0;
	int64_t prev = -1;

	for (j = 0; j < got->n; j++) {
		const struct rec *g = &got->r[j];

		if (g->offset <= prev)
			bad++;
		prev = g->offset;
		while (i < want->n && want->r[i].offset < g->offset) {
			const struct rec *w = &want->r[i];
			bool latest = latest_below(want, w->key, end) == w->offset;

			/* Dropped: must be keyless, superseded, or an expired tombstone. */
			if (w->offset >= end || (w->key >= 0 && latest &&
						 !(w->val < 0 && tombstones_gone))) {
				if (bad++ < 5)
					printf("# offset %lld (key %d) wrongly dropped\n",
					       (long long)w->offset, w->key);
			}
			i++;
		}
		if (i >= want->n || want->r[i].offset != g->offset || want->r[i].key != g->key ||
		    want->r[i].val != g->val || want->r[i].ts != g->ts) {
			if (bad++ < 5)
				printf("# offset %lld: unexpected record\n", (long long)g->offset);
			continue;
		}
		if (g->offset < end && g->key >= 0 &&
		    latest_below(want, g->key, end) != g->offset) {
			if (bad++ < 5)
				printf("# offset %lld: stale value of key %d kept\n",
				       (long long)g->offset, g->key);
		}
		i++;
	}
	for (; i < want->n; i++)
		if (want->r[i].offset >= end)
			bad++;
	T_EQ(bad, 0);
}

/* nkeys keys, rounds updates each, batches of bsize records. */
static void
fill_keys(struct kq_log *log, struct model *m, int codec, int nkeys, int rounds, int bsize,
	  int64_t ts)
{
	int keys[64], vals[64], n = 0, k, r;

	KQ_ASSERT(bsize <= 64);
	for (r = 0; r < rounds; r++)
		for (k = 0; k < nkeys; k++) {
			keys[n] = k;
			vals[n] = r * 1000 + k;
			if (++n == bsize) {
				append_batch(log, m, codec, n, keys, vals, ts);
				ts += n;
				n = 0;
			}
		}
	if (n)
		append_batch(log, m, codec, n, keys, vals, ts);
}

static struct model want, got, view_before;

/* ---- retention ---- */

static void
test_retention_time(void)
{
	struct kq_log_config c;
	struct kq_log *log;
	struct kq_slice sl[4];
	char *d = fresh_dir();
	int64_t start;
	int deleted, n, i, keys[4] = { 1, 2, 3, 4 }, vals[4] = { 1, 2, 3, 4 };

	cfg_small(&c, 1024);
	log = open_log(d, &c, true);
	want.n = 0;
	/* Old records (ts 1000..), then new ones (ts 100000..). */
	for (i = 0; i < 60; i++)
		append_batch(log, &want, KQ_CODEC_NONE, 4, keys, vals, 1000 + i * 10);
	start = kq_log_end(log);
	for (i = 0; i < 60; i++)
		append_batch(log, &want, KQ_CODEC_NONE, 4, keys, vals, 100000 + i * 10);
	T_OK(count_files(kq_log_dir(log), ".log") > 6, "rolled");

	/* Nothing is old enough. */
	T_EQ(kq_log_retain(log, 200000, -1, 101000, INT64_MAX, 1000, &deleted), 0);
	T_EQ(deleted, 0);
	T_EQ(kq_log_start(log), 0);
	/* retention.ms -1 keeps everything. */
	T_EQ(kq_log_retain(log, -1, -1, INT64_MAX / 2, INT64_MAX, 1000, &deleted), 0);
	T_EQ(deleted, 0);
	/* The old segments go, bounded by max_segments per call. */
	T_EQ(kq_log_retain(log, 50000, -1, 101000, INT64_MAX, 1, &deleted), 0);
	T_EQ(deleted, 1);
	do
		T_EQ(kq_log_retain(log, 50000, -1, 101000, INT64_MAX, 1000, &deleted), 0);
	while (deleted > 0);
	T_OK(kq_log_start(log) > 0 && kq_log_start(log) <= start, "start %lld <= %lld",
	     (long long)kq_log_start(log), (long long)start);
	/* Only a segment straddling old and new records may remain of the old part. */
	T_OK(start - kq_log_start(log) < 1024 / 20, "start %lld", (long long)kq_log_start(log));
	T_EQ(kq_log_read(log, 0, kq_log_end(log), 1000, true, sl, 4, &n),
	     KQ_E_OFFSET_OUT_OF_RANGE);
	T_EQ(kq_log_read(log, kq_log_start(log), kq_log_end(log), 1000, true, sl, 4, &n), 0);
	T_EQ(n, 1);
	/* Everything is old: all but the active segment go. */
	T_EQ(kq_log_retain(log, 1, -1, INT64_MAX / 2, INT64_MAX, 1000, &deleted), 0);
	T_EQ(count_files(kq_log_dir(log), ".log"), 1);
	T_OK(kq_log_end(log) == want.r[want.n - 1].offset + 1, "LEO kept");
	T_OK(kq_log_start(log) < kq_log_end(log), "active segment kept");
	T_EQ(kq_log_retain(log, 1, -1, INT64_MAX / 2, INT64_MAX, 1000, &deleted), 0);
	T_EQ(deleted, 0);
	/* The start survives a reopen (it is the first segment's base). */
	start = kq_log_start(log);
	kq_log_close(log);
	log = open_log(d, &c, false);
	T_EQ(kq_log_start(log), start);
	kq_log_close(log);
	free(d);
}

static void
test_retention_size(void)
{
	struct kq_log_config c;
	struct kq_log *log;
	struct kq_slice sl[4];
	unsigned char h[12];
	char *d = fresh_dir();
	int deleted, n, i, fd, keys[4] = { 1, 2, 3, 4 }, vals[4] = { 1, 2, 3, 4 };

	cfg_small(&c, 1024);
	log = open_log(d, &c, true);
	want.n = 0;
	for (i = 0; i < 200; i++)
		append_batch(log, &want, KQ_CODEC_NONE, 4, keys, vals, kq_now_ms());
	/* A reader holding a dup of the first segment's fd (as the broker's sendfile does). */
	T_EQ(kq_log_read(log, 0, kq_log_end(log), 100, true, sl, 4, &n), 0);
	T_EQ(n, 1);
	fd = dup(sl[0].fd);
	T_EQ(kq_log_retain(log, -1, 5000, kq_now_ms(), INT64_MAX, 1000, &deleted), 0);
	T_OK(deleted > 0, "deleted %d", deleted);
	T_OK(kq_log_size(log) >= 5000 && kq_log_size(log) < 5000 + 1024,
	     "size %lld", (long long)kq_log_size(log));
	T_OK(kq_log_start(log) > 0, "start advanced");
	/* The unlinked segment is still readable through the dup. */
	T_EQ(pread(fd, h, sizeof(h), 0), (ssize_t)sizeof(h));
	T_EQ((int64_t)kq_be64(h), 0);
	close(fd);
	/* Already within the limit: nothing more. */
	T_EQ(kq_log_retain(log, -1, 5000, kq_now_ms(), INT64_MAX, 1000, &deleted), 0);
	T_EQ(deleted, 0);
	/* Even a tiny limit keeps the active segment. */
	T_EQ(kq_log_retain(log, -1, 0, kq_now_ms(), INT64_MAX, 1000, &deleted), 0);
	T_EQ(count_files(kq_log_dir(log), ".log"), 1);
	T_EQ(read_all(log, &got, NULL) >= 0, 1);
	kq_log_close(log);
	free(d);
}

/* ---- compaction ---- */

static void
test_compact_basic(void)
{
	struct kq_clean_config cc;
	struct kq_clean_stats st;
	struct kq_log_config c;
	struct kq_log *log;
	char *d = fresh_dir();
	int64_t leo;
	int before;

	cfg_small(&c, 4096);
	kq_clean_config_default(&cc);
	log = open_log(d, &c, true);
	want.n = 0;
	fill_keys(log, &want, KQ_CODEC_NONE, 20, 30, 7, 5000);
	leo = kq_log_end(log);
	before = count_files(kq_log_dir(log), ".log");
	T_OK(before > 3, "segments %d", before);
	T_EQ(kq_log_clean(log, &cc, kq_now_ms(), false, &st), 0);
	T_OK(st.records_kept < st.records_in, "kept %lld of %lld", (long long)st.records_kept,
	     (long long)st.records_in);
	T_OK(st.segments_out < st.segments_in, "%lld -> %lld segments",
	     (long long)st.segments_in, (long long)st.segments_out);
	T_EQ(count_files(kq_log_dir(log), ".cleaned"), 0);
	T_EQ(count_files(kq_log_dir(log), ".swap"), 0);
	T_OK(count_files(kq_log_dir(log), ".log") < before, "fewer segments");
	T_EQ(kq_log_start(log), 0);
	T_EQ(kq_log_end(log), leo);
	T_EQ(read_all(log, &got, NULL) > 0, 1);
	T_OK(st.end > 0 && st.end < leo, "cleaned below %lld", (long long)st.end);
	check_compacted(&want, &got, st.end, false);
	/* Every key's latest value is there. */
	for (int k = 0; k < 20; k++) {
		int64_t lo = latest_offset(&want, k);
		bool found = false;

		for (int i = 0; i < got.n; i++)
			found |= got.r[i].offset == lo && got.r[i].key == k;
		T_OK(found, "key %d latest at %lld", k, (long long)lo);
	}
	T_OK(got.n < want.n / 2, "%d of %d records left", got.n, want.n);
	/* Nothing new is dirty: no second pass. */
	T_EQ(kq_log_clean(log, &cc, kq_now_ms(), false, &st), KQ_ERR_AGAIN);
	/* Appends and reads go on; a reopen (clean and unclean) sees the same log. */
	fill_keys(log, &want, KQ_CODEC_NONE, 20, 2, 7, 9000);
	T_EQ(read_all(log, &got, NULL) > 0, 1);
	kq_log_close(log);
	log = open_log(d, &c, false);
	{
		static struct model again;

		T_EQ(read_all(log, &again, NULL), got.n);
		T_EQ(again.n > 0 && memcmp(again.r, got.r, (size_t)got.n * sizeof(got.r[0])) == 0,
		     1);
	}
	T_EQ(kq_log_end(log), want.r[want.n - 1].offset + 1);
	kq_log_close(log);
	free(d);
}

static void
test_compact_codecs(void)
{
	static const int codecs[] = { KQ_CODEC_GZIP, KQ_CODEC_LZ4, KQ_CODEC_ZSTD, KQ_CODEC_SNAPPY };
	struct kq_clean_config cc;
	struct kq_clean_stats st;
	struct kq_log_config c;
	struct kq_log *log;
	size_t i;

	kq_clean_config_default(&cc);
	cfg_small(&c, 2048);
	for (i = 0; i < KQ_ARRAY_LEN(codecs); i++) {
		char *d = fresh_dir();
		int seen[8] = { 0 };

		if (!kq_codec_available(codecs[i])) {
			free(d);
			continue;
		}
		log = open_log(d, &c, true);
		want.n = 0;
		fill_keys(log, &want, codecs[i], 10, 40, 9, 1000);
		T_EQ(kq_log_clean(log, &cc, kq_now_ms(), true, &st), 0);
		T_EQ(st.batches_undecodable, 0);
		T_OK(st.records_kept < st.records_in / 4, "%s: kept %lld of %lld",
		     kq_codec_name(codecs[i]), (long long)st.records_kept,
		     (long long)st.records_in);
		T_EQ(read_all(log, &got, seen) > 0, 1);
		check_compacted(&want, &got, st.end, false);
		/* Rewritten batches keep their codec. */
		T_EQ(seen[KQ_CODEC_NONE], 0);
		T_OK(seen[codecs[i]] > 0, "%s batches", kq_codec_name(codecs[i]));
		kq_log_close(log);
		free(d);
	}
}

static void
test_tombstones_keyless(void)
{
	struct kq_clean_config cc;
	struct kq_clean_stats st;
	struct kq_log_config c;
	struct kq_log *log;
	char *d = fresh_dir();
	int keys[5], vals[5], i;
	int64_t t0 = 1000000;

	kq_clean_config_default(&cc);
	cc.delete_retention_ms = 1000;
	cfg_small(&c, 2048);
	log = open_log(d, &c, true);
	want.n = 0;
	fill_keys(log, &want, KQ_CODEC_NONE, 10, 10, 5, 1000);
	/* Tombstones for keys 0..4, and a batch without keys. */
	for (i = 0; i < 5; i++) {
		keys[i] = i;
		vals[i] = -1;
	}
	append_batch(log, &want, KQ_CODEC_NONE, 5, keys, vals, 2000);
	for (i = 0; i < 5; i++) {
		keys[i] = -1;
		vals[i] = 77;
	}
	append_batch(log, &want, KQ_CODEC_NONE, 5, keys, vals, 2000);
	/* Enough later data that all of it is in closed segments. */
	fill_keys(log, &want, KQ_CODEC_NONE, 10, 12, 5, 3000);
	T_EQ(kq_log_clean(log, &cc, t0, true, &st), 0);
	T_OK(st.keyless_dropped == 5, "keyless dropped %lld", (long long)st.keyless_dropped);
	T_EQ(st.tombstones_dropped, 0);
	T_EQ(read_all(log, &got, NULL) > 0, 1);
	check_compacted(&want, &got, st.end, false);
	/* Superseded tombstones just go, like any older value. */
	for (i = 0; i < got.n; i++)
		T_OK(got.r[i].val != -1 && got.r[i].key != -1, "offset %lld",
		     (long long)got.r[i].offset);
	T_EQ(kq_log_clean(log, &cc, t0 + 500, false, &st), KQ_ERR_AGAIN);
	kq_log_close(log);
	free(d);
}

/* Tombstones that are the latest value of their key. */
static void
test_tombstone_latest(void)
{
	struct kq_clean_config cc;
	struct kq_clean_stats st;
	struct kq_log_config c;
	struct kq_log *log;
	char *d = fresh_dir();
	int keys[5], vals[5], i, tomb = 0;
	int64_t t0 = 1000000;

	kq_clean_config_default(&cc);
	cc.delete_retention_ms = 1000;
	cfg_small(&c, 1024);
	log = open_log(d, &c, true);
	want.n = 0;
	fill_keys(log, &want, KQ_CODEC_NONE, 10, 10, 5, 1000);
	for (i = 0; i < 5; i++) {
		keys[i] = i;
		vals[i] = -1;
	}
	append_batch(log, &want, KQ_CODEC_NONE, 5, keys, vals, 2000);
	/* More data for keys 5..9 only, to close the tombstones' segment. */
	for (i = 0; i < 40; i++) {
		keys[0] = 5 + i % 5;
		vals[0] = 100 + i;
		append_batch(log, &want, KQ_CODEC_NONE, 1, keys, vals, 3000 + i);
	}
	T_EQ(kq_log_clean(log, &cc, t0, true, &st), 0);
	T_EQ(read_all(log, &got, NULL) > 0, 1);
	for (i = 0; i < got.n; i++)
		tomb += got.r[i].key < 5 && got.r[i].val == -1;
	T_EQ(tomb, 5);
	check_compacted(&want, &got, st.end, false);
	T_EQ(kq_log_clean(log, &cc, t0 + 1001, false, &st), 0);
	T_EQ(st.tombstones_dropped, 5);
	T_EQ(read_all(log, &got, NULL) > 0, 1);
	for (i = 0; i < got.n; i++)
		T_OK(got.r[i].key >= 5, "key %d at %lld", got.r[i].key, (long long)got.r[i].offset);
	check_compacted(&want, &got, st.end, true);
	kq_log_close(log);
	free(d);
}

static void
test_compaction_lag(void)
{
	struct kq_clean_config cc;
	struct kq_clean_stats st;
	struct kq_log_config c;
	struct kq_log *log;
	char *d = fresh_dir();
	int64_t now = 10000000, split;

	kq_clean_config_default(&cc);
	cc.min_compaction_lag_ms = 5000;
	cfg_small(&c, 2048);
	log = open_log(d, &c, true);
	want.n = 0;
	fill_keys(log, &want, KQ_CODEC_NONE, 10, 20, 5, now - 60000);
	split = kq_log_end(log);
	fill_keys(log, &want, KQ_CODEC_NONE, 10, 20, 5, now - 100);
	T_EQ(kq_log_clean(log, &cc, now, true, &st), 0);
	T_OK(st.end <= split && st.end > 0, "end %lld split %lld", (long long)st.end,
	     (long long)split);
	T_EQ(read_all(log, &got, NULL) > 0, 1);
	check_compacted(&want, &got, st.end, false);
	/* Nothing is old enough. */
	cc.min_compaction_lag_ms = 10000000;
	T_EQ(kq_log_clean(log, &cc, now, true, &st), KQ_ERR_AGAIN);
	/* A little dirty data waits for the ratio, unless it is older than the max lag. */
	cc.min_compaction_lag_ms = 0;
	T_EQ(kq_log_clean(log, &cc, now, true, &st), 0);
	fill_keys(log, &want, KQ_CODEC_NONE, 10, 30, 5, now + 50000);
	now += 100000;
	cc.min_cleanable_ratio = 0.99;
	T_EQ(kq_log_clean(log, &cc, now, false, &st), KQ_ERR_AGAIN);
	cc.max_compaction_lag_ms = 60000;
	T_EQ(kq_log_clean(log, &cc, now, false, &st), KQ_ERR_AGAIN);
	cc.max_compaction_lag_ms = 10000;
	T_EQ(kq_log_clean(log, &cc, now, false, &st), 0);
	T_EQ(read_all(log, &got, NULL) > 0, 1);
	check_compacted(&want, &got, st.end, false);
	kq_log_close(log);
	free(d);
}

/* A key map smaller than the dirty part: each pass cleans what it covers. */
static void
test_map_full(void)
{
	struct kq_clean_config cc;
	struct kq_clean_stats st;
	struct kq_log_config c;
	struct kq_log *log;
	char *d = fresh_dir();
	int keys[5], vals[5], i, j, passes = 0, rc;
	int64_t prev_end = 0;

	kq_clean_config_default(&cc);
	cc.max_map_entries = 30;
	cc.min_cleanable_ratio = 0.01;
	cfg_small(&c, 1024);
	log = open_log(d, &c, true);
	want.n = 0;
	fill_keys(log, &want, KQ_CODEC_NONE, 10, 20, 5, 1000);
	/* Then only new keys: 40 per segment or so, more than the map holds. */
	for (i = 0; i < 60; i++) {
		for (j = 0; j < 5; j++) {
			keys[j] = 1000 + i * 5 + j;
			vals[j] = i;
		}
		append_batch(log, &want, KQ_CODEC_NONE, 5, keys, vals, 5000 + i);
	}
	while ((rc = kq_log_clean(log, &cc, kq_now_ms(), false, &st)) == 0 && passes < 100) {
		passes++;
		T_OK(st.end > prev_end, "pass %d ends at %lld", passes, (long long)st.end);
		prev_end = st.end;
		T_EQ(read_all(log, &got, NULL) > 0, 1);
		check_compacted(&want, &got, st.end, false);
	}
	T_EQ(rc, KQ_ERR_AGAIN);
	T_OK(passes > 2, "%d passes", passes);
	kq_log_close(log);
	free(d);
}

/* The log changes or goes away while the worker runs: no harm done. */
static void
test_stale_task(void)
{
	struct kq_clean_config cc;
	struct kq_clean_task *t, *t2;
	struct kq_log_config c;
	struct kq_log *log;
	char *d = fresh_dir();
	int deleted, n;

	kq_clean_config_default(&cc);
	cfg_small(&c, 2048);
	log = open_log(d, &c, true);
	want.n = 0;
	fill_keys(log, &want, KQ_CODEC_NONE, 10, 30, 5, 1000);
	n = read_all(log, &got, NULL);
	T_EQ(kq_log_clean_begin(log, &cc, kq_now_ms(), true, &t), 0);
	T_EQ(kq_log_clean_begin(log, &cc, kq_now_ms(), true, &t2), KQ_ERR_AGAIN);
	kq_clean_task_run(t);
	T_OK(count_files(kq_log_dir(log), ".log.cleaned") > 0, "cleaned files");
	T_EQ(kq_log_retain(log, -1, 0, kq_now_ms(), INT64_MAX, 1, &deleted), 0);
	T_EQ(deleted, 1);
	T_EQ(kq_log_clean_done(log, t, NULL), KQ_ERR_AGAIN);
	T_EQ(count_files(kq_log_dir(log), ".cleaned"), 0);
	T_OK(read_all(log, &got, NULL) < n && got.n > 0, "retention only");
	/* The next pass works. */
	T_EQ(kq_log_clean(log, &cc, kq_now_ms(), true, NULL), 0);
	/* The log is closed under a running task. */
	fill_keys(log, &want, KQ_CODEC_NONE, 10, 30, 5, 1000);
	T_EQ(kq_log_clean_begin(log, &cc, kq_now_ms(), true, &t), 0);
	kq_log_close(log);
	kq_clean_task_run(t);
	kq_clean_task_free(t);
	log = open_log(d, &c, true);
	T_EQ(count_files(kq_log_dir(log), ".cleaned"), 0);
	T_OK(read_all(log, &got, NULL) > 0, "readable");
	kq_log_close(log);
	free(d);
}

/* ---- crash in the middle of a swap ---- */

static void
copy_dir(const char *from, const char *to)
{
	char *cmd = kq_xasprintf("rm -rf '%s' && mkdir -p '%s' && cp -a '%s/t-0' '%s/'", to, to,
				 from, to);

	run(cmd);
	free(cmd);
}

/* In dir/t-0: rename every *.SUFFIX.cleaned to *.SUFFIX.swap (first only if one). */
static void
promote(const char *dir, const char *suffix, bool one)
{
	char *cmd = kq_xasprintf("cd '%s/t-0' && for f in *%s.cleaned; do "
				 "mv \"$f\" \"${f%%.cleaned}.swap\"; %s done",
				 dir, suffix, one ? "break;" : "");

	run(cmd);
	free(cmd);
}

static bool
same(const struct model *a, const struct model *b)
{
	return a->n == b->n && memcmp(a->r, b->r, (size_t)a->n * sizeof(a->r[0])) == 0;
}

static void
test_crash_swap(void)
{
	static struct model ref, view;
	struct kq_clean_config cc;
	struct kq_clean_stats st;
	struct kq_clean_task *t;
	struct kq_log_config c;
	struct kq_log *log;
	char *a = fresh_dir(), *dirs[5], *cmd;
	int i, n_orig;

	kq_clean_config_default(&cc);
	cfg_small(&c, 2048);
	log = open_log(a, &c, true);
	want.n = 0;
	fill_keys(log, &want, KQ_CODEC_GZIP, 150, 6, 6, 1000);
	n_orig = read_all(log, &got, NULL);
	T_EQ(n_orig, want.n);
	T_EQ(kq_log_clean_begin(log, &cc, kq_now_ms(), true, &t), 0);
	kq_clean_task_run(t);
	for (i = 0; i < 5; i++) {
		dirs[i] = fresh_dir();
		copy_dir(a, dirs[i]);
	}
	/* 1: crash after the worker wrote its files: nothing committed. */
	/* 2: crash in step 2, before the .log rename: nothing committed. */
	promote(dirs[1], ".index", false);
	promote(dirs[1], ".timeindex", true);
	/* 3: crash right after step 2: committed. */
	promote(dirs[2], "", false);
	/* 4: crash in step 3 (see below). */
	promote(dirs[3], "", false);
	/* 5: only the first segment committed, the others still .cleaned. */
	cmd = kq_xasprintf("cd '%s/t-0' && for f in *.log.cleaned; do mv \"$f\" "
			   "\"${f%%.cleaned}.swap\"; break; done", dirs[4]);
	run(cmd);
	free(cmd);

	T_EQ(kq_log_clean_done(log, t, &st), 0);
	T_EQ(read_all(log, &ref, NULL) > 0, 1);
	check_compacted(&want, &ref, st.end, false);
	T_OK(ref.n < want.n, "compacted %d < %d", ref.n, want.n);
	/* 4: the replaced segments (those gone from a) are removed, an index is renamed. */
	cmd = kq_xasprintf("cd '%s/t-0' && for f in *.log; do [ -e '%s/t-0/'\"$f\" ] || rm \"$f\"; "
			   "done; f=$(ls *.index.swap | head -1); mv \"$f\" \"${f%%.swap}\"",
			   dirs[3], a);
	run(cmd);
	free(cmd);
	kq_log_close(log);

	for (i = 0; i < 5; i++) {
		log = open_log(dirs[i], &c, false);
		T_EQ(count_files(kq_log_dir(log), ".cleaned"), 0);
		T_EQ(count_files(kq_log_dir(log), ".swap"), 0);
		T_OK(read_all(log, &view, NULL) > 0, "dir %d readable", i);
		if (i < 2)
			T_OK(same(&view, &want), "dir %d: the old log", i);
		else if (i < 4)
			T_OK(same(&view, &ref), "dir %d: the cleaned log", i);
		else
			check_compacted(&want, &view, st.end, false);
		T_EQ(kq_log_end(log), want.r[want.n - 1].offset + 1);
		/* Recovered logs clean and append like any other. */
		fill_keys(log, &want, KQ_CODEC_NONE, 15, 2, 6, 5000);
		T_OK(kq_log_clean(log, &cc, kq_now_ms(), true, NULL) == 0, "dir %d cleans", i);
		T_OK(read_all(log, &view, NULL) > 0, "dir %d readable", i);
		want.n -= 30;
		kq_log_close(log);
		/* And reopen cleanly with the same content. */
		log = open_log(dirs[i], &c, true);
		T_OK(read_all(log, &got, NULL) == view.n, "dir %d reopen", i);
		kq_log_close(log);
		free(dirs[i]);
	}
	free(a);
}

static ssize_t
fail_write(int fd, const void *p, size_t n)
{
	(void)fd;
	(void)p;
	(void)n;
	errno = ENOSPC;
	return -1;
}

static int
fail_fsync(int fd)
{
	(void)fd;
	errno = EIO;
	return -1;
}

/* A full disk or a failing fsync while cleaning: an error, the log untouched. */
static void
test_clean_io_errors(void)
{
	struct kq_clean_config cc;
	struct kq_log_config c;
	struct kq_log *log;
	struct kq_io saved = kq_io;
	char *d = fresh_dir();
	int round;

	kq_clean_config_default(&cc);
	cfg_small(&c, 1024);
	log = open_log(d, &c, true);
	want.n = 0;
	fill_keys(log, &want, KQ_CODEC_GZIP, 10, 30, 5, 1000);
	/* The marker first exists: its own write is not what fails below. */
	T_EQ(kq_log_clean(log, &cc, kq_now_ms(), true, NULL), 0);
	fill_keys(log, &want, KQ_CODEC_GZIP, 10, 30, 5, 2000);
	T_EQ(read_all(log, &view_before, NULL) > 0, 1);
	for (round = 0; round < 2; round++) {
		if (round == 0)
			kq_io.write = fail_write;
		else
			kq_io.fsync = fail_fsync;
		T_EQ(kq_log_clean(log, &cc, kq_now_ms(), true, NULL), KQ_ERR_IO);
		kq_io = saved;
		T_EQ(count_files(kq_log_dir(log), ".cleaned"), 0);
		T_EQ(read_all(log, &got, NULL), view_before.n);
		T_OK(same(&got, &view_before), "round %d: log unchanged", round);
	}
	T_EQ(kq_log_clean(log, &cc, kq_now_ms(), true, NULL), 0);
	T_EQ(read_all(log, &got, NULL) > 0, 1);
	T_OK(got.n < view_before.n, "cleaned after the disk recovered");
	kq_log_close(log);
	free(d);
}

/* Hostile bytes: an undecodable batch is kept as is; a damaged segment stops the pass. */
static void
test_clean_hostile(void)
{
	struct kq_batch_builder bb;
	struct kq_clean_config cc;
	struct kq_clean_stats st;
	struct kq_log_config c;
	struct kq_log *log;
	struct kq_buf b = { 0 };
	unsigned char junk[64];
	char *d = fresh_dir(), *p;
	int64_t base;
	int fd, n;

	kq_clean_config_default(&cc);
	cfg_small(&c, 1024);
	log = open_log(d, &c, true);
	want.n = 0;
	fill_keys(log, &want, KQ_CODEC_NONE, 5, 10, 5, 1000);
	/* Claims gzip, holds plain records: CRC fine, payload not gzip. */
	kq_bb_init(&bb, KQ_CODEC_NONE);
	bb.producer_id = -1;
	bb.producer_epoch = -1;
	bb.base_sequence = -1;
	kq_bb_add(&bb, 1, (struct kq_bytes){ (const unsigned char *)"key-0", 5 },
		  (struct kq_bytes){ (const unsigned char *)"value-0", 7 }, NULL, 0);
	KQ_ASSERT(kq_bb_finish(&bb, &b) == 0);
	kq_bb_free(&bb);
	kq_put16(b.buf + KQ_BATCH_OFF_ATTRIBUTES, KQ_CODEC_GZIP);
	kq_put32(b.buf + KQ_BATCH_OFF_CRC, kq_crc32c(0, b.buf + KQ_BATCH_OFF_ATTRIBUTES,
						      b.len - KQ_BATCH_OFF_ATTRIBUTES));
	T_EQ(kq_log_append(log, b.buf, b.len, NULL, 0, true, &base), 0);
	kq_buf_free(&b);
	fill_keys(log, &want, KQ_CODEC_NONE, 5, 20, 5, 2000);
	T_EQ(kq_log_clean(log, &cc, kq_now_ms(), true, &st), 0);
	T_EQ(st.batches_undecodable, 2);	/* once mapping, once filtering */
	{
		struct kq_slice sl[4];

		T_EQ(kq_log_read(log, base, kq_log_end(log), 1, true, sl, 4, &n), 0);
		T_EQ(n, 1);
		T_EQ(sl[0].first_offset, base);
	}
	/* Garbage over a closed segment's first batch header. */
	fill_keys(log, &want, KQ_CODEC_NONE, 5, 20, 5, 3000);
	p = kq_xasprintf("%s/00000000000000000000.log", kq_log_dir(log));
	fd = open(p, O_WRONLY);
	memset(junk, 0xee, sizeof(junk));
	T_EQ(pwrite(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
	close(fd);
	free(p);
	T_EQ(kq_log_clean(log, &cc, kq_now_ms(), true, &st), KQ_ERR_CORRUPT);
	T_EQ(count_files(kq_log_dir(log), ".cleaned"), 0);
	T_EQ(count_files(kq_log_dir(log), ".swap"), 0);
	kq_log_close(log);
	free(d);
}

/* Truncating a compacted log at an offset inside a gap ends the log there. */
static void
test_truncate_gap(void)
{
	struct kq_clean_config cc;
	struct kq_clean_stats st;
	struct kq_log_config c;
	struct kq_log *log;
	char *d = fresh_dir();
	int64_t gap = -1, leo;
	int i;

	kq_clean_config_default(&cc);
	cfg_small(&c, 1024);
	log = open_log(d, &c, true);
	want.n = 0;
	fill_keys(log, &want, KQ_CODEC_NONE, 5, 40, 5, 1000);
	T_EQ(kq_log_clean(log, &cc, kq_now_ms(), true, &st), 0);
	T_EQ(read_all(log, &got, NULL) > 0, 1);
	for (i = 0; i < got.n && gap < 0; i++) {
		int64_t prev = i ? got.r[i - 1].offset : -1;

		if (got.r[i].offset > prev + 2)
			gap = prev + 2;
	}
	T_OK(gap > 0, "a gap");
	T_EQ(kq_log_truncate(log, gap), 0);
	T_EQ(kq_log_end(log), gap);
	fill_keys(log, &want, KQ_CODEC_NONE, 5, 2, 5, 9000);
	T_EQ(kq_log_end(log), gap + 10);
	leo = kq_log_end(log);
	kq_log_close(log);
	log = open_log(d, &c, false);
	T_EQ(kq_log_end(log), leo);
	T_EQ(read_all(log, &got, NULL) > 0, 1);
	T_EQ(got.r[got.n - 1].offset, leo - 1);
	kq_log_close(log);
	free(d);
}

/* A forward offset jump is damage in a log that never was compacted. */
static void
test_gap_needs_marker(void)
{
	struct kq_clean_config cc;
	struct kq_log_config c;
	struct kq_log *log;
	char *d = fresh_dir(), *p;
	int64_t leo;

	kq_clean_config_default(&cc);
	cfg_small(&c, 1 << 20);
	log = open_log(d, &c, true);
	want.n = 0;
	fill_keys(log, &want, KQ_CODEC_NONE, 5, 4, 5, 1000);
	leo = kq_log_end(log);
	kq_log_close(log);
	/* Bump the last batch's baseOffset (outside the CRC). */
	p = kq_xasprintf("%s/t-0/00000000000000000000.log", d);
	{
		int fd = open(p, O_RDWR);
		unsigned char b[8];
		off_t sz = lseek(fd, 0, SEEK_END), pos = 0, last = 0;

		while (pos < sz) {
			unsigned char h[12];

			KQ_ASSERT(pread(fd, h, 12, pos) == 12);
			last = pos;
			pos += kq_batch_size(h);
		}
		kq_put64(b, (uint64_t)(leo + 100 - 5));
		KQ_ASSERT(pwrite(fd, b, 8, last) == 8);
		close(fd);
	}
	free(p);
	log = open_log(d, &c, false);
	T_EQ(kq_log_end(log), leo - 5);
	kq_log_close(log);
	free(d);
}

static void
test_filter_batch(void)
{
	struct kq_log_map *m = kq_log_map_new(3);
	struct kq_bytes k1 = { (const unsigned char *)"a", 1 }, k2 = { (const unsigned char *)"b", 1 };
	struct kq_bytes k3 = { (const unsigned char *)"c", 1 }, k4 = { (const unsigned char *)"d", 1 };
	struct kq_bytes empty = { (const unsigned char *)"", 0 };

	T_EQ(kq_log_map_put(m, k1, 5), 1);
	T_EQ(kq_log_map_put(m, k1, 3), 1);
	T_EQ(kq_log_map_get(m, k1), 5);
	T_EQ(kq_log_map_put(m, k2, 7), 1);
	T_EQ(kq_log_map_put(m, empty, 9), 1);
	T_EQ(kq_log_map_get(m, empty), 9);
	T_EQ(kq_log_map_put(m, k3, 1), 0);	/* full */
	T_EQ(kq_log_map_get(m, k4), -1);
	T_EQ(kq_log_map_count(m), 3);
	kq_log_map_free(m);

	/* Many keys: growth keeps every entry. */
	m = kq_log_map_new(100000);
	for (int i = 0; i < 50000; i++) {
		char b[16];

		snprintf(b, sizeof(b), "k%d", i);
		kq_log_map_put(m, (struct kq_bytes){ (const unsigned char *)b, (int32_t)strlen(b) },
			       i);
	}
	for (int i = 0, bad = 0; i < 50000; i++) {
		char b[16];

		snprintf(b, sizeof(b), "k%d", i);
		bad += kq_log_map_get(m, (struct kq_bytes){ (const unsigned char *)b,
							    (int32_t)strlen(b) }) != i;
		if (i == 49999)
			T_EQ(bad, 0);
	}
	kq_log_map_free(m);

	/* Garbage is never decoded into a batch. */
	{
		unsigned char junk[100];
		struct kq_buf out = { 0 };

		memset(junk, 0xff, sizeof(junk));
		T_OK(kq_log_filter_batch(junk, sizeof(junk), 1 << 20, NULL, NULL, &out) < 0 ||
			     out.len == 0, "junk");
		T_OK(kq_log_filter_batch(junk, 10, 1 << 20, NULL, NULL, &out) < 0, "short");
		kq_buf_free(&out);
	}
}

int
main(void)
{
	snprintf(root, sizeof(root), "/tmp/kq-test-clean-XXXXXX");
	if (!mkdtemp(root))
		return 1;
	T_RUN(test_retention_time);
	T_RUN(test_retention_size);
	T_RUN(test_compact_basic);
	T_RUN(test_compact_codecs);
	T_RUN(test_tombstones_keyless);
	T_RUN(test_tombstone_latest);
	T_RUN(test_compaction_lag);
	T_RUN(test_map_full);
	T_RUN(test_stale_task);
	T_RUN(test_crash_swap);
	T_RUN(test_clean_io_errors);
	T_RUN(test_clean_hostile);
	T_RUN(test_truncate_gap);
	T_RUN(test_gap_needs_marker);
	T_RUN(test_filter_batch);
	{
		char *cmd = kq_xasprintf("rm -rf '%s'", root);

		run(cmd);
		free(cmd);
	}
	return t_done();
}
