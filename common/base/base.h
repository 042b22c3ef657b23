/*
 * base.h - memory, growable buffers, arenas, errors, clocks, CRC32C and the
 * broker's logger.  Everything else in kq depends on this; it depends on libc.
 *
 * Thread rules: all functions are safe to call from any thread except the
 * kq_log_* configuration calls, which main() makes once before threads start.
 */
#ifndef KQ_BASE_H
#define KQ_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KQ_VERSION "0.1.0"

#define KQ_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define KQ_MIN(a, b) ((a) < (b) ? (a) : (b))
#define KQ_MAX(a, b) ((a) > (b) ? (a) : (b))

#if defined(__GNUC__)
#define KQ_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define KQ_NORETURN __attribute__((noreturn))
#else
#define KQ_PRINTF(f, a)
#define KQ_NORETURN
#endif

/* Assertions stay on in release builds. */
#define KQ_ASSERT(e) ((e) ? (void)0 : kq_assert_fail(#e, __FILE__, __LINE__))
KQ_NORETURN void kq_assert_fail(const char *expr, const char *file, int line);

/* Allocation: out of memory aborts here and nowhere else. */
void *kq_xmalloc(size_t n);
void *kq_xcalloc(size_t n, size_t size);
void *kq_xrealloc(void *p, size_t n);
char *kq_xstrdup(const char *s);
char *kq_xstrndup(const char *s, size_t n);
KQ_PRINTF(1, 2) char *kq_xasprintf(const char *fmt, ...);

/*
 * Growable byte buffer.  A zeroed struct is an empty buffer.  buf is not
 * NUL-terminated unless kq_buf_cstr() is called.
 */
struct kq_buf {
	unsigned char *buf;
	size_t len, cap;
};

void kq_buf_grow(struct kq_buf *b, size_t extra);	/* ensure cap >= len+extra */
void kq_buf_add(struct kq_buf *b, const void *p, size_t n);
void kq_buf_addc(struct kq_buf *b, int c);
void kq_buf_adds(struct kq_buf *b, const char *s);
KQ_PRINTF(2, 3) void kq_buf_addf(struct kq_buf *b, const char *fmt, ...);
void kq_buf_vaddf(struct kq_buf *b, const char *fmt, va_list ap);
const char *kq_buf_cstr(struct kq_buf *b);	/* NUL after len, not counted */
void kq_buf_reset(struct kq_buf *b);		/* len = 0, keeps memory */
void kq_buf_free(struct kq_buf *b);
/* Remove the first n bytes. */
void kq_buf_consume(struct kq_buf *b, size_t n);

/*
 * Arena: bump allocator for decoded messages.  Everything allocated lives
 * until kq_arena_reset() or kq_arena_free().  Memory is zeroed.
 */
struct kq_arena_chunk;
struct kq_arena {
	struct kq_arena_chunk *head;
	size_t total;
};
void *kq_arena_alloc(struct kq_arena *a, size_t n);
char *kq_arena_strndup(struct kq_arena *a, const char *s, size_t n);
void kq_arena_reset(struct kq_arena *a);
void kq_arena_free(struct kq_arena *a);

/*
 * Errors.  0 is success.  Positive values are Kafka ErrorCodes exactly as on
 * the wire (KQ_E_*); KQ_E_UNKNOWN_SERVER_ERROR is Kafka's -1.  Local failures
 * are KQ_ERR_* values at or below -100.
 */
enum {
	KQ_E_UNKNOWN_SERVER_ERROR = -1,
	KQ_E_NONE = 0,
	KQ_E_OFFSET_OUT_OF_RANGE = 1,
	KQ_E_CORRUPT_MESSAGE = 2,
	KQ_E_UNKNOWN_TOPIC_OR_PARTITION = 3,
	KQ_E_INVALID_FETCH_SIZE = 4,
	KQ_E_LEADER_NOT_AVAILABLE = 5,
	KQ_E_NOT_LEADER_OR_FOLLOWER = 6,
	KQ_E_REQUEST_TIMED_OUT = 7,
	KQ_E_BROKER_NOT_AVAILABLE = 8,
	KQ_E_REPLICA_NOT_AVAILABLE = 9,
	KQ_E_MESSAGE_TOO_LARGE = 10,
	KQ_E_OFFSET_METADATA_TOO_LARGE = 12,
	KQ_E_NETWORK_EXCEPTION = 13,
	KQ_E_COORDINATOR_LOAD_IN_PROGRESS = 14,
	KQ_E_COORDINATOR_NOT_AVAILABLE = 15,
	KQ_E_NOT_COORDINATOR = 16,
	KQ_E_INVALID_TOPIC_EXCEPTION = 17,
	KQ_E_RECORD_LIST_TOO_LARGE = 18,
	KQ_E_NOT_ENOUGH_REPLICAS = 19,
	KQ_E_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
	KQ_E_INVALID_REQUIRED_ACKS = 21,
	KQ_E_ILLEGAL_GENERATION = 22,
	KQ_E_INCONSISTENT_GROUP_PROTOCOL = 23,
	KQ_E_INVALID_GROUP_ID = 24,
	KQ_E_UNKNOWN_MEMBER_ID = 25,
	KQ_E_INVALID_SESSION_TIMEOUT = 26,
	KQ_E_REBALANCE_IN_PROGRESS = 27,
	KQ_E_INVALID_COMMIT_OFFSET_SIZE = 28,
	KQ_E_TOPIC_AUTHORIZATION_FAILED = 29,
	KQ_E_GROUP_AUTHORIZATION_FAILED = 30,
	KQ_E_CLUSTER_AUTHORIZATION_FAILED = 31,
	KQ_E_INVALID_TIMESTAMP = 32,
	KQ_E_UNSUPPORTED_SASL_MECHANISM = 33,
	KQ_E_ILLEGAL_SASL_STATE = 34,
	KQ_E_UNSUPPORTED_VERSION = 35,
	KQ_E_TOPIC_ALREADY_EXISTS = 36,
	KQ_E_INVALID_PARTITIONS = 37,
	KQ_E_INVALID_REPLICATION_FACTOR = 38,
	KQ_E_INVALID_REPLICA_ASSIGNMENT = 39,
	KQ_E_INVALID_CONFIG = 40,
	KQ_E_NOT_CONTROLLER = 41,
	KQ_E_INVALID_REQUEST = 42,
	KQ_E_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43,
	KQ_E_POLICY_VIOLATION = 44,
	KQ_E_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
	KQ_E_DUPLICATE_SEQUENCE_NUMBER = 46,
	KQ_E_INVALID_PRODUCER_EPOCH = 47,
	KQ_E_KAFKA_STORAGE_ERROR = 56,
	KQ_E_SASL_AUTHENTICATION_FAILED = 58,
	KQ_E_UNKNOWN_PRODUCER_ID = 59,
	KQ_E_NON_EMPTY_GROUP = 68,
	KQ_E_GROUP_ID_NOT_FOUND = 69,
	KQ_E_FETCH_SESSION_ID_NOT_FOUND = 70,
	KQ_E_TOPIC_DELETION_DISABLED = 73,
	KQ_E_FENCED_LEADER_EPOCH = 74,
	KQ_E_UNKNOWN_LEADER_EPOCH = 75,
	KQ_E_UNSUPPORTED_COMPRESSION_TYPE = 76,
	KQ_E_OFFSET_NOT_AVAILABLE = 78,
	KQ_E_MEMBER_ID_REQUIRED = 79,
	KQ_E_GROUP_MAX_SIZE_REACHED = 81,
	KQ_E_FENCED_INSTANCE_ID = 82,
	KQ_E_GROUP_SUBSCRIBED_TO_TOPIC = 86,
	KQ_E_INVALID_RECORD = 87,

	KQ_ERR_TRUNCATED = -100,	/* input ended early */
	KQ_ERR_CORRUPT = -101,		/* input is malformed */
	KQ_ERR_TOO_LARGE = -102,	/* a size exceeds a configured cap */
	KQ_ERR_IO = -103,		/* system call failed; errno kept */
	KQ_ERR_TIMEOUT = -104,
	KQ_ERR_UNSUPPORTED = -105,	/* version or feature not implemented */
	KQ_ERR_NOT_FOUND = -106,
	KQ_ERR_EXISTS = -107,
	KQ_ERR_INVALID = -108,		/* bad argument or value */
	KQ_ERR_CLOSED = -109,		/* peer closed the connection */
	KQ_ERR_AGAIN = -110,		/* try again later (non-blocking) */
};

/* Name of an error ("OFFSET_OUT_OF_RANGE", "KQ_ERR_IO"); never NULL. */
const char *kq_err_name(int err);
/* Human text ("offset out of range"); never NULL. */
const char *kq_err_str(int err);
/* Java client's retriable classification for Kafka codes. */
bool kq_err_retriable(int err);

/* Clocks. */
int64_t kq_now_ms(void);	/* wall clock, Unix ms */
int64_t kq_mono_ms(void);	/* monotonic ms */
int64_t kq_mono_us(void);	/* monotonic µs */
int64_t kq_coarse_ms(void);	/* monotonic ms, a few ms coarse, no system call */

/* CRC-32C (Castagnoli); crc is 0 for a fresh computation. SSE4.2 when present. */
uint32_t kq_crc32c(uint32_t crc, const void *p, size_t n);

/*
 * Broker logger: stderr, one line per message, timestamped unless stderr is
 * a TTY.  verbosity 0 = info, 1 = debug.  kq_log_warn appends strerror(errno).
 */
void kq_log_init(const char *progname, int verbosity, bool json);
KQ_PRINTF(1, 2) void kq_log_info(const char *fmt, ...);
KQ_PRINTF(1, 2) void kq_log_debug(const char *fmt, ...);
KQ_PRINTF(1, 2) void kq_log_warn(const char *fmt, ...);
KQ_PRINTF(1, 2) void kq_log_warnx(const char *fmt, ...);
KQ_PRINTF(1, 2) KQ_NORETURN void kq_fatal(const char *fmt, ...);
KQ_PRINTF(1, 2) KQ_NORETURN void kq_fatalx(const char *fmt, ...);
extern int kq_log_verbosity;

/* Topic names: Kafka's rules ([A-Za-z0-9._-], 1..249, not "." or ".."). */
bool kq_topic_valid(const char *name, size_t len);

/* Big-endian loads and stores for fixed layouts (batch headers, index files). */
static inline uint16_t kq_be16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t kq_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t kq_be64(const unsigned char *p)
{
	return (uint64_t)kq_be32(p) << 32 | kq_be32(p + 4);
}
static inline void kq_put16(unsigned char *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static inline void kq_put32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = (v >> 16) & 0xff; p[2] = (v >> 8) & 0xff; p[3] = v & 0xff;
}
static inline void kq_put64(unsigned char *p, uint64_t v)
{
	kq_put32(p, (uint32_t)(v >> 32));
	kq_put32(p + 4, (uint32_t)v);
}

#endif
