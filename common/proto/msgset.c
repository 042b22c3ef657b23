/*
 * msgset.c - legacy MessageSet v0/v1 in (Produce v0-2) and out (Fetch v0-3).
 */
#include <string.h>
#include <zlib.h>

#include "proto.h"

#define MSG_MIN_SIZE 14		/* crc, magic, attributes, null key, null value */

struct msg {
	int64_t offset;
	int magic, attributes;
	int64_t timestamp;
	struct kq_bytes key, value;
};

struct conv {
	struct kq_batch_builder bb;
	struct kq_buf inner;	/* a wrapper's decompressed message set */
	struct kq_buf lz4;	/* a magic-0 lz4 frame with its header checksum fixed */
	size_t max_bytes;
	int64_t now_ms;
	int codec;		/* of the first wrapper; -1 before one is seen */
	int magic;		/* of the first message: every other must have it */
};

/*
 * Read one message of a message set; r is left at the next one.  A CRC that
 * does not match, a size that does not fit or an unknown magic is
 * CORRUPT_MESSAGE, as is a message set that ends inside a message.
 */
static int
msg_read(struct kq_rd *r, struct msg *m)
{
	const unsigned char *body;
	struct kq_rd mr;
	int32_t size;

	m->offset = kq_rd_i64(r);
	size = kq_rd_i32(r);
	if (r->err || size < MSG_MIN_SIZE || (body = kq_rd_raw(r, (size_t)size)) == NULL)
		return KQ_E_CORRUPT_MESSAGE;
	if (kq_be32(body) != (uint32_t)crc32(0, body + 4, (uInt)size - 4))
		return KQ_E_CORRUPT_MESSAGE;
	kq_rd_init(&mr, body + 4, (size_t)size - 4);
	m->magic = kq_rd_i8(&mr);
	m->attributes = (uint8_t)kq_rd_i8(&mr);
	m->timestamp = m->magic == 1 ? kq_rd_i64(&mr) : -1;
	m->key = kq_rd_bytes(&mr, true);
	m->value = kq_rd_bytes(&mr, true);
	if (mr.err || kq_rd_left(&mr) != 0 || (m->magic != 0 && m->magic != 1))
		return KQ_E_CORRUPT_MESSAGE;
	return 0;
}

/* XXH32 with seed 0 of fewer than 16 bytes: all an LZ4 frame descriptor needs. */
static uint32_t
xxh32_short(const unsigned char *p, size_t n)
{
	static const uint32_t P1 = 2654435761u, P3 = 3266489917u, P4 = 668265263u,
			      P5 = 374761393u, P2 = 2246822519u;
	uint32_t h = P5 + (uint32_t)n;

	for (; n >= 4; p += 4, n -= 4) {
		h += ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		      (uint32_t)p[3] << 24) * P3;
		h = (h << 17 | h >> 15) * P4;
	}
	for (; n > 0; p++, n--) {
		h += *p * P5;
		h = (h << 11 | h >> 21) * P1;
	}
	h ^= h >> 15;
	h *= P2;
	h ^= h >> 13;
	h *= P3;
	return h ^ h >> 16;
}

/*
 * Magic-0 lz4 wrappers carry Kafka's old frame header checksum, taken over
 * the magic number too (KAFKA-3160), which liblz4 refuses: copy the frame
 * with the checksum of its descriptor put right.  Anything not an LZ4 frame
 * is left for the decompressor to refuse.
 */
static struct kq_bytes
lz4_fix_header(struct kq_buf *b, struct kq_bytes v)
{
	size_t hc;

	if (v.len < 7 || kq_be32(v.p) != 0x04224d18)
		return v;
	hc = 6 + ((v.p[4] & 0x08) ? 8 : 0) + ((v.p[4] & 0x01) ? 4 : 0);
	if ((size_t)v.len <= hc)
		return v;
	kq_buf_reset(b);
	kq_buf_add(b, v.p, (size_t)v.len);
	b->buf[hc] = (unsigned char)(xxh32_short(b->buf + 4, hc - 4) >> 8);
	return kq_bytes_of(b->buf, b->len);
}

static int
conv_add(struct conv *c, const struct msg *m, const struct msg *wrapper)
{
	int64_t ts = m->timestamp;

	if (m->magic != c->magic)
		return KQ_E_CORRUPT_MESSAGE;	/* Kafka: one magic per message set */
	if (m->magic == 0)
		ts = c->now_ms;
	else if (wrapper && (wrapper->attributes & KQ_MSG_ATTR_LOG_APPEND_TIME))
		ts = wrapper->timestamp;
	kq_bb_add(&c->bb, ts, m->key, m->value, NULL, 0);
	return kq_bb_size(&c->bb) > c->max_bytes ? KQ_E_MESSAGE_TOO_LARGE : 0;
}

/* The messages inside one wrapper, none of them a wrapper itself (Kafka's rule). */
static int
conv_wrapper(struct conv *c, const struct msg *w)
{
	int codec = w->attributes & KQ_ATTR_CODEC_MASK;
	struct kq_bytes v = w->value;
	struct kq_rd r;
	struct msg m;
	int rc;

	if (w->magic != c->magic)
		return KQ_E_CORRUPT_MESSAGE;
	if (codec > KQ_CODEC_LZ4 || !kq_codec_available(codec))
		return KQ_E_UNSUPPORTED_COMPRESSION_TYPE;
	if (w->value.len <= 0)
		return KQ_E_CORRUPT_MESSAGE;
	if (c->codec < 0)
		c->codec = codec;
	if (codec == KQ_CODEC_LZ4 && w->magic == 0)
		v = lz4_fix_header(&c->lz4, v);
	kq_buf_reset(&c->inner);
	rc = kq_decompress(codec, v.p, (size_t)v.len, &c->inner, c->max_bytes);
	if (rc == KQ_ERR_TOO_LARGE)
		return KQ_E_MESSAGE_TOO_LARGE;
	if (rc)
		return KQ_E_CORRUPT_MESSAGE;
	kq_rd_init(&r, c->inner.buf, c->inner.len);
	if (kq_rd_left(&r) == 0)
		return KQ_E_CORRUPT_MESSAGE;
	while (kq_rd_left(&r) > 0) {
		if ((rc = msg_read(&r, &m)) != 0)
			return rc;
		if ((m.attributes & KQ_ATTR_CODEC_MASK) != 0)
			return KQ_E_CORRUPT_MESSAGE;	/* a wrapper inside a wrapper */
		if ((rc = conv_add(c, &m, w)) != 0)
			return rc;
	}
	return 0;
}

int
kq_msgset_to_batch(const unsigned char *p, size_t n, size_t max_bytes, int64_t now_ms,
		   struct kq_buf *out)
{
	struct conv c;
	struct kq_rd r;
	struct msg m;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	c.max_bytes = max_bytes;
	c.now_ms = now_ms;
	c.codec = c.magic = -1;
	kq_bb_init(&c.bb, KQ_CODEC_NONE);
	kq_rd_init(&r, p, n);
	if (n == 0)
		rc = KQ_E_CORRUPT_MESSAGE;
	while (rc == 0 && kq_rd_left(&r) > 0) {
		if ((rc = msg_read(&r, &m)) != 0)
			break;
		if (c.magic < 0)
			c.magic = m.magic;
		rc = (m.attributes & KQ_ATTR_CODEC_MASK) ? conv_wrapper(&c, &m) :
		     conv_add(&c, &m, NULL);
	}
	if (rc == 0) {
		c.bb.codec = c.codec < 0 ? KQ_CODEC_NONE : c.codec;
		if (kq_bb_finish(&c.bb, out) != 0)
			rc = KQ_E_CORRUPT_MESSAGE;
	}
	kq_bb_free(&c.bb);
	kq_buf_free(&c.inner);
	kq_buf_free(&c.lz4);
	return rc;
}

void
kq_msg_write(struct kq_buf *out, int64_t offset, int magic, int attributes, int64_t timestamp,
	     struct kq_bytes key, struct kq_bytes value)
{
	size_t size = kq_legacy_msg_size(magic, key, value), crc_pos;

	kq_wr_i64(out, offset);
	kq_wr_i32(out, (int32_t)size);
	crc_pos = kq_wr_hole32(out);
	kq_wr_i8(out, (int8_t)magic);
	kq_wr_i8(out, (int8_t)attributes);
	if (magic == 1)
		kq_wr_i64(out, timestamp);
	kq_wr_bytes(out, key);
	kq_wr_bytes(out, value);
	kq_wr_patch32(out, crc_pos, (uint32_t)crc32(0, out->buf + crc_pos + 4, (uInt)size - 4));
}

int
kq_msgset_from_batch(const unsigned char *p, size_t n, int magic, int64_t min_offset,
		     size_t max_len, struct kq_buf *out)
{
	struct kq_batch_iter it;
	struct kq_record rec;
	int attr, rc;

	memset(&it, 0, sizeof(it));
	if ((rc = kq_batch_iter_init(&it, p, n)) != 0)
		goto done;
	if (it.hdr.Attributes & KQ_ATTR_CONTROL)
		goto done;
	attr = magic == 1 && (it.hdr.Attributes & KQ_ATTR_LOG_APPEND_TIME) ?
	       KQ_MSG_ATTR_LOG_APPEND_TIME : 0;
	while ((rc = kq_batch_iter_next(&it, &rec)) == 1) {
		size_t need = KQ_MSG_LOG_OVERHEAD + kq_legacy_msg_size(magic, rec.key, rec.value);

		if (rec.offset < min_offset)
			continue;
		if (out->len > 0 && out->len + need > max_len) {
			rc = 1;
			goto done;
		}
		kq_msg_write(out, rec.offset, magic, attr,
			     attr ? it.hdr.MaxTimestamp : rec.timestamp, rec.key, rec.value);
	}
done:
	kq_batch_iter_free(&it);
	return rc;
}
