/* test-base.c - buffers, arena, CRC32C, topic names, error table. */
#include <stdlib.h>

#include "../../common/base/base.h"
#include "t.h"

static void
test_buf(void)
{
	struct kq_buf b = { 0 };
	int i;

	for (i = 0; i < 1000; i++)
		kq_buf_addf(&b, "%d,", i);
	T_OK(b.len > 3000, "len %zu", b.len);
	T_MEMEQ(b.buf, "0,1,2,", 6);
	kq_buf_consume(&b, 2);
	T_MEMEQ(kq_buf_cstr(&b), "1,2,", 4);
	kq_buf_reset(&b);
	T_EQ(b.len, 0);
	kq_buf_adds(&b, "x");
	kq_buf_addc(&b, 'y');
	T_STREQ(kq_buf_cstr(&b), "xy");
	kq_buf_free(&b);
	T_OK(b.buf == NULL, "freed");
}

static void
test_arena(void)
{
	struct kq_arena a = { 0 };
	int i;

	for (i = 0; i < 5000; i++) {
		unsigned char *p = kq_arena_alloc(&a, (size_t)(i % 97) + 1);

		T_OK(((uintptr_t)p % _Alignof(max_align_t)) == 0, "aligned");
		T_EQ(p[0], 0);
		p[0] = 0xff;
	}
	T_OK(kq_arena_alloc(&a, 1 << 20) != NULL, "big chunk");
	kq_arena_reset(&a);
	T_EQ(a.total, 0);
	T_STREQ(kq_arena_strndup(&a, "hello", 3), "hel");
	kq_arena_free(&a);
}

static void
test_crc32c(void)
{
	unsigned char big[4099];
	uint32_t whole, parts;
	size_t i, cut;

	T_EQ(kq_crc32c(0, "123456789", 9), 0xE3069283u);
	T_EQ(kq_crc32c(0, "", 0), 0);
	for (i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 131 + 7);
	whole = kq_crc32c(0, big, sizeof(big));
	/* every split point and misalignment must give the same answer */
	for (cut = 0; cut < 40; cut++) {
		parts = kq_crc32c(kq_crc32c(0, big, cut), big + cut, sizeof(big) - cut);
		T_EQ(parts, whole);
	}
	/* a bit-at-a-time reference, independent of both fast paths */
	{
		uint32_t c = 0xffffffffu;
		int k;

		for (i = 0; i < sizeof(big); i++) {
			c ^= big[i];
			for (k = 0; k < 8; k++)
				c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		}
		T_EQ(~c, whole);
	}
}

static void
test_topic_names(void)
{
	char longname[300];

	memset(longname, 'a', sizeof(longname));
	T_OK(kq_topic_valid("logs", 4), "plain");
	T_OK(kq_topic_valid("a.b_c-D9", 8), "all classes");
	T_OK(kq_topic_valid(longname, 249), "249 chars");
	T_OK(!kq_topic_valid(longname, 250), "250 chars");
	T_OK(!kq_topic_valid("", 0), "empty");
	T_OK(!kq_topic_valid(".", 1), "dot");
	T_OK(!kq_topic_valid("..", 2), "dotdot");
	T_OK(kq_topic_valid("...", 3), "three dots are legal");
	T_OK(!kq_topic_valid("../x", 4), "traversal");
	T_OK(!kq_topic_valid("a/b", 3), "slash");
	T_OK(!kq_topic_valid("a b", 3), "space");
	T_OK(!kq_topic_valid("a\0b", 3), "nul");
	T_OK(!kq_topic_valid("caf\xc3\xa9", 5), "non-ascii");
}

static void
test_errors(void)
{
	T_STREQ(kq_err_name(KQ_E_OFFSET_OUT_OF_RANGE), "OFFSET_OUT_OF_RANGE");
	T_STREQ(kq_err_name(KQ_E_INVALID_RECORD), "INVALID_RECORD");
	T_STREQ(kq_err_name(KQ_E_UNKNOWN_SERVER_ERROR), "UNKNOWN_SERVER_ERROR");
	T_STREQ(kq_err_name(12345), "UNKNOWN_ERROR_CODE");
	T_OK(kq_err_retriable(KQ_E_NOT_LEADER_OR_FOLLOWER), "retriable");
	T_OK(!kq_err_retriable(KQ_E_MESSAGE_TOO_LARGE), "not retriable");
}

static void
test_endian(void)
{
	unsigned char b[8];

	kq_put64(b, 0x0102030405060708ull);
	T_EQ(b[0], 1);
	T_EQ(b[7], 8);
	T_EQ(kq_be64(b), 0x0102030405060708ll);
	kq_put32(b, 0xfffffffeu);
	T_EQ((int32_t)kq_be32(b), -2);
	kq_put16(b, 0xabcd);
	T_EQ(kq_be16(b), 0xabcd);
}

int
main(void)
{
	T_RUN(test_buf);
	T_RUN(test_arena);
	T_RUN(test_crc32c);
	T_RUN(test_topic_names);
	T_RUN(test_errors);
	T_RUN(test_endian);
	return t_done();
}
