/*
 * kq-consume - read records from topics to stdout (CLI.md sections 3-5, 7).
 *
 * Shape: parse options; fetch metadata; resolve the offset spec of every
 * partition with ListOffsets; then loop sending one long-poll Fetch per
 * leader covering all of its partitions, decoding whole batches straight
 * into one big output buffer that is written with write(2) after each
 * response (and when it grows large).  No per-record allocation or syscall.
 * With -g, group.c joins the group and hands consume_loop() the partitions
 * of each generation.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consume.h"

volatile sig_atomic_t got_signal;
bool shutting_down;

bool
stop_requested(void *arg)
{
	return got_signal && !shutting_down;
}

/* ---- output ---- */

static void
out_init(struct out *o, int fd, bool unbuffered)
{
	memset(o, 0, sizeof(*o));
	o->fd = fd;
	o->unbuffered = unbuffered;
	kq_buf_grow(&o->buf, OUT_HIGH_WATER + 64 * 1024);
	o->last_flush_ms = kq_mono_ms();
}

/*
 * How much to write next.  With a wait hook (a group member must keep
 * heartbeating), a reader that stopped reading must not hold us inside
 * write(2): wait for room in 100 ms steps, calling the hook, and then write
 * to a pipe, socket or terminal at most PIPE_BUF bytes, which POLLOUT
 * promises fit without blocking.
 */
static size_t
out_room(struct out *o, size_t want)
{
	struct pollfd pfd = { o->fd, POLLOUT, 0 };
	int r;

	if (!o->wait)
		return want;
	while ((r = poll(&pfd, 1, 100)) <= 0) {
		if (r == 0)
			o->wait(o->arg);
		else if (errno != EINTR)
			break;
	}
	return o->regular ? want : KQ_MIN(want, PIPE_BUF);
}

/*
 * Write everything pending: 0, OUT_EPIPE when the reader went away, or
 * OUT_ERROR with o->err set.  EINTR is retried: signals are looked at
 * between records, and a half-written record must not be cut.
 */
int
out_flush(struct out *o)
{
	size_t off = 0;
	ssize_t n;

	o->last_flush_ms = kq_mono_ms();
	if (o->state)
		return o->state;
	while (off < o->buf.len) {
		n = write(o->fd, o->buf.buf + off, out_room(o, o->buf.len - off));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				/* A non-blocking stdout inherited from the shell:
				 * wait for room rather than spin. */
				usleep(1000);
				continue;
			}
			o->err = errno;
			o->state = errno == EPIPE ? OUT_EPIPE : OUT_ERROR;
			o->buf.len = 0;
			return o->state;
		}
		off += (size_t)n;
	}
	o->total += o->buf.len;
	o->buf.len = 0;
	if (o->flushed)
		o->flushed(o->arg);
	return 0;
}

static int
out_record_done(struct out *o)
{
	if (o->unbuffered || o->buf.len >= OUT_HIGH_WATER)
		return out_flush(o);
	return o->state;
}

/*
 * A pipe whose reader has gone reports POLLERR on our end; noticing it
 * while idle lets `kq-consume -t quiet | head -1` end without waiting for
 * a record to write.
 */
static int
out_reader_gone(struct out *o)
{
	struct pollfd pfd = { o->fd, 0, 0 };

	if (o->state == 0 && poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLERR))
		o->state = OUT_EPIPE;
	return o->state;
}

static int
out_tick(struct out *o)
{
	if (o->buf.len && kq_mono_ms() - o->last_flush_ms >= 100)
		return out_flush(o);
	return o->state;
}

/* Every --header-match must be present with that exact value. */
static bool
headers_match(const struct opts *op, const struct kq_record *rec)
{
	struct kq_record_header h;
	struct kq_rd hr;
	int i, n;

	for (i = 0; i < op->nmatch; i++) {
		const struct hmatch *m = &op->match[i];
		bool found = false;

		if (rec->headers.len <= 0)
			return false;
		kq_rd_init(&hr, rec->headers.p, (size_t)rec->headers.len);
		for (n = 0; n < rec->header_count && kq_header_next(&hr, &h) == 1; n++) {
			if ((size_t)h.key.len != m->name_len ||
			    memcmp(h.key.p, m->name, m->name_len) != 0)
				continue;
			if (m->value ? (h.value.len >= 0 && (size_t)h.value.len == m->value_len &&
					memcmp(h.value.p, m->value, m->value_len) == 0)
				     : h.value.len < 0) {
				found = true;
				break;
			}
		}
		if (!found)
			return false;
	}
	return true;
}

/* Format one record; false when --header-match filtered it out. */
static bool
emit_record(const struct opts *op, struct out *o, const struct kq_fmt_src *src,
	    const struct kq_record *rec)
{
	if (op->nmatch && !headers_match(op, rec))
		return false;
	switch (op->format) {
	case FMT_LINES:
		kq_fmt_lines(&o->buf, &op->fo, rec);
		break;
	case FMT_JSON:
		kq_fmt_json(&o->buf, src, rec);
		break;
	case FMT_BINARY:
		kq_fmt_binary(&o->buf, rec->key, rec->value);
		break;
	case FMT_TEMPLATE:
		kq_tmpl_render(op->tmpl, &o->buf, &op->fo, src, rec);
		break;
	}
	return true;
}

/* ---- record batches ---- */

/*
 * Decode one partition's Records from a Fetch response into the output.
 * Whole batches arrive, so records below pt->next are skipped, and so are
 * control batches.  A trailing batch cut short by the fetch size limit is
 * normal and ignored.  Returns 0, 1 when nothing could be decoded because
 * the first batch is bigger than what was fetched, or KQ_ERR_CORRUPT.
 */
static int
decode_records(struct run *rn, struct part *pt, struct kq_bytes recs)
{
	const unsigned char *p = recs.p;
	size_t left = recs.len > 0 ? (size_t)recs.len : 0;
	struct kq_fmt_src src = rn->srcs[pt->topic];
	struct kq_batch_hdr h;
	struct kq_record rec;
	bool progress = false;
	int64_t size, last;
	int err;

	src.partition = pt->id;
	while (left >= KQ_BATCH_LOG_OVERHEAD + 5) {	/* through the magic byte */
		size = kq_batch_size(p);
		if (size < KQ_BATCH_HEADER_SIZE)
			return KQ_ERR_CORRUPT;
		if ((uint64_t)size > left)
			break;		/* truncated trailing batch */
		progress = true;
		err = kq_batch_hdr_parse(p, (size_t)size, &h);
		if (err == KQ_ERR_UNSUPPORTED)
			goto next;	/* old message formats are not produced by kq */
		if (err < 0)
			return KQ_ERR_CORRUPT;
		if (!kq_batch_crc_ok(p, (size_t)size))
			return KQ_ERR_CORRUPT;
		/* Hostile header fields: no signed overflow. */
		last = (int64_t)((uint64_t)h.BaseOffset + (uint64_t)(int64_t)h.LastOffsetDelta);
		if (h.BaseOffset < 0 || h.LastOffsetDelta < 0 || last < h.BaseOffset ||
		    last == INT64_MAX)
			return KQ_ERR_CORRUPT;
		if (last < pt->next || (h.Attributes & KQ_ATTR_CONTROL))
			goto advance;
		src.log_append_time = (h.Attributes & KQ_ATTR_LOG_APPEND_TIME) != 0;
		rn->it.max_decompressed = MAX_DECOMPRESSED;
		if ((err = kq_batch_iter_init(&rn->it, p, (size_t)size)) < 0) {
			kq_batch_iter_free(&rn->it);
			return err == KQ_ERR_UNSUPPORTED ? err : KQ_ERR_CORRUPT;
		}
		while ((err = kq_batch_iter_next(&rn->it, &rec)) == 1) {
			if (rec.offset < pt->next)
				continue;
			if ((pt->end >= 0 && rec.offset >= pt->end) || rec.timestamp >= pt->end_ts) {
				pt->done = true;
				break;
			}
			pt->next = rec.offset + 1;
			if (emit_record(rn->op, &rn->out, &src, &rec)) {
				rn->written++;
				if (out_record_done(&rn->out))
					break;
				if (rn->op->count >= 0 && rn->written >= rn->op->count) {
					rn->count_reached = true;
					break;
				}
			}
			if (got_signal)
				break;
		}
		kq_batch_iter_free(&rn->it);
		if (err < 0)
			return KQ_ERR_CORRUPT;
		if (pt->done || rn->count_reached || rn->out.state || got_signal)
			return 0;
advance:
		/* Compaction and control records leave gaps: move past the
		 * whole batch even when its last records were not seen. */
		if (last + 1 > pt->next)
			pt->next = last + 1;
		if (pt->end >= 0 && pt->next >= pt->end) {
			pt->done = true;
			return 0;
		}
next:
		p += size;
		left -= (size_t)size;
	}
	return !progress && left > 0 ? 1 : 0;
}

/* ---- options ---- */

static const char usage_text[] =
"Usage: kq-consume [OPTIONS] -t TOPIC[,TOPIC...] [TOPIC...]\n"
"       kq-consume [OPTIONS] -g GROUP -t TOPIC[,TOPIC...] [TOPIC...]\n"
"Read records from kq or Kafka topics and write them to standard output.\n"
"\n"
"Examples:\n"
"  kq-consume -t logs -e                        everything in 'logs', then exit\n"
"  kq-consume -t logs -o @-1h -e | grep -c ' 500 '   the last hour\n"
"  kq-consume -t logs -o -10 -e -f '%p:%o %s\\n'      last 10 of each partition\n"
"  kq-consume -g analytics -t logs | grep ERROR  split 'logs' with the other\n"
"                                               members of group 'analytics', from\n"
"                                               where the group left off\n";

static const char help_tail[] =
"\n"
"Durations need a unit: 250ms 10s 5m 2h 7d 1h30m.\n"
"Exit status: 0 success (also when the reader closes stdout), 1 failure,\n"
"2 usage error, 3 topic or partition not found, 6 no broker reachable within\n"
"--timeout, 130/143 stopped by SIGINT/SIGTERM.\n";

enum {
	OPT_IDLE = 256, OPT_NULL, OPT_HMATCH, OPT_SHOW_CONFIG, OPT_NO_COMMIT,
	OPT_COMMIT_INTERVAL, OPT_PROGRESS, OPT_NO_PROGRESS,
};

static const struct kq_opt opts[] = {
	KQ_OPT_SECTION("Connection:"),
	KQ_OPTS_CLIENT_CONNECT,

	KQ_OPT_SECTION("What to read:"),
	KQ_OPT_VALUE('t', "topic", 0, "TOPIC[,TOPIC...]",
	  "topic to read; repeatable; operands are topics too"),
	KQ_OPT_VALUE('p', "partition", 0, "N[,N...]",
	  "only these partitions (default: all; not with -g)"),
	KQ_OPT_VALUE('o', "offset", 0, "SPEC",
	  "where to start, and optionally stop: START or\n"
	  "START:END (default: beginning).  Each end is\n"
	  "beginning|earliest|start  first available offset\n"
	  "end|latest    as START: only new records; as END:\n"
	  "              the end offset sampled at startup\n"
	  "N             absolute offset N\n"
	  "-N            N before the end, per partition\n"
	  "+N            N after the beginning, per partition\n"
	  "@TIME         first record at or after TIME (now,\n"
	  "              Unix ms or s, YYYY-MM-DD, RFC 3339,\n"
	  "              -DUR/+DUR from now; UTC by default)\n"
	  "s@MS, e@MS    kcat spellings of @MS as START/END\n"
	  "stored        the group's committed offset (-g)\n"
	  "As END, offsets and times are exclusive, and @+DUR\n"
	  "counts from a START time (-o @2024-05-01:@+1h).\n"
	  "A START outside the log is clamped, with a warning.\n"
	  "With -g, START applies only to partitions that\n"
	  "have no committed offset"),

	KQ_OPT_SECTION("Consumer groups:"),
	KQ_OPT_VALUE('g', "group", 0, "GROUP",
	  "join consumer group GROUP (-G is an alias): its\n"
	  "members split the partitions, each starts from\n"
	  "the group's committed offsets and commits what it\n"
	  "wrote to stdout (at-least-once delivery)"),
	KQ_OPT_ALIAS('G', NULL, 'g', "GROUP"),
	KQ_OPT_FLAG(0, "no-commit", OPT_NO_COMMIT,
	  "take part in the group but never commit (peek)"),
	KQ_OPT_VALUE(0, "commit-interval", OPT_COMMIT_INTERVAL, "DUR",
	  "how often offsets are committed (default 5s);\n"
	  "also before a rebalance and at exit"),
	KQ_OPT_VALUE('X', "property", 0, "KEY=VAL",
	  "client property; '-X list' lists them:\n"
	  "session.timeout.ms, heartbeat.interval.ms,\n"
	  "max.poll.interval.ms, group.instance.id,\n"
	  "partition.assignment.strategy, client.id"),

	KQ_OPT_SECTION("When to stop (default: follow new records until interrupted):"),
	KQ_OPT_FLAG('e', "exit", 0,
	  "stop when every partition reaches the end offset\n"
	  "sampled at startup (with -g: every partition\n"
	  "assigned to this member)"),
	KQ_OPT_VALUE('c', "count", 0, "N", "stop after N records in total"),
	KQ_OPT_VALUE(0, "idle-timeout", OPT_IDLE, "DUR",
	  "stop when no record has arrived for DUR"),

	KQ_OPT_SECTION("Output:"),
	KQ_OPT_VALUE('f', "format", 0, "FMT",
	  "lines (default), json, binary, or a template\n"
	  "containing '%':\n"
	  "  lines   the value, then the delimiter (-D)\n"
	  "  json    one object per line: topic, partition,\n"
	  "          offset, timestamp, timestamp_type, key,\n"
	  "          value, headers [[name,value],...]; keys and\n"
	  "          values that are not UTF-8 are base64 with\n"
	  "          \"key_encoding\"/\"value_encoding\":\"base64\"\n"
	  "  binary  4-byte big-endian key length, key, 4-byte\n"
	  "          value length, value; -1 = null\n"
	  "template tokens: %s value  %k key  %S value length\n"
	  "  %K key length (-1 = null)  %t topic  %p partition\n"
	  "  %o offset  %T timestamp (Unix ms)  %D timestamp\n"
	  "  (RFC 3339 UTC, ms)  %h headers name=value,...\n"
	  "  %H{NAME} value of header NAME  %R value length as\n"
	  "  4 big-endian bytes  %x value in hex  %b value in\n"
	  "  base64  %% a '%'; escapes \\n \\r \\t \\0 \\\\ \\xNN;\n"
	  "  no newline is added"),
	KQ_OPT_FLAG('J', NULL, 0, "same as -f json"),
	KQ_OPT_VALUE('D', "delimiter", 0, "DELIM",
	  "written after each record in lines mode\n"
	  "(default '\\n'; escapes \\n \\r \\t \\0 \\\\ \\xNN)"),
	KQ_OPT_FLAG('0', "null-data", 0, "same as -D '\\0'"),
	KQ_OPT_VALUE('K', "key-delimiter", 0, "DELIM", "lines mode: print KEY DELIM VALUE"),
	KQ_OPT_VALUE(0, "null", OPT_NULL, "STR",
	  "how a null key or value is printed in lines mode\n"
	  "and templates (default: nothing)"),
	KQ_OPT_VALUE(0, "header-match", OPT_HMATCH, "NAME=VAL",
	  "only records with header NAME equal to VAL (NAME\n"
	  "alone: a null value); repeatable, all must match"),
	KQ_OPT_FLAG('u', "unbuffered", 0,
	  "write each record as soon as it is formatted\n"
	  "(default: flush whenever no more records are\n"
	  "immediately available, and at least every 100ms)"),

	KQ_OPT_SECTION("General:"),
	KQ_OPT_FLAG('v', "verbose", 0, "more diagnostics on stderr (repeat for more)"),
	KQ_OPT_FLAG('q', "quiet", 0, "errors only"),
	KQ_OPT_FLAG(0, "progress", OPT_PROGRESS,
	  "progress lines on stderr every 10s (default: a\n"
	  "line redrawn in place when stderr is a terminal\n"
	  "and stdout is not)"),
	KQ_OPT_FLAG(0, "no-progress", OPT_NO_PROGRESS, "no progress display"),
	KQ_OPT_FLAG(0, "show-config", OPT_SHOW_CONFIG, "print the effective settings and exit"),
	KQ_OPTS_CLIENT_CONFIG,
	KQ_OPTS_HELP_VERSION,
	KQ_OPT_END,
};

static void
add_topics(struct opts *op, const char *arg)
{
	const char *p = arg, *c;

	for (;;) {
		c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);

		if (n) {
			if (!kq_topic_valid(p, n))
				kq_usage_error("invalid topic name '%.*s'", (int)n, p);
			op->topics = kq_xrealloc(op->topics,
						 (size_t)(op->ntopics + 1) * sizeof(*op->topics));
			op->topics[op->ntopics++] = kq_xstrndup(p, n);
		}
		if (!c)
			break;
		p = c + 1;
	}
}

static void
add_partitions(struct opts *op, const char *arg)
{
	const char *p = arg;
	char *endp;
	long v;

	for (;;) {
		errno = 0;
		v = strtol(p, &endp, 10);
		if (endp == p || errno || v < 0 || v > INT32_MAX || (*endp && *endp != ','))
			kq_usage_error("bad partition list '%s'", arg);
		op->parts = kq_xrealloc(op->parts, (size_t)(op->nparts + 1) * sizeof(*op->parts));
		op->parts[op->nparts++] = (int32_t)v;
		if (!*endp)
			break;
		p = endp + 1;
	}
}

static int64_t
parse_count(const char *arg)
{
	int64_t v;

	if (kq_cli_parse_int(arg, 0, INT64_MAX, &v) < 0)
		kq_usage_error("bad count '%s' (expected a non-negative integer)", arg);
	return v;
}

static int64_t
parse_dur(const char *arg, const char *opt)
{
	int64_t ms;

	if (kq_cli_parse_duration_ms(arg, &ms) < 0)
		kq_usage_error("bad %s '%s' (durations need a unit: 250ms 10s 5m 2h 7d 1h30m)",
			    opt, arg);
	return ms;
}

/* Delimiters and --null take escapes; the result is a malloc'd byte string. */
static const char *
parse_delim(const char *arg, size_t *len, const char *opt)
{
	struct kq_buf b = { 0 };

	if (kq_cli_parse_escapes(arg, &b) < 0)
		kq_usage_error("bad escape in %s '%s' (known: \\n \\r \\t \\0 \\\\ \\xNN)", opt, arg);
	*len = b.len;
	kq_buf_cstr(&b);
	return (const char *)b.buf;
}

static void
add_match(struct opts *op, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct hmatch *m;

	if (eq == arg || !*arg)
		kq_usage_error("bad --header-match '%s' (expected NAME=VALUE)", arg);
	op->match = kq_xrealloc(op->match, (size_t)(op->nmatch + 1) * sizeof(*op->match));
	m = &op->match[op->nmatch++];
	m->name = arg;
	m->name_len = eq ? (size_t)(eq - arg) : strlen(arg);
	m->value = eq ? eq + 1 : NULL;
	m->value_len = eq ? strlen(eq + 1) : 0;
}

static void
parse_opts(struct opts *op, int argc, char **argv)
{
	const char *fmt = NULL, *delim = NULL, *kdelim = NULL, *null_str = NULL;
	const char *end_only = NULL;
	const char *brokers_from, *timeout_from = "default";
	bool show_config = false, null_data = false, commit_interval_set = false;
	char err[256];
	int c;

	memset(op, 0, sizeof(*op));
	op->count = -1;
	op->idle_timeout_ms = -1;
	op->timeout_ms = 2 * 60 * 1000;
	op->g.commit_interval_ms = 5000;
	op->g.client_id = PROG;
	brokers_from = getenv("KQ_BROKERS") && *getenv("KQ_BROKERS") ?
		"environment (KQ_BROKERS)" : "default";

	argv = kq_cli_config_argv(&argc, argv, kq_opt_longopts(opts), NULL);
	while ((c = kq_opt_next(argc, argv, opts)) != -1) {
		switch (c) {
		case 'b':
			op->brokers_flag = optarg;
			brokers_from = "command line";
			break;
		case 't':
			add_topics(op, optarg);
			break;
		case 'g':
			if (!*optarg)
				kq_usage_error("empty group name");
			op->g.group = optarg;
			break;
		case OPT_NO_COMMIT:
			op->g.no_commit = true;
			break;
		case OPT_COMMIT_INTERVAL:
			op->g.commit_interval_ms = parse_dur(optarg, "--commit-interval");
			commit_interval_set = true;
			break;
		case 'X':
			group_property(op, optarg);
			break;
		case 'p':
			add_partitions(op, optarg);
			break;
		case 'o':
			/* kcat takes the end as a second option: -o s@A -o e@B. */
			if (strncmp(optarg, "e@", 2) == 0)
				end_only = optarg;
			else
				op->offset_arg = optarg;
			break;
		case 'e':
			op->exit_at_end = true;
			break;
		case 'c':
			op->count = parse_count(optarg);
			break;
		case OPT_IDLE:
			op->idle_timeout_ms = parse_dur(optarg, "--idle-timeout");
			break;
		case 'f':
			fmt = optarg;
			break;
		case 'J':
			fmt = "json";
			break;
		case 'D':
			delim = optarg;
			null_data = false;
			break;
		case '0':
			null_data = true;
			break;
		case 'K':
			kdelim = optarg;
			break;
		case OPT_NULL:
			null_str = optarg;
			break;
		case OPT_HMATCH:
			add_match(op, optarg);
			break;
		case 'u':
			op->unbuffered = true;
			break;
		case KQ_OPT_KEY_TIMEOUT:
			op->timeout_ms = parse_dur(optarg, "--timeout");
			timeout_from = "command line";
			break;
		case 'v':
			op->verbose++;
			break;
		case 'q':
			op->quiet = true;
			break;
		case OPT_SHOW_CONFIG:
			show_config = true;
			break;
		case OPT_PROGRESS:
			op->progress = 1;
			break;
		case OPT_NO_PROGRESS:
			op->progress = -1;
			break;
		case KQ_OPT_KEY_CONFIG:
		case KQ_OPT_KEY_PROFILE:
			break;	/* read by kq_cli_config_argv */
		case 'h':
			fputs(usage_text, stdout);
			kq_opt_help(opts, 35);
			fputs(help_tail, stdout);
			kq_cli_exit(0);
		case 'V':
			kq_cli_version();
		}
	}
	for (; optind < argc; optind++)
		add_topics(op, argv[optind]);
	op->brokers = kq_cli_brokers(op->brokers_flag);

	if (!fmt || strcmp(fmt, "lines") == 0) {
		op->format = FMT_LINES;
	} else if (strcmp(fmt, "json") == 0) {
		op->format = FMT_JSON;
	} else if (strcmp(fmt, "binary") == 0) {
		op->format = FMT_BINARY;
	} else if (strchr(fmt, '%')) {
		op->format = FMT_TEMPLATE;
		if (!(op->tmpl = kq_tmpl_compile(fmt, err, sizeof(err))))
			kq_usage_error("%s", err);
	} else {
		kq_usage_error("unknown format '%s' (use lines, json, binary or a template "
			    "containing %%)", fmt);
	}
	if (null_data) {
		op->fo.delim = "";
		op->fo.delim_len = 1;	/* the NUL of the string literal */
	} else if (delim) {
		op->fo.delim = parse_delim(delim, &op->fo.delim_len, "--delimiter");
	} else {
		op->fo.delim = "\n";
		op->fo.delim_len = 1;
	}
	if (kdelim)
		op->fo.key_delim = parse_delim(kdelim, &op->fo.key_delim_len, "--key-delimiter");
	if (null_str)
		op->fo.null_str = parse_delim(null_str, &op->fo.null_len, "--null");
	else
		op->fo.null_str = "";

	if (show_config) {
		printf("brokers = %s\t# %s\n", op->brokers, brokers_from);
		printf("timeout = %lldms\t# %s\n", (long long)op->timeout_ms, timeout_from);
		if (op->g.group) {
			printf("group = %s\n", op->g.group);
			printf("commit-interval = %lldms\n", (long long)op->g.commit_interval_ms);
			printf("no-commit = %s\n", op->g.no_commit ? "true" : "false");
		}
		kq_cli_exit(0);
	}
	if (op->ntopics == 0)
		kq_usage_error("no topic given (use -t TOPIC)");
	if (kq_cli_parse_offspec(op->offset_arg ? op->offset_arg : "beginning", kq_now_ms(),
				 &op->spec, err, sizeof(err)) < 0)
		kq_usage_error("%s", err);
	if (end_only) {
		if (op->spec.end.kind != KQ_OFF_NONE)
			kq_usage_error("two ends given ('%s' and '%s')", op->offset_arg, end_only);
		if (kq_cli_parse_off(end_only, strlen(end_only), true, kq_now_ms(),
				     &op->spec.end, err, sizeof(err)) < 0)
			kq_usage_error("%s", err);
	}
	if (op->spec.start.kind == KQ_OFF_STORED && !op->g.group)
		kq_usage_error("offset 'stored' needs a consumer group (-g)");
	if (!op->g.group && (op->g.no_commit || commit_interval_set))
		kq_usage_error("--no-commit and --commit-interval need a consumer group (-g)");
	group_check_opts(op);
}

/* ---- signals ---- */

static void
second_signal(void)
{
	static const char msg[] = PROG ": second signal, exiting without flushing\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);

	(void)r;
}

/* ---- cluster state: metadata, offsets ---- */

static int
part_cmp(const void *a, const void *b)
{
	const struct part *x = a, *y = b;

	if (x->topic != y->topic)
		return x->topic < y->topic ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

const char *
topic_name(const struct run *rn, const struct part *pt)
{
	return rn->op->topics[pt->topic];
}

static void
add_part(struct run *rn, int t, int32_t id)
{
	struct part *pt;

	rn->parts = kq_xrealloc(rn->parts, (size_t)(rn->nparts + 1) * sizeof(*rn->parts));
	pt = &rn->parts[rn->nparts++];
	memset(pt, 0, sizeof(*pt));
	pt->topic = t;
	pt->id = id;
	pt->leader = -1;
	pt->end = -1;
	pt->end_ts = INT64_MAX;
	pt->max_bytes = PART_MAX_BYTES_MIN;
	pt->hw = -1;
}

/*
 * Fetch metadata for our topics and note each partition's leader.  The
 * first time, also build the partition list, exiting 3 for a missing topic
 * or partition.  Returns 0, a local error from the client, or a Kafka code
 * when some leader is not known yet.
 */
static int
load_metadata(struct run *rn, bool initial)
{
	struct opts *op = rn->op;
	const struct kq_metadata *md;
	int err, t, j, k;

	err = initial ? kq_client_metadata(rn->cl, (const char *const *)op->topics, op->ntopics,
					   false, &md)
		      : kq_client_refresh(rn->cl, &md);
	if (err)
		return err;
	for (t = 0; t < op->ntopics; t++) {
		const struct kq_md_topic *mt = kq_md_topic(md, op->topics[t]);

		if (!mt || mt->err == KQ_E_UNKNOWN_TOPIC_OR_PARTITION) {
			if (initial)
				kq_die(KQ_EXIT_NOTFOUND, "topic '%s' does not exist (list them: "
				       "kq-topics list)", op->topics[t]);
			err = KQ_E_UNKNOWN_TOPIC_OR_PARTITION;
			continue;
		}
		if (mt->err == KQ_E_TOPIC_AUTHORIZATION_FAILED)
			kq_die(KQ_EXIT_DENIED, "not authorized to read topic '%s'", op->topics[t]);
		if (mt->err) {
			err = mt->err;
			continue;
		}
		if (initial) {
			for (j = 0; j < op->nparts; j++)
				if (!kq_md_partition(mt, op->parts[j]))
					kq_die(KQ_EXIT_NOTFOUND, "partition %d of topic '%s' does "
					       "not exist (it has %d)", (int)op->parts[j],
					       op->topics[t], mt->n_parts);
			for (k = 0; k < mt->n_parts; k++) {
				int32_t id = mt->parts[k].id;
				bool want = op->nparts == 0;

				for (j = 0; j < op->nparts && !want; j++)
					want = op->parts[j] == id;
				for (j = 0; j < rn->nparts && want; j++)
					if (rn->parts[j].topic == t && rn->parts[j].id == id)
						want = false;	/* -t x -t x, -p 1,1 */
				if (want)
					add_part(rn, t, id);
			}
		}
		for (j = 0; j < rn->nparts; j++) {
			struct part *pt = &rn->parts[j];
			const struct kq_md_partition *mp;

			if (pt->topic != t)
				continue;
			mp = kq_md_partition(mt, pt->id);
			pt->leader = mp ? mp->leader : -1;
			if (pt->leader < 0 && !err)
				err = mp && mp->err ? mp->err : KQ_E_LEADER_NOT_AVAILABLE;
		}
	}
	if (initial && rn->nparts)
		qsort(rn->parts, (size_t)rn->nparts, sizeof(*rn->parts), part_cmp);
	return err;
}

/*
 * ListOffsets at timestamp ts (KQ_OFFSET_EARLIEST, KQ_OFFSET_LATEST or Unix
 * ms) for the partitions flagged in which; answers go to out[i] (-1 when
 * no record is at or after ts).  0 or the first error.
 */
static int
list_offsets(struct run *rn, const bool *which, int64_t ts, int64_t *out)
{
	struct kq_lo_req *q = kq_xcalloc((size_t)rn->nparts, sizeof(*q));
	int *idx = kq_xcalloc((size_t)rn->nparts, sizeof(*idx));
	size_t n = 0, i;
	int err;

	for (i = 0; i < (size_t)rn->nparts; i++) {
		if (!which[i])
			continue;
		q[n].topic = topic_name(rn, &rn->parts[i]);
		q[n].partition = rn->parts[i].id;
		q[n].timestamp = ts;
		idx[n++] = (int)i;
	}
	err = kq_client_list_offsets_many(rn->cl, q, n);
	for (i = 0; i < n && !err; i++) {
		if (q[i].err)
			err = q[i].err;
		else
			out[idx[i]] = q[i].offset;
	}
	free(q);
	free(idx);
	return err;
}

/* ---- retries ---- */

struct retry {
	int attempt;
	int64_t first_fail_ms;		/* monotonic; 0 = no failure pending */
	int64_t last_warn_ms;
};

static const char *
err_detail(struct run *rn, int err)
{
	const char *s = kq_client_errstr(rn->cl);

	return err < 0 && s && *s ? s : kq_err_str(err);
}

/*
 * A retriable failure happened: warn (once, then at most every 30 s), sleep
 * with backoff, and give up with exit 6 once --timeout has run out since
 * the first failure.  Output is flushed first, so a stalled cluster never
 * holds back records already fetched.
 */
static void
retry_wait(struct run *rn, struct retry *rt, const char *what, int err)
{
	int64_t now = kq_mono_ms(), delay;
	struct opts *op = rn->op;
	const char *detail = err_detail(rn, err);

	out_flush(&rn->out);
	if (!rt->first_fail_ms)
		rt->first_fail_ms = now;
	if (err == KQ_ERR_TIMEOUT && kq_client_errstr(rn->cl)[0] &&
	    strstr(kq_client_errstr(rn->cl), "cannot reach"))
		kq_die(KQ_EXIT_UNAVAILABLE, "%s", kq_client_errstr(rn->cl));
	if (op->timeout_ms > 0 && now - rt->first_fail_ms >= op->timeout_ms)
		kq_die(KQ_EXIT_UNAVAILABLE, "%s (%s); gave up after --timeout", what, detail);
	if (!rt->last_warn_ms || now - rt->last_warn_ms >= 30000) {
		kq_warn("%s (%s); retrying", what, detail);
		rt->last_warn_ms = now;
	} else {
		kq_debug("%s (%s); retry %d", what, detail, rt->attempt);
	}
	delay = kq_backoff_ms(rt->attempt++);
	if (op->timeout_ms > 0)
		delay = KQ_MIN(delay, KQ_MAX(op->timeout_ms - (now - rt->first_fail_ms), 1));
	while (delay > 0 && !got_signal) {
		int64_t step = KQ_MIN(delay, 50);

		usleep((useconds_t)step * 1000);
		delay -= step;
		if (rn->member)
			group_poll(rn, false);
	}
}

static void
retry_ok(struct retry *rt)
{
	rt->attempt = 0;
	rt->first_fail_ms = 0;
	rt->last_warn_ms = 0;
}

/* Metadata until every partition has a leader (or a signal, or exit 6). */
static void
refresh_leaders(struct run *rn, struct retry *rt)
{
	int err;

	while ((err = load_metadata(rn, false)) != 0 && !got_signal)
		retry_wait(rn, rt, "cannot find partition leaders", err);
}

/* ---- offsets ---- */

static const char *
off_text(const struct kq_off *off, struct kq_buf *b)
{
	kq_buf_reset(b);
	kq_off_str(b, off);
	return kq_buf_cstr(b);
}

/*
 * Turn the offset spec into a start and an end for every partition.  Ends
 * are sampled now; -e caps every end at the current end offset.
 */
static void
resolve_offsets(struct run *rn)
{
	struct opts *op = rn->op;
	const struct kq_offspec *sp = &op->spec;
	int n = rn->nparts, i, err;
	bool *all = kq_xcalloc((size_t)n, sizeof(bool));
	int64_t *lo = kq_xcalloc((size_t)n, sizeof(int64_t));
	int64_t *hi = kq_xcalloc((size_t)n, sizeof(int64_t));
	int64_t *ts = kq_xcalloc((size_t)n, sizeof(int64_t));
	int64_t *te = kq_xcalloc((size_t)n, sizeof(int64_t));
	struct retry rt = { 0 };
	struct kq_buf b = { 0 };
	bool clamped;

	for (i = 0; i < n; i++) {
		all[i] = true;
		ts[i] = te[i] = -1;
	}
	for (;;) {
		err = list_offsets(rn, all, KQ_OFFSET_EARLIEST, lo);
		if (!err)
			err = list_offsets(rn, all, KQ_OFFSET_LATEST, hi);
		if (!err && sp->start.kind == KQ_OFF_TIME)
			err = list_offsets(rn, all, sp->start.value, ts);
		if (!err && sp->end.kind == KQ_OFF_TIME)
			err = list_offsets(rn, all, sp->end.value, te);
		if (!err)
			break;
		if (got_signal)
			goto out;
		retry_wait(rn, &rt, "cannot list offsets", err);
		refresh_leaders(rn, &rt);
	}
	for (i = 0; i < n; i++) {
		struct part *pt = &rn->parts[i];
		int64_t end = -1;

		pt->next = kq_off_resolve(&sp->start, lo[i], hi[i], ts[i], -1, &clamped);
		if (clamped)
			kq_warn("'%s' partition %d: start %s is outside the log [%lld, %lld]; "
				"starting at %lld", topic_name(rn, pt), (int)pt->id,
				off_text(&sp->start, &b), (long long)lo[i], (long long)hi[i],
				(long long)pt->next);
		switch (sp->end.kind) {
		case KQ_OFF_NONE:
			end = -1;
			break;
		case KQ_OFF_ABS:
			end = sp->end.value;	/* may lie ahead: wait for it */
			break;
		case KQ_OFF_FROM_START:
			end = lo[i] + sp->end.value;
			break;
		case KQ_OFF_TIME:
			/* No record at or after the end time: a past end means the
			 * whole log qualifies (new records will be newer); a future
			 * one means follow until a record reaches it. */
			end = te[i];
			if (te[i] < 0 && sp->end.value <= kq_now_ms())
				end = hi[i];
			else if (te[i] < 0)
				pt->end_ts = sp->end.value;
			break;
		default:
			end = kq_off_resolve(&sp->end, lo[i], hi[i], te[i], -1, &clamped);
			break;
		}
		if (op->exit_at_end && (end < 0 || end > hi[i]))
			end = hi[i];
		pt->end = end;
		if (end >= 0 && pt->next >= end)
			pt->done = true;
		kq_debug("'%s' partition %d: log [%lld, %lld), reading from %lld to %s%lld",
			 topic_name(rn, pt), (int)pt->id, (long long)lo[i], (long long)hi[i],
			 (long long)pt->next, end < 0 ? "follow, " : "", (long long)end);
	}
out:
	free(all);
	free(lo);
	free(hi);
	free(ts);
	free(te);
	kq_buf_free(&b);
}

/* ---- fetching ---- */

/* OFFSET_OUT_OF_RANGE: the log moved (retention, truncation); restart at its start. */
static int
reset_to_earliest(struct run *rn, struct part *pt)
{
	int64_t lo;
	int err;

	if ((err = kq_client_list_offsets(rn->cl, topic_name(rn, pt), pt->id,
					  KQ_OFFSET_EARLIEST, &lo, NULL)) != 0)
		return err;
	kq_warn("'%s' partition %d: offset %lld is out of range; continuing at the earliest "
		"offset %lld", topic_name(rn, pt), (int)pt->id, (long long)pt->next,
		(long long)lo);
	pt->next = lo;
	if (pt->end >= 0 && pt->next >= pt->end)
		pt->done = true;
	return 0;
}

/* One leader's fetch in flight. */
struct fetch {
	int32_t leader;
	struct kq_conn *conn;
	int16_t version;
	bool sent;
};

/* Build and enqueue the Fetch for one leader's open partitions. */
static int
fetch_send(struct run *rn, struct fetch *f, int32_t max_wait_ms, struct kq_arena *a)
{
	struct kq_FetchRequest req;
	struct kq_FetchRequest_FetchTopic *tp = NULL;
	int i, err, lastt = -1;

	if ((err = kq_client_node_conn(rn->cl, f->leader, &f->conn)) != 0)
		return err;
	if ((f->version = (int16_t)kq_conn_version(f->conn, KQ_API_FETCH, 11)) < 4)
		kq_die(KQ_EXIT_FAIL, "broker %s does not support Fetch v4 or later",
		       kq_conn_name(f->conn));
	kq_FetchRequest_init(&req);
	req.ReplicaId = -1;
	req.MaxWaitMs = max_wait_ms;
	req.MinBytes = 1;
	req.MaxBytes = FETCH_MAX_BYTES;
	req.IsolationLevel = 0;
	req.SessionId = 0;
	req.SessionEpoch = -1;
	req.RackId = kq_str_c("");
	req.Topics = kq_arena_alloc(a, (size_t)rn->nparts * sizeof(*req.Topics));
	for (i = 0; i < rn->nparts; i++) {
		struct part *pt = &rn->parts[i];
		struct kq_FetchRequest_FetchPartition *fp;

		if (!active(pt) || pt->leader != f->leader)
			continue;
		if (pt->topic != lastt) {
			tp = &req.Topics[req.Topics_count++];
			kq_FetchRequest_FetchTopic_init(tp);
			tp->Topic = kq_str_c(topic_name(rn, pt));
			tp->Partitions = kq_arena_alloc(a, (size_t)rn->nparts *
							sizeof(*tp->Partitions));
			lastt = pt->topic;
		}
		fp = &tp->Partitions[tp->Partitions_count++];
		kq_FetchRequest_FetchPartition_init(fp);
		fp->Partition = pt->id;
		fp->CurrentLeaderEpoch = -1;
		fp->FetchOffset = pt->next;
		fp->LastFetchedEpoch = -1;
		fp->LogStartOffset = -1;
		fp->PartitionMaxBytes = pt->max_bytes;
	}
	if ((err = kq_conn_enqueue(f->conn, KQ_API_FETCH, f->version, &req, f)) < 0)
		return err;
	f->sent = true;
	return 0;
}

static bool
leader_error(int err)
{
	switch (err) {
	case KQ_E_NOT_LEADER_OR_FOLLOWER:
	case KQ_E_UNKNOWN_TOPIC_OR_PARTITION:
	case KQ_E_LEADER_NOT_AVAILABLE:
	case KQ_E_REPLICA_NOT_AVAILABLE:
	case KQ_E_FENCED_LEADER_EPOCH:
	case KQ_E_UNKNOWN_LEADER_EPOCH:
	case KQ_E_KAFKA_STORAGE_ERROR:
	case KQ_E_BROKER_NOT_AVAILABLE:
		return true;
	}
	return false;
}

/*
 * Decode one Fetch response into the output.  Returns 0, or an error that
 * asks for a metadata refresh and a backoff.
 */
static int
fetch_handle(struct run *rn, struct fetch *f, const struct kq_FetchResponse *resp)
{
	int i, j, k, err = 0, r;

	if (resp->ErrorCode)
		return resp->ErrorCode;
	for (j = 0; j < resp->Responses_count; j++) {
		const struct kq_FetchResponse_FetchableTopicResponse *rt = &resp->Responses[j];

		for (k = 0; k < rt->Partitions_count; k++) {
			const struct kq_FetchResponse_PartitionData *pd = &rt->Partitions[k];
			struct part *pt = NULL;

			for (i = 0; i < rn->nparts && !pt; i++)
				if (rn->parts[i].id == pd->PartitionIndex &&
				    rn->parts[i].leader == f->leader && active(&rn->parts[i]) &&
				    kq_str_eq(rt->Topic, topic_name(rn, &rn->parts[i])))
					pt = &rn->parts[i];
			if (!pt)
				continue;
			if (pd->ErrorCode == KQ_E_OFFSET_OUT_OF_RANGE) {
				if ((r = reset_to_earliest(rn, pt)) != 0)
					err = r;
				continue;
			}
			if (pd->ErrorCode) {
				kq_debug("'%s' partition %d: fetch: %s", topic_name(rn, pt),
					 (int)pt->id, kq_err_str(pd->ErrorCode));
				err = pd->ErrorCode;
				continue;
			}
			pt->hw = pd->HighWatermark;
			r = decode_records(rn, pt, pd->Records);
			if (r < 0) {
				out_flush(&rn->out);
				kq_die(KQ_EXIT_FAIL, "'%s' partition %d: bad record batch at offset "
				       "%lld (%s)", topic_name(rn, pt), (int)pt->id,
				       (long long)pt->next, kq_err_str(r));
			}
			if (r == 1) {
				/* A batch bigger than we asked for: ask for more. */
				if (pt->max_bytes >= PART_MAX_BYTES_CAP)
					kq_die(KQ_EXIT_FAIL, "'%s' partition %d: record batch at "
					       "offset %lld is over %d bytes", topic_name(rn, pt),
					       (int)pt->id, (long long)pt->next, PART_MAX_BYTES_CAP);
				pt->max_bytes *= 2;
			}
			if (!pt->done && pt->end >= 0 && pt->next >= pt->end)
				pt->done = true;
			if (pt->done)
				kq_debug("reached the end of '%s' partition %d at offset %lld",
					 topic_name(rn, pt), (int)pt->id, (long long)pt->next);
			if (rn->count_reached || rn->out.state || got_signal)
				return 0;
		}
	}
	return err;
}

/*
 * kq_conn_recv, but a signal ends the wait (the client retries EINTR, and a
 * long poll may take a while): KQ_ERR_AGAIN then.
 */
static int
recv_or_signal(struct run *rn, struct kq_conn *conn, int64_t timeout_ms, struct kq_resp *resp)
{
	int64_t deadline = kq_mono_ms() + timeout_ms;
	int r;

	for (;;) {
		struct pollfd pfd = { kq_conn_fd(conn), POLLIN, 0 };

		r = kq_conn_recv_nb(conn, resp);
		if (r != KQ_ERR_AGAIN)
			return r;
		if (got_signal)
			return KQ_ERR_AGAIN;
		if (kq_mono_ms() >= deadline)
			return KQ_ERR_TIMEOUT;
		if (kq_conn_want_write(conn))
			pfd.events |= POLLOUT;
		(void)poll(&pfd, 1, 100);
		if (rn->member)
			group_poll(rn, false);
	}
}

/*
 * One round: a Fetch to every leader with open partitions, all in flight at
 * once so their long polls overlap, then each answer decoded and flushed as
 * it arrives.  Returns 0 or the first error.
 */
static int
fetch_round(struct run *rn, struct fetch *fs, int32_t max_wait_ms)
{
	struct kq_arena a = { 0 };
	int i, j, nf = 0, err = 0, e;

	for (i = 0; i < rn->nparts; i++) {
		if (!active(&rn->parts[i]))
			continue;
		for (j = 0; j < nf && fs[j].leader != rn->parts[i].leader; j++)
			;
		if (j == nf) {
			memset(&fs[nf], 0, sizeof(fs[nf]));
			fs[nf++].leader = rn->parts[i].leader;
		}
	}
	for (j = 0; j < nf && !err; j++) {
		err = fetch_send(rn, &fs[j], max_wait_ms, &a);
		if (!err)
			err = kq_conn_flush(fs[j].conn, 10000);
	}
	for (j = 0; j < nf; j++) {
		struct kq_FetchResponse resp;
		struct kq_resp r;

		if (!fs[j].sent)
			continue;
		/* Even after an error, drain what was sent: a connection must
		 * not be left with a response in flight. */
		e = recv_or_signal(rn, fs[j].conn, max_wait_ms + 30000, &r);
		if (e == KQ_ERR_AGAIN)
			break;		/* a signal: shutting down */
		if (!e)
			e = kq_resp_decode(&r, &a, &resp);
		if (!e && !err && !rn->count_reached && !rn->out.state && !got_signal)
			e = fetch_handle(rn, &fs[j], &resp);
		if (e && !err)
			err = e;
		/* Nothing more is immediately available from this leader. */
		out_flush(&rn->out);
	}
	kq_arena_free(&a);
	return err;
}

/* A partition to read: ours (always, without -g) and not at its end. */
bool
active(const struct part *pt)
{
	return pt->assigned && !pt->done;
}

static bool
all_done(const struct run *rn)
{
	int i;

	for (i = 0; i < rn->nparts; i++)
		if (active(&rn->parts[i]))
			return false;
	return true;
}

/*
 * With -g, an empty assignment is not the end: the next rebalance may
 * bring partitions.  It is when something tells where to stop (-e, an END
 * in -o) or when there were partitions and all of them reached their end.
 */
static bool
finished(const struct run *rn)
{
	const struct opts *op = rn->op;
	int i;

	if (!all_done(rn))
		return false;
	if (!rn->member || op->exit_at_end || op->spec.end.kind != KQ_OFF_NONE)
		return true;
	for (i = 0; i < rn->nparts; i++)
		if (rn->parts[i].assigned)
			return true;
	return false;
}

/*
 * Progress display (CLI.md section 6): only when it cannot mix with the
 * data, i.e. stdout is not the terminal stderr is on, or --progress.
 */
static void
progress_init(struct run *rn)
{
	bool tty = isatty(STDERR_FILENO);

	if (rn->op->quiet || rn->op->progress < 0)
		return;
	if (rn->op->progress > 0 || (tty && !isatty(STDOUT_FILENO)))
		rn->progress_ms = kq_mono_ms();
}

static void
progress_tick(struct run *rn)
{
	bool tty = isatty(STDERR_FILENO);
	int64_t now = kq_mono_ms(), lag = 0;
	char line[200], w[32], l[32];
	int i, n = 0;

	if (!rn->progress_ms || now - rn->progress_ms < (tty ? 250 : 10000))
		return;
	for (i = 0; i < rn->nparts; i++) {
		const struct part *pt = &rn->parts[i];

		if (!active(pt))
			continue;
		n++;
		if (pt->hw > pt->next)
			lag += pt->hw - pt->next;
	}
	kq_cli_fmt_count(w, sizeof(w), (uint64_t)rn->written);
	kq_cli_fmt_count(l, sizeof(l), (uint64_t)lag);
	snprintf(line, sizeof(line), "%s written  %.1f MB  lag %s  (%s%s: %d partition%s)", w,
		 (double)(rn->out.total + rn->out.buf.len) / 1e6, l, rn->op->topics[0],
		 rn->op->ntopics > 1 ? ",..." : "", n, n == 1 ? "" : "s");
	kq_cli_progress(line, tty);
	rn->progress_ms = now;
}

void
consume_loop(struct run *rn)
{
	struct opts *op = rn->op;
	struct retry rt = { 0 };
	struct fetch *fs = kq_xcalloc((size_t)rn->nparts, sizeof(*fs));
	int err;

	while (!got_signal && !rn->count_reached && !rn->out.state && !rn->idle_expired) {
		int64_t before = rn->written, wait = FETCH_MAX_WAIT_MS;

		if (rn->member && group_rejoin_due(rn))
			break;
		if (finished(rn)) {
			rn->finished = true;
			break;
		}
		if (op->idle_timeout_ms >= 0)
			wait = KQ_MIN(wait, KQ_MAX(op->idle_timeout_ms -
						   (kq_mono_ms() - rn->last_record_ms), 1));
		if (all_done(rn)) {
			/* A group member with nothing to read waits for a rebalance. */
			usleep((useconds_t)KQ_MIN(wait, 100) * 1000);
		} else if ((err = fetch_round(rn, fs, (int32_t)wait)) != 0 && !got_signal &&
			   !rn->out.state && !rn->count_reached) {
			retry_wait(rn, &rt, leader_error(err) ? "lost a partition leader" :
				   "fetch failed", err);
			refresh_leaders(rn, &rt);
			continue;
		} else {
			retry_ok(&rt);
		}
		if (rn->written != before)
			rn->last_record_ms = kq_mono_ms();
		else if (out_reader_gone(&rn->out))
			break;
		if (op->idle_timeout_ms >= 0 &&
		    kq_mono_ms() - rn->last_record_ms >= op->idle_timeout_ms)
			rn->idle_expired = true;
		out_tick(&rn->out);
		progress_tick(rn);
		if (rn->member)
			group_poll(rn, true);
	}
	free(fs);
}

int
finish(struct run *rn)
{
	int st = out_flush(&rn->out);

	kq_cli_progress_clear();
	if (st == OUT_ERROR) {
		kq_error("write error: %s", strerror(rn->out.err));
		return KQ_EXIT_FAIL;
	}
	if (st == OUT_EPIPE)
		return 0;
	if (got_signal)
		return 128 + got_signal;
	return 0;
}

static int
run(struct opts *op)
{
	/* Lives until exit: the process ends right after. */
	static struct run rn;
	struct retry rt = { 0 };
	char err_text[256];
	int err, t;

	memset(&rn, 0, sizeof(rn));
	rn.op = op;
	out_init(&rn.out, 1, op->unbuffered);
	progress_init(&rn);
	rn.srcs = kq_xcalloc((size_t)op->ntopics, sizeof(*rn.srcs));
	for (t = 0; t < op->ntopics; t++) {
		rn.srcs[t].topic = op->topics[t];
		rn.srcs[t].topic_len = strlen(op->topics[t]);
	}
	if (!(rn.cl = kq_client_new(op->brokers, op->g.client_id, op->timeout_ms, err_text,
				    sizeof(err_text))))
		kq_usage_error("%s", err_text);
	kq_client_set_warn(rn.cl, kq_cli_client_warn, NULL);
	kq_client_set_stop(rn.cl, stop_requested, NULL);
	/* Connection problems are retried inside the client until --timeout. */
	if ((err = kq_client_connect(rn.cl)) != 0) {
		if (got_signal)
			return finish(&rn);
		kq_die(KQ_EXIT_UNAVAILABLE, "%s", kq_client_errstr(rn.cl));
	}
	while ((err = load_metadata(&rn, rn.parts == NULL)) != 0) {
		if (got_signal)
			return finish(&rn);
		retry_wait(&rn, &rt, "cannot get metadata", err);
	}
	retry_ok(&rt);
	if (rn.nparts == 0)
		return finish(&rn);
	resolve_offsets(&rn);
	if (op->count == 0)
		return finish(&rn);
	rn.last_record_ms = kq_mono_ms();
	if (op->g.group)
		return group_run(&rn);
	for (t = 0; t < rn.nparts; t++)
		rn.parts[t].assigned = true;
	consume_loop(&rn);
	return finish(&rn);
}

int
main(int argc, char **argv)
{
	static struct opts op;	/* until exit */

	kq_cli_init(PROG);
	parse_opts(&op, argc, argv);
	kq_cli_verbosity = op.quiet ? -1 : op.verbose;
	kq_cli_catch_signals(&got_signal, second_signal);
	return run(&op);
}
