/*
 * clean.c - key map and record filtering for log compaction (see clean.h).
 * Runs on the cleaner's worker thread: no globals, no I/O.
 */
#include <stdlib.h>
#include <string.h>

#include "clean.h"

struct slot {
	uint64_t h1, h2;
	int64_t off;		/* -1 = empty */
};

struct kq_log_map {
	struct slot *s;
	size_t mask, n, max;
};

static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t
hash64(const unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t h = mix64(seed ^ ((uint64_t)n * 0x9e3779b97f4a7c15ULL)), k;

	for (; n >= 8; n -= 8, p += 8) {
		memcpy(&k, p, 8);
		h = mix64(h ^ (k * 0x87c37b91114253d5ULL)) * 0x4cf5ad432745937fULL;
	}
	k = 0;
	memcpy(&k, p, n);
	return mix64(h ^ (k * 0x87c37b91114253d5ULL) ^ n);
}

static void
key_hash(struct kq_bytes key, uint64_t *h1, uint64_t *h2)
{
	size_t n = key.len > 0 ? (size_t)key.len : 0;

	*h1 = hash64(key.p, n, 0x243f6a8885a308d3ULL);
	*h2 = hash64(key.p, n, 0x13198a2e03707344ULL);
}

static void
map_alloc(struct kq_log_map *m, size_t slots)
{
	size_t i;

	m->s = kq_xmalloc(slots * sizeof(*m->s));
	for (i = 0; i < slots; i++)
		m->s[i].off = -1;
	m->mask = slots - 1;
	m->n = 0;
}

struct kq_log_map *
kq_log_map_new(size_t max_entries)
{
	struct kq_log_map *m = kq_xcalloc(1, sizeof(*m));

	m->max = max_entries ? max_entries : 1;
	map_alloc(m, 1024);
	return m;
}

void
kq_log_map_free(struct kq_log_map *m)
{
	if (!m)
		return;
	free(m->s);
	free(m);
}

static struct slot *
probe(const struct kq_log_map *m, uint64_t h1, uint64_t h2)
{
	size_t i = (size_t)h1 & m->mask;

	while (m->s[i].off >= 0 && (m->s[i].h1 != h1 || m->s[i].h2 != h2))
		i = (i + 1) & m->mask;
	return &m->s[i];
}

static void
grow(struct kq_log_map *m)
{
	struct slot *old = m->s, *d;
	size_t i, n = m->mask + 1;

	map_alloc(m, n * 2);
	for (i = 0; i < n; i++) {
		if (old[i].off < 0)
			continue;
		d = probe(m, old[i].h1, old[i].h2);
		*d = old[i];
		m->n++;
	}
	free(old);
}

bool
kq_log_map_put(struct kq_log_map *m, struct kq_bytes key, int64_t offset)
{
	uint64_t h1, h2;
	struct slot *s;

	key_hash(key, &h1, &h2);
	s = probe(m, h1, h2);
	if (s->off >= 0) {
		if (offset > s->off)
			s->off = offset;
		return true;
	}
	if (m->n >= m->max)
		return false;
	/* Keep the load under one half so probes stay short. */
	if ((m->n + 1) * 2 > m->mask + 1) {
		grow(m);
		s = probe(m, h1, h2);
	}
	s->h1 = h1;
	s->h2 = h2;
	s->off = offset;
	m->n++;
	return true;
}

int64_t
kq_log_map_get(const struct kq_log_map *m, struct kq_bytes key)
{
	uint64_t h1, h2;

	key_hash(key, &h1, &h2);
	return probe(m, h1, h2)->off;
}

size_t
kq_log_map_count(const struct kq_log_map *m)
{
	return m->n;
}

void
kq_log_map_limit(struct kq_log_map *m, size_t max_entries)
{
	m->max = max_entries ? max_entries : 1;
}

/* ---- batches ---- */

int
kq_log_each_record(const unsigned char *p, size_t n, size_t max_decompressed,
		   void (*fn)(void *arg, const struct kq_record *rec), void *arg)
{
	struct kq_batch_iter it = { 0 };
	struct kq_record rec;
	int rc;

	if (n < KQ_BATCH_HEADER_SIZE)
		return KQ_ERR_CORRUPT;
	if (kq_be16(p + KQ_BATCH_OFF_ATTRIBUTES) & KQ_ATTR_CONTROL)
		return 0;
	it.max_decompressed = max_decompressed;
	rc = kq_batch_iter_init(&it, p, n);
	while (rc == 0 && (rc = kq_batch_iter_next(&it, &rec)) == 1) {
		fn(arg, &rec);
		rc = 0;
	}
	kq_batch_iter_free(&it);
	return rc;
}

int
kq_log_filter_batch(const unsigned char *p, size_t n, size_t max_decompressed,
		    kq_log_keep_fn keep, void *arg, struct kq_buf *out)
{
	struct kq_batch_iter it = { 0 };
	struct kq_buf kept = { 0 };
	struct kq_record rec;
	const unsigned char *from;
	int16_t attr;
	int64_t max_ts = -1;
	int32_t total = 0, nkept = 0;
	size_t start;
	int rc;

	if (n < KQ_BATCH_HEADER_SIZE)
		return KQ_ERR_CORRUPT;
	attr = (int16_t)kq_be16(p + KQ_BATCH_OFF_ATTRIBUTES);
	if (attr & KQ_ATTR_CONTROL)
		return KQ_FILTER_ALL;
	it.max_decompressed = max_decompressed;
	rc = kq_batch_iter_init(&it, p, n);
	for (;;) {
		if (rc < 0)
			goto out;
		from = it.r.p;
		rc = kq_batch_iter_next(&it, &rec);
		if (rc < 0)
			goto out;
		if (rc == 0)
			break;
		total++;
		if (!keep(arg, &rec))
			continue;
		/* The record's bytes, length prefix included, exactly as stored. */
		kq_buf_add(&kept, from, (size_t)(it.r.p - from));
		nkept++;
		if (rec.timestamp > max_ts)
			max_ts = rec.timestamp;
	}
	if (total != it.hdr.RecordsCount) {
		rc = KQ_ERR_CORRUPT;
		goto out;
	}
	if (nkept == total) {
		rc = KQ_FILTER_ALL;
		goto out;
	}
	if (nkept == 0) {
		rc = KQ_FILTER_NONE;
		goto out;
	}
	start = out->len;
	kq_buf_add(out, p, KQ_BATCH_HEADER_SIZE);
	rc = kq_compress(attr & KQ_ATTR_CODEC_MASK, kept.buf, kept.len, out);
	if (rc < 0) {
		out->len = start;
		goto out;
	}
	if (out->len - start > INT32_MAX) {
		out->len = start;
		rc = KQ_ERR_TOO_LARGE;
		goto out;
	}
	{
		unsigned char *h = out->buf + start;
		size_t len = out->len - start;

		kq_put32(h + KQ_BATCH_OFF_LENGTH, (uint32_t)(len - KQ_BATCH_LOG_OVERHEAD));
		if (!(attr & KQ_ATTR_LOG_APPEND_TIME))
			kq_put64(h + KQ_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)max_ts);
		kq_put32(h + KQ_BATCH_OFF_RECORDS_COUNT, (uint32_t)nkept);
		kq_put32(h + KQ_BATCH_OFF_CRC,
			 kq_crc32c(0, h + KQ_BATCH_OFF_ATTRIBUTES, len - KQ_BATCH_OFF_ATTRIBUTES));
	}
	rc = KQ_FILTER_SOME;
out:
	kq_batch_iter_free(&it);
	kq_buf_free(&kept);
	return rc;
}
