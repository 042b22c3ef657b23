/*
 * fuzz-log-recover.c - libFuzzer target for segment recovery: data is the
 * whole 00000000000000000000.log of TOPIC-0 in a fresh directory, opened
 * unclean (every batch validated).  Checks: what recovery keeps is a
 * prefix of the input made of whole batches with good CRCs and offsets
 * that continue without gaps; a small valid batch then appends at LEO;
 * a second unclean open changes nothing.  Run with -close_fd_mask=2: the
 * log warns on stderr about every cut it makes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/proto.h"
#include "log/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NSLICE 16

static char dir[256], pdir[300], seg[350];
static struct kq_buf batch;

static void
rm_pdir(void)
{
	DIR *d = opendir(pdir);
	struct dirent *de;
	char path[700];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", pdir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(pdir);
}

static void
cleanup(void)
{
	rm_pdir();
	rmdir(dir);
}

static void
setup(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
	struct kq_batch_builder bb;
	struct kq_record_header h = { kq_str_c("h"), kq_bytes_of("v", 1) };

	snprintf(dir, sizeof(dir), "%s/kq-fuzz-log-XXXXXX", base ? base : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(pdir, sizeof(pdir), "%s/TOPIC-0", dir);
	snprintf(seg, sizeof(seg), "%s/00000000000000000000.log", pdir);
	atexit(cleanup);
	kq_bb_init(&bb, KQ_CODEC_NONE);
	kq_bb_add(&bb, 1700000000000, kq_bytes_of("k", 1), kq_bytes_of("value", 5), &h, 1);
	if (kq_bb_finish(&bb, &batch) != 0)
		abort();
	kq_bb_free(&bb);
}

static void
write_all(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t r;

	if (fd < 0)
		abort();
	while (n > 0) {
		r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			abort();
		p += r;
		n -= (size_t)r;
	}
	close(fd);
}

/* Read back what the log serves from offset 0 and check it batch by batch. */
static void
check_read(struct kq_log *log, const uint8_t *data, size_t size)
{
	struct kq_slice sl[NSLICE];
	unsigned char *buf;
	int64_t next = 0, sz, pos;
	int n = 0, i, rc;

	rc = kq_log_read(log, 0, kq_log_end(log), INT64_MAX, true, sl, NSLICE, &n);
	if (rc != 0 || n < 0 || n > NSLICE)
		abort();
	for (i = 0; i < n; i++) {
		if (sl[i].pos < 0 || sl[i].len < 0 ||
		    (uint64_t)sl[i].pos + (uint64_t)sl[i].len > size)
			abort();	/* recovery kept more than it was given */
		buf = malloc(sl[i].len ? (size_t)sl[i].len : 1);
		if (buf == NULL ||
		    pread(sl[i].fd, buf, (size_t)sl[i].len, sl[i].pos) != sl[i].len)
			abort();
		if (memcmp(buf, data + sl[i].pos, (size_t)sl[i].len) != 0)
			abort();	/* kept bytes differ from the input */
		for (pos = 0; pos < sl[i].len; pos += sz) {
			if (sl[i].len - pos < KQ_BATCH_HEADER_SIZE)
				abort();	/* slice ends inside a batch */
			sz = kq_batch_size(buf + pos);
			if (sz < KQ_BATCH_HEADER_SIZE || sz > sl[i].len - pos)
				abort();
			if (buf[pos + KQ_BATCH_OFF_MAGIC] != 2 ||
			    !kq_batch_crc_ok(buf + pos, (size_t)sz))
				abort();	/* a bad batch survived recovery */
			if ((int64_t)kq_be64(buf + pos) != next)
				abort();	/* offsets do not continue */
			next += (int64_t)(int32_t)kq_be32(buf + pos + KQ_BATCH_OFF_LAST_OFFSET_DELTA) + 1;
		}
		free(buf);
	}
	if (next != kq_log_end(log))
		abort();	/* LEO disagrees with the batches kept */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kq_log_config cfg;
	struct kq_log *log = NULL;
	char err[256];
	unsigned char app[256];
	int64_t leo, base = -1;

	if (dir[0] == '\0')
		setup();
	if (batch.len > sizeof(app))
		abort();
	kq_log_config_default(&cfg);
	cfg.flush_mode = KQ_FLUSH_OS;
	rm_pdir();
	if (mkdir(pdir, 0755) < 0)
		abort();
	write_all(seg, data, size);

	if (kq_log_open(&log, dir, "TOPIC", 0, &cfg, 0, false, err, sizeof(err)) != 0) {
		rm_pdir();
		return 0;
	}
	check_read(log, data, size);
	leo = kq_log_end(log);
	memcpy(app, batch.buf, batch.len);
	if (kq_log_append(log, app, batch.len, NULL, -1, true, &base) != 0 || base != leo ||
	    kq_log_end(log) != leo + 1)
		abort();
	kq_log_close(log);

	/* Recovering what recovery left, plus a clean append, changes nothing. */
	if (kq_log_open(&log, dir, "TOPIC", 0, &cfg, 0, false, err, sizeof(err)) != 0)
		abort();
	if (kq_log_end(log) != leo + 1)
		abort();
	kq_log_close(log);
	rm_pdir();
	return 0;
}
