/*
 * wr.c - big-endian encoders appending to a kq_buf.  Growth failure aborts
 * in kq_buf_grow, so the writers cannot fail.
 */
#include <string.h>

#include "proto.h"

static unsigned char *
room(struct kq_buf *w, size_t n)
{
	unsigned char *p;

	kq_buf_grow(w, n);
	p = w->buf + w->len;
	w->len += n;
	return p;
}

void
kq_wr_i8(struct kq_buf *w, int8_t v)
{
	*room(w, 1) = (unsigned char)v;
}

void
kq_wr_i16(struct kq_buf *w, int16_t v)
{
	kq_put16(room(w, 2), (uint16_t)v);
}

void
kq_wr_i32(struct kq_buf *w, int32_t v)
{
	kq_put32(room(w, 4), (uint32_t)v);
}

void
kq_wr_i64(struct kq_buf *w, int64_t v)
{
	kq_put64(room(w, 8), (uint64_t)v);
}

void
kq_wr_u16(struct kq_buf *w, uint16_t v)
{
	kq_put16(room(w, 2), v);
}

void
kq_wr_u32(struct kq_buf *w, uint32_t v)
{
	kq_put32(room(w, 4), v);
}

void
kq_wr_f64(struct kq_buf *w, double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	kq_put64(room(w, 8), u);
}

void
kq_wr_bool(struct kq_buf *w, bool v)
{
	*room(w, 1) = v ? 1 : 0;
}

void
kq_wr_uuid(struct kq_buf *w, struct kq_uuid u)
{
	memcpy(room(w, 16), u.b, 16);
}

void
kq_wr_str(struct kq_buf *w, struct kq_str s)
{
	/* Longer than INT16 cannot be represented; callers cap names first. */
	KQ_ASSERT(s.len <= INT16_MAX);
	if (s.len < 0 || (s.p == NULL && s.len != 0)) {
		kq_wr_i16(w, -1);
		return;
	}
	kq_wr_i16(w, (int16_t)s.len);
	if (s.len > 0)
		memcpy(room(w, (size_t)s.len), s.p, (size_t)s.len);
}

void
kq_wr_cstr(struct kq_buf *w, const char *s)
{
	kq_wr_str(w, kq_str_c(s));
}

void
kq_wr_bytes(struct kq_buf *w, struct kq_bytes b)
{
	if (b.len < 0 || (b.p == NULL && b.len != 0)) {
		kq_wr_i32(w, -1);
		return;
	}
	kq_wr_i32(w, b.len);
	if (b.len > 0)
		memcpy(room(w, (size_t)b.len), b.p, (size_t)b.len);
}

void
kq_wr_raw(struct kq_buf *w, const void *p, size_t n)
{
	if (n > 0)
		memcpy(room(w, n), p, n);
}

void
kq_wr_uvarint(struct kq_buf *w, uint32_t v)
{
	unsigned char tmp[5];
	size_t n = 0;

	while (v >= 0x80) {
		tmp[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (unsigned char)v;
	kq_wr_raw(w, tmp, n);
}

void
kq_wr_varint(struct kq_buf *w, int32_t v)
{
	/* Zig-zag via unsigned arithmetic: no signed-shift overflow. */
	uint32_t u = ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);

	kq_wr_uvarint(w, u);
}

void
kq_wr_varlong(struct kq_buf *w, int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	unsigned char tmp[10];
	size_t n = 0;

	while (u >= 0x80) {
		tmp[n++] = (unsigned char)(u | 0x80);
		u >>= 7;
	}
	tmp[n++] = (unsigned char)u;
	kq_wr_raw(w, tmp, n);
}

size_t
kq_wr_hole32(struct kq_buf *w)
{
	size_t pos = w->len;

	memset(room(w, 4), 0, 4);
	return pos;
}

void
kq_wr_patch32(struct kq_buf *w, size_t pos, uint32_t v)
{
	KQ_ASSERT(pos + 4 <= w->len);
	kq_put32(w->buf + pos, v);
}
