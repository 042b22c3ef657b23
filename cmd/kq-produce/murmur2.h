/*
 * murmur2.h - the Java Kafka client's key hash (Utils.murmur2) and its
 * default partition choice for keyed records, so kq-produce puts a key
 * where a Java producer would.  Header-only so the unit test can include it.
 */
#ifndef KQ_PRODUCE_MURMUR2_H
#define KQ_PRODUCE_MURMUR2_H

#include <stddef.h>
#include <stdint.h>

/*
 * Java computes in signed 32-bit ints with >>> for the shifts; unsigned
 * 32-bit arithmetic gives the same bits.  The tail bytes are mixed in the
 * order 3, 2, 1 exactly as Java's fall-through switch does.
 */
static inline uint32_t
kq_murmur2(const void *data, size_t len)
{
	const unsigned char *p = data;
	const uint32_t m = 0x5bd1e995;
	uint32_t h = 0x9747b28cu ^ (uint32_t)len;
	size_t i, n4 = len / 4;

	for (i = 0; i < n4; i++) {
		const unsigned char *q = p + i * 4;
		uint32_t k = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
			     (uint32_t)q[3] << 24;

		k *= m;
		k ^= k >> 24;
		k *= m;
		h *= m;
		h ^= k;
	}
	switch (len % 4) {
	case 3:
		h ^= (uint32_t)p[(len & ~(size_t)3) + 2] << 16;
		/* fall through */
	case 2:
		h ^= (uint32_t)p[(len & ~(size_t)3) + 1] << 8;
		/* fall through */
	case 1:
		h ^= (uint32_t)p[len & ~(size_t)3];
		h *= m;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return h;
}

/* Java's BuiltInPartitioner.partitionForKey: toPositive(murmur2) % n. */
static inline int32_t
kq_key_partition(const void *key, size_t len, int32_t nparts)
{
	return (int32_t)((kq_murmur2(key, len) & 0x7fffffffu) % (uint32_t)nparts);
}

#endif
