/*
 * fuzz-checkpoint.c - libFuzzer target for kq_checkpoint_read: data is the
 * whole checkpoint file.  A file that parses is written back with
 * kq_checkpoint_write and must read back to the same entries: whatever the
 * reader accepts, the writer must be able to store.  Files live in a
 * private directory under /dev/shm (or TMPDIR) so the writer's fsyncs
 * are cheap.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256], in_path[300], out_path[300];

static void
cleanup(void)
{
	unlink(in_path);
	unlink(out_path);
	rmdir(dir);
}

static void
setup(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/kq-fuzz-ckpt-XXXXXX", base ? base : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(in_path, sizeof(in_path), "%s/in", dir);
	snprintf(out_path, sizeof(out_path), "%s/out", dir);
	atexit(cleanup);
}

static void
write_all(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kq_checkpoint_entry *e = NULL, *e2 = NULL;
	size_t n = 0, n2 = 0, i;

	if (dir[0] == '\0')
		setup();
	write_all(in_path, data, size);
	if (kq_checkpoint_read(in_path, &e, &n) != 0) {
		if (e != NULL || n != 0)
			abort();	/* a failed read must hand back nothing */
		return 0;
	}
	if (kq_checkpoint_write(out_path, e, n) != 0)
		abort();
	if (kq_checkpoint_read(out_path, &e2, &n2) != 0 || n2 != n)
		abort();	/* the writer stored something the reader refuses */
	for (i = 0; i < n; i++)
		if (strcmp(e[i].topic, e2[i].topic) != 0 ||
		    e[i].partition != e2[i].partition || e[i].offset != e2[i].offset)
			abort();
	kq_checkpoint_free(e, n);
	kq_checkpoint_free(e2, n2);
	return 0;
}
