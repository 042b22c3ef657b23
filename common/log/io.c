/*
 * io.c - the I/O seam.  Every data write of the log goes through kq_io so
 * tests can inject ENOSPC, EIO and short writes without a full disk.
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
