/*
 * batch.h - RecordBatch v2 (magic 2): header access, validation, record
 * iteration (with decompression) and building (with compression).
 * Included by proto.h.
 */
#ifndef KQ_BATCH_H
#define KQ_BATCH_H

#define KQ_BATCH_HEADER_SIZE 61		/* fixed header, up to recordsCount */
#define KQ_BATCH_LOG_OVERHEAD 12	/* baseOffset + batchLength */

/* Byte positions inside a batch header. */
#define KQ_BATCH_OFF_BASE_OFFSET 0
#define KQ_BATCH_OFF_LENGTH 8
#define KQ_BATCH_OFF_LEADER_EPOCH 12
#define KQ_BATCH_OFF_MAGIC 16
#define KQ_BATCH_OFF_CRC 17
#define KQ_BATCH_OFF_ATTRIBUTES 21
#define KQ_BATCH_OFF_LAST_OFFSET_DELTA 23
#define KQ_BATCH_OFF_BASE_TIMESTAMP 27
#define KQ_BATCH_OFF_MAX_TIMESTAMP 35
#define KQ_BATCH_OFF_PRODUCER_ID 43
#define KQ_BATCH_OFF_PRODUCER_EPOCH 51
#define KQ_BATCH_OFF_BASE_SEQUENCE 53
#define KQ_BATCH_OFF_RECORDS_COUNT 57

/* Attributes. */
#define KQ_ATTR_CODEC_MASK 0x07
#define KQ_ATTR_LOG_APPEND_TIME 0x08
#define KQ_ATTR_TRANSACTIONAL 0x10
#define KQ_ATTR_CONTROL 0x20
#define KQ_ATTR_DELETE_HORIZON 0x40

enum kq_codec {
	KQ_CODEC_NONE = 0,
	KQ_CODEC_GZIP = 1,
	KQ_CODEC_SNAPPY = 2,
	KQ_CODEC_LZ4 = 3,
	KQ_CODEC_ZSTD = 4,
};
/* "none", "gzip", ...; -1 for an unknown name. */
int kq_codec_parse(const char *name);
const char *kq_codec_name(int codec);
bool kq_codec_available(int codec);	/* linked into this build */

struct kq_batch_hdr {
	int64_t BaseOffset;
	int32_t BatchLength;
	int32_t PartitionLeaderEpoch;
	int8_t Magic;
	uint32_t Crc;
	int16_t Attributes;
	int32_t LastOffsetDelta;
	int64_t BaseTimestamp;
	int64_t MaxTimestamp;
	int64_t ProducerId;
	int16_t ProducerEpoch;
	int32_t BaseSequence;
	int32_t RecordsCount;
};

/*
 * The one parser of a batch header, for bytes from the wire and from disk
 * alike: decodes the fixed header of the batch at p, of which n bytes are
 * available (the header alone will do).  0; KQ_ERR_TRUNCATED if n < 61;
 * KQ_ERR_UNSUPPORTED if Magic is not 2 (an older message set: the fields
 * are decoded, only BatchLength means anything); KQ_ERR_CORRUPT if
 * BatchLength is shorter than the header itself.  Does not check the CRC,
 * BatchLength against n, the offsets or the counts: those are the caller's
 * (kq_batch_validate for a produced batch, the log for its own).
 */
int kq_batch_hdr_parse(const unsigned char *p, size_t n, struct kq_batch_hdr *h);
/* Bytes of the whole batch (BatchLength + 12), and its last offset. */
static inline int64_t kq_batch_hdr_size(const struct kq_batch_hdr *h)
{
	return (int64_t)h->BatchLength + KQ_BATCH_LOG_OVERHEAD;
}
static inline int64_t kq_batch_hdr_last(const struct kq_batch_hdr *h)
{
	return h->BaseOffset + h->LastOffsetDelta;
}
/* Total on-disk/wire size of the batch starting at p (BatchLength + 12). */
static inline int64_t kq_batch_size(const unsigned char *p)
{
	return (int64_t)(int32_t)kq_be32(p + KQ_BATCH_OFF_LENGTH) + KQ_BATCH_LOG_OVERHEAD;
}
/* CRC-32C over [21, n) equals the stored CRC. */
bool kq_batch_crc_ok(const unsigned char *p, size_t n);

/*
 * Validate the records field of one Produce partition: exactly one magic-2
 * batch filling all n bytes, CRC correct, recordsCount >= 1 and
 * lastOffsetDelta == recordsCount - 1, no control bit, size <= max_bytes.
 * Returns 0 or a Kafka error: INVALID_RECORD, CORRUPT_MESSAGE,
 * MESSAGE_TOO_LARGE, UNSUPPORTED_COMPRESSION_TYPE (codec 5-7).  Does not know the
 * request version: zstd below Produce v7 is the handler's check.  The
 * parsed header goes to *h (may be NULL) for the checks and the append
 * that follow; it is valid only when 0 is returned.
 */
int kq_batch_validate(const unsigned char *p, size_t n, size_t max_bytes,
		      struct kq_batch_hdr *h);

/*
 * The most a compressed batch may inflate to: what the broker accepts on
 * produce (MESSAGE_TOO_LARGE past it, whatever max.message.bytes says) and
 * the iterator's default cap, so every batch stored can be read back.
 */
#define KQ_BATCH_INFLATE_MAX ((size_t)64 << 20)

/*
 * The cheap walk over n bytes of uncompressed records (a batch's records
 * section): exactly count records, each parsing as Kafka's DefaultRecord
 * does (varints of at most 5/10 bytes, key/value lengths >= -1 and inside
 * the record, a header count the bytes can hold, header keys not null, no
 * byte left in a record nor after the last).  No allocation; O(n) whatever
 * count claims.  0, or INVALID_RECORD.  Records with a null key are
 * counted into *keyless (may be NULL) for compacted topics.
 */
int kq_records_check(const unsigned char *p, size_t n, int32_t count, int32_t *keyless);

/*
 * The records of one produced batch that kq_batch_validate accepted (h is
 * its header): a compressed batch is decompressed into *scratch (reset
 * first, grown as output arrives, never past max_inflated + 1 bytes: the
 * caller keeps it for the next batch), then kq_records_check.  0 or a
 * Kafka error: INVALID_RECORD (records do not parse or disagree with
 * RecordsCount), CORRUPT_MESSAGE (codec data corrupt or cut short),
 * MESSAGE_TOO_LARGE (inflates past max_inflated, or a snappy block claims
 * more), UNKNOWN_SERVER_ERROR (the codec library failed).  Views into
 * *scratch are not kept.
 */
int kq_batch_check_records(const unsigned char *p, size_t n, const struct kq_batch_hdr *h,
			   struct kq_buf *scratch, size_t max_inflated, int32_t *keyless);

/* One record of a batch.  Views point into the batch or the iterator's buffer. */
struct kq_record {
	int64_t offset;
	int64_t timestamp;
	struct kq_bytes key;
	struct kq_bytes value;
	int32_t header_count;
	struct kq_bytes headers;	/* raw header bytes; walk with kq_header_next */
};

struct kq_record_header {
	struct kq_str key;
	struct kq_bytes value;
};

/*
 * Iterate the records of one batch.  Compressed batches are decompressed
 * into it->buf (at most max_decompressed bytes, else KQ_ERR_TOO_LARGE;
 * 0 means KQ_BATCH_INFLATE_MAX).
 */
struct kq_batch_iter {
	struct kq_batch_hdr hdr;
	struct kq_rd r;
	int32_t left;
	struct kq_buf buf;
	size_t max_decompressed;
};
/* 0 or an error (bad header, unsupported codec, corrupt compressed data). */
int kq_batch_iter_init(struct kq_batch_iter *it, const unsigned char *p, size_t n);
/* 1 = a record in *rec, 0 = end, < 0 = corrupt. */
int kq_batch_iter_next(struct kq_batch_iter *it, struct kq_record *rec);
void kq_batch_iter_free(struct kq_batch_iter *it);
/* Walk a record's headers: 1 = got one, 0 = end, < 0 = corrupt. */
int kq_header_next(struct kq_rd *hr, struct kq_record_header *h);

/*
 * Build one batch.  Records are appended uncompressed into bb->recs;
 * kq_bb_finish compresses, writes header and CRC, and appends the whole batch
 * (baseOffset 0, partitionLeaderEpoch -1) to out.
 */
struct kq_batch_builder {
	struct kq_buf recs;
	int codec;
	int32_t count;
	int64_t base_ts, max_ts;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
};
void kq_bb_init(struct kq_batch_builder *bb, int codec);
void kq_bb_add(struct kq_batch_builder *bb, int64_t timestamp, struct kq_bytes key,
	       struct kq_bytes value, const struct kq_record_header *hdrs, int nhdrs);
/* Uncompressed size so far, header included. */
static inline size_t kq_bb_size(const struct kq_batch_builder *bb)
{
	return KQ_BATCH_HEADER_SIZE + bb->recs.len;
}
int kq_bb_finish(struct kq_batch_builder *bb, struct kq_buf *out);
void kq_bb_reset(struct kq_batch_builder *bb);	/* empty, same codec */
void kq_bb_free(struct kq_batch_builder *bb);
/* Bytes one record adds to a batch (uncompressed). */
size_t kq_record_size(struct kq_bytes key, struct kq_bytes value,
		      const struct kq_record_header *hdrs, int nhdrs);

/* Compression codecs.  out is appended to; max_out caps decompression. */
int kq_compress(int codec, const void *in, size_t n, struct kq_buf *out);
int kq_decompress(int codec, const void *in, size_t n, struct kq_buf *out, size_t max_out);

#endif
