/*
 * fuzz-request.c - libFuzzer target: one request frame body (size prefix
 * already stripped).  Decodes RequestHeader v1, then the body for whatever
 * API key and version the header names.  A body that decodes must survive
 * encode -> decode -> encode byte for byte, and the second decode must
 * consume exactly what the first encode wrote.
 */
#include "roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kq_RequestHeader h;
	struct kq_rd r;

	if (m1 == NULL)
		alloc_structs(false);
	kq_arena_reset(&arena);
	kq_rd_init(&r, data, size);
	if (kq_RequestHeader_decode(&r, 1, &arena, &h) != 0)
		return 0;
	if (kq_msg_size(h.RequestApiKey, false) == 0)
		return 0;
	roundtrip(false, h.RequestApiKey, h.RequestApiVersion, &r);
	return 0;
}
