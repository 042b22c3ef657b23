/*
 * fuzz-response.c - libFuzzer target for the response decoders, which
 * the CLI tools and the client library run on bytes from a broker they do
 * not control.  Input: INT16 API key, INT16 version, then one response
 * frame body (size prefix stripped): ResponseHeader v0 and the message.
 * A body that decodes must survive encode -> decode -> encode byte for
 * byte, and the second decode must consume exactly what was encoded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kq_arena arena;
static struct kq_buf w1, w2;
static void *m1, *m2;

static void
alloc_structs(void)
{
	size_t max = 0, sz;
	int16_t k;

	for (k = 0; k < KQ_API_MAX; k++) {
		sz = kq_msg_size(k, true);
		if (sz > max)
			max = sz;
	}
	m1 = calloc(1, max);
	m2 = calloc(1, max);
	if (m1 == NULL || m2 == NULL)
		abort();
}

static int
roundtrip(int16_t key, int16_t ver, struct kq_rd *r)
{
	struct kq_rd r2;
	int err;

	if (kq_msg_decode(key, true, ver, r, &arena, m1) != 0)
		return 0;
	kq_buf_reset(&w1);
	kq_buf_reset(&w2);
	if (kq_msg_encode(key, true, ver, &w1, m1) != 0)
		abort();	/* decode accepted a version encode refuses */
	kq_rd_init(&r2, w1.buf, w1.len);
	err = kq_msg_decode(key, true, ver, &r2, &arena, m2);
	if (err != 0 || kq_rd_left(&r2) != 0)
		abort();	/* our own encoding does not decode */
	if (kq_msg_encode(key, true, ver, &w2, m2) != 0)
		abort();
	if (w1.len != w2.len || (w1.len > 0 && memcmp(w1.buf, w2.buf, w1.len) != 0))
		abort();	/* encode(decode(x)) is not a fixed point */
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kq_ResponseHeader h;
	struct kq_rd r;
	int16_t key, ver;

	if (size < 4)
		return 0;
	if (m1 == NULL)
		alloc_structs();
	key = (int16_t)kq_be16(data);
	ver = (int16_t)kq_be16(data + 2);
	if (kq_msg_size(key, true) == 0)
		return 0;
	kq_arena_reset(&arena);
	kq_rd_init(&r, data + 4, size - 4);
	if (kq_ResponseHeader_decode(&r, 0, &arena, &h) != 0)
		return 0;
	roundtrip(key, ver, &r);
	return 0;
}
