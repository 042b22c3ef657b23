/*
 * compress.c - the four Kafka codecs (WIRE.md 5.6).
 *
 * Decompression input is hostile: output never grows past max_out (the
 * caller's cap, checked with one byte of slack so a stream that ends exactly
 * at the cap is accepted), no length found in the data is used to allocate
 * beyond that cap, and on any failure out is left as it was.
 */
#include <limits.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "proto.h"

/* Each library call sees at most this much at once (zlib counts in uInt). */
#define CHUNK_MAX ((size_t)1 << 30)

/*
 * Output window for a streaming decoder: make room for more output, never
 * past start + max_out + 1.  Returns the free bytes, 0 when the cap is hit.
 */
static size_t
out_room(struct kq_buf *out, size_t start, size_t max_out, size_t hint)
{
	size_t produced = out->len - start;
	size_t limit = max_out == SIZE_MAX ? SIZE_MAX : max_out + 1;
	size_t want;

	if (produced >= limit)
		return 0;
	if (out->cap > out->len)
		return KQ_MIN(KQ_MIN(out->cap - out->len, limit - produced), CHUNK_MAX);
	/* Double what we have, starting from a multiple of the input. */
	want = produced ? produced : hint;
	want = KQ_MAX(want, (size_t)4096);
	want = KQ_MIN(KQ_MIN(want, limit - produced), CHUNK_MAX);
	kq_buf_grow(out, want);
	return want;
}

static int
gzip_compress(const void *in, size_t n, struct kq_buf *out)
{
	z_stream zs;
	uLong bound;
	int rc;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return KQ_ERR_IO;
	bound = deflateBound(&zs, (uLong)n);
	kq_buf_grow(out, bound);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)n;
	zs.next_out = out->buf + out->len;
	zs.avail_out = (uInt)bound;
	rc = deflate(&zs, Z_FINISH);
	if (rc == Z_STREAM_END)
		out->len += zs.total_out;
	deflateEnd(&zs);
	return rc == Z_STREAM_END ? 0 : KQ_ERR_IO;
}

static int
gzip_decompress(const void *in, size_t n, struct kq_buf *out, size_t max_out)
{
	size_t start = out->len, room;
	z_stream zs;
	int rc, err = 0;

	memset(&zs, 0, sizeof(zs));
	/* 15 + 32: accept both the gzip and the zlib wrapper. */
	if (inflateInit2(&zs, 15 + 32) != Z_OK)
		return KQ_ERR_IO;
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)n;
	for (;;) {
		room = out_room(out, start, max_out, n * 4);
		if (room == 0) {
			err = KQ_ERR_TOO_LARGE;
			break;
		}
		zs.next_out = out->buf + out->len;
		zs.avail_out = (uInt)room;
		rc = inflate(&zs, Z_NO_FLUSH);
		out->len += room - zs.avail_out;
		if (out->len - start > max_out) {
			err = KQ_ERR_TOO_LARGE;
			break;
		}
		if (rc == Z_STREAM_END) {
			if (zs.avail_in == 0)
				break;
			/* Concatenated gzip members, as GZIPInputStream reads. */
			if (inflateReset(&zs) != Z_OK) {
				err = KQ_ERR_CORRUPT;
				break;
			}
			continue;
		}
		if (rc == Z_OK)
			continue;
		if (rc == Z_BUF_ERROR && zs.avail_out == 0)
			continue;	/* needs more room */
		err = rc == Z_MEM_ERROR ? KQ_ERR_IO : KQ_ERR_CORRUPT;
		break;
	}
	inflateEnd(&zs);
	if (err)
		out->len = start;
	return err;
}

static int
snappy_raw(const unsigned char *in, size_t n, struct kq_buf *out, size_t room)
{
	size_t ulen;

	if (snappy_uncompressed_length((const char *)in, n, &ulen) != SNAPPY_OK)
		return KQ_ERR_CORRUPT;
	if (ulen > room)
		return KQ_ERR_TOO_LARGE;
	/* A few hostile bytes may claim up to the cap: check before allocating. */
	if (snappy_validate_compressed_buffer((const char *)in, n) != SNAPPY_OK)
		return KQ_ERR_CORRUPT;
	kq_buf_grow(out, ulen);
	if (snappy_uncompress((const char *)in, n, (char *)out->buf + out->len, &ulen) !=
	    SNAPPY_OK)
		return KQ_ERR_CORRUPT;
	out->len += ulen;
	return 0;
}

static const unsigned char xerial_magic[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };

static int
snappy_decompress(const unsigned char *in, size_t n, struct kq_buf *out, size_t max_out)
{
	size_t start = out->len, pos, clen;
	int err = 0;

	if (n < 16 || memcmp(in, xerial_magic, sizeof(xerial_magic)) != 0)
		return snappy_raw(in, n, out, max_out);
	/* xerial framing (Java clients): magic, version and compat INT32s,
	 * then [INT32 length, raw snappy block] until the end. */
	for (pos = 16; pos < n && !err; pos += clen) {
		err = KQ_ERR_CORRUPT;
		if (n - pos < 4)
			break;
		clen = kq_be32(in + pos);
		pos += 4;
		if (clen > n - pos)
			break;
		err = snappy_raw(in + pos, clen, out, max_out - (out->len - start));
	}
	if (err)
		out->len = start;
	return err;
}

static int
lz4_compress(const void *in, size_t n, struct kq_buf *out)
{
	LZ4F_preferences_t prefs;
	size_t bound, rc;

	/* Independent 64 KiB blocks: what Kafka's Java LZ4 reader expects. */
	memset(&prefs, 0, sizeof(prefs));
	prefs.frameInfo.blockSizeID = LZ4F_max64KB;
	prefs.frameInfo.blockMode = LZ4F_blockIndependent;
	bound = LZ4F_compressFrameBound(n, &prefs);
	kq_buf_grow(out, bound);
	rc = LZ4F_compressFrame(out->buf + out->len, bound, in, n, &prefs);
	if (LZ4F_isError(rc))
		return KQ_ERR_IO;
	out->len += rc;
	return 0;
}

static int
lz4_decompress(const unsigned char *in, size_t n, struct kq_buf *out, size_t max_out)
{
	LZ4F_dctx *dctx;
	size_t start = out->len, pos = 0, room, dst_n, src_n, rc = 1;
	int err = 0;

	if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
		return KQ_ERR_IO;
	while (pos < n) {
		room = out_room(out, start, max_out, n * 4);
		if (room == 0) {
			err = KQ_ERR_TOO_LARGE;
			break;
		}
		dst_n = room;
		src_n = n - pos;
		rc = LZ4F_decompress(dctx, out->buf + out->len, &dst_n, in + pos, &src_n, NULL);
		if (LZ4F_isError(rc)) {
			err = KQ_ERR_CORRUPT;
			break;
		}
		pos += src_n;
		out->len += dst_n;
		if (out->len - start > max_out) {
			err = KQ_ERR_TOO_LARGE;
			break;
		}
		if (src_n == 0 && dst_n == 0) {
			err = KQ_ERR_CORRUPT;	/* no progress: do not spin */
			break;
		}
	}
	/* Input consumed: flush whatever the decoder still holds. */
	while (!err && rc != 0) {
		room = out_room(out, start, max_out, 4096);
		if (room == 0) {
			err = KQ_ERR_TOO_LARGE;
			break;
		}
		dst_n = room;
		src_n = 0;
		rc = LZ4F_decompress(dctx, out->buf + out->len, &dst_n, NULL, &src_n, NULL);
		if (LZ4F_isError(rc) || dst_n == 0) {
			err = KQ_ERR_CORRUPT;	/* frame cut short */
			break;
		}
		out->len += dst_n;
		if (out->len - start > max_out)
			err = KQ_ERR_TOO_LARGE;
	}
	LZ4F_freeDecompressionContext(dctx);
	if (err)
		out->len = start;
	return err;
}

static int
zstd_compress(const void *in, size_t n, struct kq_buf *out)
{
	size_t bound = ZSTD_compressBound(n), rc;

	kq_buf_grow(out, bound);
	rc = ZSTD_compress(out->buf + out->len, bound, in, n, ZSTD_CLEVEL_DEFAULT);
	if (ZSTD_isError(rc))
		return KQ_ERR_IO;
	out->len += rc;
	return 0;
}

/*
 * The largest window a frame may ask for: the decoder allocates it from the
 * frame header alone, so a 100-byte frame could cost 128 MiB (fuzz-batch
 * found it).  No frame needs a window beyond what it may produce; 1 MiB is
 * allowed whatever the cap, and never more than zstd's own default limit.
 */
#define ZSTD_WINDOW_LOG_DEFAULT 27	/* zstd's ZSTD_WINDOWLOG_LIMIT_DEFAULT (experimental API) */

static int
zstd_window_log(size_t max_out)
{
	int log = 20;

	while (log < ZSTD_WINDOW_LOG_DEFAULT && ((size_t)1 << log) < max_out)
		log++;
	return log;
}

/* Streaming, so frames without a content size (most producers) work too. */
static int
zstd_decompress(const void *in, size_t n, struct kq_buf *out, size_t max_out)
{
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	ZSTD_inBuffer ib = { in, n, 0 };
	ZSTD_outBuffer ob;
	size_t start = out->len, room, rc;
	int err = 0;

	if (dctx == NULL)
		return KQ_ERR_IO;
	if (ZSTD_isError(ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax,
						zstd_window_log(max_out)))) {
		ZSTD_freeDCtx(dctx);
		return KQ_ERR_IO;
	}
	for (;;) {
		room = out_room(out, start, max_out, n * 4);
		if (room == 0) {
			err = KQ_ERR_TOO_LARGE;
			break;
		}
		ob = (ZSTD_outBuffer){ out->buf + out->len, room, 0 };
		rc = ZSTD_decompressStream(dctx, &ob, &ib);
		if (ZSTD_isError(rc)) {
			err = ZSTD_getErrorCode(rc) == ZSTD_error_frameParameter_windowTooLarge ?
				      KQ_ERR_TOO_LARGE : KQ_ERR_CORRUPT;
			break;
		}
		out->len += ob.pos;
		if (out->len - start > max_out) {
			err = KQ_ERR_TOO_LARGE;
			break;
		}
		if (ib.pos == ib.size) {
			if (rc == 0)
				break;		/* last frame complete */
			if (ob.pos < ob.size) {
				err = KQ_ERR_CORRUPT;	/* frame cut short */
				break;
			}
		}
	}
	ZSTD_freeDCtx(dctx);
	if (err)
		out->len = start;
	return err;
}

/*
 * Both append to out and leave it unchanged on failure.  No shared state:
 * safe from any thread.  KQ_ERR_UNSUPPORTED for an unknown codec,
 * KQ_ERR_IO when a library fails (out of memory); decompression also
 * KQ_ERR_CORRUPT and KQ_ERR_TOO_LARGE (more than max_out bytes).
 */
int
kq_compress(int codec, const void *in, size_t n, struct kq_buf *out)
{
	if (n > INT32_MAX)
		return KQ_ERR_TOO_LARGE;
	switch (codec) {
	case KQ_CODEC_NONE:
		kq_buf_add(out, in, n);
		return 0;
	case KQ_CODEC_GZIP:
		return gzip_compress(in, n, out);
	case KQ_CODEC_SNAPPY: {
		size_t len = snappy_max_compressed_length(n);

		kq_buf_grow(out, len);
		if (snappy_compress(in, n, (char *)out->buf + out->len, &len) != SNAPPY_OK)
			return KQ_ERR_IO;
		out->len += len;
		return 0;
	}
	case KQ_CODEC_LZ4:
		return lz4_compress(in, n, out);
	case KQ_CODEC_ZSTD:
		return zstd_compress(in, n, out);
	}
	return KQ_ERR_UNSUPPORTED;
}

int
kq_decompress(int codec, const void *in, size_t n, struct kq_buf *out, size_t max_out)
{
	if (n > INT32_MAX)
		return KQ_ERR_TOO_LARGE;
	switch (codec) {
	case KQ_CODEC_NONE:
		if (n > max_out)
			return KQ_ERR_TOO_LARGE;
		kq_buf_add(out, in, n);
		return 0;
	case KQ_CODEC_GZIP:
		return gzip_decompress(in, n, out, max_out);
	case KQ_CODEC_SNAPPY:
		return snappy_decompress(in, n, out, max_out);
	case KQ_CODEC_LZ4:
		return lz4_decompress(in, n, out, max_out);
	case KQ_CODEC_ZSTD:
		return zstd_decompress(in, n, out, max_out);
	}
	return KQ_ERR_UNSUPPORTED;
}
