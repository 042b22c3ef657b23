/*
 * test-log.c - partition log: append, read, indexes, recovery, checkpoints,
 * epochs, fault injection through kq_io.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* One batch of count records, each with a vlen-byte value, all at ts. */
static void
mkbatch(struct kq_buf *out, int count, int64_t ts, size_t vlen)
{
	struct kq_batch_builder bb;
	unsigned char v[512];
	int i;

	memset(v, 'v', sizeof(v));
	kq_bb_init(&bb, KQ_CODEC_NONE);
	bb.base_ts = ts;
	bb.max_ts = ts;
	bb.producer_id = -1;
	bb.producer_epoch = -1;
	bb.base_sequence = -1;
	for (i = 0; i < count; i++)
		kq_bb_add(&bb, ts, (struct kq_bytes){ NULL, -1 },
			  (struct kq_bytes){ v, (int32_t)vlen }, NULL, 0);
	bb.max_ts = ts;
	KQ_ASSERT(kq_bb_finish(&bb, out) == 0);
	kq_bb_free(&bb);
}

static void
small_cfg(struct kq_log_config *c)
{
	kq_log_config_default(c);
	c->segment_bytes = 2000;
	c->index_interval_bytes = 200;
}

static int
append1(struct kq_log *log, int count, int64_t ts, int32_t epoch, int64_t *base)
{
	struct kq_buf b = { 0 };
	int rc;

	mkbatch(&b, count, ts, 50);
	rc = kq_log_append(log, b.buf, b.len, NULL, epoch, true, base);
	kq_buf_free(&b);
	return rc;
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

static off_t
file_size(const char *p)
{
	struct stat st;

	return stat(p, &st) < 0 ? -1 : st.st_size;
}

/* Fill a log with nb batches of 1..3 records at ts 1000 + 10*i. */
static struct kq_log *
filled(const char *dir, const struct kq_log_config *c, int nb, int64_t *bases)
{
	struct kq_log *log;
	char err[256];
	int64_t b;
	int i;

	KQ_ASSERT(kq_log_open(&log, dir, "t", 0, c, 0, true, err, sizeof(err)) == 0);
	for (i = 0; i < nb; i++) {
		KQ_ASSERT(append1(log, i % 3 + 1, 1000 + 10 * i, -1, &b) == 0);
		if (bases)
			bases[i] = b;
	}
	return log;
}

/* Every offset reads back as the batch that holds it. */
static void
check_every_offset(struct kq_log *log)
{
	struct kq_slice sl[4];
	unsigned char h[12];
	int64_t k;
	int n, rc;

	for (k = kq_log_start(log); k < kq_log_end(log); k++) {
		rc = kq_log_read(log, k, kq_log_end(log), 1, true, sl, 4, &n);
		T_EQ(rc, 0);
		T_EQ(n, 1);
		if (rc || n != 1)
			return;
		T_OK(sl[0].first_offset <= k && k <= sl[0].last_offset, "offset %lld in [%lld,%lld]",
		     (long long)k, (long long)sl[0].first_offset, (long long)sl[0].last_offset);
		T_OK(pread(sl[0].fd, h, 12, sl[0].pos) == 12, "pread");
		T_EQ((int64_t)kq_be64(h), sl[0].first_offset);
		T_EQ(kq_batch_size(h), sl[0].len);
	}
}

static void
test_append_read(void)
{
	struct kq_log_config c;
	struct kq_slice sl[256];
	struct kq_log *log;
	int64_t bases[200], total = 0, next = 0;
	char *d = fresh_dir();
	int n, i;

	small_cfg(&c);
	log = filled(d, &c, 200, bases);
	T_EQ(bases[0], 0);
	T_EQ(bases[1], 1);
	T_EQ(bases[2], 3);
	T_EQ(kq_log_end(log), 399);
	T_OK(count_files(kq_log_dir(log), ".log") > 5, "rolled");
	check_every_offset(log);

	/* Everything, across all segments, as contiguous slices. */
	T_EQ(kq_log_read(log, 0, kq_log_end(log), INT64_MAX, false, sl, 256, &n), 0);
	for (i = 0; i < n; i++) {
		T_EQ(sl[i].first_offset, next);
		next = sl[i].last_offset + 1;
		total += sl[i].len;
	}
	T_EQ(next, 399);
	T_EQ(total, kq_log_size(log));

	/* max_bytes and min_one. */
	T_EQ(kq_log_read(log, 0, 400, 10, false, sl, 4, &n), 0);
	T_EQ(n, 0);
	T_EQ(kq_log_read(log, 0, 400, 10, true, sl, 4, &n), 0);
	T_EQ(n, 1);
	T_EQ(sl[0].last_offset, 0);
	T_EQ(kq_log_read(log, 0, 400, 1000, false, sl, 4, &n), 0);
	T_EQ(n, 1);
	T_OK(sl[0].len <= 1000 && sl[0].len > 800, "len %lld", (long long)sl[0].len);
	/* max_offset: whole batches below it only. */
	T_EQ(kq_log_read(log, 0, 5, INT64_MAX, false, sl, 4, &n), 0);
	T_EQ(n, 1);
	T_EQ(sl[0].last_offset, 2);
	/* Range. */
	T_EQ(kq_log_read(log, 399, 399, 1000, true, sl, 4, &n), 0);
	T_EQ(n, 0);
	T_EQ(kq_log_read(log, 400, 400, 1000, true, sl, 4, &n), KQ_E_OFFSET_OUT_OF_RANGE);
	T_EQ(kq_log_read(log, -1, 400, 1000, true, sl, 4, &n), KQ_E_OFFSET_OUT_OF_RANGE);
	/* Sequential fetches (the read cache) see the same data. */
	for (next = 0; next < 399;) {
		T_EQ(kq_log_read(log, next, 400, 700, true, sl, 1, &n), 0);
		T_EQ(n, 1);
		if (n != 1)
			break;
		T_EQ(sl[0].first_offset, next);
		next = sl[0].last_offset + 1;
	}
	kq_log_close(log);
	free(d);
}

static void
test_offset_for_time(void)
{
	struct kq_log_config c;
	struct kq_log *log;
	int64_t bases[100], off, ts;
	char *d = fresh_dir(), err[256];
	int i;

	small_cfg(&c);
	log = filled(d, &c, 100, bases);
	for (int pass = 0; pass < 2; pass++) {
		for (i = 0; i < 100; i++) {
			T_EQ(kq_log_offset_for_time(log, 1000 + 10 * i - 5, &off, &ts), 0);
			T_EQ(off, bases[i]);
			T_EQ(ts, 1000 + 10 * i);
			T_EQ(kq_log_offset_for_time(log, 1000 + 10 * i, &off, &ts), 0);
			T_EQ(off, bases[i]);
		}
		T_EQ(kq_log_offset_for_time(log, 0, &off, &ts), 0);
		T_EQ(off, 0);
		T_EQ(kq_log_offset_for_time(log, 5000, &off, &ts), KQ_ERR_NOT_FOUND);
		kq_log_close(log);
		T_EQ(kq_log_open(&log, d, "t", 0, &c, 0, pass == 0, err, sizeof(err)), 0);
	}
	kq_log_close(log);
	free(d);
}

/* Records inside one batch with growing timestamps; follower appends. */
static void
test_records_follower(void)
{
	struct kq_batch_builder bb;
	struct kq_log_config c;
	struct kq_log *log, *f;
	struct kq_slice sl[8];
	struct kq_buf b = { 0 }, copy = { 0 };
	unsigned char v[8] = "value";
	int64_t base, off, ts;
	int32_t eo;
	char *d = fresh_dir(), *d2 = fresh_dir(), err[256];
	int i, n;

	small_cfg(&c);
	T_EQ(kq_log_open(&log, d, "t", 0, &c, 0, true, err, sizeof(err)), 0);
	T_EQ(append1(log, 2, 50, 4, &base), 0);
	kq_bb_init(&bb, KQ_CODEC_NONE);
	bb.producer_id = -1;
	bb.producer_epoch = -1;
	bb.base_sequence = -1;
	bb.base_ts = 100;
	for (i = 0; i < 5; i++)
		kq_bb_add(&bb, 100 + 10 * i, (struct kq_bytes){ NULL, -1 },
			  (struct kq_bytes){ v, 5 }, NULL, 0);
	bb.max_ts = 140;
	T_EQ(kq_bb_finish(&bb, &b), 0);
	kq_bb_free(&bb);
	T_EQ(kq_log_append(log, b.buf, b.len, NULL, 5, true, &base), 0);
	T_EQ(base, 2);
	T_EQ(kq_log_offset_for_time(log, 125, &off, &ts), 0);
	T_EQ(off, 5);
	T_EQ(ts, 130);
	T_EQ(kq_log_offset_for_time(log, 60, &off, &ts), 0);
	T_EQ(off, 2);
	T_EQ(ts, 100);

	/* A follower copies the leader's bytes and keeps offsets and epochs. */
	T_EQ(kq_log_read(log, 0, 100, INT64_MAX, true, sl, 8, &n), 0);
	T_EQ(n, 1);
	kq_buf_grow(&copy, (size_t)sl[0].len);
	T_OK(pread(sl[0].fd, copy.buf, (size_t)sl[0].len, sl[0].pos) == sl[0].len, "pread");
	copy.len = (size_t)sl[0].len;
	T_EQ(kq_log_open(&f, d2, "t", 0, &c, 0, true, err, sizeof(err)), 0);
	T_EQ(kq_log_append(f, copy.buf, copy.len, NULL, -1, false, &base), 0);
	T_EQ(base, 0);
	T_EQ(kq_log_end(f), 7);
	T_EQ(kq_log_latest_epoch(f), 5);
	T_EQ(kq_log_epoch_end(f, 4, &eo), 2);
	T_EQ(eo, 4);
	/* Not at LEO: refused. */
	T_EQ(kq_log_append(f, copy.buf, copy.len, NULL, -1, false, &base), KQ_ERR_INVALID);
	T_EQ(kq_log_end(f), 7);
	kq_log_close(f);
	kq_log_close(log);
	kq_buf_free(&b);
	kq_buf_free(&copy);
	free(d);
	free(d2);
}

static void
test_reopen_clean(void)
{
	struct kq_log_config c;
	struct kq_log *log;
	int64_t b, size;
	char *d = fresh_dir(), err[256];

	small_cfg(&c);
	log = filled(d, &c, 150, NULL);
	size = kq_log_size(log);
	kq_log_close(log);
	T_EQ(kq_log_open(&log, d, "t", 0, &c, 300, true, err, sizeof(err)), 0);
	T_EQ(kq_log_end(log), 300);
	T_EQ(kq_log_size(log), size);
	T_EQ(kq_log_flushed(log), 300);
	check_every_offset(log);
	T_EQ(append1(log, 2, 9999, -1, &b), 0);
	T_EQ(b, 300);
	check_every_offset(log);
	kq_log_close(log);
	free(d);
}

static void
test_recover_truncated_tail(void)
{
	struct kq_log_config c;
	struct kq_log *log;
	int64_t bases[10], b, last_pos;
	char *d = fresh_dir(), *d2, *p, *q, err[256];
	unsigned char *data;
	off_t size, cut;
	int fd;

	kq_log_config_default(&c);
	c.index_interval_bytes = 100;
	log = filled(d, &c, 10, bases);
	p = kq_xasprintf("%s/00000000000000000000.log", kq_log_dir(log));
	kq_log_close(log);
	size = file_size(p);
	data = kq_xmalloc((size_t)size);
	fd = open(p, O_RDONLY);
	T_OK(read(fd, data, (size_t)size) == size, "read");
	close(fd);
	last_pos = size - kq_batch_size(data + 0) * 0;
	/* Position of the last batch. */
	for (last_pos = 0; last_pos + kq_batch_size(data + last_pos) < size;)
		last_pos += kq_batch_size(data + last_pos);

	for (cut = last_pos; cut < size; cut++) {
		d2 = fresh_dir();
		q = kq_xasprintf("%s/t-0", d2);
		mkdir(q, 0755);
		free(q);
		q = kq_xasprintf("%s/t-0/00000000000000000000.log", d2);
		fd = open(q, O_WRONLY | O_CREAT, 0644);
		T_OK(write(fd, data, (size_t)cut) == cut, "write");
		close(fd);
		T_EQ(kq_log_open(&log, d2, "t", 0, &c, 0, false, err, sizeof(err)), 0);
		T_EQ(kq_log_end(log), bases[9]);
		T_EQ(kq_log_size(log), last_pos);
		T_EQ(file_size(q), last_pos);
		T_EQ(append1(log, 1, 1, -1, &b), 0);
		T_EQ(b, bases[9]);
		check_every_offset(log);
		kq_log_close(log);
		free(q);
		free(d2);
	}
	free(data);
	free(p);
	free(d);
}

static void
test_recover_bad_crc(void)
{
	struct kq_log_config c;
	struct kq_log *log;
	struct kq_slice sl[1];
	int64_t b, victim;
	char *d = fresh_dir(), *p, err[256];
	unsigned char x;
	int n, fd, segs;

	small_cfg(&c);
	log = filled(d, &c, 100, NULL);
	segs = count_files(kq_log_dir(log), ".log");
	/* Corrupt a payload byte of the batch holding offset 60. */
	T_EQ(kq_log_read(log, 60, 200, 1, true, sl, 1, &n), 0);
	victim = sl[0].first_offset;
	/* Not via the log's fd: it is O_APPEND, where pwrite appends. */
	{
		char link[64], path[512];
		ssize_t l;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", sl[0].fd);
		l = readlink(link, path, sizeof(path) - 1);
		path[l > 0 ? l : 0] = '\0';
		fd = open(path, O_RDWR);
		T_OK(fd >= 0, "open %s", path);
	}
	p = kq_xstrdup(kq_log_dir(log));
	kq_log_close(log);
	T_OK(pread(fd, &x, 1, sl[0].pos + 70) == 1, "pread");
	x ^= 0x40;
	T_OK(pwrite(fd, &x, 1, sl[0].pos + 70) == 1, "pwrite");
	close(fd);

	/* A clean open trusts the data; an unclean one from 0 cuts it. */
	T_EQ(kq_log_open(&log, d, "t", 0, &c, 0, false, err, sizeof(err)), 0);
	T_EQ(kq_log_end(log), victim);
	T_OK(count_files(p, ".log") < segs, "later segments deleted");
	check_every_offset(log);
	T_EQ(append1(log, 1, 1, -1, &b), 0);
	T_EQ(b, victim);
	kq_log_close(log);
	T_EQ(kq_log_open(&log, d, "t", 0, &c, 0, false, err, sizeof(err)), 0);
	T_EQ(kq_log_end(log), victim + 1);
	check_every_offset(log);
	kq_log_close(log);
	free(p);
	free(d);
}

static void
test_recover_garbage_tail(void)
{
	struct kq_log_config c;
	struct kq_log *log;
	unsigned char junk[300];
	int64_t size;
	char *d = fresh_dir(), *p, err[256];
	int fd, clean;

	small_cfg(&c);
	c.segment_bytes = 1 << 20;
	for (clean = 0; clean < 2; clean++) {
		log = filled(d, &c, 20 + clean, NULL);
		size = kq_log_size(log);
		p = kq_xasprintf("%s/00000000000000000000.log", kq_log_dir(log));
		kq_log_close(log);
		memset(junk, clean ? 0xff : 0, sizeof(junk));
		fd = open(p, O_WRONLY | O_APPEND);
		T_OK(write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk), "write");
		close(fd);
		T_EQ(kq_log_open(&log, d, "t", 0, &c, 0, clean, err, sizeof(err)), 0);
		T_EQ(kq_log_size(log), size);
		T_EQ(file_size(p), size);
		check_every_offset(log);
		kq_log_delete(log);
		free(p);
	}
	free(d);
}

static void
test_missing_index(void)
{
	struct kq_log_config c;
	struct kq_log *log;
	char *d = fresh_dir(), *p, err[256];
	int clean;

	small_cfg(&c);
	c.segment_bytes = 1 << 20;
	for (clean = 0; clean < 2; clean++) {
		log = filled(d, &c, 60, NULL);
		p = kq_xasprintf("%s/00000000000000000000.index", kq_log_dir(log));
		kq_log_close(log);
		T_OK(file_size(p) > 0, "index written");
		unlink(p);
		T_EQ(kq_log_open(&log, d, "t", 0, &c, 0, clean, err, sizeof(err)), 0);
		T_EQ(kq_log_end(log), 120);
		check_every_offset(log);
		kq_log_close(log);
		T_OK(file_size(p) > 0, "index rebuilt");
		T_EQ(kq_log_open(&log, d, "t", 0, &c, 0, true, err, sizeof(err)), 0);
		kq_log_delete(log);
		free(p);
	}
	free(d);
}

/*
 * Random damage to a segment and its index: an unclean open keeps a valid
 * prefix; a clean open must not crash or read out of bounds either.
 */
static void
test_random_damage(void)
{
	struct kq_log_config c;
	struct kq_log *log;
	struct kq_slice sl[4];
	unsigned char *data, *idx;
	off_t size, isize;
	int64_t end, b, k;
	char *d = fresh_dir(), *src, *dst, *isrc, *idst, err[256];
	int fd, iter, j, n, clean;

	small_cfg(&c);
	c.segment_bytes = 1 << 20;
	c.index_interval_bytes = 100;
	log = filled(d, &c, 40, NULL);
	end = kq_log_end(log);
	src = kq_xasprintf("%s/00000000000000000000.log", kq_log_dir(log));
	isrc = kq_xasprintf("%s/00000000000000000000.index", kq_log_dir(log));
	kq_log_close(log);
	size = file_size(src);
	isize = file_size(isrc);
	data = kq_xmalloc((size_t)size);
	idx = kq_xmalloc((size_t)isize);
	fd = open(src, O_RDONLY);
	T_OK(read(fd, data, (size_t)size) == size, "read");
	close(fd);
	fd = open(isrc, O_RDONLY);
	T_OK(read(fd, idx, (size_t)isize) == isize, "read");
	close(fd);
	srand(7);
	for (iter = 0; iter < 200; iter++) {
		char *dd = fresh_dir();
		unsigned char *m = kq_xmalloc((size_t)size), *mi = kq_xmalloc((size_t)isize);
		off_t len = size;

		clean = iter % 2;
		memcpy(m, data, (size_t)size);
		memcpy(mi, idx, (size_t)isize);
		for (j = 0; j < 1 + iter % 3; j++)
			m[rand() % size] ^= (unsigned char)(1 + rand() % 255);
		if (iter % 5 == 0)
			len = rand() % size;
		if (iter % 7 == 0)
			mi[rand() % isize] ^= (unsigned char)(1 + rand() % 255);
		dst = kq_xasprintf("%s/t-0", dd);
		mkdir(dst, 0755);
		free(dst);
		dst = kq_xasprintf("%s/t-0/00000000000000000000.log", dd);
		idst = kq_xasprintf("%s/t-0/00000000000000000000.index", dd);
		fd = open(dst, O_WRONLY | O_CREAT, 0644);
		T_OK(write(fd, m, (size_t)len) == len, "write");
		close(fd);
		fd = open(idst, O_WRONLY | O_CREAT, 0644);
		T_OK(write(fd, mi, (size_t)isize) == isize, "write");
		close(fd);
		T_EQ(kq_log_open(&log, dd, "t", 0, &c, 0, clean, err, sizeof(err)), 0);
		T_OK(kq_log_end(log) >= 0 && kq_log_end(log) <= end + (clean ? INT32_MAX : 0),
		     "end %lld", (long long)kq_log_end(log));
		T_OK(kq_log_size(log) <= len, "size");
		if (!clean) {
			check_every_offset(log);
		} else {
			for (k = 0; k < kq_log_end(log) && k < 200; k++)
				(void)kq_log_read(log, k, kq_log_end(log), 1000, true, sl, 4, &n);
		}
		(void)kq_log_offset_for_time(log, 1100, &b, &k);
		b = kq_log_end(log);
		T_EQ(append1(log, 1, 1, -1, &k), 0);
		T_EQ(k, b);
		kq_log_close(log);
		free(m);
		free(mi);
		free(dst);
		free(idst);
		free(dd);
	}
	free(data);
	free(idx);
	free(src);
	free(isrc);
	free(d);
}

/* A batch larger than the recovery scan's window: CRC checked streaming. */
static void
test_big_batch(void)
{
	struct kq_log_config c;
	struct kq_log *log;
	int64_t b, size;
	char *d = fresh_dir(), *p, err[256];
	unsigned char x;
	int fd;

	kq_log_config_default(&c);
	T_EQ(kq_log_open(&log, d, "t", 0, &c, 0, true, err, sizeof(err)), 0);
	T_EQ(append1(log, 1, 1, -1, &b), 0);
	T_EQ(append1(log, 30000, 2, -1, &b), 0);
	size = kq_log_size(log);
	T_OK(size > (3 << 20) / 2, "big: %lld", (long long)size);
	p = kq_xasprintf("%s/00000000000000000000.log", kq_log_dir(log));
	kq_log_close(log);
	T_EQ(kq_log_open(&log, d, "t", 0, &c, 0, false, err, sizeof(err)), 0);
	T_EQ(kq_log_end(log), 30001);
	T_EQ(kq_log_size(log), size);
	kq_log_close(log);
	fd = open(p, O_RDWR);
	T_OK(pread(fd, &x, 1, size - 1) == 1, "pread");
	x ^= 1;
	T_OK(pwrite(fd, &x, 1, size - 1) == 1, "pwrite");
	close(fd);
	T_EQ(kq_log_open(&log, d, "t", 0, &c, 0, false, err, sizeof(err)), 0);
	T_EQ(kq_log_end(log), 1);
	T_OK(kq_log_size(log) < 200, "cut");
	kq_log_close(log);
	free(p);
	free(d);
}

static void
test_checkpoint(void)
{
	struct kq_checkpoint_entry in[3] = {
		{ "orders", 0, 42 }, { "orders", 7, 0 }, { "a.b_c-d", 2, 9000000000LL }
	};
	struct kq_checkpoint_entry *e;
	static const char *const bad[] = {
		"", "1\n0\n", "0\n", "0\n2\nt 0 1\n", "0\n1\nt 0\n", "0\n1\nt x 1\n",
		"0\n1\nt 0 1x\n", "0\n1\nt -1 1\n", "0\n1\n.. 0 1\n", "0\n99999999999\n",
		"0\n1000000\nt 0 1\n", "0\n1\nt 0 99999999999999999999999\n", "0\n1\nt 0 1\ngarbage\n",
		"0\n-1\n", "0\n1\nt  0 1\n", "0\n1\nt 0 1 2\n",
	};
	char *d = fresh_dir(), *p = kq_xasprintf("%s/ckpt", d), *big;
	size_t n, i;
	int fd;

	T_EQ(kq_checkpoint_read(p, &e, &n), 0);
	T_EQ(n, 0);
	T_EQ(kq_checkpoint_write(p, in, 3), 0);
	T_EQ(kq_checkpoint_read(p, &e, &n), 0);
	T_EQ(n, 3);
	for (i = 0; i < n && i < 3; i++) {
		T_STREQ(e[i].topic, in[i].topic);
		T_EQ(e[i].partition, in[i].partition);
		T_EQ(e[i].offset, in[i].offset);
	}
	kq_checkpoint_free(e, n);
	T_EQ(kq_checkpoint_write(p, in, 0), 0);
	T_EQ(kq_checkpoint_read(p, &e, &n), 0);
	T_EQ(n, 0);
	kq_checkpoint_free(e, n);
	for (i = 0; i < KQ_ARRAY_LEN(bad); i++) {
		T_EQ(kq_write_file_atomic(p, bad[i], strlen(bad[i])), 0);
		T_OK(kq_checkpoint_read(p, &e, &n) < 0, "bad file %zu accepted", i);
	}
	/* A very long line. */
	big = kq_xmalloc(1 << 20);
	memset(big, 'x', 1 << 20);
	memcpy(big, "0\n1\n", 4);
	fd = open(p, O_WRONLY | O_TRUNC);
	T_OK(write(fd, big, 1 << 20) == 1 << 20, "write");
	close(fd);
	T_OK(kq_checkpoint_read(p, &e, &n) < 0, "long line");
	free(big);
	free(p);
	free(d);
}

static void
test_epochs(void)
{
	struct kq_log_config c;
	struct kq_flush_ticket t;
	struct kq_log *log;
	int64_t b, e3;
	int32_t eo;
	char *d = fresh_dir(), *p, err[256], txt[256];
	int fd;
	ssize_t r;

	small_cfg(&c);
	T_EQ(kq_log_open(&log, d, "t", 0, &c, 0, true, err, sizeof(err)), 0);
	T_EQ(kq_log_latest_epoch(log), -1);
	T_EQ(append1(log, 2, 1, 1, &b), 0);
	T_EQ(append1(log, 2, 1, 1, &b), 0);
	T_EQ(append1(log, 3, 1, 3, &e3), 0);
	T_EQ(append1(log, 1, 1, 3, &b), 0);
	T_EQ(e3, 4);
	T_EQ(kq_log_latest_epoch(log), 3);
	T_EQ(kq_log_epoch_end(log, 1, &eo), 4);
	T_EQ(eo, 1);
	T_EQ(kq_log_epoch_end(log, 2, &eo), 4);
	T_EQ(eo, 1);
	T_EQ(kq_log_epoch_end(log, 3, &eo), 8);
	T_EQ(eo, 3);
	T_EQ(kq_log_epoch_end(log, 0, &eo), -1);
	p = kq_xasprintf("%s/leader-epoch-checkpoint", kq_log_dir(log));
	/* Under flush=ack the flush ticket writes it, before the offsets count as flushed. */
	T_OK(access(p, F_OK) < 0, "no checkpoint before the flush");
	T_EQ(kq_log_flush_begin(log, &t), 0);
	T_OK(t.epoch_path != NULL && t.dirs, "the ticket carries the checkpoint and the dirs");
	kq_flush_ticket_run(&t);
	T_EQ(t.err, 0);
	kq_log_flush_done(log, &t);
	T_EQ(kq_log_flushed(log), 8);
	fd = open(p, O_RDONLY);
	r = read(fd, txt, sizeof(txt) - 1);
	close(fd);
	txt[r > 0 ? r : 0] = '\0';
	T_STREQ(txt, "0\n2\n1 0\n3 4\n");
	T_EQ(kq_log_truncate(log, 5), 0);
	T_EQ(kq_log_end(log), 4);
	T_EQ(kq_log_latest_epoch(log), 1);
	kq_log_close(log);
	T_EQ(kq_log_open(&log, d, "t", 0, &c, 0, false, err, sizeof(err)), 0);
	T_EQ(kq_log_latest_epoch(log), 1);
	T_EQ(kq_log_end(log), 4);
	T_EQ(append1(log, 1, 1, 5, &b), 0);
	T_EQ(kq_log_epoch_end(log, 1, &eo), 4);
	T_EQ(kq_log_advance_start(log, 3), 0);
	kq_log_close(log);
	fd = open(p, O_RDONLY);
	r = read(fd, txt, sizeof(txt) - 1);
	close(fd);
	txt[r > 0 ? r : 0] = '\0';
	T_STREQ(txt, "0\n2\n1 3\n5 4\n");
	free(p);
	free(d);
}

static size_t short_after;
static ssize_t
short_write(int fd, const void *p, size_t n)
{
	if (short_after == 0) {
		errno = ENOSPC;
		return -1;
	}
	return write(fd, p, KQ_MIN(n, short_after));
}

static void
test_enospc(void)
{
	struct kq_log_config c;
	struct kq_log *log;
	ssize_t (*saved)(int, const void *, size_t) = kq_io.write;
	int64_t b, size, end;
	char *d = fresh_dir(), err[256];
	size_t k;

	small_cfg(&c);
	c.segment_bytes = 1 << 20;
	log = filled(d, &c, 10, NULL);
	size = kq_log_size(log);
	end = kq_log_end(log);
	for (k = 0; k < 200; k += 37) {
		short_after = k;
		kq_io.write = short_write;
		T_EQ(append1(log, 3, 5, -1, &b), KQ_ERR_IO);
		kq_io.write = saved;
		T_EQ(kq_log_size(log), size);
		T_EQ(kq_log_end(log), end);
	}
	T_EQ(append1(log, 3, 5, -1, &b), 0);
	T_EQ(b, end);
	kq_log_close(log);
	T_EQ(kq_log_open(&log, d, "t", 0, &c, 0, false, err, sizeof(err)), 0);
	T_EQ(kq_log_end(log), end + 3);
	check_every_offset(log);
	kq_log_close(log);
	free(d);
}

static void
test_advance_start_truncate(void)
{
	struct kq_log_config c;
	struct kq_log *log;
	struct kq_slice sl[2];
	int64_t b;
	char *d = fresh_dir(), err[256];
	int segs, n;

	small_cfg(&c);
	log = filled(d, &c, 100, NULL);
	segs = count_files(kq_log_dir(log), ".log");
	T_EQ(kq_log_advance_start(log, 101), 0);
	T_EQ(kq_log_start(log), 101);
	T_OK(count_files(kq_log_dir(log), ".log") < segs, "segments deleted");
	T_EQ(kq_log_read(log, 100, 200, 100, true, sl, 2, &n), KQ_E_OFFSET_OUT_OF_RANGE);
	T_EQ(kq_log_read(log, 101, 200, 100, true, sl, 2, &n), 0);
	T_EQ(n, 1);
	check_every_offset(log);
	T_EQ(kq_log_advance_start(log, 500), KQ_E_OFFSET_OUT_OF_RANGE);
	kq_log_close(log);
	T_EQ(kq_log_open(&log, d, "t", 0, &c, 0, true, err, sizeof(err)), 0);
	T_OK(kq_log_start(log) <= 101 && kq_log_start(log) > 50, "start %lld",
	     (long long)kq_log_start(log));

	/* Truncation lands on a batch boundary at or below the offset. */
	T_EQ(kq_log_truncate(log, 150), 0);
	T_OK(kq_log_end(log) <= 150 && kq_log_end(log) > 146, "end %lld",
	     (long long)kq_log_end(log));
	T_EQ(append1(log, 1, 1, -1, &b), 0);
	T_EQ(b, kq_log_end(log) - 1);
	check_every_offset(log);
	kq_log_close(log);
	T_EQ(kq_log_open(&log, d, "t", 0, &c, 0, false, err, sizeof(err)), 0);
	T_EQ(kq_log_end(log), b + 1);
	check_every_offset(log);
	/* Advance to LEO: everything goes, appends continue. */
	T_EQ(kq_log_advance_start(log, kq_log_end(log)), 0);
	T_EQ(count_files(kq_log_dir(log), ".log"), 1);
	T_EQ(kq_log_size(log), 0);
	T_EQ(append1(log, 1, 1, -1, &b), 0);
	T_EQ(b, kq_log_start(log));
	T_EQ(kq_log_delete(log), 0);
	free(d);
}

static void
test_flush(void)
{
	struct kq_log_config c;
	struct kq_flush_ticket t;
	struct kq_log *log;
	int64_t b;
	char *d = fresh_dir(), err[256];

	small_cfg(&c);
	T_EQ(kq_log_open(&log, d, "t", 0, &c, 0, true, err, sizeof(err)), 0);
	T_EQ(kq_log_flush_begin(log, &t), KQ_ERR_AGAIN);
	T_EQ(append1(log, 2, 1, -1, &b), 0);
	T_EQ(kq_log_flushed(log), 0);
	T_EQ(kq_log_flush_begin(log, &t), 0);
	T_EQ(append1(log, 2, 1, -1, &b), 0);
	kq_flush_ticket_run(&t);
	T_EQ(t.err, 0);
	kq_log_flush_done(log, &t);
	T_EQ(kq_log_flushed(log), 2);
	T_EQ(kq_log_sync(log), 0);
	T_EQ(kq_log_flushed(log), 4);
	c.flush_mode = KQ_FLUSH_OS;
	kq_log_set_config(log, &c);
	T_EQ(append1(log, 2, 1, -1, &b), 0);
	T_EQ(kq_log_flushed(log), 6);
	T_EQ(kq_log_flush_begin(log, &t), KQ_ERR_AGAIN);
	T_EQ(kq_log_delete(log), 0);
	T_OK(access(d, F_OK) == 0 && count_files(d, "-0") == 0, "partition dir removed");
	free(d);
}

/*
 * The produce path: the caller's parsed header is used, not parsed again;
 * offsets, epoch and time index come out as from the log's own parse.
 */
static void
test_append_parsed(void)
{
	struct kq_log_config c;
	struct kq_batch_hdr h;
	struct kq_buf b = { 0 };
	struct kq_log *log;
	struct kq_slice sl[4];
	char *d = fresh_dir(), err[256];
	int64_t base, off, ts;
	int n;

	small_cfg(&c);
	KQ_ASSERT(kq_log_open(&log, d, "t", 0, &c, 0, true, err, sizeof(err)) == 0);
	T_EQ(append1(log, 2, 1000, 3, &base), 0);
	mkbatch(&b, 3, 2000, 50);
	T_EQ(kq_batch_validate(b.buf, b.len, b.len, &h), 0);
	T_EQ(kq_log_append(log, b.buf, b.len - 1, &h, 4, true, &base), KQ_ERR_INVALID);
	T_EQ(kq_log_end(log), 2);
	T_EQ(kq_log_append(log, b.buf, b.len, &h, 4, true, &base), 0);
	T_EQ(base, 2);
	T_EQ(kq_log_end(log), 5);
	T_EQ(kq_log_latest_epoch(log), 4);
	T_EQ(kq_be64(b.buf + KQ_BATCH_OFF_BASE_OFFSET), 2);
	T_EQ(kq_be32(b.buf + KQ_BATCH_OFF_LEADER_EPOCH), 4);
	T_EQ(kq_log_offset_for_time(log, 1500, &off, &ts), 0);
	T_EQ(off, 2);
	T_EQ(kq_log_read(log, 2, 5, INT64_MAX, false, sl, 4, &n), 0);
	T_EQ(n, 1);
	T_EQ(sl[0].first_offset, 2);
	T_EQ(sl[0].last_offset, 4);
	T_EQ(sl[0].len, (int64_t)b.len);
	kq_buf_free(&b);
	kq_log_close(log);
	free(d);
}

/* kq_io_pread_all over a real file cut short: never more than the file holds. */
static void
test_pread_all(void)
{
	char *d = fresh_dir(), *p = kq_xasprintf("%s/f", d);
	unsigned char buf[100];
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);

	KQ_ASSERT(fd >= 0);
	memset(buf, 'x', sizeof(buf));
	T_EQ(write(fd, buf, sizeof(buf)), sizeof(buf));
	memset(buf, 0, sizeof(buf));
	T_EQ(kq_io_pread_all(fd, buf, 60, 40), 0);
	T_OK(buf[0] == 'x' && buf[59] == 'x', "60 bytes at 40 read");
	T_EQ(ftruncate(fd, 70), 0);
	memset(buf, 0, sizeof(buf));
	T_EQ(kq_io_pread_all(fd, buf, 60, 40), KQ_ERR_TRUNCATED);
	T_OK(buf[29] == 'x' && buf[30] == 0, "what the file holds, nothing after");
	T_EQ(kq_io_pread_all(fd, buf, 1, 70), KQ_ERR_TRUNCATED);
	T_EQ(kq_io_pread_all(fd, buf, 0, 70), 0);
	close(fd);
	T_EQ(kq_io_pread_all(fd, buf, 1, 0), KQ_ERR_IO);
	T_EQ(errno, EBADF);
	free(p);
	free(d);
}

/* Open descriptors of this process (for the LRU test). */
static int
open_fds(void)
{
	return count_files("/proc/self/fd", "") - 2;
}

/* A new log is nothing on disk until its first append; deleting it then costs nothing. */
static void
test_lazy(void)
{
	struct kq_log_config c;
	struct kq_log *log;
	char err[256], *d = fresh_dir(), *pd = kq_xasprintf("%s/t-7", d);
	struct kq_slice sl[2];
	struct stat st;
	int64_t b;
	int n, fds = open_fds();

	small_cfg(&c);
	T_EQ(kq_log_open(&log, d, "t", 7, &c, 0, true, err, sizeof(err)), 0);
	T_OK(stat(pd, &st) < 0 && errno == ENOENT, "no directory after open");
	T_EQ(open_fds(), fds);
	T_EQ(kq_log_end(log), 0);
	T_EQ(kq_log_read(log, 0, 0, 1000, true, sl, 2, &n), 0);
	T_EQ(n, 0);
	T_EQ(kq_log_read(log, 1, 1, 1000, true, sl, 2, &n), KQ_E_OFFSET_OUT_OF_RANGE);
	T_EQ(kq_log_sync(log), 0);
	T_EQ(kq_log_delete(log), 0);
	T_OK(stat(pd, &st) < 0 && errno == ENOENT, "still no directory after delete");

	T_EQ(kq_log_open(&log, d, "t", 7, &c, 0, true, err, sizeof(err)), 0);
	T_EQ(append1(log, 2, 1000, 0, &b), 0);
	T_EQ(b, 0);
	T_EQ(count_files(pd, ".log"), 1);
	T_EQ(count_files(pd, ".index"), 1);
	kq_log_close(log);
	T_EQ(kq_log_open(&log, d, "t", 7, &c, 0, true, err, sizeof(err)), 0);
	T_EQ(kq_log_end(log), 2);
	T_EQ(kq_log_latest_epoch(log), 0);
	kq_log_close(log);
	T_EQ(open_fds(), fds);
	free(pd);
	free(d);
}

/*
 * Closed segments' descriptors: at most the cap stay open, and every
 * segment still reads back, before and after a reopen.
 */
static void
test_fd_lru(void)
{
	struct kq_log_config c;
	struct kq_log *log;
	char err[256], *d = fresh_dir();
	int fds = open_fds(), i;

	small_cfg(&c);
	kq_log_set_fd_cap(0);
	T_EQ(kq_log_cached_fds(), 0);
	log = filled(d, &c, 2500, NULL);
	T_OK(count_files(kq_log_dir(log), ".log") > 3 * KQ_LOG_FD_CAP_MIN, "%d segments",
	     count_files(kq_log_dir(log), ".log"));
	T_EQ(kq_log_cached_fds(), KQ_LOG_FD_CAP_MIN);
	T_OK(open_fds() <= fds + KQ_LOG_FD_CAP_MIN + 3, "%d descriptors open", open_fds() - fds);
	check_every_offset(log);
	T_OK(open_fds() <= fds + KQ_LOG_FD_CAP_MIN + 3, "%d open after reading", open_fds() - fds);
	kq_log_close(log);
	T_EQ(kq_log_cached_fds(), 0);
	T_EQ(open_fds(), fds);
	for (i = 0; i < 2; i++) {
		T_EQ(kq_log_open(&log, d, "t", 0, &c, 0, i == 0, err, sizeof(err)), 0);
		T_OK(open_fds() <= fds + KQ_LOG_FD_CAP_MIN + 3, "%d open after %s reopen",
		     open_fds() - fds, i ? "unclean" : "clean");
		check_every_offset(log);
		kq_log_close(log);
	}
	free(d);

	/* Many partitions, each written: active segments are closed when idle too. */
	{
		struct kq_log *logs[200];
		int64_t b;
		int k;

		d = fresh_dir();
		for (k = 0; k < 200; k++) {
			T_EQ(kq_log_open(&logs[k], d, "t", k, &c, 0, true, err, sizeof(err)), 0);
			T_EQ(append1(logs[k], 1, 1000, 0, &b), 0);
		}
		T_EQ(kq_log_cached_fds(), KQ_LOG_FD_CAP_MIN);
		T_OK(open_fds() <= fds + 3 * KQ_LOG_FD_CAP_MIN, "%d open for 200 logs",
		     open_fds() - fds);
		for (k = 0; k < 200; k++) {
			T_EQ(append1(logs[k], 2, 2000, 0, &b), 0);
			T_EQ(b, 1);
			check_every_offset(logs[k]);
			T_EQ(kq_log_sync(logs[k]), 0);
		}
		for (k = 0; k < 200; k++)
			kq_log_close(logs[k]);
		T_EQ(open_fds(), fds);
		for (k = 0; k < 200; k += 199) {
			T_EQ(kq_log_open(&logs[k], d, "t", k, &c, 0, false, err, sizeof(err)), 0);
			T_EQ(kq_log_end(logs[k]), 3);
			kq_log_close(logs[k]);
		}
		free(d);
	}
	kq_log_set_fd_cap(1024);
}

static void
rm_rf(const char *dir)
{
	char *cmd = kq_xasprintf("rm -rf '%s'", dir);

	if (system(cmd) != 0)
		printf("# cleanup of %s failed\n", dir);
	free(cmd);
}

int
main(void)
{
	/* Recovery notes go to stderr; keep TAP output clean. */
	snprintf(root, sizeof(root), "/tmp/kq-test-log-XXXXXX");
	if (!mkdtemp(root))
		return 1;
	T_RUN(test_append_read);
	T_RUN(test_offset_for_time);
	T_RUN(test_records_follower);
	T_RUN(test_reopen_clean);
	T_RUN(test_recover_truncated_tail);
	T_RUN(test_recover_bad_crc);
	T_RUN(test_recover_garbage_tail);
	T_RUN(test_missing_index);
	T_RUN(test_random_damage);
	T_RUN(test_big_batch);
	T_RUN(test_checkpoint);
	T_RUN(test_epochs);
	T_RUN(test_enospc);
	T_RUN(test_advance_start_truncate);
	T_RUN(test_flush);
	T_RUN(test_append_parsed);
	T_RUN(test_pread_all);
	T_RUN(test_lazy);
	T_RUN(test_fd_lru);
	rm_rf(root);
	return t_done();
}
