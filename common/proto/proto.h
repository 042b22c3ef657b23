/*
 * proto.h - the Kafka wire codec: a bounds-checked reader, a writer, and the
 * message structs and codecs generated from the schemas (msgs.h), plus record
 * batches (batch.h).  proto knows only base: bytes in, structs out; no
 * sockets, no files.
 *
 * Only non-flexible versions are implemented.  kq never advertises a
 * flexible version; the ApiVersions v3 probe is answered without parsing.
 */
#ifndef KQ_PROTO_H
#define KQ_PROTO_H

#include "../base/base.h"

/* Views into a frame.  len -1 = null.  p is not NUL-terminated. */
struct kq_str {
	const char *p;
	int32_t len;
};
struct kq_bytes {
	const unsigned char *p;
	int32_t len;
};
struct kq_uuid {
	unsigned char b[16];
};

#define KQ_STR_NULL ((struct kq_str){ NULL, -1 })
#define KQ_BYTES_NULL ((struct kq_bytes){ NULL, -1 })
/* View of a C string; NULL gives a null string. */
struct kq_str kq_str_c(const char *s);
struct kq_bytes kq_bytes_of(const void *p, size_t n);
bool kq_str_eq(struct kq_str s, const char *c);		/* null never equals */
bool kq_str_eqs(struct kq_str a, struct kq_str b);
/* malloc'd NUL-terminated copy; NULL for a null string. */
char *kq_str_dup(struct kq_str s);

/*
 * Reader with a sticky error: on underflow or a bad length it records
 * KQ_ERR_TRUNCATED / KQ_ERR_CORRUPT (first error wins) and every later read
 * returns 0 or empty.  Decoders read straight through and test r->err once.
 */
struct kq_rd {
	const unsigned char *p, *end;
	int err;
};

void kq_rd_init(struct kq_rd *r, const void *p, size_t n);
static inline size_t kq_rd_left(const struct kq_rd *r) { return (size_t)(r->end - r->p); }
int8_t kq_rd_i8(struct kq_rd *r);
int16_t kq_rd_i16(struct kq_rd *r);
int32_t kq_rd_i32(struct kq_rd *r);
int64_t kq_rd_i64(struct kq_rd *r);
uint16_t kq_rd_u16(struct kq_rd *r);
uint32_t kq_rd_u32(struct kq_rd *r);
double kq_rd_f64(struct kq_rd *r);
bool kq_rd_bool(struct kq_rd *r);
struct kq_uuid kq_rd_uuid(struct kq_rd *r);
/* INT16-length string; -1 is null, an error unless nullable. */
struct kq_str kq_rd_str(struct kq_rd *r, bool nullable);
/* INT32-length bytes; -1 is null, an error unless nullable. */
struct kq_bytes kq_rd_bytes(struct kq_rd *r, bool nullable);
/*
 * INT32 array count.  Returns -1 for null (an error unless nullable), else
 * the count, but only if count * min_elem bytes are still left: a hostile
 * count is refused before anything is allocated.
 */
int32_t kq_rd_array(struct kq_rd *r, size_t min_elem, bool nullable);
int32_t kq_rd_varint(struct kq_rd *r);		/* zig-zag, at most 5 bytes */
int64_t kq_rd_varlong(struct kq_rd *r);		/* zig-zag, at most 10 bytes */
uint32_t kq_rd_uvarint(struct kq_rd *r);	/* unsigned, at most 5 bytes */
const unsigned char *kq_rd_raw(struct kq_rd *r, size_t n);	/* NULL on underflow */
void kq_rd_skip(struct kq_rd *r, size_t n);
void kq_rd_fail(struct kq_rd *r, int err);	/* record err if none yet */

/* Writer: big-endian encoders appending to a kq_buf. */
void kq_wr_i8(struct kq_buf *w, int8_t v);
void kq_wr_i16(struct kq_buf *w, int16_t v);
void kq_wr_i32(struct kq_buf *w, int32_t v);
void kq_wr_i64(struct kq_buf *w, int64_t v);
void kq_wr_u16(struct kq_buf *w, uint16_t v);
void kq_wr_u32(struct kq_buf *w, uint32_t v);
void kq_wr_f64(struct kq_buf *w, double v);
void kq_wr_bool(struct kq_buf *w, bool v);
void kq_wr_uuid(struct kq_buf *w, struct kq_uuid u);
void kq_wr_str(struct kq_buf *w, struct kq_str s);	/* len -1 writes null */
void kq_wr_cstr(struct kq_buf *w, const char *s);	/* NULL writes null */
void kq_wr_bytes(struct kq_buf *w, struct kq_bytes b);
void kq_wr_raw(struct kq_buf *w, const void *p, size_t n);
void kq_wr_varint(struct kq_buf *w, int32_t v);
void kq_wr_varlong(struct kq_buf *w, int64_t v);
void kq_wr_uvarint(struct kq_buf *w, uint32_t v);
/* Reserve 4 bytes, return their position; patch them later. */
size_t kq_wr_hole32(struct kq_buf *w);
void kq_wr_patch32(struct kq_buf *w, size_t pos, uint32_t v);

/* API keys kq knows. */
enum kq_api_key {
	KQ_API_PRODUCE = 0,
	KQ_API_FETCH = 1,
	KQ_API_LIST_OFFSETS = 2,
	KQ_API_METADATA = 3,
	KQ_API_OFFSET_COMMIT = 8,
	KQ_API_OFFSET_FETCH = 9,
	KQ_API_FIND_COORDINATOR = 10,
	KQ_API_JOIN_GROUP = 11,
	KQ_API_HEARTBEAT = 12,
	KQ_API_LEAVE_GROUP = 13,
	KQ_API_SYNC_GROUP = 14,
	KQ_API_DESCRIBE_GROUPS = 15,
	KQ_API_LIST_GROUPS = 16,
	KQ_API_SASL_HANDSHAKE = 17,
	KQ_API_API_VERSIONS = 18,
	KQ_API_CREATE_TOPICS = 19,
	KQ_API_DELETE_TOPICS = 20,
	KQ_API_DELETE_RECORDS = 21,
	KQ_API_INIT_PRODUCER_ID = 22,
	KQ_API_OFFSET_FOR_LEADER_EPOCH = 23,
	KQ_API_DESCRIBE_CONFIGS = 32,
	KQ_API_ALTER_CONFIGS = 33,
	KQ_API_CREATE_PARTITIONS = 37,
	KQ_API_DELETE_GROUPS = 42,
	KQ_API_INCREMENTAL_ALTER_CONFIGS = 44,
	KQ_API_OFFSET_DELETE = 47,
	KQ_API_MAX = 48
};

/* Frame limits. */
#define KQ_FRAME_MAX_DEFAULT (100 * 1024 * 1024)	/* socket.request.max.bytes */

#include "msgs.h"
#include "batch.h"
#include "msgset.h"

#endif
