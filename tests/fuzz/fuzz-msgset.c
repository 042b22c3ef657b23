/*
 * fuzz-msgset.c - libFuzzer target for legacy message sets (Produce v0-2 in,
 * Fetch v0-3 out).  Input: one flag byte, then the bytes.  Flag bit 0
 * rewrites the CRC of every top-level message first, so the fuzzer gets past
 * the checksum into the sizes, magics and wrappers behind it.  A message set
 * that converts must give a batch that validates, iterates, and
 * down-converts (magic 0 or 1 by flag bit 1) to a set that converts again
 * to the same records.  The same bytes are also handed to the
 * down-converter as a hostile stored batch.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BYTES (1024 * 1024)

static void
fix_crcs(unsigned char *p, size_t n)
{
	size_t pos = 0;

	while (pos + KQ_MSG_LOG_OVERHEAD + 4 <= n) {
		uint32_t size = kq_be32(p + pos + 8);

		if (size < 4 || size > n - pos - KQ_MSG_LOG_OVERHEAD)
			return;
		kq_put32(p + pos + 12, (uint32_t)crc32(0, p + pos + 16, size - 4));
		pos += KQ_MSG_LOG_OVERHEAD + size;
	}
}

static int32_t
count_records(const struct kq_buf *b)
{
	struct kq_batch_iter it;
	struct kq_record rec;
	int32_t n = 0;
	int rc;

	memset(&it, 0, sizeof(it));
	if (kq_batch_iter_init(&it, b->buf, b->len) != 0)
		abort();
	while ((rc = kq_batch_iter_next(&it, &rec)) == 1)
		n++;
	if (rc != 0)
		abort();
	kq_batch_iter_free(&it);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kq_buf in = { 0 }, batch = { 0 }, set = { 0 }, again = { 0 };
	struct kq_batch_hdr h;
	int flags, magic;

	if (size < 1)
		return 0;
	flags = data[0];
	magic = (flags >> 1) & 1;
	kq_buf_add(&in, data + 1, size - 1);
	if (flags & 1)
		fix_crcs(in.buf, in.len);
	if (kq_msgset_to_batch(in.buf, in.len, MAX_BYTES, 1, &batch) == 0) {
		if (kq_batch_validate(batch.buf, batch.len, SIZE_MAX, &h) != 0)
			abort();
		if (kq_msgset_from_batch(batch.buf, batch.len, magic, 0, SIZE_MAX, &set) != 0)
			abort();
		if (kq_msgset_to_batch(set.buf, set.len, SIZE_MAX, 1, &again) != 0)
			abort();
		if (count_records(&again) != count_records(&batch) ||
		    count_records(&batch) != h.RecordsCount)
			abort();
	}
	kq_buf_reset(&set);
	(void)kq_msgset_from_batch(in.buf, in.len, magic, 0, 1 << 16, &set);
	kq_buf_free(&in);
	kq_buf_free(&batch);
	kq_buf_free(&set);
	kq_buf_free(&again);
	return 0;
}
