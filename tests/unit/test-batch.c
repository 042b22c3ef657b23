/*
 * test-batch.c - RecordBatch v2 building, validation, iteration and the
 * compression codecs, including batches written by real clients.
 *
 * batch-fixtures.h was made with /usr/bin/python3: confluent_kafka.Producer
 * with test.mock.num.brokers=1 run under `strace -f -e sendmsg -xx`, the one
 * CRC-valid batch cut out of the Produce request; and kafka-python's
 * DefaultRecordBatchBuilder(...).build() for kpython_gzip.
 */
#include <stdlib.h>

#include <snappy-c.h>

#include "../../common/proto/proto.h"
#include "t.h"
#include "batch-fixtures.h"

#define TS0 1700000000000LL
static const int codecs[] = { KQ_CODEC_NONE, KQ_CODEC_GZIP, KQ_CODEC_SNAPPY,
			      KQ_CODEC_LZ4, KQ_CODEC_ZSTD };

/* Record i of the synthetic pattern. */
struct want {
	char kbuf[32], vbuf[512];
	struct kq_bytes key, value;
	struct kq_record_header hdrs[3];
	int nhdrs;
	int64_t ts;
};

static void
pattern(int i, struct want *w)
{
	int j, n;

	memset(w, 0, sizeof(*w));
	if (i % 5 == 0)
		w->key = KQ_BYTES_NULL;
	else if (i % 5 == 1)
		w->key = kq_bytes_of("", 0);
	else
		w->key = kq_bytes_of(w->kbuf, (size_t)snprintf(w->kbuf, sizeof(w->kbuf), "k%d", i));
	if (i % 7 == 3) {
		w->value = KQ_BYTES_NULL;
	} else if (i % 7 == 4) {
		w->value = kq_bytes_of("", 0);
	} else {
		for (n = 0, j = 0; j < i % 13 + 1; j++)
			n += snprintf(w->vbuf + n, sizeof(w->vbuf) - (size_t)n, "value-%d;", i);
		w->value = kq_bytes_of(w->vbuf, (size_t)n);
	}
	if (i % 3 == 1) {
		w->nhdrs = 1;
		w->hdrs[0] = (struct kq_record_header){ kq_str_c("a"), kq_bytes_of("1", 1) };
	} else if (i % 3 == 2) {
		w->nhdrs = 3;
		w->hdrs[0] = (struct kq_record_header){ kq_str_c("h"), kq_bytes_of(w->kbuf, 2) };
		w->hdrs[1] = (struct kq_record_header){ kq_str_c("n"), KQ_BYTES_NULL };
		w->hdrs[2] = (struct kq_record_header){ kq_str_c(""), kq_bytes_of("", 0) };
	}
	/* Deltas both ways around the first record's timestamp. */
	w->ts = TS0 + (i * 7919) % 1000 - 300;
}

static bool
bytes_eq(struct kq_bytes a, struct kq_bytes b)
{
	if (a.len != b.len)
		return false;
	return a.len <= 0 || memcmp(a.p, b.p, (size_t)a.len) == 0;
}

static void
build(int codec, int n, struct kq_buf *out)
{
	struct kq_batch_builder bb;
	struct want w;
	int i;

	kq_bb_init(&bb, codec);
	for (i = 0; i < n; i++) {
		pattern(i, &w);
		kq_bb_add(&bb, w.ts, w.key, w.value, w.hdrs, w.nhdrs);
	}
	T_EQ(kq_bb_finish(&bb, out), 0);
	kq_bb_free(&bb);
}

/* Iterate p and compare with the pattern; returns the records seen. */
static int
check_pattern(const unsigned char *p, size_t n, int count)
{
	struct kq_batch_iter it = { 0 };
	struct kq_record rec;
	struct kq_record_header h;
	struct kq_rd hr;
	struct want w;
	int i = 0, j, rc;

	T_EQ(kq_batch_iter_init(&it, p, n), 0);
	while ((rc = kq_batch_iter_next(&it, &rec)) == 1) {
		pattern(i, &w);
		T_EQ(rec.offset, i);
		T_EQ(rec.timestamp, w.ts);
		T_OK(bytes_eq(rec.key, w.key), "key %d", i);
		T_OK(bytes_eq(rec.value, w.value), "value %d", i);
		T_EQ(rec.header_count, w.nhdrs);
		kq_rd_init(&hr, rec.headers.p, (size_t)rec.headers.len);
		for (j = 0; j < w.nhdrs; j++) {
			T_EQ(kq_header_next(&hr, &h), 1);
			T_OK(kq_str_eqs(h.key, w.hdrs[j].key), "header key %d/%d", i, j);
			T_OK(bytes_eq(h.value, w.hdrs[j].value), "header value %d/%d", i, j);
		}
		T_EQ(kq_header_next(&hr, &h), 0);
		i++;
	}
	T_EQ(rc, 0);
	T_EQ(i, count);
	kq_batch_iter_free(&it);
	return i;
}

static void
test_crc_vector(void)
{
	T_EQ(kq_crc32c(0, "123456789", 9), 0xE3069283u);
}

static void
test_codec_names(void)
{
	size_t i;

	for (i = 0; i < KQ_ARRAY_LEN(codecs); i++) {
		T_EQ(kq_codec_parse(kq_codec_name(codecs[i])), codecs[i]);
		T_OK(kq_codec_available(codecs[i]), "%s", kq_codec_name(codecs[i]));
	}
	T_EQ(kq_codec_parse("ZSTD"), KQ_CODEC_ZSTD);
	T_EQ(kq_codec_parse("brotli"), -1);
	T_EQ(kq_codec_parse(NULL), -1);
	T_STREQ(kq_codec_name(7), "unknown");
	T_OK(!kq_codec_available(5), "codec 5");
}

static void
test_roundtrip(void)
{
	static const int sizes[] = { 1, 2, 1000 };
	struct kq_batch_hdr h;
	struct kq_buf out = { 0 };
	size_t i, s;

	for (i = 0; i < KQ_ARRAY_LEN(codecs); i++) {
		for (s = 0; s < KQ_ARRAY_LEN(sizes); s++) {
			int n = sizes[s];
			int64_t maxts = TS0 - 1000;
			struct want w;
			int k;

			kq_buf_reset(&out);
			build(codecs[i], n, &out);
			T_EQ(kq_batch_size(out.buf), out.len);
			T_EQ(kq_batch_validate(out.buf, out.len, 1 << 30, NULL), 0);
			T_EQ(kq_batch_hdr_parse(out.buf, out.len, &h), 0);
			for (k = 0; k < n; k++) {
				pattern(k, &w);
				maxts = KQ_MAX(maxts, w.ts);
			}
			pattern(0, &w);
			T_EQ(h.BaseOffset, 0);
			T_EQ(h.PartitionLeaderEpoch, -1);
			T_EQ(h.Magic, 2);
			T_EQ(h.Attributes, codecs[i]);
			T_EQ(h.LastOffsetDelta, n - 1);
			T_EQ(h.RecordsCount, n);
			T_EQ(h.BaseTimestamp, w.ts);
			T_EQ(h.MaxTimestamp, maxts);
			T_EQ(h.ProducerId, -1);
			T_EQ(h.ProducerEpoch, -1);
			T_EQ(h.BaseSequence, -1);
			T_EQ(check_pattern(out.buf, out.len, n), n);
		}
	}
	kq_buf_free(&out);
}

static void
test_builder(void)
{
	struct kq_batch_builder bb;
	struct kq_batch_hdr h;
	struct kq_buf out = { 0 };
	struct kq_bytes v = kq_bytes_of("hello", 5);
	struct kq_record_header hd = { kq_str_c("key"), kq_bytes_of("val", 3) };
	size_t before;

	kq_bb_init(&bb, KQ_CODEC_NONE);
	T_EQ(kq_bb_finish(&bb, &out), KQ_ERR_INVALID);	/* no records */
	T_EQ(out.len, 0);
	T_EQ(kq_bb_size(&bb), KQ_BATCH_HEADER_SIZE);
	before = kq_bb_size(&bb);
	kq_bb_add(&bb, 5, KQ_BYTES_NULL, v, &hd, 1);
	T_OK(kq_bb_size(&bb) - before <= kq_record_size(KQ_BYTES_NULL, v, &hd, 1),
	     "record size is an upper bound");
	T_OK(kq_bb_size(&bb) - before + 17 >= kq_record_size(KQ_BYTES_NULL, v, &hd, 1),
	     "and not a wild one");
	bb.producer_id = 42;
	bb.producer_epoch = 3;
	bb.base_sequence = 7;
	T_EQ(kq_bb_finish(&bb, &out), 0);
	T_EQ(kq_batch_hdr_parse(out.buf, out.len, &h), 0);
	T_EQ(h.ProducerId, 42);
	T_EQ(h.ProducerEpoch, 3);
	T_EQ(h.BaseSequence, 7);
	T_EQ(kq_batch_validate(out.buf, out.len, 1 << 20, NULL), 0);

	/* reset keeps codec and producer state; a second batch appends */
	kq_bb_reset(&bb);
	T_EQ(bb.count, 0);
	T_EQ(kq_bb_size(&bb), KQ_BATCH_HEADER_SIZE);
	kq_bb_add(&bb, 9, v, v, NULL, 0);
	before = out.len;
	T_EQ(kq_bb_finish(&bb, &out), 0);
	T_EQ(kq_batch_validate(out.buf + before, out.len - before, 1 << 20, NULL), 0);
	T_EQ(kq_batch_hdr_parse(out.buf + before, out.len - before, &h), 0);
	T_EQ(h.ProducerId, 42);
	T_EQ(h.BaseTimestamp, 9);
	/* two batches back to back are not one Produce batch */
	T_EQ(kq_batch_validate(out.buf, out.len, 1 << 20, NULL), KQ_E_INVALID_RECORD);
	kq_bb_free(&bb);
	kq_buf_free(&out);
}

/* Recompute the CRC after editing a header field inside the CRC range. */
static void
fix_crc(unsigned char *p, size_t n)
{
	kq_put32(p + KQ_BATCH_OFF_CRC, kq_crc32c(0, p + KQ_BATCH_OFF_ATTRIBUTES,
						 n - KQ_BATCH_OFF_ATTRIBUTES));
}

/* The one header parser: its bounds, and what validation makes of them. */
static void
test_hdr_parse(void)
{
	struct kq_buf out = { 0 };
	struct kq_batch_hdr h;
	unsigned char *p;
	size_t n, i;

	build(KQ_CODEC_NONE, 10, &out);
	p = out.buf;
	n = out.len;
	T_EQ(kq_batch_hdr_parse(p, n, &h), 0);
	T_EQ(kq_batch_hdr_size(&h), n);
	T_EQ(kq_batch_hdr_last(&h), h.BaseOffset + 9);
	T_EQ(h.RecordsCount, 10);
	/* The header alone is enough; one byte less is not. */
	T_EQ(kq_batch_hdr_parse(p, KQ_BATCH_HEADER_SIZE, &h), 0);
	for (i = 0; i < KQ_BATCH_HEADER_SIZE; i++)
		T_EQ(kq_batch_hdr_parse(p, i, &h), KQ_ERR_TRUNCATED);
	T_EQ(kq_batch_validate(p, KQ_BATCH_HEADER_SIZE - 1, n, NULL), KQ_E_INVALID_RECORD);
	/* Magic 0 and 1 are older message sets, 3 is unknown. */
	for (i = 0; i < 4; i++) {
		if (i == 2)
			continue;
		p[KQ_BATCH_OFF_MAGIC] = (unsigned char)i;
		T_EQ(kq_batch_hdr_parse(p, n, &h), KQ_ERR_UNSUPPORTED);
		T_EQ(kq_batch_validate(p, n, n, NULL), KQ_E_INVALID_RECORD);
	}
	p[KQ_BATCH_OFF_MAGIC] = 2;
	/* BatchLength negative or shorter than the header it heads. */
	kq_put32(p + KQ_BATCH_OFF_LENGTH, (uint32_t)-1);
	T_EQ(kq_batch_hdr_parse(p, n, &h), KQ_ERR_CORRUPT);
	T_EQ(kq_batch_validate(p, n, n, NULL), KQ_E_CORRUPT_MESSAGE);
	kq_put32(p + KQ_BATCH_OFF_LENGTH, 0x80000000u);
	T_EQ(kq_batch_hdr_parse(p, n, &h), KQ_ERR_CORRUPT);
	kq_put32(p + KQ_BATCH_OFF_LENGTH, KQ_BATCH_HEADER_SIZE - KQ_BATCH_LOG_OVERHEAD - 1);
	T_EQ(kq_batch_hdr_parse(p, n, &h), KQ_ERR_CORRUPT);
	kq_put32(p + KQ_BATCH_OFF_LENGTH, KQ_BATCH_HEADER_SIZE - KQ_BATCH_LOG_OVERHEAD);
	T_EQ(kq_batch_hdr_parse(p, n, &h), 0);
	/* Longer than the bytes at hand parses (a header read alone), but is no batch. */
	kq_put32(p + KQ_BATCH_OFF_LENGTH, (uint32_t)(n - KQ_BATCH_LOG_OVERHEAD + 1));
	T_EQ(kq_batch_hdr_parse(p, n, &h), 0);
	T_EQ(kq_batch_validate(p, n, 2 * n, NULL), KQ_E_INVALID_RECORD);
	kq_put32(p + KQ_BATCH_OFF_LENGTH, (uint32_t)(n - KQ_BATCH_LOG_OVERHEAD));
	T_EQ(kq_batch_validate(p, n, n, &h), 0);
	T_EQ(h.RecordsCount, 10);
	kq_buf_free(&out);
}

static void
test_validate(void)
{
	struct kq_buf out = { 0 };
	unsigned char *p;
	size_t n, i;

	build(KQ_CODEC_NONE, 10, &out);
	p = out.buf;
	n = out.len;
	T_EQ(kq_batch_validate(p, n, n, NULL), 0);
	T_OK(kq_batch_crc_ok(p, n), "crc");
	T_EQ(kq_batch_validate(p, n, n - 1, NULL), KQ_E_MESSAGE_TOO_LARGE);

	/* any flipped byte inside the CRC range */
	for (i = KQ_BATCH_OFF_ATTRIBUTES; i < n; i++) {
		p[i] ^= 0x01;
		T_EQ(kq_batch_validate(p, n, n, NULL), KQ_E_CORRUPT_MESSAGE);
		p[i] ^= 0x01;
	}
	p[KQ_BATCH_OFF_CRC] ^= 0x80;
	T_EQ(kq_batch_validate(p, n, n, NULL), KQ_E_CORRUPT_MESSAGE);
	p[KQ_BATCH_OFF_CRC] ^= 0x80;
	/* outside the CRC: offsets and epoch are the broker's to rewrite */
	kq_put64(p, 12345);
	kq_put32(p + KQ_BATCH_OFF_LEADER_EPOCH, 7);
	T_EQ(kq_batch_validate(p, n, n, NULL), 0);

	/* truncation and trailing bytes */
	for (i = 0; i < n; i++)
		T_OK(kq_batch_validate(p, i, n, NULL) != 0, "truncated to %zu", i);
	T_EQ(kq_batch_validate(p, n - 1, n, NULL), KQ_E_INVALID_RECORD);
	kq_buf_grow(&out, out.len);	/* no self-aliasing realloc */
	kq_buf_add(&out, out.buf, out.len);	/* two batches */
	p = out.buf;
	T_EQ(kq_batch_validate(p, 2 * n, 2 * n, NULL), KQ_E_INVALID_RECORD);
	out.len = n;

	/* magic */
	p[KQ_BATCH_OFF_MAGIC] = 1;
	T_EQ(kq_batch_validate(p, n, n, NULL), KQ_E_INVALID_RECORD);
	p[KQ_BATCH_OFF_MAGIC] = 2;
	/* batchLength below the header */
	kq_put32(p + KQ_BATCH_OFF_LENGTH, 10);
	T_EQ(kq_batch_validate(p, n, n, NULL), KQ_E_CORRUPT_MESSAGE);
	kq_put32(p + KQ_BATCH_OFF_LENGTH, 0xffffffff);
	T_EQ(kq_batch_validate(p, n, n, NULL), KQ_E_CORRUPT_MESSAGE);
	kq_put32(p + KQ_BATCH_OFF_LENGTH, (uint32_t)(n - 12));

	/* count vs lastOffsetDelta */
	kq_put32(p + KQ_BATCH_OFF_LAST_OFFSET_DELTA, 10);
	fix_crc(p, n);
	T_EQ(kq_batch_validate(p, n, n, NULL), KQ_E_INVALID_RECORD);
	kq_put32(p + KQ_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)-1);
	kq_put32(p + KQ_BATCH_OFF_RECORDS_COUNT, 0);
	fix_crc(p, n);
	T_EQ(kq_batch_validate(p, n, n, NULL), KQ_E_INVALID_RECORD);
	kq_put32(p + KQ_BATCH_OFF_LAST_OFFSET_DELTA, 100000);
	kq_put32(p + KQ_BATCH_OFF_RECORDS_COUNT, 100001);
	fix_crc(p, n);
	T_EQ(kq_batch_validate(p, n, n, NULL), KQ_E_INVALID_RECORD);	/* cannot fit */
	kq_put32(p + KQ_BATCH_OFF_LAST_OFFSET_DELTA, 9);
	kq_put32(p + KQ_BATCH_OFF_RECORDS_COUNT, 10);
	fix_crc(p, n);
	T_EQ(kq_batch_validate(p, n, n, NULL), 0);

	/* control batch from a client */
	kq_put16(p + KQ_BATCH_OFF_ATTRIBUTES, KQ_ATTR_CONTROL);
	fix_crc(p, n);
	T_EQ(kq_batch_validate(p, n, n, NULL), KQ_E_INVALID_RECORD);
	/* unknown codec */
	kq_put16(p + KQ_BATCH_OFF_ATTRIBUTES, 6);
	fix_crc(p, n);
	T_EQ(kq_batch_validate(p, n, n, NULL), KQ_E_UNSUPPORTED_COMPRESSION_TYPE);
	/* transactional bit alone is fine for validation */
	kq_put16(p + KQ_BATCH_OFF_ATTRIBUTES, KQ_ATTR_TRANSACTIONAL);
	fix_crc(p, n);
	T_EQ(kq_batch_validate(p, n, n, NULL), 0);
	kq_buf_free(&out);
}

static void
test_iter_header_errors(void)
{
	struct kq_batch_iter it = { 0 };
	struct kq_record rec;
	struct kq_buf out = { 0 };

	build(KQ_CODEC_NONE, 3, &out);
	T_EQ(kq_batch_iter_init(&it, out.buf, 60), KQ_ERR_TRUNCATED);
	T_OK(kq_batch_iter_next(&it, &rec) < 0, "next after failed init");
	kq_batch_iter_free(&it);
	T_EQ(kq_batch_iter_init(&it, out.buf, out.len - 1), KQ_ERR_TRUNCATED);
	kq_batch_iter_free(&it);
	out.buf[KQ_BATCH_OFF_MAGIC] = 1;
	T_EQ(kq_batch_iter_init(&it, out.buf, out.len), KQ_ERR_UNSUPPORTED);
	kq_batch_iter_free(&it);
	out.buf[KQ_BATCH_OFF_MAGIC] = 2;
	kq_put16(out.buf + KQ_BATCH_OFF_ATTRIBUTES, 5);
	T_EQ(kq_batch_iter_init(&it, out.buf, out.len), KQ_ERR_UNSUPPORTED);
	kq_batch_iter_free(&it);
	kq_put16(out.buf + KQ_BATCH_OFF_ATTRIBUTES, 0);

	/* iterator takes one batch from a longer buffer (Fetch data) */
	kq_buf_grow(&out, out.len);	/* no self-aliasing realloc */
	kq_buf_add(&out, out.buf, out.len);
	T_EQ(check_pattern(out.buf, out.len, 3), 3);

	/* LogAppendTime: every record carries maxTimestamp */
	kq_put16(out.buf + KQ_BATCH_OFF_ATTRIBUTES, KQ_ATTR_LOG_APPEND_TIME);
	kq_put64(out.buf + KQ_BATCH_OFF_MAX_TIMESTAMP, 77);
	T_EQ(kq_batch_iter_init(&it, out.buf, out.len), 0);
	T_EQ(kq_batch_iter_next(&it, &rec), 1);
	T_EQ(rec.timestamp, 77);
	kq_batch_iter_free(&it);
	kq_buf_free(&out);
}

/* Run an iterator to the end; returns the last status, counts records. */
static int
drain(const unsigned char *p, size_t n, int *nrec, size_t cap)
{
	struct kq_batch_iter it;
	struct kq_record rec;
	struct kq_record_header h;
	struct kq_rd hr;
	int rc;

	memset(&it, 0, sizeof(it));
	it.max_decompressed = cap;
	*nrec = 0;
	rc = kq_batch_iter_init(&it, p, n);
	if (rc == 0) {
		while ((rc = kq_batch_iter_next(&it, &rec)) == 1) {
			(*nrec)++;
			kq_rd_init(&hr, rec.headers.p, (size_t)rec.headers.len);
			while ((rc = kq_header_next(&hr, &h)) == 1)
				;
			T_EQ(rc, 0);	/* next() already vetted the headers */
		}
	}
	kq_batch_iter_free(&it);
	return rc;
}

static void
test_iter_truncated_and_corrupt(void)
{
	struct kq_buf out = { 0 }, cp = { 0 };
	size_t i, len, pos;
	int nrec, rc, bad;
	unsigned x;

	for (i = 0; i < KQ_ARRAY_LEN(codecs); i++) {
		kq_buf_reset(&out);
		build(codecs[i], 60, &out);
		T_EQ(drain(out.buf, out.len, &nrec, 0), 0);
		T_EQ(nrec, 60);

		/* every truncation, with batchLength claiming the short length */
		bad = 0;
		for (len = KQ_BATCH_HEADER_SIZE; len < out.len; len++) {
			kq_buf_reset(&cp);
			kq_buf_add(&cp, out.buf, len);
			kq_put32(cp.buf + KQ_BATCH_OFF_LENGTH, (uint32_t)(len - 12));
			rc = drain(cp.buf, cp.len, &nrec, 0);
			if (rc >= 0 || nrec >= 60)
				bad++;
			/* and with the original length: the header says too much */
			rc = drain(cp.buf, len - 1, &nrec, 0);
			if (rc != KQ_ERR_TRUNCATED)
				bad++;
		}
		T_EQ(bad, 0);

		/* single-byte corruptions of the payload and the header */
		for (pos = 0; pos < out.len; pos++) {
			for (x = 1; x < 256; x = x * 3 + 1) {
				kq_buf_reset(&cp);
				kq_buf_add(&cp, out.buf, out.len);
				cp.buf[pos] ^= (unsigned char)x;
				rc = drain(cp.buf, cp.len, &nrec, 1 << 20);
				T_OK(rc <= 0, "rc %d", rc);
				T_OK(nrec <= 60 || pos >= KQ_BATCH_OFF_RECORDS_COUNT,
				     "%s pos %zu: %d records", kq_codec_name(codecs[i]), pos, nrec);
			}
		}
	}
	kq_buf_free(&out);
	kq_buf_free(&cp);
}

/* Random multi-byte damage to compressed payloads, and pure noise. */
static void
test_iter_fuzz(void)
{
	struct kq_buf out = { 0 }, cp = { 0 };
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	size_t i, k, pos;
	int round, nrec, rc;

	for (i = 0; i < KQ_ARRAY_LEN(codecs); i++) {
		kq_buf_reset(&out);
		build(codecs[i], 200, &out);
		for (round = 0; round < 3000; round++) {
			kq_buf_reset(&cp);
			kq_buf_add(&cp, out.buf, out.len);
			for (k = 0; k < 1 + (size_t)round % 8; k++) {
				seed = seed * 6364136223846793005ull + 1442695040888963407ull;
				pos = KQ_BATCH_HEADER_SIZE +
				      (size_t)(seed >> 33) % (out.len - KQ_BATCH_HEADER_SIZE);
				cp.buf[pos] = (unsigned char)(seed >> 24);
			}
			rc = drain(cp.buf, cp.len, &nrec, 1 << 20);
			T_OK(rc <= 0 && nrec <= 200, "%s round %d: rc %d, %d records",
			     kq_codec_name(codecs[i]), round, rc, nrec);
		}
		/* noise labelled with the codec */
		for (round = 0; round < 300; round++) {
			for (pos = KQ_BATCH_HEADER_SIZE; pos < cp.len; pos++) {
				seed = seed * 6364136223846793005ull + 1442695040888963407ull;
				cp.buf[pos] = (unsigned char)(seed >> 40);
			}
			rc = drain(cp.buf, cp.len, &nrec, 1 << 20);
			T_OK(rc <= 0 && nrec <= 200, "noise %d", rc);
		}
	}
	kq_buf_free(&out);
	kq_buf_free(&cp);
}

/* A bare header for one uncompressed record; length and CRC left 0. */
static const unsigned char *
fixture_hdr(void)
{
	static unsigned char h[KQ_BATCH_HEADER_SIZE];

	memset(h, 0, sizeof(h));
	h[KQ_BATCH_OFF_MAGIC] = 2;
	kq_put32(h + KQ_BATCH_OFF_RECORDS_COUNT, 1);
	return h;
}

/* A record whose fields disagree with its declared length is refused. */
static void
test_iter_bad_records(void)
{
	struct kq_buf b = { 0 }, rec = { 0 };
	int nrec;

	/* record: len, attr, tsDelta, offDelta, keyLen, valueLen, headers */
	kq_wr_i8(&rec, 0);
	kq_wr_varlong(&rec, 0);
	kq_wr_varint(&rec, 0);
	kq_wr_varint(&rec, -1);
	kq_wr_varint(&rec, 1);
	kq_wr_i8(&rec, 'v');
	kq_wr_varint(&rec, 1);		/* one header ... */
	kq_wr_varint(&rec, -1);		/* ... with a null key: corrupt */
	kq_wr_varint(&rec, -1);

	kq_buf_add(&b, fixture_hdr(), KQ_BATCH_HEADER_SIZE);
	kq_wr_varint(&b, (int32_t)rec.len);
	kq_buf_add(&b, rec.buf, rec.len);
	kq_put32(b.buf + KQ_BATCH_OFF_LENGTH, (uint32_t)(b.len - 12));
	T_EQ(drain(b.buf, b.len, &nrec, 0), KQ_ERR_CORRUPT);
	T_EQ(nrec, 0);

	/* same record, valid header, but one stray byte inside the length */
	b.len = KQ_BATCH_HEADER_SIZE;
	rec.len -= 2;
	kq_wr_varint(&rec, 1);
	kq_wr_i8(&rec, 'k');
	kq_wr_varint(&rec, -1);
	kq_wr_i8(&rec, 0);
	kq_wr_varint(&b, (int32_t)rec.len);
	kq_buf_add(&b, rec.buf, rec.len);
	kq_put32(b.buf + KQ_BATCH_OFF_LENGTH, (uint32_t)(b.len - 12));
	T_EQ(drain(b.buf, b.len, &nrec, 0), KQ_ERR_CORRUPT);
	/* without the stray byte it is fine */
	b.len = KQ_BATCH_HEADER_SIZE;
	rec.len -= 1;
	kq_wr_varint(&b, (int32_t)rec.len);
	kq_buf_add(&b, rec.buf, rec.len);
	kq_put32(b.buf + KQ_BATCH_OFF_LENGTH, (uint32_t)(b.len - 12));
	T_EQ(drain(b.buf, b.len, &nrec, 0), 0);
	T_EQ(nrec, 1);
	/* negative record length */
	b.len = KQ_BATCH_HEADER_SIZE;
	kq_wr_varint(&b, -5);
	kq_buf_add(&b, rec.buf, rec.len);
	kq_put32(b.buf + KQ_BATCH_OFF_LENGTH, (uint32_t)(b.len - 12));
	T_EQ(drain(b.buf, b.len, &nrec, 0), KQ_ERR_CORRUPT);
	kq_buf_free(&b);
	kq_buf_free(&rec);
}

static void
test_bomb(void)
{
	const size_t big = (size_t)1 << 20;
	unsigned char *zeros = calloc(1, big + 1);
	struct kq_buf c = { 0 }, d = { 0 }, b = { 0 };
	struct kq_batch_iter it;
	size_t i;
	int nrec;

	for (i = 0; i < KQ_ARRAY_LEN(codecs); i++) {
		kq_buf_reset(&c);
		T_EQ(kq_compress(codecs[i], zeros, big, &c), 0);
		kq_buf_reset(&d);
		kq_buf_add(&d, "pre", 3);	/* decompress appends */
		T_EQ(kq_decompress(codecs[i], c.buf, c.len, &d, big), 0);
		T_EQ(d.len, big + 3);
		T_OK(d.len == big + 3 && memcmp(d.buf + 3, zeros, big) == 0, "%s data",
		     kq_codec_name(codecs[i]));
		d.len = 3;
		T_EQ(kq_decompress(codecs[i], c.buf, c.len, &d, big - 1), KQ_ERR_TOO_LARGE);
		T_EQ(d.len, 3);		/* out untouched on failure */
		T_EQ(kq_decompress(codecs[i], c.buf, c.len, &d, 1000), KQ_ERR_TOO_LARGE);
		T_EQ(d.len, 3);
	}

	/* through the iterator: a 1 MiB record under a 64 KiB cap */
	for (i = 1; i < KQ_ARRAY_LEN(codecs); i++) {
		struct kq_batch_builder bb;

		kq_bb_init(&bb, codecs[i]);
		kq_bb_add(&bb, 1, KQ_BYTES_NULL, kq_bytes_of(zeros, big), NULL, 0);
		kq_buf_reset(&b);
		T_EQ(kq_bb_finish(&bb, &b), 0);
		kq_bb_free(&bb);
		T_OK(b.len < big / 10, "%s compresses", kq_codec_name(codecs[i]));
		T_EQ(drain(b.buf, b.len, &nrec, 64 * 1024), KQ_ERR_TOO_LARGE);
		T_EQ(drain(b.buf, b.len, &nrec, 0), 0);	/* default cap is 64 MiB */
		T_EQ(nrec, 1);
		memset(&it, 0, sizeof(it));
		it.max_decompressed = 64 * 1024;
		T_EQ(kq_batch_iter_init(&it, b.buf, b.len), KQ_ERR_TOO_LARGE);
		kq_batch_iter_free(&it);
	}

	/* a raw snappy block that claims 4 GiB is refused before allocating */
	kq_buf_reset(&c);
	kq_buf_add(&c, "\xff\xff\xff\xff\x0f\x00", 6);
	d.len = 0;
	T_EQ(kq_decompress(KQ_CODEC_SNAPPY, c.buf, c.len, &d, (size_t)64 << 20),
	     KQ_ERR_TOO_LARGE);
	/* a zstd frame asking for a 128 MiB window to hold one byte: the
	 * decoder would allocate the window from the header alone */
	kq_buf_reset(&c);
	kq_buf_add(&c, "\x28\xb5\x2f\xfd\x00\x88\x09\x00\x00x", 10);
	d.len = 0;
	T_EQ(kq_decompress(KQ_CODEC_ZSTD, c.buf, c.len, &d, (size_t)1 << 20), KQ_ERR_TOO_LARGE);
	T_EQ(kq_decompress(KQ_CODEC_ZSTD, c.buf, c.len, &d, (size_t)256 << 20), 0);
	T_EQ(d.len, 1);
	d.len = 0;
	/* garbage and empty input */
	for (i = 1; i < KQ_ARRAY_LEN(codecs); i++) {
		T_EQ(kq_decompress(codecs[i], "", 0, &d, 1000), KQ_ERR_CORRUPT);
		T_EQ(kq_decompress(codecs[i], "not compressed at all", 21, &d, 1000),
		     KQ_ERR_CORRUPT);
		T_EQ(d.len, 0);
	}
	T_EQ(kq_decompress(9, "x", 1, &d, 10), KQ_ERR_UNSUPPORTED);
	T_EQ(kq_compress(9, "x", 1, &d), KQ_ERR_UNSUPPORTED);
	free(zeros);
	kq_buf_free(&b);
	kq_buf_free(&c);
	kq_buf_free(&d);
}

/*
 * A batch of count records whose records section is recs (n bytes) sent
 * through codec, header and CRC filled in: what a hostile producer sends.
 */
static void
mkbatch(int codec, const void *recs, size_t n, int32_t count, struct kq_buf *out)
{
	kq_buf_reset(out);
	kq_buf_add(out, fixture_hdr(), KQ_BATCH_HEADER_SIZE);
	if (codec == KQ_CODEC_NONE)
		kq_buf_add(out, recs, n);
	else
		T_EQ(kq_compress(codec, recs, n, out), 0);
	kq_put16(out->buf + KQ_BATCH_OFF_ATTRIBUTES, (uint16_t)codec);
	kq_put32(out->buf + KQ_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)(count - 1));
	kq_put32(out->buf + KQ_BATCH_OFF_RECORDS_COUNT, (uint32_t)count);
	kq_put32(out->buf + KQ_BATCH_OFF_LENGTH, (uint32_t)(out->len - 12));
	fix_crc(out->buf, out->len);
}

/* kq_batch_validate then kq_batch_check_records, as the produce handler. */
static int
produce_check(const struct kq_buf *b, struct kq_buf *scratch, size_t cap, int32_t *keyless)
{
	struct kq_batch_hdr h;
	int rc;

	if ((rc = kq_batch_validate(b->buf, b->len, 1 << 20, &h)) != 0)
		return rc;
	return kq_batch_check_records(b->buf, b->len, &h, scratch, cap, keyless);
}

/* One record's bytes (length prefix included) from its body fields. */
static void
rec_add(struct kq_buf *recs, const struct kq_buf *body)
{
	kq_wr_varint(recs, (int32_t)body->len);
	kq_buf_add(recs, body->buf, body->len);
}

/* attributes, tsDelta, offsetDelta, key "k", value "v": headers follow */
static void
rec_start(struct kq_buf *body)
{
	kq_buf_reset(body);
	kq_wr_i8(body, 0);
	kq_wr_varlong(body, 0);
	kq_wr_varint(body, 0);
	kq_wr_varint(body, 1);
	kq_wr_i8(body, 'k');
	kq_wr_varint(body, 1);
	kq_wr_i8(body, 'v');
}

/* The record walker: each poison record is INVALID_RECORD, whatever the codec. */
static void
test_records_check(void)
{
	static const unsigned char six[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
	struct kq_buf b = { 0 }, recs = { 0 }, body = { 0 }, scratch = { 0 };
	const unsigned char *kept;
	int32_t keyless;
	size_t i, k;

	for (i = 0; i < KQ_ARRAY_LEN(codecs); i++) {
		kq_buf_reset(&b);
		build(codecs[i], 50, &b);
		keyless = -1;
		T_EQ(produce_check(&b, &scratch, KQ_BATCH_INFLATE_MAX, &keyless), 0);
		T_EQ(keyless, 10);	/* i % 5 == 0 */
		if (codecs[i] == KQ_CODEC_NONE)
			T_EQ(scratch.cap, 0);	/* the plain walk allocates nothing */
		/* the same batch again: the scratch buffer is reused as it is */
		kept = scratch.buf;
		T_EQ(produce_check(&b, &scratch, KQ_BATCH_INFLATE_MAX, NULL), 0);
		T_OK(scratch.buf == kept, "%s reuses its buffer", kq_codec_name(codecs[i]));
	}

	for (i = 0; i < KQ_ARRAY_LEN(codecs); i++) {
		int c = codecs[i];

		printf("# poison records, %s\n", kq_codec_name(c));
		/* two good records claimed as 1, 2 (correct) and 3 */
		kq_buf_reset(&recs);
		rec_start(&body);
		kq_wr_varint(&body, 0);
		rec_add(&recs, &body);
		rec_add(&recs, &body);
		for (k = 1; k <= 3; k++) {
			mkbatch(c, recs.buf, recs.len, (int32_t)k, &b);
			T_EQ(produce_check(&b, &scratch, KQ_BATCH_INFLATE_MAX, NULL),
			     k == 2 ? 0 : KQ_E_INVALID_RECORD);
		}
		/* header counts 2^31-1 and -5 with no header bytes */
		rec_start(&body);
		kq_wr_varint(&body, INT32_MAX);
		kq_buf_reset(&recs);
		rec_add(&recs, &body);
		mkbatch(c, recs.buf, recs.len, 1, &b);
		T_EQ(produce_check(&b, &scratch, KQ_BATCH_INFLATE_MAX, NULL), KQ_E_INVALID_RECORD);
		rec_start(&body);
		kq_wr_varint(&body, -5);
		kq_buf_reset(&recs);
		rec_add(&recs, &body);
		mkbatch(c, recs.buf, recs.len, 1, &b);
		T_EQ(produce_check(&b, &scratch, KQ_BATCH_INFLATE_MAX, NULL), KQ_E_INVALID_RECORD);
		/* a value length past the record's end, and one of -5 */
		kq_buf_reset(&body);
		kq_wr_i8(&body, 0);
		kq_wr_varlong(&body, 0);
		kq_wr_varint(&body, 0);
		kq_wr_varint(&body, -1);
		kq_wr_varint(&body, 1000);
		kq_buf_add(&body, "short", 5);
		kq_wr_varint(&body, 0);
		kq_buf_reset(&recs);
		rec_add(&recs, &body);
		mkbatch(c, recs.buf, recs.len, 1, &b);
		T_EQ(produce_check(&b, &scratch, KQ_BATCH_INFLATE_MAX, NULL), KQ_E_INVALID_RECORD);
		body.len = 4;	/* attributes, deltas, null key */
		kq_wr_varint(&body, -5);
		kq_wr_varint(&body, 0);
		kq_buf_reset(&recs);
		rec_add(&recs, &body);
		mkbatch(c, recs.buf, recs.len, 1, &b);
		T_EQ(produce_check(&b, &scratch, KQ_BATCH_INFLATE_MAX, NULL), KQ_E_INVALID_RECORD);
		/* a six-byte varint as the record length */
		kq_buf_reset(&recs);
		kq_buf_add(&recs, six, sizeof(six));
		kq_buf_add(&recs, "0123456789", 10);
		mkbatch(c, recs.buf, recs.len, 1, &b);
		T_EQ(produce_check(&b, &scratch, KQ_BATCH_INFLATE_MAX, NULL), KQ_E_INVALID_RECORD);
	}
	/* the walker alone: no records, and a count of 2^31-1 over 3 bytes */
	T_EQ(kq_records_check((const unsigned char *)"", 0, 0, NULL), 0);
	T_EQ(kq_records_check((const unsigned char *)"\x06\0\0", 3, INT32_MAX, NULL),
	     KQ_E_INVALID_RECORD);
	kq_buf_free(&b);
	kq_buf_free(&recs);
	kq_buf_free(&body);
	kq_buf_free(&scratch);
}

/* Codec data: corrupt is CORRUPT_MESSAGE, past the cap MESSAGE_TOO_LARGE. */
static void
test_check_codecs(void)
{
	static const unsigned char magic[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };
	const size_t big = (size_t)2 << 20, cap = (size_t)1 << 20;
	struct kq_buf b = { 0 }, scratch = { 0 };
	struct kq_batch_builder bb;
	unsigned char *zeros = calloc(1, big);
	size_t i;

	for (i = 1; i < KQ_ARRAY_LEN(codecs); i++) {
		int c = codecs[i];

		printf("# codec data, %s\n", kq_codec_name(c));
		kq_buf_reset(&b);
		build(c, 50, &b);
		/* cut short: half the compressed bytes, header fixed up */
		b.len = KQ_BATCH_HEADER_SIZE + (b.len - KQ_BATCH_HEADER_SIZE) / 2;
		kq_put32(b.buf + KQ_BATCH_OFF_LENGTH, (uint32_t)(b.len - 12));
		fix_crc(b.buf, b.len);
		T_EQ(produce_check(&b, &scratch, KQ_BATCH_INFLATE_MAX, NULL),
		     KQ_E_CORRUPT_MESSAGE);
		/* garbage in place of the compressed records */
		b.len = KQ_BATCH_HEADER_SIZE;
		kq_buf_add(&b, "this is not compressed at all", 29);
		kq_put32(b.buf + KQ_BATCH_OFF_LENGTH, (uint32_t)(b.len - 12));
		fix_crc(b.buf, b.len);
		T_EQ(produce_check(&b, &scratch, KQ_BATCH_INFLATE_MAX, NULL),
		     KQ_E_CORRUPT_MESSAGE);
		/* a bomb: one 2 MiB record of zeros under a 1 MiB cap stops at it */
		kq_bb_init(&bb, c);
		kq_bb_add(&bb, 1, KQ_BYTES_NULL, kq_bytes_of(zeros, big), NULL, 0);
		kq_buf_reset(&b);
		T_EQ(kq_bb_finish(&bb, &b), 0);
		kq_bb_free(&bb);
		kq_buf_free(&scratch);
		T_EQ(produce_check(&b, &scratch, cap, NULL), KQ_E_MESSAGE_TOO_LARGE);
		T_OK(scratch.cap <= 2 * (cap + 2), "%s stops at the cap (%zu)",
		     kq_codec_name(c), scratch.cap);
		T_EQ(produce_check(&b, &scratch, 2 * big, NULL), 0);
	}
	/* snappy claiming 4 GiB; xerial magic then garbage framing */
	kq_buf_reset(&b);
	kq_buf_add(&b, fixture_hdr(), KQ_BATCH_HEADER_SIZE);
	kq_buf_add(&b, "\xff\xff\xff\xff\x0f\x00", 6);
	kq_put16(b.buf + KQ_BATCH_OFF_ATTRIBUTES, KQ_CODEC_SNAPPY);
	kq_put32(b.buf + KQ_BATCH_OFF_LENGTH, (uint32_t)(b.len - 12));
	fix_crc(b.buf, b.len);
	kq_buf_free(&scratch);
	T_EQ(produce_check(&b, &scratch, KQ_BATCH_INFLATE_MAX, NULL), KQ_E_MESSAGE_TOO_LARGE);
	T_OK(scratch.cap < 4096, "no allocation for the claim (%zu)", scratch.cap);
	b.len = KQ_BATCH_HEADER_SIZE;
	kq_buf_add(&b, magic, sizeof(magic));
	kq_buf_add(&b, "\0\0\0\1\0\0\0\1\0\0\0\x40garbage-garbage", 27);
	kq_put32(b.buf + KQ_BATCH_OFF_LENGTH, (uint32_t)(b.len - 12));
	fix_crc(b.buf, b.len);
	T_EQ(produce_check(&b, &scratch, KQ_BATCH_INFLATE_MAX, NULL), KQ_E_CORRUPT_MESSAGE);
	free(zeros);
	kq_buf_free(&b);
	kq_buf_free(&scratch);
}

/* Java clients frame snappy the xerial way; build such a batch by hand. */
static void
test_xerial_snappy(void)
{
	static const unsigned char magic[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };
	struct kq_buf plain = { 0 }, b = { 0 };
	size_t recs, half, off, clen;
	int part, nrec;

	build(KQ_CODEC_NONE, 50, &plain);
	recs = plain.len - KQ_BATCH_HEADER_SIZE;
	kq_buf_add(&b, plain.buf, KQ_BATCH_HEADER_SIZE);
	kq_buf_add(&b, magic, sizeof(magic));
	kq_wr_i32(&b, 1);	/* version */
	kq_wr_i32(&b, 1);	/* compatible version */
	/* two chunks, split mid-record: framing is independent of records */
	half = recs / 2 + 3;
	for (part = 0; part < 2; part++) {
		const unsigned char *src = plain.buf + KQ_BATCH_HEADER_SIZE + (part ? half : 0);
		size_t n = part ? recs - half : half;

		off = b.len;
		kq_wr_i32(&b, 0);
		clen = snappy_max_compressed_length(n);
		kq_buf_grow(&b, clen);
		T_EQ(snappy_compress((const char *)src, n, (char *)b.buf + b.len, &clen),
		     SNAPPY_OK);
		b.len += clen;
		kq_put32(b.buf + off, (uint32_t)clen);
	}
	kq_put16(b.buf + KQ_BATCH_OFF_ATTRIBUTES, KQ_CODEC_SNAPPY);
	kq_put32(b.buf + KQ_BATCH_OFF_LENGTH, (uint32_t)(b.len - 12));
	fix_crc(b.buf, b.len);
	T_EQ(kq_batch_validate(b.buf, b.len, 1 << 20, NULL), 0);
	T_EQ(check_pattern(b.buf, b.len, 50), 50);

	/* a chunk length past the end */
	kq_put32(b.buf + KQ_BATCH_HEADER_SIZE + 16, 0x7fffffff);
	T_EQ(drain(b.buf, b.len, &nrec, 0), KQ_ERR_CORRUPT);
	/* the xerial header alone is an empty stream: no records */
	b.len = KQ_BATCH_HEADER_SIZE + 16;
	kq_put32(b.buf + KQ_BATCH_OFF_LENGTH, (uint32_t)(b.len - 12));
	T_OK(drain(b.buf, b.len, &nrec, 0) < 0, "empty xerial stream, 50 records");
	kq_buf_free(&plain);
	kq_buf_free(&b);
}

/* Real clients' batches: see the pattern in batch-fixtures.h. */
static void
check_fixture(const char *name, const unsigned char *p, size_t n, int codec)
{
	struct kq_batch_iter it = { 0 };
	struct kq_record rec;
	struct kq_record_header h;
	struct kq_rd hr;
	char kb[32], vb[256], hb[16];
	int i = 0, j, rc, vn;

	struct kq_batch_hdr bh;
	struct kq_buf scratch = { 0 };

	printf("# fixture %s\n", name);
	T_EQ(kq_batch_validate(p, n, 1 << 20, &bh), 0);
	T_EQ(kq_batch_check_records(p, n, &bh, &scratch, KQ_BATCH_INFLATE_MAX, NULL), 0);
	kq_buf_free(&scratch);
	T_EQ(kq_batch_iter_init(&it, p, n), 0);
	T_EQ(it.hdr.Attributes & KQ_ATTR_CODEC_MASK, codec);
	T_EQ(it.hdr.RecordsCount, 20);
	while ((rc = kq_batch_iter_next(&it, &rec)) == 1) {
		T_EQ(rec.offset, i);
		T_EQ(rec.timestamp, TS0 + 3 * i);
		if (i % 5 == 0) {
			T_EQ(rec.key.len, -1);
		} else {
			snprintf(kb, sizeof(kb), "key-%d", i);
			T_OK(bytes_eq(rec.key, kq_bytes_of(kb, strlen(kb))), "key %d", i);
		}
		if (i % 7 == 3) {
			T_EQ(rec.value.len, -1);
		} else {
			for (vn = 0, j = 0; j < 8; j++)
				vn += snprintf(vb + vn, sizeof(vb) - (size_t)vn, "value-%d ", i);
			T_OK(bytes_eq(rec.value, kq_bytes_of(vb, (size_t)vn)), "value %d", i);
		}
		T_EQ(rec.header_count, i % 4 == 1 ? 2 : 0);
		kq_rd_init(&hr, rec.headers.p, (size_t)rec.headers.len);
		if (i % 4 == 1) {
			snprintf(hb, sizeof(hb), "x%d", i);
			T_EQ(kq_header_next(&hr, &h), 1);
			T_OK(kq_str_eq(h.key, "h1"), "h1");
			T_OK(bytes_eq(h.value, kq_bytes_of(hb, strlen(hb))), "h1 value %d", i);
			T_EQ(kq_header_next(&hr, &h), 1);
			T_OK(kq_str_eq(h.key, "nullh"), "nullh");
			T_EQ(h.value.len, -1);
		}
		T_EQ(kq_header_next(&hr, &h), 0);
		i++;
	}
	T_EQ(rc, 0);
	T_EQ(i, 20);
	kq_batch_iter_free(&it);
}

static void
test_real_clients(void)
{
	check_fixture("kafka-python gzip", kpython_gzip, sizeof(kpython_gzip), KQ_CODEC_GZIP);
	check_fixture("librdkafka gzip", rdkafka_gzip, sizeof(rdkafka_gzip), KQ_CODEC_GZIP);
	check_fixture("librdkafka snappy", rdkafka_snappy, sizeof(rdkafka_snappy),
		      KQ_CODEC_SNAPPY);
	check_fixture("librdkafka lz4", rdkafka_lz4, sizeof(rdkafka_lz4), KQ_CODEC_LZ4);
	check_fixture("librdkafka zstd", rdkafka_zstd, sizeof(rdkafka_zstd), KQ_CODEC_ZSTD);
}

int
main(void)
{
	T_RUN(test_crc_vector);
	T_RUN(test_codec_names);
	T_RUN(test_roundtrip);
	T_RUN(test_builder);
	T_RUN(test_hdr_parse);
	T_RUN(test_validate);
	T_RUN(test_iter_header_errors);
	T_RUN(test_iter_bad_records);
	T_RUN(test_iter_truncated_and_corrupt);
	T_RUN(test_iter_fuzz);
	T_RUN(test_bomb);
	T_RUN(test_xerial_snappy);
	T_RUN(test_records_check);
	T_RUN(test_check_codecs);
	T_RUN(test_real_clients);
	return t_done();
}
