/*
 * roundtrip.h - what fuzz-request.c and fuzz-response.c share: a message
 * that decodes must survive encode -> decode -> encode byte for byte, and
 * the second decode must consume exactly what the first encode wrote.
 * Included by exactly one target per binary.
 */
#ifndef KQ_FUZZ_ROUNDTRIP_H
#define KQ_FUZZ_ROUNDTRIP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

static struct kq_arena arena;
static struct kq_buf w1, w2;
static void *m1, *m2;

static void
alloc_structs(bool is_response)
{
	size_t max = 0, sz;
	int16_t k;

	for (k = 0; k < KQ_API_MAX; k++) {
		sz = kq_msg_size(k, is_response);
		if (sz > max)
			max = sz;
	}
	m1 = calloc(1, max);
	m2 = calloc(1, max);
	if (m1 == NULL || m2 == NULL)
		abort();
}

/* 0 if not decodable, 1 if it round-tripped; aborts on a mismatch. */
static int
roundtrip(bool is_response, int16_t key, int16_t ver, struct kq_rd *r)
{
	struct kq_rd r2;
	int err;

	if (kq_msg_decode(key, is_response, ver, r, &arena, m1) != 0)
		return 0;
	kq_buf_reset(&w1);
	kq_buf_reset(&w2);
	if (kq_msg_encode(key, is_response, ver, &w1, m1) != 0)
		abort();	/* decode accepted a version encode refuses */
	kq_rd_init(&r2, w1.buf, w1.len);
	err = kq_msg_decode(key, is_response, ver, &r2, &arena, m2);
	if (err != 0 || kq_rd_left(&r2) != 0)
		abort();	/* our own encoding does not decode */
	if (kq_msg_encode(key, is_response, ver, &w2, m2) != 0)
		abort();
	if (w1.len != w2.len || (w1.len > 0 && memcmp(w1.buf, w2.buf, w1.len) != 0))
		abort();	/* encode(decode(x)) is not a fixed point */
	return 1;
}

#endif
