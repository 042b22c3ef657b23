/*
 * produce.h - kq-produce's pieces: options (main.c), input readers that turn
 * lines, JSON, binary frames or whole files into records (input.c), and the
 * sender that batches records per partition and keeps requests in flight to
 * the leaders (send.c).
 *
 * One thread.  The main loop polls the input and the broker connections;
 * input is read only while fewer than --buffer bytes wait for their
 * acknowledgement, so a slow broker slows the writer of the pipe, never
 * kq-produce's memory.
 */
#ifndef KQ_PRODUCE_H
#define KQ_PRODUCE_H

#include <signal.h>
#include <stdio.h>

#include "../../common/base/base.h"
#include "../../common/cli/cli.h"
#include "../../common/cli/format.h"
#include "../../common/net/client.h"
#include "../../common/proto/msgs.h"
#include "../../common/proto/proto.h"

#define PROG "kq-produce"

enum in_format { IN_LINES, IN_JSON, IN_BINARY, IN_RAW };
enum { ON_ERROR_FAIL, ON_ERROR_SKIP };

struct opts {
	const char *brokers;
	const char *topic;
	int32_t partition;		/* -1: by key / sticky */
	enum in_format format;
	struct kq_buf delim;		/* lines: record separator */
	struct kq_buf key_delim;	/* -K; len 0 = off */
	bool has_key_delim;
	bool has_key;			/* -k */
	struct kq_buf key;
	struct kq_record_header *headers;	/* -H */
	int nheaders;
	bool empty_is_null, skip_empty;
	int64_t max_record_bytes;	/* 0: from the topic */
	int on_error;
	const char *rejects_path;
	int16_t acks;
	int codec;
	int64_t linger_ms;
	int64_t buffer_bytes;
	int64_t batch_bytes;		/* batch.size */
	int max_inflight;		/* requests per connection, batches per partition */
	int64_t count;			/* -1 = all */
	bool tee, print_offsets, create;
	bool idempotence;		/* on unless --no-idempotence */
	bool keep_partitions;		/* a JSON partition the topic lacks is bad input */
	int64_t timeout_ms;		/* give up on the cluster; 0 = never */
	int64_t request_timeout_ms;
	const char *client_id;
	int verbose;
	bool quiet;
	int progress;			/* -1 off, 0 auto, 1 forced */
	char **files;
	int nfiles;
};

extern struct opts opt;
extern volatile sig_atomic_t got_signal;

void opts_parse(int argc, char **argv);

/* ---- input.c ---- */

/* A record read from the input; views valid until the next input call. */
struct in_rec {
	struct kq_bytes key, value;
	const struct kq_record_header *headers;
	int nheaders;
	int32_t partition;		/* -1 = choose */
	int64_t timestamp;		/* -1 = now */
	const unsigned char *raw;	/* the input bytes, for -T */
	size_t raw_len;
};

struct input;
/*
 * Open the next input in opt.files (or stdin); NULL when none is left.
 * Files are read in order.
 */
struct input *input_next(struct input *prev);
int input_fd(const struct input *in);
const char *input_name(const struct input *in);
/*
 * Read what is available without blocking beyond one read(2) and hand each
 * complete record to fn.  fn returns false to stop handing out records
 * (count reached).  Returns 1 while more input may come, 0 at end of this
 * input, -1 on a read error (printed).  Bad input under --on-error fail
 * exits through input_fail_pending() once what was read before is sent.
 */
int input_read(struct input *in, bool (*fn)(void *arg, const struct in_rec *r), void *arg);
void input_close(struct input *in);
/* Set when bad input under --on-error fail stopped reading: the exit message. */
extern char *input_fatal;
extern uint64_t input_skipped;
/* Set by main from the sender: the record size limit; the sender. */
extern int64_t input_max_record;
extern struct sender *input_sender;
/* JSON records whose partition the topic does not have, placed as if unnamed. */
extern uint64_t input_replaced;

/* --rejects: one JSON line per record that was skipped or not delivered. */
void rejects_write(const char *error, int32_t partition, struct kq_bytes key,
		   struct kq_bytes value, int32_t nhdr, struct kq_bytes hdrs);
void rejects_close(void);

/* ---- send.c ---- */

struct sender;
/* Connect, look the topic up (creating it with --create), size limits. */
struct sender *sender_new(void);
/* Queue one record (copied); partition chosen here unless r->partition >= 0. */
void sender_add(struct sender *s, const struct in_rec *r, int64_t now_ms);
/* Bytes waiting for acknowledgement (open, queued and in-flight batches). */
size_t sender_buffered(const struct sender *s);
/* Records acknowledged, failed, and the bytes acknowledged, so far. */
void sender_stats(const struct sender *s, uint64_t *acked, uint64_t *failed, uint64_t *bytes);
/* Records not yet acknowledged or failed. */
uint64_t sender_pending(const struct sender *s);
/*
 * Does the topic have partition id (a JSON "partition")?  When this run
 * created the topic, it is first grown to have it (up to 4096 partitions);
 * that blocks until the metadata shows the new partitions.
 */
bool sender_has_partition(struct sender *s, int32_t id);
/* The effective record size limit. */
int64_t sender_max_record(const struct sender *s);
/*
 * One round: poll the connections (and in_fd for reading if >= 0, then
 * *in_ready is set) for at most timeout_ms, handle responses, send what is
 * due.  draining: close open batches at once (end of input).
 */
void sender_step(struct sender *s, int in_fd, bool *in_ready, int64_t timeout_ms,
		 bool draining);
/* Print the final summary and return the exit status. */
int sender_finish(struct sender *s, int64_t started_ms);
void sender_free(struct sender *s);

#endif
