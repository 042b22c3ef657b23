/* buf.c - growable byte buffers and the arena allocator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

void
kq_buf_grow(struct kq_buf *b, size_t extra)
{
	size_t need, cap;

	KQ_ASSERT(extra <= SIZE_MAX - b->len - 1);
	need = b->len + extra + 1;	/* room for kq_buf_cstr's NUL */
	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap < SIZE_MAX / 2 ? cap * 2 : need;
	b->buf = kq_xrealloc(b->buf, cap);
	b->cap = cap;
}

void
kq_buf_add(struct kq_buf *b, const void *p, size_t n)
{
	if (!n)
		return;
	kq_buf_grow(b, n);
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

void
kq_buf_addc(struct kq_buf *b, int c)
{
	kq_buf_grow(b, 1);
	b->buf[b->len++] = (unsigned char)c;
}

void
kq_buf_adds(struct kq_buf *b, const char *s)
{
	kq_buf_add(b, s, strlen(s));
}

void
kq_buf_vaddf(struct kq_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	kq_buf_grow(b, 64);
	va_copy(cp, ap);
	n = vsnprintf((char *)b->buf + b->len, b->cap - b->len, fmt, cp);
	va_end(cp);
	KQ_ASSERT(n >= 0);
	if ((size_t)n >= b->cap - b->len) {
		kq_buf_grow(b, (size_t)n);
		n = vsnprintf((char *)b->buf + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

void
kq_buf_addf(struct kq_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kq_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

const char *
kq_buf_cstr(struct kq_buf *b)
{
	kq_buf_grow(b, 0);
	b->buf[b->len] = '\0';
	return (const char *)b->buf;
}

void
kq_buf_reset(struct kq_buf *b)
{
	b->len = 0;
}

void
kq_buf_free(struct kq_buf *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = 0;
}

void
kq_buf_consume(struct kq_buf *b, size_t n)
{
	KQ_ASSERT(n <= b->len);
	memmove(b->buf, b->buf + n, b->len - n);
	b->len -= n;
}

/*
 * Arena chunks are kept on a list; reset keeps the largest chunk so a
 * connection decoding request after request stops allocating.
 */
struct kq_arena_chunk {
	struct kq_arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

#define ARENA_CHUNK 16384

void *
kq_arena_alloc(struct kq_arena *a, size_t n)
{
	struct kq_arena_chunk *c = a->head;
	const size_t align = _Alignof(max_align_t);
	size_t off;

	n = n ? n : 1;
	KQ_ASSERT(n < SIZE_MAX / 2);
	off = c ? (c->used + align - 1) / align * align : 0;
	if (!c || off + n > c->cap) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;

		c = kq_xmalloc(sizeof(*c) + cap);
		c->cap = cap;
		c->used = 0;
		c->next = a->head;
		a->head = c;
		off = 0;
	}
	c->used = off + n;
	a->total += n;
	return memset((char *)c->data + off, 0, n);
}

char *
kq_arena_strndup(struct kq_arena *a, const char *s, size_t n)
{
	char *p = kq_arena_alloc(a, n + 1);

	memcpy(p, s, n);
	return p;
}

void
kq_arena_reset(struct kq_arena *a)
{
	struct kq_arena_chunk *c, *next, *keep = NULL;

	for (c = a->head; c; c = next) {
		next = c->next;
		if (!keep && c->cap == ARENA_CHUNK) {
			keep = c;
			continue;
		}
		free(c);
	}
	if (keep) {
		keep->next = NULL;
		keep->used = 0;
	}
	a->head = keep;
	a->total = 0;
}

void
kq_arena_free(struct kq_arena *a)
{
	struct kq_arena_chunk *c, *next;

	for (c = a->head; c; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
	a->total = 0;
}
