/*
 * io.c - the I/O seam.  Every data write of the log goes through kq_io so
 * tests can inject ENOSPC, EIO and short writes without a full disk.
 */
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
