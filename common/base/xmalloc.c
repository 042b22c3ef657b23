/* xmalloc.c - allocation that aborts on exhaustion, and kq_assert_fail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

static void
oom(size_t n)
{
	fprintf(stderr, "kq: out of memory allocating %zu bytes\n", n);
	abort();
}

void
kq_assert_fail(const char *expr, const char *file, int line)
{
	fprintf(stderr, "kq: assertion failed: %s (%s:%d)\n", expr, file, line);
	abort();
}

void *
kq_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom(n);
	return p;
}

void *
kq_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom(n * size);
	return p;
}

void *
kq_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		oom(n);
	return q;
}

char *
kq_xstrdup(const char *s)
{
	return kq_xstrndup(s, strlen(s));
}

char *
kq_xstrndup(const char *s, size_t n)
{
	char *p = kq_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
kq_xasprintf(const char *fmt, ...)
{
	struct kq_buf b = { 0 };
	va_list ap;

	va_start(ap, fmt);
	kq_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	kq_buf_cstr(&b);
	return (char *)b.buf;
}
