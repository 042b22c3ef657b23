/*
 * msgset.h - the legacy MessageSet (magic 0 and 1, WIRE.md 5.9) that
 * Produce v0-2 carry and Fetch v0-3 expect.  kq never stores it: a produced
 * message set becomes one RecordBatch v2, and stored batches are converted
 * back for old fetchers.  Included by proto.h.
 */
#ifndef KQ_MSGSET_H
#define KQ_MSGSET_H

#define KQ_MSG_LOG_OVERHEAD 12		/* offset INT64 + message_size INT32 */
#define KQ_MSG_ATTR_LOG_APPEND_TIME 0x08	/* magic 1 timestamp type */

/* Bytes of one message of this magic: crc, magic, attributes, timestamp, key, value. */
static inline size_t kq_legacy_msg_size(int magic, struct kq_bytes key, struct kq_bytes value)
{
	return 4 + 1 + 1 + (magic ? 8 : 0) + 4 + (size_t)(key.len > 0 ? key.len : 0) + 4 +
	       (size_t)(value.len > 0 ? value.len : 0);
}

/*
 * Convert the records field of one Produce v0-2 partition into one
 * RecordBatch v2 appended to out (baseOffset 0, ready for kq_batch_validate).
 * Each message's CRC-32 (IEEE) is checked; a compressed wrapper (gzip,
 * snappy, lz4) is unwrapped one level, and the batch is compressed with the
 * wrapper's codec.  Timestamps are the messages' own (magic 1, or the
 * wrapper's under LogAppendTime) or now_ms (magic 0).  Returns 0 or a Kafka
 * error: CORRUPT_MESSAGE (bad CRC, size or magic, messages of two magics,
 * a wrapper inside a wrapper, no message), MESSAGE_TOO_LARGE (records past max_bytes once
 * decompressed), UNSUPPORTED_COMPRESSION_TYPE (zstd or an unknown codec).
 */
int kq_msgset_to_batch(const unsigned char *p, size_t n, size_t max_bytes, int64_t now_ms,
		       struct kq_buf *out);

/*
 * Append the records of the stored batch at p (n bytes) whose offsets are
 * at least min_offset to out as uncompressed messages of the given magic,
 * headers dropped; control batches add nothing.  A message that would take
 * out past max_len is not added, unless out is empty (the first message
 * always goes, as with batches).  Returns 1 when it stopped at max_len,
 * 0 when the batch is done, or KQ_ERR_* for a batch it cannot read.
 */
int kq_msgset_from_batch(const unsigned char *p, size_t n, int magic, int64_t min_offset,
			 size_t max_len, struct kq_buf *out);

/* Append one message with its offset and CRC (the writer of both directions' tests). */
void kq_msg_write(struct kq_buf *out, int64_t offset, int magic, int attributes,
		  int64_t timestamp, struct kq_bytes key, struct kq_bytes value);

#endif
