/*
 * test-msgset.c - legacy message sets (magic 0/1): conversion to a
 * RecordBatch v2 for Produce v0-2 and down-conversion for Fetch v0-3,
 * checked against kafka-python's LegacyRecordBatchBuilder (msgset-fixtures.h).
 */
#include <stdlib.h>
#include <zlib.h>

#include "../../common/proto/proto.h"
#include "msgset-fixtures.h"
#include "t.h"

#define TS 1700000000000LL
#define NOW 1234567LL
#define MAX (1 << 20)

/* Record i of the fixtures (see msgset-fixtures.h); buf holds the value. */
static void
fixture_record(int i, char *kbuf, char *vbuf, struct kq_bytes *k, struct kq_bytes *v)
{
	int j;

	snprintf(kbuf, 16, "key-%d", i);
	vbuf[0] = '\0';
	for (j = 0; j < 4; j++)
		snprintf(vbuf + strlen(vbuf), 64, "value-%d ", i);
	*k = i % 3 == 2 ? KQ_BYTES_NULL : kq_bytes_of(kbuf, strlen(kbuf));
	*v = i == 3 ? KQ_BYTES_NULL : kq_bytes_of(vbuf, strlen(vbuf));
}

static bool
bytes_eq(struct kq_bytes a, struct kq_bytes b)
{
	return a.len == b.len && (a.len <= 0 || memcmp(a.p, b.p, (size_t)a.len) == 0);
}

/* A converted batch holds the 5 fixture records with these timestamps. */
static void
check_batch(const char *what, const struct kq_buf *b, int codec, bool magic1)
{
	struct kq_batch_iter it;
	struct kq_record rec;
	struct kq_batch_hdr h;
	int i = 0, rc;

	T_OK(kq_batch_validate(b->buf, b->len, MAX, &h) == 0, "%s: validates", what);
	T_EQ(h.Attributes & KQ_ATTR_CODEC_MASK, codec);
	T_EQ(h.RecordsCount, 5);
	memset(&it, 0, sizeof(it));
	T_EQ(kq_batch_iter_init(&it, b->buf, b->len), 0);
	while ((rc = kq_batch_iter_next(&it, &rec)) == 1) {
		char kb[16], vb[64];
		struct kq_bytes k, v;

		fixture_record(i, kb, vb, &k, &v);
		T_OK(bytes_eq(rec.key, k) && bytes_eq(rec.value, v), "%s: record %d", what, i);
		T_EQ(rec.offset, i);
		T_EQ(rec.timestamp, magic1 ? TS + 7 * i : NOW);
		T_EQ(rec.header_count, 0);
		i++;
	}
	T_EQ(rc, 0);
	T_EQ(i, 5);
	kq_batch_iter_free(&it);
}

static void
test_to_batch_real_clients(void)
{
	static const struct {
		const char *name;
		const unsigned char *p;
		size_t n;
		int codec, magic;
	} sets[] = {
		{ "m0 none", m0_none, sizeof(m0_none), KQ_CODEC_NONE, 0 },
		{ "m0 gzip", m0_gzip, sizeof(m0_gzip), KQ_CODEC_GZIP, 0 },
		{ "m0 snappy", m0_snappy, sizeof(m0_snappy), KQ_CODEC_SNAPPY, 0 },
		{ "m1 none", m1_none, sizeof(m1_none), KQ_CODEC_NONE, 1 },
		{ "m1 gzip", m1_gzip, sizeof(m1_gzip), KQ_CODEC_GZIP, 1 },
		{ "m1 snappy", m1_snappy, sizeof(m1_snappy), KQ_CODEC_SNAPPY, 1 },
	};
	struct kq_buf b = { 0 };
	size_t i;

	for (i = 0; i < KQ_ARRAY_LEN(sets); i++) {
		kq_buf_reset(&b);
		T_EQ(kq_msgset_to_batch(sets[i].p, sets[i].n, MAX, NOW, &b), 0);
		check_batch(sets[i].name, &b, sets[i].codec, sets[i].magic == 1);
	}
	kq_buf_free(&b);
}

/* The fixture records as one stored batch at base offset 7 (codec, headers optional). */
static void
stored_batch(struct kq_buf *out, int codec, bool headers)
{
	struct kq_record_header hdr = { kq_str_c("h"), kq_bytes_of("x", 1) };
	struct kq_batch_builder bb;
	int i;

	kq_bb_init(&bb, codec);
	for (i = 0; i < 5; i++) {
		char kb[16], vb[64];
		struct kq_bytes k, v;

		fixture_record(i, kb, vb, &k, &v);
		kq_bb_add(&bb, TS + 7 * i, k, v, headers ? &hdr : NULL, headers ? 1 : 0);
	}
	kq_buf_reset(out);
	T_EQ(kq_bb_finish(&bb, out), 0);
	kq_bb_free(&bb);
	kq_put64(out->buf, 7);
}

/* Byte position of message i in a fixture set. */
static size_t
msg_pos(const unsigned char *p, int i)
{
	size_t pos = 0;

	while (i-- > 0)
		pos += KQ_MSG_LOG_OVERHEAD + kq_be32(p + pos + 8);
	return pos;
}

static void
test_down_convert_is_kafka_pythons(void)
{
	static const int codecs[] = { KQ_CODEC_NONE, KQ_CODEC_GZIP, KQ_CODEC_SNAPPY,
				      KQ_CODEC_LZ4, KQ_CODEC_ZSTD };
	const unsigned char *want[2] = { down_m0, down_m1 };
	size_t want_n[2] = { sizeof(down_m0), sizeof(down_m1) };
	struct kq_buf batch = { 0 }, out = { 0 };
	size_t i, pos;
	int magic;

	for (i = 0; i < KQ_ARRAY_LEN(codecs); i++) {
		if (!kq_codec_available(codecs[i]))
			continue;
		for (magic = 0; magic <= 1; magic++) {
			stored_batch(&batch, codecs[i], i == 0);	/* headers are dropped */
			kq_buf_reset(&out);
			T_EQ(kq_msgset_from_batch(batch.buf, batch.len, magic, 0, MAX, &out), 0);
			T_OK(out.len == want_n[magic] && memcmp(out.buf, want[magic], out.len) == 0,
			     "codec %d magic %d: %zu bytes, kafka-python %zu", codecs[i], magic,
			     out.len, want_n[magic]);
		}
	}
	/* From inside the batch: offsets 9.. only. */
	stored_batch(&batch, KQ_CODEC_GZIP, false);
	kq_buf_reset(&out);
	T_EQ(kq_msgset_from_batch(batch.buf, batch.len, 1, 9, MAX, &out), 0);
	pos = msg_pos(down_m1, 2);
	T_OK(out.len == sizeof(down_m1) - pos && memcmp(out.buf, down_m1 + pos, out.len) == 0,
	     "from offset 9");
	/* max_len: whole messages up to it; the first one always. */
	kq_buf_reset(&out);
	T_EQ(kq_msgset_from_batch(batch.buf, batch.len, 1, 0, msg_pos(down_m1, 2) + 3, &out), 1);
	T_EQ(out.len, msg_pos(down_m1, 2));
	kq_buf_reset(&out);
	T_EQ(kq_msgset_from_batch(batch.buf, batch.len, 0, 0, 1, &out), 1);
	T_EQ(out.len, msg_pos(down_m0, 1));
	T_MEMEQ(out.buf, down_m0, out.len);
	/* A LogAppendTime batch: magic 1 says so in each message, with the batch's time. */
	stored_batch(&batch, KQ_CODEC_NONE, false);
	kq_put16(batch.buf + KQ_BATCH_OFF_ATTRIBUTES, KQ_ATTR_LOG_APPEND_TIME);
	kq_put64(batch.buf + KQ_BATCH_OFF_MAX_TIMESTAMP, 1800000000000ULL);
	for (magic = 0; magic <= 1; magic++) {
		kq_buf_reset(&out);
		T_EQ(kq_msgset_from_batch(batch.buf, batch.len, magic, 0, MAX, &out), 0);
		T_EQ(out.len, want_n[magic]);
		for (i = 0, pos = 0; i < 5 && pos + 22 <= out.len; i++) {
			T_EQ(out.buf[pos + 17], magic ? KQ_MSG_ATTR_LOG_APPEND_TIME : 0);
			if (magic)
				T_EQ(kq_be64(out.buf + pos + 18), 1800000000000LL);
			T_EQ(kq_be32(out.buf + pos + 12),
			     crc32(0, out.buf + pos + 16, kq_be32(out.buf + pos + 8) - 4));
			pos += KQ_MSG_LOG_OVERHEAD + kq_be32(out.buf + pos + 8);
		}
		T_EQ(i, 5);
	}
	/* A control batch gives nothing. */
	kq_put16(batch.buf + KQ_BATCH_OFF_ATTRIBUTES, KQ_ATTR_CONTROL);
	kq_buf_reset(&out);
	T_EQ(kq_msgset_from_batch(batch.buf, batch.len, 1, 0, MAX, &out), 0);
	T_EQ(out.len, 0);
	/* A batch that does not decode is an error, not a short answer. */
	stored_batch(&batch, KQ_CODEC_GZIP, false);
	batch.buf[batch.len - 3] ^= 0xff;
	kq_buf_reset(&out);
	T_OK(kq_msgset_from_batch(batch.buf, batch.len, 1, 0, MAX, &out) < 0, "corrupt gzip");
	kq_buf_free(&batch);
	kq_buf_free(&out);
}

/* Produce v2's set, down-converted back: the same bytes (offsets apart). */
static void
test_round_trip(void)
{
	struct kq_buf batch = { 0 }, out = { 0 };

	T_EQ(kq_msgset_to_batch(down_m1, sizeof(down_m1), MAX, NOW, &batch), 0);
	kq_put64(batch.buf, 7);
	T_EQ(kq_msgset_from_batch(batch.buf, batch.len, 1, 0, MAX, &out), 0);
	T_OK(out.len == sizeof(down_m1) && memcmp(out.buf, down_m1, out.len) == 0, "round trip");
	kq_buf_free(&batch);
	kq_buf_free(&out);
}

/* One message (offset 0) with a valid CRC, into b. */
static void
put_msg(struct kq_buf *b, int magic, int attr, struct kq_bytes key, struct kq_bytes value)
{
	kq_msg_write(b, 0, magic, attr, TS, key, value);
}

static int
convert(const struct kq_buf *in, size_t max)
{
	struct kq_buf out = { 0 };
	int rc = kq_msgset_to_batch(in->buf, in->len, max, NOW, &out);

	kq_buf_free(&out);
	return rc;
}

static void
test_bad_input(void)
{
	struct kq_buf in = { 0 }, inner = { 0 }, z = { 0 };
	struct kq_bytes k = kq_bytes_of("k", 1), v = kq_bytes_of("v", 1);
	size_t i;

	/* A flipped bit in any size, CRC or message is refused (offsets are not looked at). */
	for (i = 0; i < sizeof(m1_none); i++) {
		size_t pos = 0;

		while (pos + KQ_MSG_LOG_OVERHEAD + kq_be32(m1_none + pos + 8) <= i)
			pos += KQ_MSG_LOG_OVERHEAD + kq_be32(m1_none + pos + 8);
		if (i < pos + 8)
			continue;
		kq_buf_reset(&in);
		kq_buf_add(&in, m1_none, sizeof(m1_none));
		in.buf[i] ^= 0x10;
		T_OK(convert(&in, MAX) != 0, "flip at %zu accepted", i);
	}
	/* Every truncation. */
	for (i = 0; i < sizeof(m1_gzip); i++) {
		kq_buf_reset(&in);
		kq_buf_add(&in, m1_gzip, i);
		T_EQ(convert(&in, MAX), KQ_E_CORRUPT_MESSAGE);
	}
	/* The bad CRC alone. */
	kq_buf_reset(&in);
	kq_buf_add(&in, m0_none, sizeof(m0_none));
	in.buf[12] ^= 1;
	T_EQ(convert(&in, MAX), KQ_E_CORRUPT_MESSAGE);
	/* Magic 2 in a message set. */
	kq_buf_reset(&in);
	put_msg(&in, 2, 0, k, v);
	T_EQ(convert(&in, MAX), KQ_E_CORRUPT_MESSAGE);
	/* Two magics: side by side, or a wrapper's and its messages'. */
	kq_buf_reset(&in);
	put_msg(&in, 0, 0, k, v);
	put_msg(&in, 1, 0, k, v);
	T_EQ(convert(&in, MAX), KQ_E_CORRUPT_MESSAGE);
	kq_buf_reset(&z);
	T_EQ(kq_compress(KQ_CODEC_GZIP, m1_none, sizeof(m1_none), &z), 0);
	kq_buf_reset(&in);
	put_msg(&in, 0, KQ_CODEC_GZIP, KQ_BYTES_NULL, kq_bytes_of(z.buf, z.len));
	T_EQ(convert(&in, MAX), KQ_E_CORRUPT_MESSAGE);
	kq_buf_reset(&in);
	put_msg(&in, 1, KQ_CODEC_GZIP, KQ_BYTES_NULL, kq_bytes_of(z.buf, z.len));
	T_EQ(convert(&in, MAX), 0);
	/* A wrapper inside a wrapper. */
	kq_buf_reset(&inner);
	kq_buf_add(&inner, m1_gzip, sizeof(m1_gzip));
	kq_buf_reset(&z);
	T_EQ(kq_compress(KQ_CODEC_GZIP, inner.buf, inner.len, &z), 0);
	kq_buf_reset(&in);
	put_msg(&in, 1, KQ_CODEC_GZIP, KQ_BYTES_NULL, kq_bytes_of(z.buf, z.len));
	T_EQ(convert(&in, MAX), KQ_E_CORRUPT_MESSAGE);
	/* A wrapper without a value, or with an empty inner set. */
	kq_buf_reset(&in);
	put_msg(&in, 1, KQ_CODEC_GZIP, KQ_BYTES_NULL, KQ_BYTES_NULL);
	T_EQ(convert(&in, MAX), KQ_E_CORRUPT_MESSAGE);
	kq_buf_reset(&z);
	T_EQ(kq_compress(KQ_CODEC_GZIP, "", 0, &z), 0);
	kq_buf_reset(&in);
	put_msg(&in, 1, KQ_CODEC_GZIP, KQ_BYTES_NULL, kq_bytes_of(z.buf, z.len));
	T_EQ(convert(&in, MAX), KQ_E_CORRUPT_MESSAGE);
	/* zstd (not before Produce v7) and codecs 5-7. */
	for (i = KQ_CODEC_ZSTD; i <= 7; i++) {
		kq_buf_reset(&in);
		put_msg(&in, 1, (int)i, k, v);
		T_EQ(convert(&in, MAX), KQ_E_UNSUPPORTED_COMPRESSION_TYPE);
	}
	/* Decompressed past max: the wrapper is small, its records are not. */
	T_EQ(convert(&(struct kq_buf){ .buf = (unsigned char *)m1_gzip, .len = sizeof(m1_gzip) },
		     100), KQ_E_MESSAGE_TOO_LARGE);
	T_EQ(convert(&(struct kq_buf){ .buf = (unsigned char *)m0_none, .len = sizeof(m0_none) },
		     100), KQ_E_MESSAGE_TOO_LARGE);
	/* Nothing at all; a message size below the minimum or past the end. */
	kq_buf_reset(&in);
	T_EQ(convert(&in, MAX), KQ_E_CORRUPT_MESSAGE);
	kq_buf_reset(&in);
	put_msg(&in, 0, 0, k, v);
	kq_put32(in.buf + 8, 13);
	T_EQ(convert(&in, MAX), KQ_E_CORRUPT_MESSAGE);
	kq_put32(in.buf + 8, 0x7fffffff);
	T_EQ(convert(&in, MAX), KQ_E_CORRUPT_MESSAGE);
	kq_put32(in.buf + 8, 0xffffffff);
	T_EQ(convert(&in, MAX), KQ_E_CORRUPT_MESSAGE);
	kq_buf_free(&in);
	kq_buf_free(&inner);
	kq_buf_free(&z);
}

/*
 * lz4 wrappers: magic 0 frames carry Kafka's old, wrong header checksum
 * (KAFKA-3160) and are read whatever that byte says; magic 1 frames must
 * be right.
 */
static void
test_lz4_legacy_framing(void)
{
	struct kq_buf z = { 0 }, in = { 0 }, out = { 0 };
	size_t hc;
	int magic;

	if (!kq_codec_available(KQ_CODEC_LZ4))
		return;
	for (magic = 0; magic <= 1; magic++) {
		const unsigned char *set = magic ? m1_none : m0_none;
		size_t n = magic ? sizeof(m1_none) : sizeof(m0_none);

		kq_buf_reset(&z);
		T_EQ(kq_compress(KQ_CODEC_LZ4, set, n, &z), 0);
		hc = 6 + ((z.buf[4] & 0x08) ? 8 : 0) + ((z.buf[4] & 0x01) ? 4 : 0);
		/* The right checksum: both magics. */
		kq_buf_reset(&in);
		put_msg(&in, magic, KQ_CODEC_LZ4, KQ_BYTES_NULL, kq_bytes_of(z.buf, z.len));
		kq_buf_reset(&out);
		T_EQ(kq_msgset_to_batch(in.buf, in.len, MAX, NOW, &out), 0);
		check_batch(magic ? "lz4 m1" : "lz4 m0", &out, KQ_CODEC_LZ4, magic == 1);
		/* A wrong one: only magic 0. */
		z.buf[hc] ^= 0x5a;
		kq_buf_reset(&in);
		put_msg(&in, magic, KQ_CODEC_LZ4, KQ_BYTES_NULL, kq_bytes_of(z.buf, z.len));
		kq_buf_reset(&out);
		T_EQ(kq_msgset_to_batch(in.buf, in.len, MAX, NOW, &out),
		     magic ? KQ_E_CORRUPT_MESSAGE : 0);
	}
	kq_buf_free(&z);
	kq_buf_free(&in);
	kq_buf_free(&out);
}

/* kq_msg_write's CRC is CRC-32 (IEEE) over magic..value, as in kafka-python's sets. */
static void
test_msg_write(void)
{
	struct kq_buf b = { 0 };
	char kb[16], vb[64];
	struct kq_bytes k, v;

	fixture_record(0, kb, vb, &k, &v);
	kq_msg_write(&b, 0, 1, 0, TS, k, v);
	T_EQ(b.len, msg_pos(m1_none, 1));
	T_MEMEQ(b.buf, m1_none, b.len);
	T_EQ(kq_be32(b.buf + 12), crc32(0, b.buf + 16, (uInt)b.len - 16));
	kq_buf_free(&b);
}

int
main(void)
{
	T_RUN(test_msg_write);
	T_RUN(test_to_batch_real_clients);
	T_RUN(test_down_convert_is_kafka_pythons);
	T_RUN(test_round_trip);
	T_RUN(test_bad_input);
	T_RUN(test_lz4_legacy_framing);
	return t_done();
}
