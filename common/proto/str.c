/*
 * str.c - helpers for kq_str / kq_bytes views.
 */
#include <string.h>

#include "proto.h"

struct kq_str
kq_str_c(const char *s)
{
	struct kq_str v;
	size_t n;

	if (s == NULL)
		return KQ_STR_NULL;
	n = strlen(s);
	KQ_ASSERT(n <= INT16_MAX);
	v.p = s;
	v.len = (int32_t)n;
	return v;
}

struct kq_bytes
kq_bytes_of(const void *p, size_t n)
{
	struct kq_bytes b;

	KQ_ASSERT(n <= INT32_MAX);
	b.p = p;
	b.len = (int32_t)n;
	if (p == NULL && n == 0)
		b.p = (const unsigned char *)"";
	return b;
}

bool
kq_str_eq(struct kq_str s, const char *c)
{
	size_t n;

	if (s.len < 0 || c == NULL)
		return false;
	n = strlen(c);
	return n == (size_t)s.len && (n == 0 || memcmp(s.p, c, n) == 0);
}

bool
kq_str_eqs(struct kq_str a, struct kq_str b)
{
	if (a.len < 0 || b.len < 0)
		return false;
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, (size_t)a.len) == 0);
}

char *
kq_str_dup(struct kq_str s)
{
	if (s.len < 0)
		return NULL;
	return kq_xstrndup(s.len ? s.p : "", (size_t)s.len);
}
