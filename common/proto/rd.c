/*
 * rd.c - bounds-checked big-endian reader with a sticky error.
 *
 * Every read checks the remaining length first; on failure the first error
 * is kept, the cursor jumps to the end and the read returns zero, so callers
 * read straight through and test r->err once.
 */
#include <string.h>

#include "proto.h"

void
kq_rd_init(struct kq_rd *r, const void *p, size_t n)
{
	r->err = 0;
	/* NULL + 0 is undefined; an empty reader needs no pointer. */
	if (p == NULL) {
		r->p = r->end = NULL;
		return;
	}
	r->p = p;
	r->end = r->p + n;
}

void
kq_rd_fail(struct kq_rd *r, int err)
{
	if (r->err == 0)
		r->err = err;
	/* Nothing after an error is trustworthy; make every later read fail. */
	r->p = r->end;
}

/* Returns a pointer to n readable bytes and advances, or NULL. */
static const unsigned char *
take(struct kq_rd *r, size_t n)
{
	const unsigned char *p;

	if (r->err != 0)
		return NULL;
	if (kq_rd_left(r) < n) {
		kq_rd_fail(r, KQ_ERR_TRUNCATED);
		return NULL;
	}
	p = r->p;
	r->p += n;
	return p;
}

int8_t
kq_rd_i8(struct kq_rd *r)
{
	const unsigned char *p = take(r, 1);

	return p ? (int8_t)p[0] : 0;
}

int16_t
kq_rd_i16(struct kq_rd *r)
{
	const unsigned char *p = take(r, 2);

	return p ? (int16_t)kq_be16(p) : 0;
}

int32_t
kq_rd_i32(struct kq_rd *r)
{
	const unsigned char *p = take(r, 4);

	return p ? (int32_t)kq_be32(p) : 0;
}

int64_t
kq_rd_i64(struct kq_rd *r)
{
	const unsigned char *p = take(r, 8);

	return p ? (int64_t)kq_be64(p) : 0;
}

uint16_t
kq_rd_u16(struct kq_rd *r)
{
	const unsigned char *p = take(r, 2);

	return p ? kq_be16(p) : 0;
}

uint32_t
kq_rd_u32(struct kq_rd *r)
{
	const unsigned char *p = take(r, 4);

	return p ? kq_be32(p) : 0;
}

double
kq_rd_f64(struct kq_rd *r)
{
	const unsigned char *p = take(r, 8);
	uint64_t u;
	double d;

	if (p == NULL)
		return 0;
	u = kq_be64(p);
	memcpy(&d, &u, sizeof(d));
	return d;
}

bool
kq_rd_bool(struct kq_rd *r)
{
	const unsigned char *p = take(r, 1);

	/* Kafka treats any non-zero byte as true. */
	return p ? p[0] != 0 : false;
}

struct kq_uuid
kq_rd_uuid(struct kq_rd *r)
{
	struct kq_uuid u;
	const unsigned char *p = take(r, 16);

	if (p)
		memcpy(u.b, p, 16);
	else
		memset(u.b, 0, 16);
	return u;
}

struct kq_str
kq_rd_str(struct kq_rd *r, bool nullable)
{
	struct kq_str s = { "", 0 };
	int16_t len = kq_rd_i16(r);
	const unsigned char *p;

	if (r->err != 0)
		return s;
	if (len < 0) {
		if (len == -1 && nullable)
			return KQ_STR_NULL;
		kq_rd_fail(r, KQ_ERR_CORRUPT);
		return s;
	}
	p = take(r, (size_t)len);
	if (p == NULL)
		return s;
	s.p = (const char *)p;
	s.len = len;
	return s;
}

struct kq_bytes
kq_rd_bytes(struct kq_rd *r, bool nullable)
{
	struct kq_bytes b = { (const unsigned char *)"", 0 };
	int32_t len = kq_rd_i32(r);
	const unsigned char *p;

	if (r->err != 0)
		return b;
	if (len < 0) {
		if (len == -1 && nullable)
			return KQ_BYTES_NULL;
		kq_rd_fail(r, KQ_ERR_CORRUPT);
		return b;
	}
	p = take(r, (size_t)len);
	if (p == NULL)
		return b;
	b.p = p;
	b.len = len;
	return b;
}

int32_t
kq_rd_array(struct kq_rd *r, size_t min_elem, bool nullable)
{
	int32_t n = kq_rd_i32(r);

	if (r->err != 0)
		return 0;
	if (n < 0) {
		if (n == -1 && nullable)
			return -1;
		kq_rd_fail(r, KQ_ERR_CORRUPT);
		return 0;
	}
	/*
	 * Each element needs at least min_elem bytes, so a count the frame
	 * cannot hold is refused before the caller allocates for it.  A
	 * zero-size element (an empty struct) still costs nothing per entry,
	 * so cap the count by the bytes left anyway.
	 */
	if (min_elem == 0)
		min_elem = 1;
	if ((uint64_t)n * min_elem > kq_rd_left(r)) {
		kq_rd_fail(r, KQ_ERR_TRUNCATED);
		return 0;
	}
	return n;
}

uint32_t
kq_rd_uvarint(struct kq_rd *r)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 5; i++) {
		const unsigned char *p = take(r, 1);

		if (p == NULL)
			return 0;
		/* The fifth byte may carry only the top 4 bits of a uint32. */
		if (i == 4 && (p[0] & 0xf0) != 0) {
			kq_rd_fail(r, KQ_ERR_CORRUPT);
			return 0;
		}
		v |= (uint32_t)(p[0] & 0x7f) << (7 * i);
		if ((p[0] & 0x80) == 0)
			return v;
	}
	kq_rd_fail(r, KQ_ERR_CORRUPT);
	return 0;
}

int32_t
kq_rd_varint(struct kq_rd *r)
{
	uint32_t u = kq_rd_uvarint(r);

	return (int32_t)((u >> 1) ^ (0u - (u & 1)));
}

int64_t
kq_rd_varlong(struct kq_rd *r)
{
	uint64_t u = 0;
	int i;

	for (i = 0; i < 10; i++) {
		const unsigned char *p = take(r, 1);

		if (p == NULL)
			return 0;
		if (i == 9 && (p[0] & 0xfe) != 0) {
			kq_rd_fail(r, KQ_ERR_CORRUPT);
			return 0;
		}
		u |= (uint64_t)(p[0] & 0x7f) << (7 * i);
		if ((p[0] & 0x80) == 0)
			return (int64_t)((u >> 1) ^ (0u - (u & 1)));
	}
	kq_rd_fail(r, KQ_ERR_CORRUPT);
	return 0;
}

const unsigned char *
kq_rd_raw(struct kq_rd *r, size_t n)
{
	return take(r, n);
}

void
kq_rd_skip(struct kq_rd *r, size_t n)
{
	(void)take(r, n);
}
