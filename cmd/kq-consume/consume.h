/*
 * consume.h - what kq-consume's files share: options, the per-partition
 * read state, the output buffer and the run.  main.c reads partitions;
 * group.c adds consumer-group membership (-g) on top.
 */
#ifndef KQ_CONSUME_H
#define KQ_CONSUME_H

#include <signal.h>

#include "../../common/base/base.h"
#include "../../common/cli/cli.h"
#include "../../common/cli/format.h"
#include "../../common/net/client.h"
#include "../../common/net/member.h"
#include "../../common/proto/proto.h"

#define PROG "kq-consume"

#define FETCH_MAX_WAIT_MS 500
#define FETCH_MAX_BYTES (50 * 1024 * 1024)
#define PART_MAX_BYTES_MIN (1024 * 1024)
#define PART_MAX_BYTES_CAP (64 * 1024 * 1024)
/* Flush early once this much is pending, so memory stays bounded. */
#define OUT_HIGH_WATER (1024 * 1024)
#define MAX_DECOMPRESSED (256 * 1024 * 1024)

enum fmt { FMT_LINES, FMT_JSON, FMT_BINARY, FMT_TEMPLATE };

struct hmatch {
	const char *name, *value;	/* value NULL: header present with a null value */
	size_t name_len, value_len;
};

/* Consumer-group settings (-g, --no-commit, --commit-interval, -X). */
struct group_opts {
	const char *group;		/* NULL: no group */
	bool no_commit;
	int64_t commit_interval_ms;
	const char *client_id;
	const char *instance_id;
	int32_t session_timeout_ms;
	int32_t heartbeat_interval_ms;
	int32_t rebalance_timeout_ms;
	const char *strategies[2];	/* partition.assignment.strategy */
	int nstrategies;
};

struct opts {
	const char *brokers;
	char **topics;
	int ntopics;
	int32_t *parts;
	int nparts;
	const char *offset_arg;
	struct kq_offspec spec;
	bool exit_at_end;
	int64_t count;			/* -1: all */
	int64_t idle_timeout_ms;	/* -1: none */
	int64_t timeout_ms;
	enum fmt format;
	struct kq_tmpl *tmpl;
	struct kq_fmt_opts fo;
	struct hmatch *match;
	int nmatch;
	bool unbuffered;
	int verbose;
	bool quiet;
	int progress;			/* -1 off, 0 auto, 1 forced (--progress) */
	const char *brokers_flag;
	struct group_opts g;
};

struct part {
	int topic;			/* index into opts.topics */
	int32_t id;
	int32_t leader;
	int64_t next;			/* next offset to deliver */
	int64_t end;			/* stop before this offset; -1: follow */
	int64_t end_ts;			/* stop at a record this new (END @TIME) */
	int32_t max_bytes;		/* PartitionMaxBytes, grows for huge batches */
	int64_t hw;			/* last high watermark seen; -1 unknown */
	bool done;
	/* with -g */
	bool assigned;			/* ours in this generation (always, without -g) */
	int64_t start;			/* where -o starts it when nothing is committed */
	int64_t flushed;		/* next offset after what reached stdout */
	int64_t committed;		/* last offset committed (or fetched); -1 none */
};

enum { OUT_OK = 0, OUT_EPIPE = 1, OUT_ERROR = 2 };

struct out {
	struct kq_buf buf;
	int fd;
	bool unbuffered;
	int state;
	int err;
	int64_t last_flush_ms;
	uint64_t total;			/* bytes written so far */
	/* Called after everything pending was written (group: what may be
	 * committed now). */
	void (*flushed)(void *arg);
	/* If set, called every 100 ms while the reader leaves no room (group:
	 * heartbeats); writes then never block. */
	void (*wait)(void *arg);
	bool regular;			/* fd never blocks (file, /dev/null) */
	void *arg;
};

struct run {
	struct opts *op;
	struct out out;
	struct part *parts;
	int nparts;
	int64_t written;		/* records written (after --header-match) */
	int64_t last_record_ms;		/* monotonic, for --idle-timeout */
	struct kq_batch_iter it;
	struct kq_fmt_src *srcs;	/* per topic */
	bool count_reached;
	struct kq_client *cl;
	bool idle_expired;		/* --idle-timeout ran out */
	bool finished;			/* every partition reached its end */
	struct kq_member *member;	/* -g */
	int64_t progress_ms;		/* last progress line; 0 = display off */
	int64_t last_commit_ms;
};

extern volatile sig_atomic_t got_signal;
/* Set once the clean shutdown starts (the final commit and leave). */
extern bool shutting_down;
/* A signal ends blocking waits and retries, except during the shutdown. */
bool stop_requested(void *arg);

/* main.c */
int out_flush(struct out *o);
const char *topic_name(const struct run *rn, const struct part *pt);
/* Read until the assignment is done, the group rebalances, or a stop. */
void consume_loop(struct run *rn);
bool active(const struct part *pt);
/* Flush stdout; the exit status for how the run ended. */
int finish(struct run *rn);

/* group.c */
/* -X KEY=VAL (or "list"); exits 2 on an unknown key or a bad value. */
void group_property(struct opts *op, const char *kv);
/* Usage checks once all options are in. */
void group_check_opts(const struct opts *op);
/* The whole -g run: join, consume, commit, rejoin, leave.  Returns the exit status. */
int group_run(struct run *rn);
/* Heartbeats (idle: nothing in flight on the client's connections), and
 * with idle also the periodic commit. */
void group_poll(struct run *rn, bool idle);
/* Stop reading this generation: a rebalance is due. */
bool group_rejoin_due(const struct run *rn);

#endif
