/*
 * fuzz-batch.c - libFuzzer target for RecordBatch v2 validation and
 * iteration.  Input: one flag byte, then the batch bytes.  Flag bit 0
 * rewrites the CRC before validating, so the fuzzer gets past the checksum
 * into the checks behind it.  A batch kq_batch_validate accepts goes
 * through kq_batch_check_records, the produce handler's record walk, into
 * one reused buffer as in the broker.  The iterator runs on every input,
 * valid or not (consumers iterate fetched bytes without validating them),
 * with decompression capped at 1 MiB; a batch the walk accepted must
 * iterate whole, every record and the same keyless count, so nothing the
 * broker stores can stop a reader.  Records that iterate cleanly are rebuilt
 * with kq_bb_* and must iterate back to the same keys, values and headers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DECOMPRESSED (1024 * 1024)
#define MAX_HDRS 64
#define MAX_RECS 256

struct saved {
	struct kq_record rec;
	int nh;
	struct kq_record_header h[MAX_HDRS];
};

static struct saved recs[MAX_RECS];

static bool
bytes_eq(struct kq_bytes a, struct kq_bytes b)
{
	if (a.len != b.len)
		return false;
	return a.len <= 0 || memcmp(a.p, b.p, (size_t)a.len) == 0;
}

/* A view must lie inside [lo, lo+n). */
static void
check_view(struct kq_bytes b, const unsigned char *lo, size_t n)
{
	if (b.len < 0)
		return;
	if (b.len > 0 && (b.p < lo || b.p + b.len > lo + n))
		abort();
}

static int
walk_headers(const struct kq_record *rec, struct kq_record_header *out, int max)
{
	struct kq_rd hr;
	struct kq_record_header h;
	int n = 0, rc;

	kq_rd_init(&hr, rec->headers.p, (size_t)rec->headers.len);
	while ((rc = kq_header_next(&hr, &h)) == 1) {
		if (n < max)
			out[n] = h;
		n++;
	}
	/* iter_next already walked these: they must be well formed. */
	if (rc != 0 || n != rec->header_count)
		abort();
	return n;
}

/* Rebuild nrec records uncompressed and compare what iterates back. */
static void
rebuild(int nrec)
{
	struct kq_batch_builder bb;
	struct kq_batch_iter it;
	struct kq_record rec;
	struct kq_record_header h[MAX_HDRS];
	struct kq_buf out = { 0 };
	int i, j, nh;

	kq_bb_init(&bb, KQ_CODEC_NONE);
	for (i = 0; i < nrec; i++)
		kq_bb_add(&bb, recs[i].rec.timestamp, recs[i].rec.key, recs[i].rec.value,
			  recs[i].h, recs[i].nh);
	if (kq_bb_finish(&bb, &out) != 0)
		abort();
	if (kq_batch_validate(out.buf, out.len, SIZE_MAX, NULL) != 0)
		abort();
	memset(&it, 0, sizeof(it));
	it.max_decompressed = MAX_DECOMPRESSED;
	if (kq_batch_iter_init(&it, out.buf, out.len) != 0)
		abort();
	for (i = 0; i < nrec; i++) {
		if (kq_batch_iter_next(&it, &rec) != 1)
			abort();
		if (!bytes_eq(rec.key, recs[i].rec.key) ||
		    !bytes_eq(rec.value, recs[i].rec.value) ||
		    rec.offset != i || rec.timestamp != recs[i].rec.timestamp)
			abort();
		nh = walk_headers(&rec, h, MAX_HDRS);
		if (nh != recs[i].nh)
			abort();
		for (j = 0; j < nh; j++)
			if (!bytes_eq((struct kq_bytes){ (const unsigned char *)h[j].key.p, h[j].key.len },
				      (struct kq_bytes){ (const unsigned char *)recs[i].h[j].key.p,
							 recs[i].h[j].key.len }) ||
			    !bytes_eq(h[j].value, recs[i].h[j].value))
				abort();
	}
	if (kq_batch_iter_next(&it, &rec) != 0)
		abort();
	kq_batch_iter_free(&it);
	kq_bb_free(&bb);
	kq_buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kq_buf scratch;	/* reused across inputs, as the broker's */
	struct kq_batch_iter it;
	struct kq_batch_hdr h;
	struct kq_record rec;
	unsigned char *p;
	size_t n;
	int rc = -1, got = 0, nsaved = 0, checked = -1;
	int32_t keyless = -1, nokey = 0;
	bool rebuildable = true;

	if (size < 1)
		return 0;
	n = size - 1;
	/* A private copy, exactly n bytes long, so ASan sees any overread. */
	p = malloc(n ? n : 1);
	if (p == NULL)
		abort();
	memcpy(p, data + 1, n);
	if ((data[0] & 1) && n >= KQ_BATCH_HEADER_SIZE)
		kq_put32(p + KQ_BATCH_OFF_CRC,
			 kq_crc32c(0, p + KQ_BATCH_OFF_ATTRIBUTES, n - KQ_BATCH_OFF_ATTRIBUTES));
	if (kq_batch_validate(p, n, MAX_DECOMPRESSED, &h) == 0) {
		checked = kq_batch_check_records(p, n, &h, &scratch, MAX_DECOMPRESSED, &keyless);
		if (scratch.len > MAX_DECOMPRESSED)
			abort();
	}

	memset(&it, 0, sizeof(it));
	it.max_decompressed = MAX_DECOMPRESSED;
	if (kq_batch_iter_init(&it, p, n) == 0) {
		while ((rc = kq_batch_iter_next(&it, &rec)) == 1) {
			if (it.buf.len > MAX_DECOMPRESSED)
				abort();
			if ((it.hdr.Attributes & KQ_ATTR_CODEC_MASK) == KQ_CODEC_NONE) {
				check_view(rec.key, p, n);
				check_view(rec.value, p, n);
				check_view(rec.headers, p, n);
			} else {
				check_view(rec.key, it.buf.buf, it.buf.len);
				check_view(rec.value, it.buf.buf, it.buf.len);
				check_view(rec.headers, it.buf.buf, it.buf.len);
			}
			got++;
			nokey += rec.key.len < 0;
			if (got > it.hdr.RecordsCount)
				abort();
			if (nsaved < MAX_RECS && rec.header_count <= MAX_HDRS) {
				recs[nsaved].rec = rec;
				recs[nsaved].nh = walk_headers(&rec, recs[nsaved].h, MAX_HDRS);
				nsaved++;
			} else {
				(void)walk_headers(&rec, NULL, 0);
				rebuildable = false;
			}
		}
		if (rc == 0 && got != it.hdr.RecordsCount)
			abort();
		if (rc == 0 && rebuildable && got > 0)
			rebuild(got);
	}
	if (checked == 0 && (rc != 0 || got != h.RecordsCount || nokey != keyless))
		abort();
	kq_batch_iter_free(&it);
	free(p);
	return 0;
}
