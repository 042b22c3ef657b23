/*
 * io.c - the I/O seam.  Every data write of the log goes through kq_io so
 * tests can inject ENOSPC, EIO and short writes without a full disk; and
 * the one loop that reads a file range whole.
 */
#include <errno.h>
#include <unistd.h>

#include "log.h"

static ssize_t
io_write(int fd, const void *p, size_t n)
{
	return write(fd, p, n);
}

static ssize_t
io_pwrite(int fd, const void *p, size_t n, off_t off)
{
	return pwrite(fd, p, n, off);
}

static int
io_fsync(int fd)
{
	return fsync(fd);
}

static int
io_fdatasync(int fd)
{
	return fdatasync(fd);
}

struct kq_io kq_io = { io_write, io_pwrite, io_fsync, io_fdatasync };

int
kq_io_write_all(int fd, const void *p, size_t n)
{
	const unsigned char *q = p;
	ssize_t w;

	while (n > 0) {
		w = kq_io.write(fd, q, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			return KQ_ERR_IO;
		}
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

int
kq_io_pread_all(int fd, void *p, size_t n, int64_t pos)
{
	unsigned char *q = p;
	ssize_t r;

	while (n > 0) {
		r = pread(fd, q, n, (off_t)pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return KQ_ERR_IO;
		if (r == 0)
			return KQ_ERR_TRUNCATED;
		q += r;
		n -= (size_t)r;
		pos += r;
	}
	return 0;
}
