/*
 * kq-produce - read records from standard input or files and write them to
 * a topic (CLI.md section 2).  Exits 0 only when every record was
 * acknowledged.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "produce.h"

struct opts opt;
volatile sig_atomic_t got_signal;
extern volatile uint64_t g_unacked;

static const char usage_text[] =
"Usage: kq-produce [OPTIONS] -t TOPIC [FILE...]\n"
"Read records from standard input (or each FILE in turn; '-' is standard input)\n"
"and write them to TOPIC.  Exits 0 only when every record was acknowledged.\n"
"\n"
"Examples:\n"
"  kq-produce -t logs < app.log                 one record per line\n"
"  kq-produce -t users -K '\\t' < users.tsv      keyed by the first column\n"
"  kq-consume -t a -e -f json | kq-produce -t b -f json --create    exact copy\n";

static const char help_tail[] =
"\n"
"Durations need a unit: 250ms 10s 5m.  Sizes: 512 64KiB 1MiB.\n"
"Exit status: 0 every record acknowledged, 1 some not delivered, 2 usage error,\n"
"3 topic or partition not found, 5 bad input (--on-error fail), 6 no broker\n"
"reachable within --timeout, 130/143 stopped by SIGINT/SIGTERM.\n";

enum {
	OPT_SKIP_EMPTY = 256, OPT_MAX_RECORD, OPT_ON_ERROR, OPT_REJECTS, OPT_LINGER,
	OPT_BUFFER, OPT_NO_IDEMP, OPT_PRINT_OFFSETS, OPT_CREATE, OPT_KEEP_PARTITIONS,
	OPT_SHOW_CONFIG, OPT_PROGRESS, OPT_NO_PROGRESS,
};

static const struct kq_opt opts[] = {
	KQ_OPT_SECTION("Connection:"),
	KQ_OPTS_CLIENT_CONNECT,
	KQ_OPT_VALUE('X', "property", 0, "KEY=VALUE",
	  "client property (acks, linger.ms, batch.size,\n"
	  "compression.type, client.id, request.timeout.ms,\n"
	  "buffer.memory, max.in.flight.requests.per.connection,\n"
	  "enable.idempotence); -X list lists them"),

	KQ_OPT_SECTION("Where records go:"),
	KQ_OPT_VALUE('t', "topic", 0, "TOPIC", "the topic to write to (required)"),
	KQ_OPT_VALUE('p', "partition", 0, "N",
	  "every record to partition N (default: a JSON\n"
	  "record's own partition if the topic has it, else\n"
	  "keyed records by murmur2 of the key, like the Java\n"
	  "client; unkeyed records stick to one partition\n"
	  "per batch)"),
	KQ_OPT_FLAG(0, "create", OPT_CREATE,
	  "create the topic with broker defaults if missing,\n"
	  "and grow it to every partition JSON input names"),
	KQ_OPT_FLAG(0, "keep-partitions", OPT_KEEP_PARTITIONS,
	  "a JSON partition the topic does not have is bad\n"
	  "input (default: placed as if unnamed, a warning)"),

	KQ_OPT_SECTION("Input:"),
	KQ_OPT_VALUE('f', "format", 0, "FMT",
	  "lines (default), json (as kq-consume -f json\n"
	  "writes), binary (4-byte big-endian key length,\n"
	  "key, 4-byte value length, value; -1 = null), or\n"
	  "raw (each file, or all of stdin, is one record)"),
	KQ_OPT_VALUE('D', "delimiter", 0, "DELIM",
	  "record separator for lines (default '\\n';\n"
	  "escapes \\n \\r \\t \\0 \\\\ \\xNN; several bytes ok)"),
	KQ_OPT_FLAG('0', "null-data", 0, "same as -D '\\0'"),
	KQ_OPT_VALUE('K', "key-delimiter", 0, "DELIM",
	  "split each record at the first DELIM into key\n"
	  "and value"),
	KQ_OPT_VALUE('k', "key", 0, "KEY", "key for every record without a key of its own"),
	KQ_OPT_VALUE('H', "header", 0, "NAME[=VALUE]",
	  "add a header to every record; repeatable; NAME\n"
	  "alone gives a null value"),
	KQ_OPT_FLAG('Z', "empty-is-null", 0,
	  "an empty key or value becomes null (-K -Z:\n"
	  "an empty value is a tombstone)"),
	KQ_OPT_FLAG(0, "skip-empty", OPT_SKIP_EMPTY, "drop empty records (default: send them)"),
	KQ_OPT_VALUE('c', "count", 0, "N", "stop after N records"),
	KQ_OPT_FLAG('T', "tee", 0, "copy each input record to standard output"),
	KQ_OPT_VALUE(0, "max-record-bytes", OPT_MAX_RECORD, "SIZE",
	  "longest record accepted (default: the topic's\n"
	  "max.message.bytes less batch overhead)"),
	KQ_OPT_VALUE(0, "on-error", OPT_ON_ERROR, "fail|skip",
	  "bad input (over-long record, malformed JSON or\n"
	  "frame): fail (default) sends what came before\n"
	  "and exits 5; skip warns and goes on"),
	KQ_OPT_VALUE(0, "rejects", OPT_REJECTS, "FILE",
	  "write skipped and undelivered records to FILE\n"
	  "as JSON lines with an \"error\" field"),

	KQ_OPT_SECTION("Delivery:"),
	KQ_OPT_VALUE('a', "acks", 0, "all|1|0", "acknowledgement level (default all)"),
	KQ_OPT_VALUE('z', "compression", 0, "CODEC", "none (default), gzip, snappy, lz4, zstd"),
	KQ_OPT_VALUE(0, "linger", OPT_LINGER, "DUR",
	  "longest a record waits to fill a batch\n"
	  "(default 5ms)"),
	KQ_OPT_VALUE(0, "buffer", OPT_BUFFER, "SIZE",
	  "bytes awaiting acknowledgement before input\n"
	  "reading pauses (default 64MiB)"),
	KQ_OPT_FLAG(0, "no-idempotence", OPT_NO_IDEMP,
	  "do not ask the broker for a producer id (by default\n"
	  "a batch resent after a lost answer is not written\n"
	  "twice)"),
	KQ_OPT_FLAG(0, "print-offsets", OPT_PRINT_OFFSETS,
	  "print PARTITION:OFFSET of each record once it is\n"
	  "acknowledged, in input order"),

	KQ_OPT_SECTION("General:"),
	KQ_OPTS_CLIENT_CONFIG,
	KQ_OPT_FLAG('v', "verbose", 0, "more diagnostics, and a summary at the end"),
	KQ_OPT_FLAG('q', "quiet", 0, "errors only"),
	KQ_OPT_FLAG(0, "progress", OPT_PROGRESS,
	  "progress lines on stderr every 10s even when it\n"
	  "is not a terminal (default: a line redrawn in\n"
	  "place when stderr is a terminal)"),
	KQ_OPT_FLAG(0, "no-progress", OPT_NO_PROGRESS, "no progress display"),
	KQ_OPT_FLAG(0, "show-config", OPT_SHOW_CONFIG, "print the effective settings and exit"),
	KQ_OPTS_HELP_VERSION,
	KQ_OPT_END,
};

/* ---- option values ---- */

static void
set_acks(const char *v, const char *what)
{
	if (strcmp(v, "all") == 0 || strcmp(v, "-1") == 0)
		opt.acks = -1;
	else if (strcmp(v, "1") == 0)
		opt.acks = 1;
	else if (strcmp(v, "0") == 0)
		opt.acks = 0;
	else
		kq_usage_error("bad %s '%s' (use all, 1 or 0)", what, v);
}

static void
set_codec(const char *v, const char *what)
{
	int c = kq_codec_parse(v);

	if (c < 0)
		kq_usage_error("unknown %s '%s' (use none, gzip, snappy, lz4 or zstd)", what, v);
	if (!kq_codec_available(c))
		kq_usage_error("%s '%s' is not available in this build", what, v);
	opt.codec = c;
}

static int64_t
dur(const char *v, const char *what)
{
	int64_t ms;

	if (kq_cli_parse_duration_ms(v, &ms) != 0)
		kq_usage_error("bad duration '%s' for %s (use a unit: 250ms, 10s, 5m)", v, what);
	return ms;
}

static int64_t
size_arg(const char *v, const char *what, int64_t min)
{
	int64_t n;

	if (kq_cli_parse_size(v, &n) != 0 || n < min)
		kq_usage_error("bad size '%s' for %s", v, what);
	return n;
}

static int64_t
ms_prop(const char *v, const char *key)
{
	int64_t n;

	if (kq_cli_parse_int(v, 0, INT32_MAX, &n) != 0)
		kq_usage_error("bad value '%s' for %s", v, key);
	return n;
}

static void
escapes(struct kq_buf *b, const char *v, const char *what)
{
	kq_buf_reset(b);
	if (kq_cli_parse_escapes(v, b) != 0)
		kq_usage_error("bad escape in %s '%s' (use \\n \\r \\t \\0 \\\\ \\xNN)", what, v);
}

static const char *const props[] = {
	"acks", "linger.ms", "batch.size", "compression.type", "compression.codec",
	"client.id", "request.timeout.ms", "buffer.memory", "enable.idempotence",
	"message.max.bytes", "max.in.flight.requests.per.connection",
};

static void
property(const char *kv)
{
	const char *eq = strchr(kv, '=');
	char key[64];
	const char *v;
	size_t i;

	if (strcmp(kv, "list") == 0) {
		for (i = 0; i < KQ_ARRAY_LEN(props); i++)
			puts(props[i]);
		kq_cli_exit(0);
	}
	if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key))
		kq_usage_error("bad property '%s' (use KEY=VALUE, or -X list)", kv);
	memcpy(key, kv, (size_t)(eq - kv));
	key[eq - kv] = '\0';
	v = eq + 1;
	if (strcmp(key, "acks") == 0 || strcmp(key, "request.required.acks") == 0)
		set_acks(v, key);
	else if (strcmp(key, "linger.ms") == 0 || strcmp(key, "queue.buffering.max.ms") == 0)
		opt.linger_ms = ms_prop(v, key);
	else if (strcmp(key, "batch.size") == 0)
		opt.batch_bytes = size_arg(v, key, 1);
	else if (strcmp(key, "compression.type") == 0 || strcmp(key, "compression.codec") == 0)
		set_codec(v, key);
	else if (strcmp(key, "client.id") == 0)
		opt.client_id = v;
	else if (strcmp(key, "request.timeout.ms") == 0)
		opt.request_timeout_ms = KQ_MAX(ms_prop(v, key), 1);
	else if (strcmp(key, "max.in.flight.requests.per.connection") == 0 ||
		 strcmp(key, "max.in.flight") == 0)
		opt.max_inflight = (int)KQ_MAX(KQ_MIN(ms_prop(v, key), 1000), 1);
	else if (strcmp(key, "buffer.memory") == 0)
		opt.buffer_bytes = size_arg(v, key, 1);
	else if (strcmp(key, "message.max.bytes") == 0)
		opt.max_record_bytes = size_arg(v, key, 1);
	else if (strcmp(key, "enable.idempotence") == 0)
		opt.idempotence = strcmp(v, "false") != 0 && strcmp(v, "0") != 0;
	else
		kq_usage_error("unknown property '%s' (see -X list)", key);
}

static void
add_header(const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct kq_record_header *h;

	if (eq == arg || !*arg)
		kq_usage_error("bad header '%s' (use NAME=VALUE or NAME)", arg);
	opt.headers = kq_xrealloc(opt.headers, (size_t)(opt.nheaders + 1) * sizeof(*h));
	h = &opt.headers[opt.nheaders++];
	if (eq) {
		h->key = (struct kq_str){ arg, (int32_t)(eq - arg) };
		h->value = kq_bytes_of(eq + 1, strlen(eq + 1));
	} else {
		h->key = kq_str_c(arg);
		h->value = KQ_BYTES_NULL;
	}
}

void
opts_parse(int argc, char **argv)
{
	const char *brokers_flag = NULL, *fmt = "lines";
	bool show_config = false;
	int64_t n;
	int c;

	opt.partition = -1;
	opt.acks = -1;
	opt.codec = KQ_CODEC_NONE;
	opt.linger_ms = 5;
	opt.buffer_bytes = 64 << 20;
	opt.batch_bytes = 1 << 20;
	opt.max_inflight = 5;
	opt.idempotence = true;
	opt.count = -1;
	opt.timeout_ms = 2 * 60 * 1000;
	opt.request_timeout_ms = 30000;
	opt.client_id = "kq-produce";
	kq_buf_addc(&opt.delim, '\n');

	argv = kq_cli_config_argv(&argc, argv, kq_opt_longopts(opts), NULL);
	while ((c = kq_opt_next(argc, argv, opts)) != -1) {
		switch (c) {
		case 'b':
			brokers_flag = optarg;
			break;
		case 't':
			opt.topic = optarg;
			break;
		case 'p':
			if (kq_cli_parse_int(optarg, 0, INT32_MAX, &n) != 0)
				kq_usage_error("bad partition '%s'", optarg);
			opt.partition = (int32_t)n;
			break;
		case 'f':
			fmt = optarg;
			break;
		case 'D':
			escapes(&opt.delim, optarg, "--delimiter");
			if (opt.delim.len == 0)
				kq_usage_error("--delimiter cannot be empty");
			break;
		case '0':
			kq_buf_reset(&opt.delim);
			kq_buf_addc(&opt.delim, '\0');
			break;
		case 'K':
			escapes(&opt.key_delim, optarg, "--key-delimiter");
			if (opt.key_delim.len == 0)
				kq_usage_error("--key-delimiter cannot be empty");
			opt.has_key_delim = true;
			break;
		case 'k':
			kq_buf_reset(&opt.key);
			kq_buf_adds(&opt.key, optarg);
			opt.has_key = true;
			break;
		case 'H':
			add_header(optarg);
			break;
		case 'Z':
			opt.empty_is_null = true;
			break;
		case OPT_SKIP_EMPTY:
			opt.skip_empty = true;
			break;
		case OPT_MAX_RECORD:
			opt.max_record_bytes = size_arg(optarg, "--max-record-bytes", 1);
			break;
		case OPT_ON_ERROR:
			if (strcmp(optarg, "fail") == 0)
				opt.on_error = ON_ERROR_FAIL;
			else if (strcmp(optarg, "skip") == 0)
				opt.on_error = ON_ERROR_SKIP;
			else
				kq_usage_error("bad --on-error '%s' (use fail or skip)", optarg);
			break;
		case OPT_REJECTS:
			opt.rejects_path = optarg;
			break;
		case 'a':
			set_acks(optarg, "--acks");
			break;
		case 'z':
			set_codec(optarg, "compression");
			break;
		case OPT_LINGER:
			opt.linger_ms = dur(optarg, "--linger");
			break;
		case OPT_BUFFER:
			opt.buffer_bytes = size_arg(optarg, "--buffer", 1);
			break;
		case OPT_NO_IDEMP:
			opt.idempotence = false;
			break;
		case 'c':
			if (kq_cli_parse_int(optarg, 0, INT64_MAX, &opt.count) != 0)
				kq_usage_error("bad count '%s'", optarg);
			break;
		case 'T':
			opt.tee = true;
			break;
		case OPT_PRINT_OFFSETS:
			opt.print_offsets = true;
			break;
		case OPT_CREATE:
			opt.create = true;
			break;
		case OPT_KEEP_PARTITIONS:
			opt.keep_partitions = true;
			break;
		case KQ_OPT_KEY_TIMEOUT:
			opt.timeout_ms = dur(optarg, "--timeout");
			break;
		case 'X':
			property(optarg);
			break;
		case 'v':
			opt.verbose++;
			kq_cli_verbosity = opt.verbose;
			break;
		case 'q':
			opt.quiet = true;
			kq_cli_verbosity = -1;
			break;
		case OPT_SHOW_CONFIG:
			show_config = true;
			break;
		case OPT_PROGRESS:
			opt.progress = 1;
			break;
		case OPT_NO_PROGRESS:
			opt.progress = -1;
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
	opt.files = argv + optind;
	opt.nfiles = argc - optind;
	opt.brokers = kq_cli_brokers(brokers_flag);

	if (strcmp(fmt, "lines") == 0)
		opt.format = IN_LINES;
	else if (strcmp(fmt, "json") == 0)
		opt.format = IN_JSON;
	else if (strcmp(fmt, "binary") == 0)
		opt.format = IN_BINARY;
	else if (strcmp(fmt, "raw") == 0)
		opt.format = IN_RAW;
	else
		kq_usage_error("unknown format '%s' (use lines, json, binary or raw)", fmt);
	if (show_config) {
		printf("brokers = %s\n", opt.brokers);
		printf("acks = %s\n", opt.acks < 0 ? "all" : opt.acks ? "1" : "0");
		printf("compression = %s\n", kq_codec_name(opt.codec));
		printf("linger = %lldms\n", (long long)opt.linger_ms);
		printf("batch.size = %lld\n", (long long)opt.batch_bytes);
		printf("buffer = %lld\n", (long long)opt.buffer_bytes);
		printf("timeout = %lldms\n", (long long)opt.timeout_ms);
		printf("request.timeout.ms = %lld\n", (long long)opt.request_timeout_ms);
		printf("client.id = %s\n", opt.client_id);
		kq_cli_exit(0);
	}
	if (!opt.topic)
		kq_usage_error("no topic given (use -t TOPIC)");
	if (!kq_topic_valid(opt.topic, strlen(opt.topic)))
		kq_usage_error("invalid topic name '%s'", opt.topic);
	if (opt.tee && opt.print_offsets)
		kq_usage_error("--tee and --print-offsets both write to standard output");
	if (opt.acks == 0 && opt.print_offsets)
		kq_usage_error("--print-offsets needs acknowledgements (not --acks 0)");
}

/* ---- signals ---- */

/* The second SIGINT/SIGTERM: say what is given up, async-signal-safely. */
static void
second_signal(void)
{
	char msg[96], digits[24];
	uint64_t v = g_unacked;
	size_t len, nd = 0;
	const char *pre = PROG ": ", *post = " records not acknowledged\n";
	ssize_t r;

	do
		digits[nd++] = (char)('0' + v % 10);
	while ((v /= 10) && nd < sizeof(digits));
	memcpy(msg, pre, strlen(pre));
	len = strlen(pre);
	while (nd)
		msg[len++] = digits[--nd];
	memcpy(msg + len, post, strlen(post));
	len += strlen(post);
	r = write(2, msg, len);
	(void)r;
}

/* ---- the loop ---- */

struct feed {
	struct sender *s;
	int64_t now_ms;
	int64_t taken;
};

/* Progress display state (CLI.md section 6). */
struct progress {
	bool on, in_place;
	int64_t every_ms, last_ms;
	uint64_t last_acked, last_bytes;
};

static void
progress_init(struct progress *pg)
{
	bool tty = isatty(STDERR_FILENO);

	pg->on = !opt.quiet && (opt.progress > 0 || (opt.progress == 0 && tty));
	pg->in_place = tty;
	pg->every_ms = tty ? 250 : 10000;
	pg->last_ms = kq_mono_ms();
}

static void
progress_tick(struct progress *pg, const struct feed *f)
{
	int64_t now = kq_mono_ms();
	uint64_t acked, failed, bytes;
	char line[160], a[32], b[32], c[32];
	double dt;

	if (!pg->on || now - pg->last_ms < pg->every_ms)
		return;
	sender_stats(f->s, &acked, &failed, &bytes);
	dt = (double)(now - pg->last_ms) / 1000.0;
	kq_cli_fmt_count(a, sizeof(a), (uint64_t)f->taken);
	kq_cli_fmt_count(b, sizeof(b), acked);
	kq_cli_fmt_count(c, sizeof(c), failed);
	snprintf(line, sizeof(line), "%s read  %s acked  %s failed  %.1fk rec/s  %.1f MB/s",
		 a, b, c, (double)(acked - pg->last_acked) / dt / 1000.0,
		 (double)(bytes - pg->last_bytes) / dt / 1e6);
	kq_cli_progress(line, pg->in_place);
	pg->last_ms = now;
	pg->last_acked = acked;
	pg->last_bytes = bytes;
}

static bool
on_record(void *arg, const struct in_rec *r)
{
	struct feed *f = arg;

	sender_add(f->s, r, f->now_ms);
	f->taken++;
	return opt.count < 0 || f->taken < opt.count;
}

int
main(int argc, char **argv)
{
	struct feed f = { 0 };
	struct progress pg = { 0 };
	struct input *in = NULL;
	bool reading;
	int64_t started;
	int status;

	kq_cli_init(PROG);
	opts_parse(argc, argv);
	kq_cli_catch_signals(&got_signal, second_signal);
	started = kq_mono_ms();
	f.s = sender_new();
	input_max_record = sender_max_record(f.s);
	input_sender = f.s;
	if (opt.acks == 0)
		kq_warn("--acks 0: delivery cannot be confirmed");
	progress_init(&pg);
	reading = opt.count != 0;
	if (reading)
		in = input_next(NULL);
	for (;;) {
		bool ready, can_read;

		if (got_signal && reading) {
			reading = false;
			kq_debug("stopping: waiting for %llu acknowledgements",
				 (unsigned long long)sender_pending(f.s));
		}
		if (!reading && sender_pending(f.s) == 0)
			break;
		can_read = reading && in && sender_buffered(f.s) < (size_t)opt.buffer_bytes;
		sender_step(f.s, can_read ? input_fd(in) : -1, &ready, pg.on ? 100 : 1000,
			    !reading);
		progress_tick(&pg, &f);
		if (!ready)
			continue;
		f.now_ms = kq_now_ms();
		switch (input_read(in, on_record, &f)) {
		case 1:
			break;
		case 0:
			if (input_fatal || (opt.count >= 0 && f.taken >= opt.count)) {
				reading = false;
				break;
			}
			in = input_next(in);
			reading = in != NULL;
			break;
		default:
			reading = false;
			status = KQ_EXIT_FAIL;
			input_fatal = kq_xstrdup("input read error");
			break;
		}
	}
	input_close(in);
	status = sender_finish(f.s, started);
	rejects_close();
	if (input_fatal) {
		kq_error("%s", input_fatal);
		if (status == 0)
			status = strcmp(input_fatal, "input read error") == 0 ? KQ_EXIT_FAIL :
				KQ_EXIT_BADINPUT;
	}
	if (input_skipped)
		kq_note("%llu bad record%s skipped", (unsigned long long)input_skipped,
			input_skipped == 1 ? "" : "s");
	if (input_replaced)
		kq_warn("%llu record%s named a partition that topic '%s' does not have; placed "
			"as if unnamed (--keep-partitions refuses them)",
			(unsigned long long)input_replaced, input_replaced == 1 ? "" : "s", opt.topic);
	if (got_signal && (status == 0))
		status = 128 + got_signal;
	sender_free(f.s);
	kq_cli_exit(status);
}
