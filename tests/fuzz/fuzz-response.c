/*
 * fuzz-response.c - libFuzzer target for the response decoders, which
 * the CLI tools and the client library run on bytes from a broker they do
 * not control.  Input: INT16 API key, INT16 version, then one response
 * frame body (size prefix stripped): ResponseHeader v0 and the message.
 * A body that decodes must survive encode -> decode -> encode byte for
 * byte, and the second decode must consume exactly what was encoded.
 */
#include "roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kq_ResponseHeader h;
	struct kq_rd r;
	int16_t key, ver;

	if (size < 4)
		return 0;
	if (m1 == NULL)
		alloc_structs(true);
	key = (int16_t)kq_be16(data);
	ver = (int16_t)kq_be16(data + 2);
	if (kq_msg_size(key, true) == 0)
		return 0;
	kq_arena_reset(&arena);
	kq_rd_init(&r, data + 4, size - 4);
	if (kq_ResponseHeader_decode(&r, 0, &arena, &h) != 0)
		return 0;
	roundtrip(true, key, ver, &r);
	return 0;
}
