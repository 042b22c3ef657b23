/*
 * test-produce.c - kq-produce's key partitioner must match the Java
 * client's Utils.murmur2 bit for bit, or keyed records would land on other
 * partitions than a Java producer's.  Expected values are Kafka's own
 * UtilsTest vectors; they were checked against an independent Python
 * reimplementation and kafka-python's kafka.partitioner.default.murmur2.
 */
#include "../../cmd/kq-produce/murmur2.h"
#include "t.h"

static int32_t
j(const char *s)
{
	return (int32_t)kq_murmur2(s, strlen(s));
}

static void
test_java_vectors(void)
{
	T_EQ(j("21"), -973932308);
	T_EQ(j("foobar"), -790332482);
	T_EQ(j("a-little-bit-long-string"), -985981536);
	T_EQ(j("a-little-bit-longer-string"), -1486304829);
	T_EQ(j("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
	T_EQ(j("abc"), 479470107);
	T_EQ(j(""), 275646681);
}

/*
 * Each tail length (0..3 bytes after the last full word) takes its own
 * path; bytes >= 0x80 must be taken unsigned (Java's & 0xff).  Values from
 * the Python reimplementation.
 */
static void
test_tails(void)
{
	T_EQ(j("a"), -1563381124);
	T_EQ(j("ab"), 316155434);
	T_EQ(j("abcd"), -1323649548);
	T_EQ(j("abcde"), 461995741);
	T_EQ(j("\xff\xfe\x80"), -160726397);
}

static void
test_partition(void)
{
	/* (murmur2 & 0x7fffffff) % n, as in the Java BuiltInPartitioner */
	T_EQ(kq_key_partition("21", 2, 3), 0);
	T_EQ(kq_key_partition("foobar", 6, 10), 6);
	T_EQ(kq_key_partition("a-little-bit-long-string", 24, 10), 2);
	T_EQ(kq_key_partition("a-little-bit-longer-string", 26, 10), 9);
	T_EQ(kq_key_partition("abc", 3, 10), 7);
	T_EQ(kq_key_partition("", 0, 10), 1);
	T_EQ(kq_key_partition("anything", 8, 1), 0);
}

int
main(void)
{
	T_RUN(test_java_vectors);
	T_RUN(test_tails);
	T_RUN(test_partition);
	return t_done();
}
