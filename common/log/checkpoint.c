/*
 * checkpoint.c - Kafka's text checkpoint files and atomic small-file writes.
 *
 * Checkpoint files are read back at startup from a disk that may hold
 * anything, so the parser caps the file size, the entry count and each
 * field, and rejects rather than guesses.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define CKPT_MAX_FILE (64 << 20)	/* bytes */
#define CKPT_MAX_ENTRIES 1000000

int
kq_write_file_atomic(const char *path, const void *p, size_t n)
{
	char *tmp, *dir, *slash;
	int fd, dfd, saved;

	tmp = kq_xasprintf("%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	if (kq_io_write_all(fd, p, n) < 0)
		goto fail_close;
	if (kq_io.fsync(fd) < 0)
		goto fail_close;
	if (close(fd) < 0) {
		fd = -1;
		goto fail_unlink;
	}
	if (rename(tmp, path) < 0)
		goto fail_unlink;
	free(tmp);

	/* The rename is durable only once the directory is. */
	dir = kq_xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (dfd < 0)
		return KQ_ERR_IO;
	if (kq_io.fsync(dfd) < 0) {
		saved = errno;
		close(dfd);
		errno = saved;
		return KQ_ERR_IO;
	}
	close(dfd);
	return 0;

fail_close:
	saved = errno;
	close(fd);
	errno = saved;
fail_unlink:
	saved = errno;
	unlink(tmp);
	errno = saved;
fail:
	free(tmp);
	return KQ_ERR_IO;
}

int
kq_checkpoint_write(const char *path, const struct kq_checkpoint_entry *e, size_t n)
{
	struct kq_buf b = { 0 };
	size_t i;
	int rc;

	kq_buf_addf(&b, "0\n%zu\n", n);
	for (i = 0; i < n; i++) {
		if (!e[i].topic || !kq_topic_valid(e[i].topic, strlen(e[i].topic))) {
			kq_buf_free(&b);
			return KQ_ERR_INVALID;
		}
		kq_buf_addf(&b, "%s %d %lld\n", e[i].topic, (int)e[i].partition,
			    (long long)e[i].offset);
	}
	rc = kq_write_file_atomic(path, b.buf, b.len);
	kq_buf_free(&b);
	return rc;
}

/* Strict decimal: optional '-', digits only, within [lo, hi]. */
static bool
parse_i64(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out)
{
	char tmp[24];
	char *end;
	long long v;

	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (!(tmp[0] == '-' || (tmp[0] >= '0' && tmp[0] <= '9')))
		return false;
	if (tmp[0] == '-' && !(tmp[1] >= '0' && tmp[1] <= '9'))
		return false;
	errno = 0;
	v = strtoll(tmp, &end, 10);
	if (errno || *end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* Next line of [*p, end): sets line/len, advances *p; false at the end. */
static bool
next_line(const char **p, const char *end, const char **line, size_t *len)
{
	const char *nl;

	if (*p >= end)
		return false;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	*line = *p;
	*len = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	*p = nl ? nl + 1 : end;
	return true;
}

void
kq_checkpoint_free(struct kq_checkpoint_entry *e, size_t n)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; i < n; i++)
		free(e[i].topic);
	free(e);
}

int
kq_checkpoint_read(const char *path, struct kq_checkpoint_entry **out, size_t *nout)
{
	struct kq_checkpoint_entry *e = NULL;
	struct stat st;
	const char *p, *end, *line, *sp1, *sp2;
	char *data;
	size_t len, i = 0;
	int64_t v, count, part, off;
	ssize_t r;
	int fd, rc = KQ_ERR_CORRUPT;

	*out = NULL;
	*nout = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : KQ_ERR_IO;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return KQ_ERR_IO;
	}
	if (st.st_size > CKPT_MAX_FILE) {
		close(fd);
		return KQ_ERR_TOO_LARGE;
	}
	data = kq_xmalloc((size_t)st.st_size + 1);
	len = 0;
	while (len < (size_t)st.st_size) {
		r = read(fd, data + len, (size_t)st.st_size - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			free(data);
			return KQ_ERR_IO;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	p = data;
	end = data + len;

	if (!next_line(&p, end, &line, &len) || !parse_i64(line, len, 0, 0, &v))
		goto out;
	if (!next_line(&p, end, &line, &len) ||
	    !parse_i64(line, len, 0, CKPT_MAX_ENTRIES, &count))
		goto out;
	/* Each entry needs at least "t 0 0\n": a count beyond that is a lie. */
	if (count > (end - p) / 6 + 1)
		goto out;
	e = kq_xcalloc((size_t)count + 1, sizeof(*e));
	for (i = 0; i < (size_t)count; i++) {
		if (!next_line(&p, end, &line, &len))
			goto out;
		sp2 = NULL;
		sp1 = memchr(line, ' ', len);
		if (sp1)
			sp2 = memchr(sp1 + 1, ' ', (size_t)(line + len - sp1 - 1));
		if (!sp1 || !sp2 || !kq_topic_valid(line, (size_t)(sp1 - line)))
			goto out;
		if (!parse_i64(sp1 + 1, (size_t)(sp2 - sp1 - 1), 0, INT32_MAX, &part) ||
		    !parse_i64(sp2 + 1, (size_t)(line + len - sp2 - 1), -1, INT64_MAX, &off))
			goto out;
		e[i].topic = kq_xstrndup(line, (size_t)(sp1 - line));
		e[i].partition = (int32_t)part;
		e[i].offset = off;
	}
	/* Only blank lines may follow. */
	while (next_line(&p, end, &line, &len))
		if (len != 0)
			goto out;
	rc = 0;
out:
	free(data);
	if (rc < 0) {
		kq_checkpoint_free(e, i);
		return rc;
	}
	*out = e;
	*nout = i;
	return 0;
}
