/*
 * batch.c - RecordBatch v2: header decoding, produce-side validation, record
 * iteration and batch building.  Layout: WIRE.md section 5.
 */
#include <string.h>
#include <strings.h>

#include "proto.h"

/* length(5) + attributes(1) + timestampDelta(10) + offsetDelta(5), as Kafka */
#define MAX_RECORD_OVERHEAD 21

static const char *const codec_names[] = { "none", "gzip", "snappy", "lz4", "zstd" };

int
kq_codec_parse(const char *name)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < KQ_ARRAY_LEN(codec_names); i++)
		if (strcasecmp(name, codec_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
kq_codec_name(int codec)
{
	if (codec < 0 || (size_t)codec >= KQ_ARRAY_LEN(codec_names))
		return "unknown";
	return codec_names[codec];
}

bool
kq_codec_available(int codec)
{
	/* All four libraries are linked unconditionally (see Makefile LIBS). */
	return codec >= KQ_CODEC_NONE && codec <= KQ_CODEC_ZSTD;
}

int
kq_batch_hdr_parse(const unsigned char *p, size_t n, struct kq_batch_hdr *h)
{
	if (n < KQ_BATCH_HEADER_SIZE)
		return KQ_ERR_TRUNCATED;
	h->BaseOffset = (int64_t)kq_be64(p + KQ_BATCH_OFF_BASE_OFFSET);
	h->BatchLength = (int32_t)kq_be32(p + KQ_BATCH_OFF_LENGTH);
	h->PartitionLeaderEpoch = (int32_t)kq_be32(p + KQ_BATCH_OFF_LEADER_EPOCH);
	h->Magic = (int8_t)p[KQ_BATCH_OFF_MAGIC];
	h->Crc = kq_be32(p + KQ_BATCH_OFF_CRC);
	h->Attributes = (int16_t)kq_be16(p + KQ_BATCH_OFF_ATTRIBUTES);
	h->LastOffsetDelta = (int32_t)kq_be32(p + KQ_BATCH_OFF_LAST_OFFSET_DELTA);
	h->BaseTimestamp = (int64_t)kq_be64(p + KQ_BATCH_OFF_BASE_TIMESTAMP);
	h->MaxTimestamp = (int64_t)kq_be64(p + KQ_BATCH_OFF_MAX_TIMESTAMP);
	h->ProducerId = (int64_t)kq_be64(p + KQ_BATCH_OFF_PRODUCER_ID);
	h->ProducerEpoch = (int16_t)kq_be16(p + KQ_BATCH_OFF_PRODUCER_EPOCH);
	h->BaseSequence = (int32_t)kq_be32(p + KQ_BATCH_OFF_BASE_SEQUENCE);
	h->RecordsCount = (int32_t)kq_be32(p + KQ_BATCH_OFF_RECORDS_COUNT);
	if (h->Magic != 2)
		return KQ_ERR_UNSUPPORTED;
	if (h->BatchLength < KQ_BATCH_HEADER_SIZE - KQ_BATCH_LOG_OVERHEAD)
		return KQ_ERR_CORRUPT;
	return 0;
}

bool
kq_batch_crc_ok(const unsigned char *p, size_t n)
{
	if (n < KQ_BATCH_HEADER_SIZE)
		return false;
	return kq_crc32c(0, p + KQ_BATCH_OFF_ATTRIBUTES, n - KQ_BATCH_OFF_ATTRIBUTES) ==
	       kq_be32(p + KQ_BATCH_OFF_CRC);
}

/*
 * Kafka's order (UnifiedLog.analyzeAndValidateRecords, LogValidator): batch
 * framing, then size, then CRC, then offsets/count, then attributes.  The
 * size test comes before the CRC so an oversized batch costs no checksum.
 */
int
kq_batch_validate(const unsigned char *p, size_t n, size_t max_bytes, struct kq_batch_hdr *hp)
{
	struct kq_batch_hdr local, *h = hp ? hp : &local;
	int codec;

	/* Produce v3+ must carry exactly one magic-2 batch; anything shorter
	 * than a header is "no batch" to Kafka, hence INVALID_RECORD. */
	switch (kq_batch_hdr_parse(p, n, h)) {
	case 0:
		break;
	case KQ_ERR_CORRUPT:
		return KQ_E_CORRUPT_MESSAGE;
	default:
		return KQ_E_INVALID_RECORD;
	}
	if ((uint64_t)kq_batch_hdr_size(h) != n)
		return KQ_E_INVALID_RECORD;	/* truncated, or more than one batch */
	if (n > max_bytes)
		return KQ_E_MESSAGE_TOO_LARGE;
	if (!kq_batch_crc_ok(p, n))
		return KQ_E_CORRUPT_MESSAGE;
	if (h->RecordsCount < 1 || h->LastOffsetDelta != h->RecordsCount - 1)
		return KQ_E_INVALID_RECORD;
	if (h->Attributes & KQ_ATTR_CONTROL)
		return KQ_E_INVALID_RECORD;
	codec = h->Attributes & KQ_ATTR_CODEC_MASK;
	if (!kq_codec_available(codec))
		return KQ_E_UNSUPPORTED_COMPRESSION_TYPE;
	/* Smallest record is 7 bytes; a compressed blob is at least 1 byte. */
	if (codec == KQ_CODEC_NONE &&
	    (uint64_t)h->RecordsCount * 7 > n - KQ_BATCH_HEADER_SIZE)
		return KQ_E_INVALID_RECORD;
	return 0;
}

/*
 * Zeroes the whole iterator except max_decompressed, so an uninitialised
 * struct works, but a buffer left by an earlier init leaks: pair every
 * init with kq_batch_iter_free (which keeps max_decompressed for reuse).
 * Only [0, batchLength + 12) of p is read; the CRC is not checked here.
 */
int
kq_batch_iter_init(struct kq_batch_iter *it, const unsigned char *p, size_t n)
{
	size_t cap = it->max_decompressed;
	size_t size;
	int codec, err;

	memset(it, 0, sizeof(*it));
	it->max_decompressed = cap ? cap : KQ_BATCH_INFLATE_MAX;
	kq_rd_init(&it->r, NULL, 0);
	if ((err = kq_batch_hdr_parse(p, n, &it->hdr)) != 0)
		goto fail;
	err = KQ_ERR_CORRUPT;
	if (it->hdr.RecordsCount < 0)
		goto fail;
	size = (size_t)kq_batch_hdr_size(&it->hdr);
	err = KQ_ERR_TRUNCATED;
	if (size > n)
		goto fail;
	codec = it->hdr.Attributes & KQ_ATTR_CODEC_MASK;
	if (codec == KQ_CODEC_NONE) {
		kq_rd_init(&it->r, p + KQ_BATCH_HEADER_SIZE, size - KQ_BATCH_HEADER_SIZE);
	} else {
		err = KQ_ERR_UNSUPPORTED;
		if (!kq_codec_available(codec))
			goto fail;
		err = kq_decompress(codec, p + KQ_BATCH_HEADER_SIZE,
				    size - KQ_BATCH_HEADER_SIZE, &it->buf, it->max_decompressed);
		if (err)
			goto fail;
		kq_rd_init(&it->r, it->buf.buf, it->buf.len);
	}
	it->left = it->hdr.RecordsCount;
	return 0;
fail:
	it->left = 0;
	it->r.err = err;
	return err;
}

/* Offsets and timestamps are hostile: add without signed overflow. */
static int64_t
add64(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

static struct kq_bytes
rd_varbytes(struct kq_rd *r, bool nullable)
{
	int32_t len = kq_rd_varint(r);
	const unsigned char *p;

	if (r->err)
		return KQ_BYTES_NULL;
	if (len < 0) {
		if (len != -1 || !nullable)
			kq_rd_fail(r, KQ_ERR_CORRUPT);
		return KQ_BYTES_NULL;
	}
	p = kq_rd_raw(r, (size_t)len);
	if (p == NULL)
		return KQ_BYTES_NULL;
	return (struct kq_bytes){ p, len };
}

/*
 * One record at r, as Kafka's DefaultRecord.readFrom reads it: a length,
 * then attributes, deltas, key, value and headers filling exactly that
 * length.  Key and value may be null (-1), header keys may not; any other
 * negative length, a varint past 5 bytes, a header count the bytes cannot
 * hold or a byte left over is KQ_ERR_CORRUPT.  Views point into r's bytes.
 */
static int
record_read(struct kq_rd *r, struct kq_record *rec, int64_t *ts_delta, int32_t *offset_delta)
{
	struct kq_rd rr, hr;
	struct kq_record_header h;
	int32_t len, i;
	const unsigned char *body;

	len = kq_rd_varint(r);
	if (!r->err && len < 0)
		kq_rd_fail(r, KQ_ERR_CORRUPT);
	body = r->err ? NULL : kq_rd_raw(r, (size_t)len);
	if (body == NULL)
		return r->err ? r->err : KQ_ERR_CORRUPT;

	kq_rd_init(&rr, body, (size_t)len);
	(void)kq_rd_i8(&rr);	/* record attributes: unused */
	*ts_delta = kq_rd_varlong(&rr);
	*offset_delta = kq_rd_varint(&rr);
	rec->key = rd_varbytes(&rr, true);
	rec->value = rd_varbytes(&rr, true);
	rec->header_count = kq_rd_varint(&rr);
	if (!rr.err && rec->header_count < 0)
		kq_rd_fail(&rr, KQ_ERR_CORRUPT);
	if (rr.err)
		return KQ_ERR_CORRUPT;
	/* Headers run to the end of the record; walk them now so that callers
	 * of kq_header_next meet only well-formed bytes, and so that a record
	 * whose declared length disagrees with its contents is refused, as
	 * Kafka does.  Each header takes at least 2 bytes, so a count of
	 * 2^31-1 ends at the first missing one. */
	rec->headers = (struct kq_bytes){ rr.p, (int32_t)kq_rd_left(&rr) };
	kq_rd_init(&hr, rr.p, kq_rd_left(&rr));
	for (i = 0; i < rec->header_count; i++)
		if (kq_header_next(&hr, &h) != 1)
			return KQ_ERR_CORRUPT;
	return kq_rd_left(&hr) == 0 ? 0 : KQ_ERR_CORRUPT;
}

int
kq_batch_iter_next(struct kq_batch_iter *it, struct kq_record *rec)
{
	int32_t offset_delta;
	int64_t ts_delta;

	if (it->r.err)
		return it->r.err;
	if (it->left <= 0)
		return 0;
	if (record_read(&it->r, rec, &ts_delta, &offset_delta) != 0) {
		/* A record cut short inside its declared length is corrupt, not
		 * a truncated batch: the batch length vouched for the bytes. */
		kq_rd_fail(&it->r, KQ_ERR_CORRUPT);
		it->left = 0;
		return it->r.err;
	}
	rec->offset = add64(it->hdr.BaseOffset, offset_delta);
	if (it->hdr.Attributes & KQ_ATTR_LOG_APPEND_TIME)
		rec->timestamp = it->hdr.MaxTimestamp;
	else
		rec->timestamp = add64(it->hdr.BaseTimestamp, ts_delta);
	it->left--;
	return 1;
}

int
kq_records_check(const unsigned char *p, size_t n, int32_t count, int32_t *keyless)
{
	struct kq_rd r;
	struct kq_record rec;
	int32_t i, nokey = 0, offset_delta;
	int64_t ts_delta;

	kq_rd_init(&r, p, n);
	for (i = 0; i < count; i++) {
		if (record_read(&r, &rec, &ts_delta, &offset_delta) != 0)
			return KQ_E_INVALID_RECORD;
		nokey += rec.key.len < 0;
	}
	if (kq_rd_left(&r) != 0)
		return KQ_E_INVALID_RECORD;	/* more records than counted */
	if (keyless)
		*keyless = nokey;
	return 0;
}

int
kq_batch_check_records(const unsigned char *p, size_t n, const struct kq_batch_hdr *h,
		       struct kq_buf *scratch, size_t max_inflated, int32_t *keyless)
{
	int codec = h->Attributes & KQ_ATTR_CODEC_MASK;

	if (n < KQ_BATCH_HEADER_SIZE)
		return KQ_E_INVALID_RECORD;
	p += KQ_BATCH_HEADER_SIZE;
	n -= KQ_BATCH_HEADER_SIZE;
	if (codec != KQ_CODEC_NONE) {
		kq_buf_reset(scratch);
		switch (kq_decompress(codec, p, n, scratch, max_inflated)) {
		case 0:
			break;
		case KQ_ERR_TOO_LARGE:
			return KQ_E_MESSAGE_TOO_LARGE;
		case KQ_ERR_CORRUPT:
			return KQ_E_CORRUPT_MESSAGE;
		case KQ_ERR_UNSUPPORTED:
			return KQ_E_UNSUPPORTED_COMPRESSION_TYPE;
		default:
			return KQ_E_UNKNOWN_SERVER_ERROR;	/* the codec library failed */
		}
		p = scratch->buf;
		n = scratch->len;
	}
	return kq_records_check(p, n, h->RecordsCount, keyless);
}

void
kq_batch_iter_free(struct kq_batch_iter *it)
{
	kq_buf_free(&it->buf);
	it->left = 0;
}

int
kq_header_next(struct kq_rd *hr, struct kq_record_header *h)
{
	struct kq_bytes k;

	if (hr->err)
		return hr->err;
	if (kq_rd_left(hr) == 0)
		return 0;
	k = rd_varbytes(hr, false);
	h->value = rd_varbytes(hr, true);
	if (hr->err)
		return hr->err;
	h->key = (struct kq_str){ (const char *)k.p, k.len };
	return 1;
}

/* Builder. */

static size_t
varint_size(uint64_t zz)
{
	size_t n = 1;

	while (zz >= 0x80) {
		zz >>= 7;
		n++;
	}
	return n;
}

static uint64_t
zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static size_t
bytes_size(struct kq_bytes b)
{
	if (b.len < 0)
		return 1;
	return varint_size(zigzag(b.len)) + (size_t)b.len;
}

static size_t
headers_size(const struct kq_record_header *hdrs, int nhdrs)
{
	size_t n = varint_size(zigzag(nhdrs > 0 ? nhdrs : 0));
	int i;

	for (i = 0; i < nhdrs; i++) {
		int32_t kl = hdrs[i].key.len < 0 ? 0 : hdrs[i].key.len;

		n += varint_size(zigzag(kl)) + (size_t)kl + bytes_size(hdrs[i].value);
	}
	return n;
}

size_t
kq_record_size(struct kq_bytes key, struct kq_bytes value,
	       const struct kq_record_header *hdrs, int nhdrs)
{
	/* Upper bound: the deltas are unknown here, so assume the widest. */
	return MAX_RECORD_OVERHEAD + bytes_size(key) + bytes_size(value) +
	       headers_size(hdrs, nhdrs);
}

void
kq_bb_init(struct kq_batch_builder *bb, int codec)
{
	memset(bb, 0, sizeof(*bb));
	bb->codec = codec;
	bb->producer_id = -1;
	bb->producer_epoch = -1;
	bb->base_sequence = -1;
}

static void
wr_varbytes(struct kq_buf *w, struct kq_bytes b)
{
	if (b.len < 0) {
		kq_wr_varint(w, -1);
		return;
	}
	kq_wr_varint(w, b.len);
	kq_wr_raw(w, b.p, (size_t)b.len);
}

void
kq_bb_add(struct kq_batch_builder *bb, int64_t timestamp, struct kq_bytes key,
	  struct kq_bytes value, const struct kq_record_header *hdrs, int nhdrs)
{
	int64_t ts_delta;
	size_t body;
	int i;

	if (nhdrs < 0)
		nhdrs = 0;
	if (bb->count == 0) {
		bb->base_ts = timestamp;
		bb->max_ts = timestamp;
	} else if (timestamp > bb->max_ts) {
		bb->max_ts = timestamp;
	}
	ts_delta = (int64_t)((uint64_t)timestamp - (uint64_t)bb->base_ts);
	body = 1 + varint_size(zigzag(ts_delta)) + varint_size(zigzag(bb->count)) +
	       bytes_size(key) + bytes_size(value) + headers_size(hdrs, nhdrs);
	KQ_ASSERT(body <= INT32_MAX);
	kq_buf_grow(&bb->recs, body + 5);
	kq_wr_varint(&bb->recs, (int32_t)body);
	kq_wr_i8(&bb->recs, 0);
	kq_wr_varlong(&bb->recs, ts_delta);
	kq_wr_varint(&bb->recs, bb->count);
	wr_varbytes(&bb->recs, key);
	wr_varbytes(&bb->recs, value);
	kq_wr_varint(&bb->recs, nhdrs);
	for (i = 0; i < nhdrs; i++) {
		struct kq_str k = hdrs[i].key;

		/* Header keys are never null on the wire: write null as "". */
		wr_varbytes(&bb->recs, (struct kq_bytes){ (const unsigned char *)k.p,
							  k.len < 0 ? 0 : k.len });
		wr_varbytes(&bb->recs, hdrs[i].value);
	}
	bb->count++;
}

/*
 * Appends one batch to out; out is unchanged on failure (KQ_ERR_INVALID
 * with no records, KQ_ERR_TOO_LARGE past 2 GiB).  The builder keeps its
 * records: call kq_bb_reset before the next batch.
 */
int
kq_bb_finish(struct kq_batch_builder *bb, struct kq_buf *out)
{
	size_t start = out->len, size;
	unsigned char *h;
	int err;

	if (bb->count == 0)
		return KQ_ERR_INVALID;
	if (!kq_codec_available(bb->codec))
		return KQ_ERR_UNSUPPORTED;
	kq_buf_grow(out, KQ_BATCH_HEADER_SIZE + bb->recs.len);
	out->len += KQ_BATCH_HEADER_SIZE;
	if (bb->codec == KQ_CODEC_NONE) {
		kq_buf_add(out, bb->recs.buf, bb->recs.len);
	} else if ((err = kq_compress(bb->codec, bb->recs.buf, bb->recs.len, out)) != 0) {
		out->len = start;
		return err;
	}
	size = out->len - start;
	if (size - KQ_BATCH_LOG_OVERHEAD > INT32_MAX) {
		out->len = start;
		return KQ_ERR_TOO_LARGE;
	}
	h = out->buf + start;
	kq_put64(h + KQ_BATCH_OFF_BASE_OFFSET, 0);
	kq_put32(h + KQ_BATCH_OFF_LENGTH, (uint32_t)(size - KQ_BATCH_LOG_OVERHEAD));
	kq_put32(h + KQ_BATCH_OFF_LEADER_EPOCH, (uint32_t)-1);
	h[KQ_BATCH_OFF_MAGIC] = 2;
	kq_put16(h + KQ_BATCH_OFF_ATTRIBUTES, (uint16_t)(bb->codec & KQ_ATTR_CODEC_MASK));
	kq_put32(h + KQ_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)(bb->count - 1));
	kq_put64(h + KQ_BATCH_OFF_BASE_TIMESTAMP, (uint64_t)bb->base_ts);
	kq_put64(h + KQ_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)bb->max_ts);
	kq_put64(h + KQ_BATCH_OFF_PRODUCER_ID, (uint64_t)bb->producer_id);
	kq_put16(h + KQ_BATCH_OFF_PRODUCER_EPOCH, (uint16_t)bb->producer_epoch);
	kq_put32(h + KQ_BATCH_OFF_BASE_SEQUENCE, (uint32_t)bb->base_sequence);
	kq_put32(h + KQ_BATCH_OFF_RECORDS_COUNT, (uint32_t)bb->count);
	kq_put32(h + KQ_BATCH_OFF_CRC,
		 kq_crc32c(0, h + KQ_BATCH_OFF_ATTRIBUTES, size - KQ_BATCH_OFF_ATTRIBUTES));
	return 0;
}

void
kq_bb_reset(struct kq_batch_builder *bb)
{
	/* Producer id, epoch and sequence are the caller's; keep them. */
	kq_buf_reset(&bb->recs);
	bb->count = 0;
	bb->base_ts = bb->max_ts = 0;
}

void
kq_bb_free(struct kq_batch_builder *bb)
{
	kq_buf_free(&bb->recs);
	bb->count = 0;
}
