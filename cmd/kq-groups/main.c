/*
 * kq-groups - list, describe, measure the lag of, reset and delete consumer
 * groups (CLI.md section 9).  Every question goes to the group's
 * coordinator (FindCoordinator); log end offsets come from the partition
 * leaders (ListOffsets).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/cli/admin.h"
#include "../../common/cli/cli.h"
#include "../../common/cli/format.h"
#include "../../common/group/group.h"
#include "../../common/net/client.h"
#include "../../common/proto/msgs.h"

#define PROG "kq-groups"

static const char usage_text[] =
"Usage: kq-groups [COMMON] list [-l] [--state STATE[,STATE]]\n"
"       kq-groups [COMMON] describe GROUP...|--all [--members|--state]\n"
"       kq-groups [COMMON] lag GROUP [--by total|topic|partition]\n"
"       kq-groups [COMMON] reset GROUP (-t TOPIC[:P,P...]...|--all-topics) RESET\n"
"                          [--execute|--export]\n"
"       kq-groups [COMMON] delete GROUP... [-y]\n"
"       kq-groups [COMMON] delete-offsets GROUP -t TOPIC...\n"
"\n"
"List, describe, measure the lag of, reset and delete consumer groups.\n";

static const char help_head[] =
"Examples:\n"
"  kq-groups describe analytics\n"
"  kq-groups lag analytics --by partition\n"
"  kq-groups reset analytics -t logs --to-datetime 2024-05-01 --execute\n"
"\n"
"Commands:\n"
"  list                  one group name per line\n"
"  describe GROUP...     GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG\n"
"                        CONSUMER-ID HOST CLIENT-ID, as kafka-consumer-groups\n"
"  lag GROUP             the group's lag as bare numbers, for metrics\n"
"  reset GROUP           move committed offsets (a dry run unless --execute)\n"
"  delete GROUP...       delete groups and their committed offsets\n"
"  delete-offsets GROUP  delete the committed offsets of whole topics\n";

static const char help_tail[] =
"\n"
"Exit status: 0 ok (also a dry run), 1 failure, 2 usage, 3 group or topic not\n"
"found, 4 the group has active members (reset, delete), 6 no broker reachable\n"
"within --timeout, 7 not authorized.\n";

enum cmd { CMD_LIST, CMD_DESCRIBE, CMD_LAG, CMD_RESET, CMD_DELETE, CMD_DELETE_OFFSETS };
static const char *const cmd_names[] = { "list", "describe", "lag", "reset", "delete",
					 "delete-offsets" };

enum reset_kind {
	RS_NONE, RS_SPEC, RS_EARLIEST, RS_LATEST, RS_CURRENT, RS_OFFSET, RS_SHIFT, RS_DATETIME,
	RS_DURATION, RS_FILE,
};

enum {
	OPT_STATE = 256, OPT_ALL, OPT_MEMBERS, OPT_BY, OPT_ALL_TOPICS, OPT_TO, OPT_TO_EARLIEST,
	OPT_TO_LATEST, OPT_TO_CURRENT, OPT_TO_OFFSET, OPT_SHIFT_BY, OPT_TO_DATETIME,
	OPT_BY_DURATION, OPT_FROM_FILE, OPT_EXECUTE, OPT_EXPORT,
};

static const struct kq_opt opts[] = {
	KQ_OPT_SECTION("list options:"),
	KQ_OPT_FLAG('l', "long", 0, "add PROTOCOL-TYPE, STATE and MEMBERS columns"),
	KQ_OPT_OPTIONAL(0, "state", OPT_STATE, "STATE,...",
	  "list: only groups in these states (Stable, Empty,\n"
	  "PreparingRebalance, CompletingRebalance, Dead);\n"
	  "describe: one line per group with its coordinator,\n"
	  "assignment strategy, state and member count"),

	KQ_OPT_SECTION("describe options:"),
	KQ_OPT_FLAG(0, "all", OPT_ALL, "every group"),
	KQ_OPT_FLAG(0, "members", OPT_MEMBERS,
	  "one line per member: GROUP CONSUMER-ID HOST CLIENT-ID\n#PARTITIONS"),

	KQ_OPT_SECTION("lag options:"),
	KQ_OPT_VALUE(0, "by", OPT_BY, "WHAT",
	  "total (one number, the default), topic (TOPIC LAG lines)\n"
	  "or partition (TOPIC PARTITION LAG lines)"),

	KQ_OPT_SECTION("reset options (the default is a dry run that prints the plan):"),
	KQ_OPT_VALUE('t', "topic", 0, "TOPIC[:P,P...]",
	  "the topic (and partitions) to reset; repeatable\n"
	  "(delete-offsets: the topic whose committed offsets go)"),
	KQ_OPT_FLAG(0, "all-topics", OPT_ALL_TOPICS, "every topic the group has offsets for"),
	KQ_OPT_VALUE(0, "to", OPT_TO, "SPEC", "an offset spec: beginning, end, N, -N, +N, @TIME"),
	KQ_OPT_FLAG(0, "to-earliest", OPT_TO_EARLIEST, "the first available offset"),
	KQ_OPT_FLAG(0, "to-latest", OPT_TO_LATEST, "the end of the log"),
	KQ_OPT_FLAG(0, "to-current", OPT_TO_CURRENT,
	  "the committed offset (the end where there is none)"),
	KQ_OPT_VALUE(0, "to-offset", OPT_TO_OFFSET, "N", "offset N"),
	KQ_OPT_VALUE(0, "shift-by", OPT_SHIFT_BY, "N", "the committed offset plus N (may be negative)"),
	KQ_OPT_VALUE(0, "to-datetime", OPT_TO_DATETIME, "TIME",
	  "the first record at or after TIME (UTC unless a zone\nis given)"),
	KQ_OPT_VALUE(0, "by-duration", OPT_BY_DURATION, "DUR",
	  "the first record at or after now minus DUR (5m, 1h,\nor ISO PT1H30M)"),
	KQ_OPT_VALUE(0, "from-file", OPT_FROM_FILE, "CSV",
	  "the offsets in CSV lines topic,partition,offset"),
	KQ_OPT_FLAG(0, "execute", OPT_EXECUTE,
	  "apply the plan (the group must have no active members)"),
	KQ_OPT_FLAG(0, "export", OPT_EXPORT, "print the plan as CSV lines for --from-file"),

	KQ_OPT_SECTION("delete options:"),
	KQ_OPT_FLAG('y', "yes", 0, "do not ask; needed when stdin or stderr is not a terminal"),

	KQ_ADMIN_OPTS("config"),
};

/* A -t argument: a topic and, optionally, some of its partitions. */
struct tsel {
	char *topic;
	int32_t *parts;		/* NULL: all */
	int nparts;
};

struct opts {
	enum cmd cmd;
	const char *brokers;
	int64_t timeout_ms;
	bool json, no_headers, long_list, all, members, state_view, yes;
	char **states;		/* list --state filter */
	int nstates;
	int by;			/* lag: 0 total, 1 topic, 2 partition */
	struct tsel *tsel;
	int ntsel;
	bool all_topics;
	enum reset_kind reset;
	struct kq_off to;	/* RS_SPEC */
	int64_t value;		/* offset, shift, or time (ms) */
	const char *from_file;
	bool execute, export_csv;
	char **args;
	int nargs;
};

static struct kq_client *client;

/* ---- option parsing ---- */

static void
add_tsel(struct opts *op, const char *arg)
{
	const char *colon = strchr(arg, ':');
	struct tsel *ts;

	op->tsel = kq_xrealloc(op->tsel, (size_t)(op->ntsel + 1) * sizeof(*op->tsel));
	ts = &op->tsel[op->ntsel++];
	memset(ts, 0, sizeof(*ts));
	ts->topic = colon ? kq_xstrndup(arg, (size_t)(colon - arg)) : kq_xstrdup(arg);
	if (!kq_topic_valid(ts->topic, strlen(ts->topic)))
		kq_usage_error("invalid topic name '%s'", ts->topic);
	if (!colon)
		return;
	for (const char *p = colon + 1;;) {
		char buf[16];
		size_t n = strcspn(p, ",");
		int64_t v;

		if (n == 0 || n >= sizeof(buf))
			kq_usage_error("bad partition list in '%s'", arg);
		memcpy(buf, p, n);
		buf[n] = '\0';
		if (kq_cli_parse_int(buf, 0, INT32_MAX, &v) < 0)
			kq_usage_error("bad partition '%s' in '%s'", buf, arg);
		ts->parts = kq_xrealloc(ts->parts, (size_t)(ts->nparts + 1) * sizeof(*ts->parts));
		ts->parts[ts->nparts++] = (int32_t)v;
		if (!p[n])
			break;
		p += n + 1;
	}
}

static void
add_states(struct opts *op, const char *arg)
{
	for (const char *p = arg; *p;) {
		size_t n = strcspn(p, ",");

		if (n) {
			op->states = kq_xrealloc(op->states,
						 (size_t)(op->nstates + 1) * sizeof(*op->states));
			op->states[op->nstates++] = kq_xstrndup(p, n);
		}
		p += n + (p[n] == ',');
	}
}

static void
set_reset(struct opts *op, enum reset_kind k)
{
	if (op->reset != RS_NONE)
		kq_usage_error("give exactly one of --to, --to-earliest, --to-latest, --to-current, "
			       "--to-offset, --shift-by, --to-datetime, --by-duration, --from-file");
	op->reset = k;
}

/* "PT1H30M" (ISO 8601, as Kafka takes) or a kq duration ("1h30m"). */
static int
parse_iso_or_duration(const char *s, int64_t *ms)
{
	char buf[64];
	size_t i, o = 0;

	if (s[0] != 'P' && s[0] != 'p')
		return kq_cli_parse_duration_ms(s, ms);
	s++;
	if (*s == 'T' || *s == 't')
		s++;
	for (i = 0; s[i] && o + 2 < sizeof(buf); i++) {
		char c = s[i];

		if (c == 'H' || c == 'h')
			buf[o++] = 'h';
		else if (c == 'M' || c == 'm')
			buf[o++] = 'm';
		else if (c == 'S' || c == 's')
			buf[o++] = 's';
		else if (c == 'D' || c == 'd')
			buf[o++] = 'd';
		else if ((c >= '0' && c <= '9') || c == '.')
			buf[o++] = c;
		else if (c == 'T' || c == 't')
			continue;
		else
			return -1;
	}
	buf[o] = '\0';
	return o ? kq_cli_parse_duration_ms(buf, ms) : -1;
}

static void
parse_opts(int argc, char **argv, struct opts *op)
{
	const char *timeout_arg = NULL, *cmd, *state_arg = NULL, *by = NULL;
	char err[256];
	bool state_flag = false;
	int c, i;

	memset(op, 0, sizeof(*op));
	op->timeout_ms = 30000;
	argv = kq_cli_config_argv(&argc, argv, kq_opt_longopts(opts), NULL);
	while ((c = kq_opt_next(argc, argv, opts)) != -1) {
		switch (c) {
		case KQ_OPT_KEY_CONFIG: case KQ_OPT_KEY_PROFILE: break;	/* config.c */
		case 'b': op->brokers = optarg; break;
		case KQ_OPT_KEY_TIMEOUT: timeout_arg = optarg; break;
		case KQ_OPT_KEY_JSON: op->json = true; break;
		case KQ_OPT_KEY_NO_HEADERS: op->no_headers = true; break;
		case 'v':
			if (kq_cli_verbosity >= 0)
				kq_cli_verbosity++;
			break;
		case 'q': kq_cli_verbosity = -1; break;
		case 'h':
			fputs(usage_text, stdout);
			fputs("\n", stdout);
			fputs(help_head, stdout);
			kq_opt_help(opts, 24);
			fputs(help_tail, stdout);
			kq_cli_exit(0);
		case 'V': kq_cli_version();
		case 'l': op->long_list = true; break;
		case OPT_STATE:
			state_flag = true;
			state_arg = optarg;
			break;
		case OPT_ALL: op->all = true; break;
		case OPT_MEMBERS: op->members = true; break;
		case OPT_BY: by = optarg; break;
		case 't': add_tsel(op, optarg); break;
		case OPT_ALL_TOPICS: op->all_topics = true; break;
		case OPT_TO:
			set_reset(op, RS_SPEC);
			if (kq_cli_parse_off(optarg, strlen(optarg), false, kq_now_ms(), &op->to, err,
					     sizeof(err)) < 0)
				kq_usage_error("%s", err);
			if (op->to.kind == KQ_OFF_STORED)
				op->reset = RS_CURRENT;
			break;
		case OPT_TO_EARLIEST: set_reset(op, RS_EARLIEST); break;
		case OPT_TO_LATEST: set_reset(op, RS_LATEST); break;
		case OPT_TO_CURRENT: set_reset(op, RS_CURRENT); break;
		case OPT_TO_OFFSET:
			set_reset(op, RS_OFFSET);
			if (kq_cli_parse_int(optarg, 0, INT64_MAX, &op->value) < 0)
				kq_usage_error("bad --to-offset '%s'", optarg);
			break;
		case OPT_SHIFT_BY:
			set_reset(op, RS_SHIFT);
			if (kq_cli_parse_int(optarg, INT64_MIN / 2, INT64_MAX / 2, &op->value) < 0)
				kq_usage_error("bad --shift-by '%s'", optarg);
			break;
		case OPT_TO_DATETIME:
			set_reset(op, RS_DATETIME);
			if (kq_cli_parse_time_ms(optarg, strlen(optarg), kq_now_ms(), &op->value) < 0)
				kq_usage_error("bad --to-datetime '%s' (use YYYY-MM-DD, RFC 3339, "
					       "Unix ms or -DUR)", optarg);
			break;
		case OPT_BY_DURATION:
			set_reset(op, RS_DURATION);
			if (parse_iso_or_duration(optarg, &op->value) < 0)
				kq_usage_error("bad --by-duration '%s' (use 5m, 1h30m or PT1H30M)",
					       optarg);
			op->value = kq_now_ms() - op->value;
			break;
		case OPT_FROM_FILE:
			set_reset(op, RS_FILE);
			op->from_file = optarg;
			break;
		case OPT_EXECUTE: op->execute = true; break;
		case OPT_EXPORT: op->export_csv = true; break;
		case 'y': op->yes = true; break;
		}
	}
	if (timeout_arg && kq_cli_parse_duration_ms(timeout_arg, &op->timeout_ms) < 0)
		kq_usage_error("bad --timeout '%s' (durations need a unit: 250ms 10s 5m)",
			       timeout_arg);
	if (optind >= argc)
		kq_usage_error("no command given (list, describe, lag, reset, delete or "
			       "delete-offsets)");
	cmd = argv[optind++];
	for (i = 0; i < (int)KQ_ARRAY_LEN(cmd_names); i++)
		if (strcmp(cmd, cmd_names[i]) == 0)
			break;
	if (i == (int)KQ_ARRAY_LEN(cmd_names))
		kq_usage_error("unknown command '%s' (commands: list, describe, lag, reset, delete, "
			       "delete-offsets)", cmd);
	op->cmd = (enum cmd)i;
	op->args = argv + optind;
	op->nargs = argc - optind;
	op->brokers = kq_cli_brokers(op->brokers);

	if (op->long_list && op->cmd != CMD_LIST)
		kq_usage_error("-l applies to list only");
	if (state_flag && op->cmd == CMD_LIST) {
		/* "--state STATE" (no '='): the operand is the filter. */
		if (!state_arg && op->nargs == 1)
			state_arg = op->args[op->nargs-- - 1];
		if (!state_arg)
			kq_usage_error("list --state needs STATE[,STATE...]");
		add_states(op, state_arg);
	} else if (state_flag && op->cmd == CMD_DESCRIBE) {
		if (state_arg)
			kq_usage_error("describe --state takes no value");
		op->state_view = true;
	} else if (state_flag) {
		kq_usage_error("--state applies to list and describe");
	}
	if ((op->all || op->members) && op->cmd != CMD_DESCRIBE)
		kq_usage_error("--all and --members apply to describe");
	if (op->members && op->state_view)
		kq_usage_error("--members and --state do not combine");
	if (by && op->cmd != CMD_LAG)
		kq_usage_error("--by applies to lag");
	if (by && strcmp(by, "total") == 0)
		op->by = 0;
	else if (by && strcmp(by, "topic") == 0)
		op->by = 1;
	else if (by && strcmp(by, "partition") == 0)
		op->by = 2;
	else if (by)
		kq_usage_error("bad --by '%s' (total, topic or partition)", by);
	if (op->ntsel && op->cmd != CMD_RESET && op->cmd != CMD_DELETE_OFFSETS)
		kq_usage_error("-t applies to reset and delete-offsets");
	if ((op->reset != RS_NONE || op->all_topics || op->execute || op->export_csv) &&
	    op->cmd != CMD_RESET)
		kq_usage_error("reset options apply to reset only");
	if (op->yes && op->cmd != CMD_DELETE)
		kq_usage_error("-y applies to delete");

	switch (op->cmd) {
	case CMD_LIST:
		if (op->nargs)
			kq_usage_error("list takes no GROUP");
		break;
	case CMD_DESCRIBE:
		if (!op->nargs && !op->all)
			kq_usage_error("describe needs GROUP... or --all");
		if (op->nargs && op->all)
			kq_usage_error("give GROUP... or --all, not both");
		break;
	case CMD_LAG:
		if (op->nargs != 1)
			kq_usage_error("lag takes exactly one GROUP");
		break;
	case CMD_RESET:
		if (op->nargs != 1)
			kq_usage_error("reset takes exactly one GROUP");
		if (op->reset == RS_NONE)
			kq_usage_error("reset needs one of --to, --to-earliest, --to-latest, "
				       "--to-current, --to-offset, --shift-by, --to-datetime, "
				       "--by-duration, --from-file");
		if (op->reset != RS_FILE && !op->ntsel && !op->all_topics)
			kq_usage_error("reset needs -t TOPIC or --all-topics");
		if (op->ntsel && op->all_topics)
			kq_usage_error("give -t or --all-topics, not both");
		if (op->execute && op->export_csv)
			kq_usage_error("--execute and --export do not combine");
		break;
	case CMD_DELETE:
		if (!op->nargs)
			kq_usage_error("delete needs at least one GROUP");
		break;
	case CMD_DELETE_OFFSETS:
		if (op->nargs != 1)
			kq_usage_error("delete-offsets takes exactly one GROUP");
		if (!op->ntsel)
			kq_usage_error("delete-offsets needs -t TOPIC");
		for (i = 0; i < op->ntsel; i++)
			if (op->tsel[i].parts)
				kq_usage_error("delete-offsets takes whole topics (-t TOPIC)");
		break;
	}
	for (i = 0; i < op->nargs; i++)
		if (!op->args[i][0])
			kq_usage_error("a group id cannot be empty");
}

/* ---- talking to the cluster ---- */

static void
connect_or_die(const struct opts *op)
{
	const struct kq_metadata *md;
	int r;

	client = kq_cli_connect(op->brokers, op->timeout_ms);
	/* The broker list, so coordinators can be reached by node id. */
	r = kq_client_metadata(client, NULL, 0, false, &md);
	if (r < 0)
		kq_cli_die_client(client, r);
}

/*
 * A connection to GROUP's coordinator (client-owned).  Retries while the
 * coordinator is not available or loading, up to the timeout.
 */
static int
coordinator(const char *group, struct kq_conn **out)
{
	int64_t start = kq_mono_ms(), tmo = kq_client_timeout(client);
	int attempt = 0;

	for (;;) {
		struct kq_FindCoordinatorRequest req;
		struct kq_FindCoordinatorResponse resp;
		struct kq_arena a = { 0 };
		struct kq_conn *conn;
		int v, r, err;
		int32_t node;

		r = kq_client_any_conn(client, &conn);
		if (r < 0)
			return r;
		v = kq_conn_version(conn, KQ_API_FIND_COORDINATOR, 2);
		if (v < 0)
			kq_die(KQ_EXIT_FAIL, "the broker has no group coordinator (FindCoordinator)");
		kq_FindCoordinatorRequest_init(&req);
		req.Key = kq_str_c(group);
		req.KeyType = 0;
		r = kq_conn_call(conn, KQ_API_FIND_COORDINATOR, (int16_t)v, &req, &a, &resp,
				 tmo > 0 ? tmo : 30000);
		err = r < 0 ? r : resp.ErrorCode;
		node = resp.NodeId;
		kq_arena_free(&a);
		if (err == 0) {
			r = kq_client_node_conn(client, node, out);
			if (r == 0)
				return 0;
			err = r;
		}
		if (err > 0 && err != KQ_E_COORDINATOR_NOT_AVAILABLE &&
		    err != KQ_E_COORDINATOR_LOAD_IN_PROGRESS && err != KQ_E_NOT_COORDINATOR)
			return err;
		if (tmo > 0 && kq_mono_ms() - start >= tmo)
			return err < 0 ? err : KQ_ERR_TIMEOUT;
		kq_debug("coordinator of '%s': %s; retrying", group, kq_err_str(err));
		usleep((useconds_t)kq_backoff_ms(attempt++) * 1000);
	}
}

/* A request to GROUP's coordinator; 0 or an error (resp in a). */
static int
coord_call(const char *group, int16_t api, int16_t our_max, int16_t our_min, const void *req,
	   struct kq_arena *a, void *resp, int16_t *vout)
{
	struct kq_conn *conn;
	int v, r;

	r = coordinator(group, &conn);
	if (r != 0)
		return r;
	v = kq_conn_version(conn, api, our_max);
	if (v < our_min)
		kq_die(KQ_EXIT_FAIL, "the broker does not support %s", kq_api_name(api));
	if (vout)
		*vout = (int16_t)v;
	return kq_conn_call(conn, api, (int16_t)v, req, a, resp,
			    kq_client_timeout(client) > 0 ? kq_client_timeout(client) : 30000);
}

KQ_NORETURN static void
die_group(const char *group, int err)
{
	if (err == KQ_ERR_TIMEOUT && kq_client_errstr(client)[0])
		kq_cli_die_client(client, err);
	kq_die(kq_cli_exit_for(err), "group '%s': %s", group, err < 0 && kq_client_errstr(client)[0] ?
	       kq_client_errstr(client) : kq_err_str(err));
}

/* ---- group facts ---- */

/* One topic-partition with what is known about it. */
struct gtp {
	char *topic;
	int32_t partition;
	int64_t committed;	/* -1: none */
	int64_t lo, hi;		/* log start and end; -1 unknown */
	int err;		/* why they are unknown */
	int member;		/* index into members, -1 none */
	int64_t target;		/* reset */
	int seq;		/* order of arrival: later facts win in gtp_merge */
};

struct gmember {
	char *id, *host, *client_id;
	int nparts;
};

struct ginfo {
	char *group;
	char *state, *protocol_type, *protocol;
	struct gmember *members;
	int nmembers;
	struct gtp *tps;
	int ntps;
};

static int
gtp_cmp(const void *x, const void *y)
{
	const struct gtp *a = x, *b = y;
	int c = strcmp(a->topic, b->topic);

	if (c)
		return c;
	if (a->partition != b->partition)
		return (a->partition > b->partition) - (a->partition < b->partition);
	return (a->seq > b->seq) - (a->seq < b->seq);
}

/*
 * Append a fact about one topic-partition.  Facts are only appended (a
 * lookup per fact would be quadratic in a group of many partitions);
 * gtp_merge then sorts them and folds the facts about each partition.
 */
static struct gtp *
gtp_add(struct ginfo *g, const char *topic, size_t tlen, int32_t partition)
{
	struct gtp *t;

	g->tps = kq_xrealloc(g->tps, ((size_t)g->ntps + 1) * sizeof(*g->tps));
	t = &g->tps[g->ntps];
	t->topic = kq_xstrndup(topic, tlen);
	t->partition = partition;
	t->committed = -1;
	t->lo = t->hi = -1;
	t->err = 0;
	t->member = -1;
	t->target = -1;
	t->seq = g->ntps++;
	return t;
}

/* Sort by topic and partition, one entry each; a later known value wins. */
static void
gtp_merge(struct ginfo *g)
{
	int i, n = 0;

	if (g->ntps == 0)
		return;
	qsort(g->tps, (size_t)g->ntps, sizeof(*g->tps), gtp_cmp);
	for (i = 0; i < g->ntps; i++) {
		struct gtp *t = &g->tps[i], *keep = n ? &g->tps[n - 1] : NULL;

		if (!keep || keep->partition != t->partition || strcmp(keep->topic, t->topic) != 0) {
			g->tps[n++] = *t;
			continue;
		}
		if (t->committed >= 0)
			keep->committed = t->committed;
		if (t->member >= 0)
			keep->member = t->member;
		if (t->target >= 0)
			keep->target = t->target;
		free(t->topic);
	}
	g->ntps = n;
	for (i = 0; i < n; i++)
		g->tps[i].seq = i;
}

/* The entry for topic/partition in a merged g, or NULL. */
static const struct gtp *
gtp_find(const struct ginfo *g, const char *topic, int32_t partition)
{
	struct gtp key = { .topic = (char *)topic, .partition = partition };
	int lo = 0, hi = g->ntps;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int c;

		key.seq = g->tps[mid].seq;	/* compare by topic and partition only */
		c = gtp_cmp(&key, &g->tps[mid]);
		if (c == 0)
			return &g->tps[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static char *
dup_str(struct kq_str s)
{
	char *p = kq_str_dup(s);

	return p ? p : kq_xstrdup("");
}

/* DescribeGroups: state, protocol and members (with their assignments). */
static void
describe_group(struct ginfo *g)
{
	struct kq_DescribeGroupsRequest req;
	struct kq_DescribeGroupsResponse resp;
	struct kq_str name = kq_str_c(g->group);
	struct kq_arena a = { 0 };
	const struct kq_DescribeGroupsResponse_DescribedGroup *dg;
	int r, i;

	kq_DescribeGroupsRequest_init(&req);
	req.Groups = &name;
	req.Groups_count = 1;
	r = coord_call(g->group, KQ_API_DESCRIBE_GROUPS, 4, 0, &req, &a, &resp, NULL);
	if (r != 0)
		die_group(g->group, r);
	if (resp.Groups_count != 1)
		kq_die(KQ_EXIT_FAIL, "group '%s': malformed DescribeGroups answer", g->group);
	dg = &resp.Groups[0];
	if (dg->ErrorCode)
		die_group(g->group, dg->ErrorCode);
	g->state = dup_str(dg->GroupState);
	g->protocol_type = dup_str(dg->ProtocolType);
	g->protocol = dup_str(dg->ProtocolData);
	g->nmembers = dg->Members_count > 0 ? dg->Members_count : 0;	/* null array: -1 */
	g->members = kq_xcalloc((size_t)g->nmembers + 1, sizeof(*g->members));
	for (i = 0; i < g->nmembers; i++) {
		const struct kq_DescribeGroupsResponse_DescribedGroupMember *m = &dg->Members[i];
		struct kq_ConsumerProtocolAssignment asg;
		int16_t ver;
		int32_t j, k;

		g->members[i].id = dup_str(m->MemberId);
		g->members[i].host = dup_str(m->ClientHost);
		g->members[i].client_id = dup_str(m->ClientId);
		if (strcmp(g->protocol_type, "consumer") != 0 || m->MemberAssignment.len <= 0 ||
		    kq_consumer_asg_decode(m->MemberAssignment.p, (size_t)m->MemberAssignment.len,
					   &a, &ver, &asg) != 0)
			continue;
		for (j = 0; j < asg.AssignedPartitions_count; j++) {
			const struct kq_ConsumerProtocolAssignment_TopicPartition *tp =
				&asg.AssignedPartitions[j];

			if (tp->Topic.len <= 0)
				continue;
			for (k = 0; k < tp->Partitions_count; k++) {
				struct gtp *t = gtp_add(g, tp->Topic.p, (size_t)tp->Topic.len,
							tp->Partitions[k]);

				t->member = i;
				g->members[i].nparts++;
			}
		}
	}
	kq_arena_free(&a);
}

/* OffsetFetch of every committed offset of the group (v2+: null topics). */
static void
fetch_offsets(struct ginfo *g)
{
	struct kq_OffsetFetchRequest req;
	struct kq_OffsetFetchResponse resp;
	struct kq_arena a = { 0 };
	int32_t i, j;
	int r;

	kq_OffsetFetchRequest_init(&req);
	req.GroupId = kq_str_c(g->group);
	req.Topics = NULL;
	req.Topics_count = -1;
	r = coord_call(g->group, KQ_API_OFFSET_FETCH, 5, 2, &req, &a, &resp, NULL);
	if (r != 0)
		die_group(g->group, r);
	if (resp.ErrorCode)
		die_group(g->group, resp.ErrorCode);
	for (i = 0; i < resp.Topics_count; i++) {
		const struct kq_OffsetFetchResponse_OffsetFetchResponseTopic *t = &resp.Topics[i];

		if (t->Name.len <= 0)
			continue;
		for (j = 0; j < t->Partitions_count; j++) {
			const struct kq_OffsetFetchResponse_OffsetFetchResponsePartition *p =
				&t->Partitions[j];

			if (p->ErrorCode || p->CommittedOffset < 0)
				continue;
			gtp_add(g, t->Name.p, (size_t)t->Name.len, p->PartitionIndex)->committed =
				p->CommittedOffset;
		}
	}
	kq_arena_free(&a);
}

/* Log start and end of every partition (one ListOffsets per leader). */
static void
fetch_ends(struct ginfo *g, bool want_lo)
{
	struct kq_lo_req *q;
	int i, n = 0, r;

	if (g->ntps == 0)
		return;
	q = kq_xcalloc((size_t)g->ntps * 2, sizeof(*q));
	for (i = 0; i < g->ntps; i++) {
		q[n].topic = g->tps[i].topic;
		q[n].partition = g->tps[i].partition;
		q[n++].timestamp = KQ_OFFSET_LATEST;
		if (want_lo) {
			q[n].topic = g->tps[i].topic;
			q[n].partition = g->tps[i].partition;
			q[n++].timestamp = KQ_OFFSET_EARLIEST;
		}
	}
	r = kq_client_list_offsets_many(client, q, (size_t)n);
	if (r < 0)
		kq_cli_die_client(client, r);
	for (i = 0, n = 0; i < g->ntps; i++) {
		g->tps[i].hi = q[n].err ? -1 : q[n].offset;
		g->tps[i].err = q[n].err;
		n++;
		if (want_lo) {
			g->tps[i].lo = q[n].err ? -1 : q[n].offset;
			if (!g->tps[i].err)
				g->tps[i].err = q[n].err;
			n++;
		}
	}
	free(q);
}

static void
ginfo_free(struct ginfo *g)
{
	int i;

	for (i = 0; i < g->nmembers; i++) {
		free(g->members[i].id);
		free(g->members[i].host);
		free(g->members[i].client_id);
	}
	for (i = 0; i < g->ntps; i++)
		free(g->tps[i].topic);
	free(g->members);
	free(g->tps);
	free(g->state);
	free(g->protocol_type);
	free(g->protocol);
	memset(g, 0, sizeof(*g));
}

/*
 * Everything about one group.  A group that does not exist (Kafka answers
 * Dead, and there are no offsets) is an error, false, and g is left empty.
 */
static bool
load_group(struct ginfo *g, const char *group, bool want_lo)
{
	memset(g, 0, sizeof(*g));
	g->group = (char *)group;
	describe_group(g);
	fetch_offsets(g);
	if (strcmp(g->state, "Dead") == 0 && g->ntps == 0) {
		kq_error("group '%s' does not exist", group);
		kq_cli_set_status(KQ_EXIT_NOTFOUND);
		ginfo_free(g);
		return false;
	}
	gtp_merge(g);	/* member indexes survive: they index members, not tps */
	fetch_ends(g, want_lo);
	return true;
}

static char *
num(int64_t v)
{
	return v < 0 ? kq_xstrdup("-") : kq_xasprintf("%lld", (long long)v);
}

static int64_t
lag_of(const struct gtp *t)
{
	if (t->committed < 0 || t->hi < 0)
		return -1;
	return t->hi > t->committed ? t->hi - t->committed : 0;
}

static void
json_field(struct kq_buf *b, const char *name, const char *s, bool comma)
{
	kq_buf_addf(b, "%s\"%s\":", comma ? "," : "", name);
	if (s)
		kq_json_str(b, s, strlen(s));
	else
		kq_buf_adds(b, "null");
}

static void
json_num(struct kq_buf *b, const char *name, int64_t v)
{
	if (v < 0)
		kq_buf_addf(b, ",\"%s\":null", name);
	else
		kq_buf_addf(b, ",\"%s\":%lld", name, (long long)v);
}

/* ---- list ---- */

struct lgroup {
	char *id, *ptype;
};

static int
lgroup_cmp(const void *x, const void *y)
{
	return strcmp(((const struct lgroup *)x)->id, ((const struct lgroup *)y)->id);
}

/* ListGroups on every broker (each lists the groups it coordinates). */
static struct lgroup *
list_all(int *count)
{
	const struct kq_metadata *md = kq_client_cached(client);
	struct lgroup *v = NULL;
	int n = 0, b, i, j;

	for (b = 0; md && b < md->n_brokers; b++) {
		struct kq_ListGroupsRequest req;
		struct kq_ListGroupsResponse resp;
		struct kq_arena a = { 0 };
		struct kq_conn *conn;
		int ver, r;

		r = kq_client_node_conn(client, md->brokers[b].id, &conn);
		if (r != 0)
			kq_cli_die_client(client, r);
		ver = kq_conn_version(conn, KQ_API_LIST_GROUPS, 2);
		if (ver < 0)
			kq_die(KQ_EXIT_FAIL, "the broker does not support ListGroups");
		kq_ListGroupsRequest_init(&req);
		r = kq_conn_call(conn, KQ_API_LIST_GROUPS, (int16_t)ver, &req, &a, &resp,
				 kq_client_timeout(client) > 0 ? kq_client_timeout(client) : 30000);
		if (r < 0)
			kq_cli_die_client(client, r);
		if (resp.ErrorCode)
			kq_die(kq_cli_exit_for(resp.ErrorCode), "ListGroups: %s", kq_err_str(resp.ErrorCode));
		if (resp.Groups_count > 0)
			v = kq_xrealloc(v, ((size_t)n + (size_t)resp.Groups_count) * sizeof(*v));
		for (i = 0; i < resp.Groups_count; i++) {
			v[n].id = dup_str(resp.Groups[i].GroupId);
			v[n++].ptype = dup_str(resp.Groups[i].ProtocolType);
		}
		kq_arena_free(&a);
	}
	if (n)
		qsort(v, (size_t)n, sizeof(*v), lgroup_cmp);
	/* A group named twice (by a broker, or by two brokers) is listed once. */
	for (i = 0, j = 0; i < n; i++) {
		if (j > 0 && strcmp(v[j - 1].id, v[i].id) == 0) {
			free(v[i].id);
			free(v[i].ptype);
			continue;
		}
		v[j++] = v[i];
	}
	*count = j;
	return v;
}

static bool
state_wanted(const struct opts *op, const char *state)
{
	int i;

	if (!op->nstates)
		return true;
	for (i = 0; i < op->nstates; i++)
		if (strcasecmp(op->states[i], state) == 0)
			return true;
	return false;
}

static int
cmd_list(const struct opts *op)
{
	static const char *const hdr[] = { "GROUP", "PROTOCOL-TYPE", "STATE", "MEMBERS" };
	struct kq_table tbl = { 4, NULL, 0 };
	struct kq_buf b = { 0 };
	struct lgroup *v;
	int n, i;

	v = list_all(&n);
	for (i = 0; i < n; i++) {
		struct ginfo g = { 0 };
		bool need = op->long_list || op->nstates || op->json;

		if (need) {
			g.group = v[i].id;
			describe_group(&g);
			if (!state_wanted(op, g.state)) {
				ginfo_free(&g);
				continue;
			}
		}
		if (op->json) {
			kq_buf_addc(&b, '{');
			json_field(&b, "group", v[i].id, false);
			json_field(&b, "protocol_type", v[i].ptype, true);
			json_field(&b, "state", g.state, true);
			kq_buf_addf(&b, ",\"members\":%d}", g.nmembers);
			kq_cli_json_line(&b);
		} else if (op->long_list) {
			char *cells[4] = { kq_xstrdup(v[i].id),
					   kq_xstrdup(v[i].ptype[0] ? v[i].ptype : "-"),
					   kq_xstrdup(g.state), kq_xasprintf("%d", g.nmembers) };

			kq_table_row(&tbl, cells);
		} else {
			printf("%s\n", v[i].id);
		}
		if (need)
			ginfo_free(&g);
	}
	if (op->long_list && !op->json)
		kq_table_print(&tbl, hdr, !op->no_headers);
	for (i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].ptype);
	}
	free(v);
	kq_buf_free(&b);
	return 0;
}

/* ---- describe ---- */

static void
describe_offsets(const struct opts *op, struct ginfo *g, struct kq_table *tbl)
{
	struct kq_buf b = { 0 };
	bool *shown = kq_xcalloc((size_t)g->nmembers + 1, sizeof(bool));
	int i;

	for (i = 0; i < g->ntps; i++) {
		const struct gtp *t = &g->tps[i];
		const struct gmember *m = t->member >= 0 ? &g->members[t->member] : NULL;

		if (t->member >= 0)
			shown[t->member] = true;
		if (op->json) {
			kq_buf_addc(&b, '{');
			json_field(&b, "group", g->group, false);
			json_field(&b, "topic", t->topic, true);
			kq_buf_addf(&b, ",\"partition\":%d", t->partition);
			json_num(&b, "current_offset", t->committed);
			json_num(&b, "log_end_offset", t->hi);
			json_num(&b, "lag", lag_of(t));
			json_field(&b, "consumer_id", m ? m->id : NULL, true);
			json_field(&b, "host", m ? m->host : NULL, true);
			json_field(&b, "client_id", m ? m->client_id : NULL, true);
			kq_buf_addc(&b, '}');
			kq_cli_json_line(&b);
		} else {
			char *cells[9] = {
				kq_xstrdup(g->group), kq_xstrdup(t->topic),
				kq_xasprintf("%d", t->partition), num(t->committed), num(t->hi),
				num(lag_of(t)), kq_xstrdup(m ? m->id : "-"),
				kq_xstrdup(m ? m->host : "-"), kq_xstrdup(m ? m->client_id : "-"),
			};

			kq_table_row(tbl, cells);
		}
	}
	/* Members without partitions still show, as Kafka's tool does. */
	for (i = 0; i < g->nmembers; i++) {
		const struct gmember *m = &g->members[i];

		if (shown[i])
			continue;
		if (op->json) {
			kq_buf_addc(&b, '{');
			json_field(&b, "group", g->group, false);
			json_field(&b, "topic", NULL, true);
			kq_buf_adds(&b, ",\"partition\":null,\"current_offset\":null,"
				    "\"log_end_offset\":null,\"lag\":null");
			json_field(&b, "consumer_id", m->id, true);
			json_field(&b, "host", m->host, true);
			json_field(&b, "client_id", m->client_id, true);
			kq_buf_addc(&b, '}');
			kq_cli_json_line(&b);
		} else {
			char *cells[9] = {
				kq_xstrdup(g->group), kq_xstrdup("-"), kq_xstrdup("-"),
				kq_xstrdup("-"), kq_xstrdup("-"), kq_xstrdup("-"),
				kq_xstrdup(m->id), kq_xstrdup(m->host), kq_xstrdup(m->client_id),
			};

			kq_table_row(tbl, cells);
		}
	}
	free(shown);
	kq_buf_free(&b);
}

static void
describe_members(const struct opts *op, struct ginfo *g, struct kq_table *tbl)
{
	struct kq_buf b = { 0 };
	int i;

	for (i = 0; i < g->nmembers; i++) {
		const struct gmember *m = &g->members[i];

		if (op->json) {
			kq_buf_addc(&b, '{');
			json_field(&b, "group", g->group, false);
			json_field(&b, "consumer_id", m->id, true);
			json_field(&b, "host", m->host, true);
			json_field(&b, "client_id", m->client_id, true);
			kq_buf_addf(&b, ",\"partitions\":%d}", m->nparts);
			kq_cli_json_line(&b);
		} else {
			char *cells[5] = { kq_xstrdup(g->group), kq_xstrdup(m->id),
					   kq_xstrdup(m->host), kq_xstrdup(m->client_id),
					   kq_xasprintf("%d", m->nparts) };

			kq_table_row(tbl, cells);
		}
	}
	kq_buf_free(&b);
}

static void
describe_state(const struct opts *op, struct ginfo *g, struct kq_table *tbl)
{
	struct kq_conn *conn;
	char *coord;
	int r;

	r = coordinator(g->group, &conn);
	coord = r == 0 ? kq_xasprintf("%s (%d)", kq_conn_name(conn), kq_conn_node(conn)) :
		kq_xstrdup("-");
	if (op->json) {
		struct kq_buf b = { 0 };

		kq_buf_addc(&b, '{');
		json_field(&b, "group", g->group, false);
		json_field(&b, "coordinator", coord, true);
		json_field(&b, "assignment_strategy", g->protocol, true);
		json_field(&b, "state", g->state, true);
		kq_buf_addf(&b, ",\"members\":%d}", g->nmembers);
		kq_cli_json_line(&b);
		kq_buf_free(&b);
		free(coord);
	} else {
		char *cells[5] = { kq_xstrdup(g->group), coord,
				   kq_xstrdup(g->protocol[0] ? g->protocol : "-"),
				   kq_xstrdup(g->state), kq_xasprintf("%d", g->nmembers) };

		kq_table_row(tbl, cells);
	}
}

static int
cmd_describe(const struct opts *op)
{
	static const char *const h_off[] = { "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET",
					     "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST",
					     "CLIENT-ID" };
	static const char *const h_mem[] = { "GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID",
					     "#PARTITIONS" };
	static const char *const h_state[] = { "GROUP", "COORDINATOR (ID)",
					       "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS" };
	struct kq_table tbl = { op->members ? 5 : op->state_view ? 5 : 9, NULL, 0 };
	struct lgroup *all = NULL;
	char **groups = op->args;
	int n = op->nargs, i;

	if (op->all) {
		all = list_all(&n);
		groups = kq_xcalloc((size_t)n + 1, sizeof(char *));
		for (i = 0; i < n; i++)
			groups[i] = all[i].id;
	}
	for (i = 0; i < n; i++) {
		struct ginfo g;

		/* Like Kafka's tool, a missing group does not hide the others. */
		if (!load_group(&g, groups[i], false))
			continue;
		if (op->members)
			describe_members(op, &g, &tbl);
		else if (op->state_view)
			describe_state(op, &g, &tbl);
		else
			describe_offsets(op, &g, &tbl);
		if (g.nmembers == 0 && !op->state_view)
			kq_note("group '%s' has no active members", groups[i]);
		ginfo_free(&g);
	}
	if (!op->json)
		kq_table_print(&tbl, op->members ? h_mem : op->state_view ? h_state : h_off,
			       !op->no_headers);
	if (op->all) {
		for (i = 0; i < n; i++) {
			free(all[i].id);
			free(all[i].ptype);
		}
		free(all);
		free(groups);
	}
	return kq_cli_exit_status;
}

/* ---- lag ---- */

static int
cmd_lag(const struct opts *op)
{
	struct ginfo g;
	int64_t total = 0;
	int i, j;

	if (!load_group(&g, op->args[0], false))
		return kq_cli_exit_status;
	/* tps are sorted by topic: each topic is one run of entries. */
	for (i = 0; i < g.ntps; i = j) {
		int64_t sum = 0;
		bool known = false;

		for (j = i; j < g.ntps && strcmp(g.tps[j].topic, g.tps[i].topic) == 0; j++) {
			int64_t l = lag_of(&g.tps[j]);

			if (l < 0)
				continue;
			known = true;
			sum += l;
			if (op->by == 2)
				printf("%s %d %lld\n", g.tps[j].topic, g.tps[j].partition,
				       (long long)l);
		}
		if (op->by == 1 && known)
			printf("%s %lld\n", g.tps[i].topic, (long long)sum);
		total += sum;
	}
	if (op->by == 0)
		printf("%lld\n", (long long)total);
	ginfo_free(&g);
	return 0;
}

/* ---- reset ---- */

/* The partitions in pick become g's, with their committed offsets from g. */
static void
adopt_targets(struct ginfo *g, struct ginfo *pick)
{
	int i;

	gtp_merge(pick);
	for (i = 0; i < pick->ntps; i++) {
		const struct gtp *had = gtp_find(g, pick->tps[i].topic, pick->tps[i].partition);

		if (had)
			pick->tps[i].committed = had->committed;
	}
	for (i = 0; i < g->ntps; i++)
		free(g->tps[i].topic);
	free(g->tps);
	g->tps = pick->tps;
	g->ntps = pick->ntps;
}

/* The partitions to reset: from -t (all partitions unless listed) or the commits. */
static void
reset_targets(const struct opts *op, struct ginfo *g)
{
	struct ginfo pick = { 0 };
	int i, j;

	if (op->all_topics) {
		for (i = 0; i < g->ntps; i++)
			if (g->tps[i].committed >= 0)
				gtp_add(&pick, g->tps[i].topic, strlen(g->tps[i].topic),
					g->tps[i].partition);
	}
	for (i = 0; i < op->ntsel; i++) {
		const struct tsel *ts = &op->tsel[i];
		const struct kq_metadata *md;
		const struct kq_md_topic *mt;
		const char *names[1] = { ts->topic };
		int r = kq_client_metadata(client, names, 1, false, &md);

		if (r < 0)
			kq_cli_die_client(client, r);
		mt = kq_md_topic(md, ts->topic);
		if (!mt || mt->err == KQ_E_UNKNOWN_TOPIC_OR_PARTITION)
			kq_die(KQ_EXIT_NOTFOUND, "topic '%s' does not exist", ts->topic);
		if (!ts->parts) {
			for (j = 0; j < mt->n_parts; j++)
				gtp_add(&pick, ts->topic, strlen(ts->topic), mt->parts[j].id);
			continue;
		}
		for (j = 0; j < ts->nparts; j++) {
			if (!kq_md_partition(mt, ts->parts[j]))
				kq_die(KQ_EXIT_NOTFOUND, "partition %d of topic '%s' does not exist",
				       (int)ts->parts[j], ts->topic);
			gtp_add(&pick, ts->topic, strlen(ts->topic), ts->parts[j]);
		}
	}
	adopt_targets(g, &pick);
}

/* --from-file: topic,partition,offset lines become the plan. */
static void
read_plan(const struct opts *op, struct ginfo *g)
{
	FILE *fp = strcmp(op->from_file, "-") == 0 ? stdin : fopen(op->from_file, "r");
	char line[1024];
	int lineno = 0;

	if (!fp)
		kq_die_errno(KQ_EXIT_USAGE, "cannot read '%s'", op->from_file);
	while (fgets(line, sizeof(line), fp)) {
		char *c1, *c2, *end;
		long long p, off;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		c1 = strchr(line, ',');
		c2 = c1 ? strchr(c1 + 1, ',') : NULL;
		if (!c2)
			kq_die(KQ_EXIT_USAGE, "%s:%d: expected topic,partition,offset", op->from_file,
			       lineno);
		p = strtoll(c1 + 1, &end, 10);
		if (end != c2 || p < 0 || p > INT32_MAX)
			kq_die(KQ_EXIT_USAGE, "%s:%d: bad partition", op->from_file, lineno);
		off = strtoll(c2 + 1, &end, 10);
		if (*end || off < 0 || end == c2 + 1)
			kq_die(KQ_EXIT_USAGE, "%s:%d: bad offset", op->from_file, lineno);
		if (!kq_topic_valid(line, (size_t)(c1 - line)))
			kq_die(KQ_EXIT_USAGE, "%s:%d: bad topic name", op->from_file, lineno);
		gtp_add(g, line, (size_t)(c1 - line), (int32_t)p)->target = off;
	}
	if (fp != stdin)
		fclose(fp);
}

static void
plan(const struct opts *op, struct ginfo *g)
{
	struct kq_lo_req *q = NULL;
	int i, r, clamped = 0;

	if (op->reset == RS_DATETIME || op->reset == RS_DURATION ||
	    (op->reset == RS_SPEC && op->to.kind == KQ_OFF_TIME)) {
		int64_t when = op->reset == RS_SPEC ? op->to.value : op->value;
		char ts[40];

		/* CLI.md: every resolved time is echoed back in UTC with the plan. */
		kq_cli_fmt_time(when, ts, sizeof(ts));
		kq_note("resetting to the first record at or after %s", ts);
		q = kq_xcalloc((size_t)g->ntps + 1, sizeof(*q));
		for (i = 0; i < g->ntps; i++) {
			q[i].topic = g->tps[i].topic;
			q[i].partition = g->tps[i].partition;
			q[i].timestamp = when;
		}
		if (g->ntps && (r = kq_client_list_offsets_many(client, q, (size_t)g->ntps)) < 0)
			kq_cli_die_client(client, r);
	}
	for (i = 0; i < g->ntps; i++) {
		struct gtp *t = &g->tps[i];
		int64_t want;
		bool c = false;

		if (t->err == KQ_E_UNKNOWN_TOPIC_OR_PARTITION)
			kq_die(KQ_EXIT_NOTFOUND, "partition %d of topic '%s' does not exist",
			       (int)t->partition, t->topic);
		if (t->lo < 0 || t->hi < 0)
			kq_die(t->err ? kq_cli_exit_for(t->err) : KQ_EXIT_FAIL,
			       "no offsets for '%s' partition %d: %s", t->topic, (int)t->partition,
			       t->err ? kq_err_str(t->err) : "the broker has none");
		switch (op->reset) {
		case RS_SPEC:
			want = kq_off_resolve(&op->to, t->lo, t->hi, q && !q[i].err ? q[i].offset : -1,
					      t->committed, &c);
			break;
		case RS_EARLIEST: want = t->lo; break;
		case RS_LATEST: want = t->hi; break;
		case RS_CURRENT: want = t->committed >= 0 ? t->committed : t->hi; break;
		case RS_OFFSET: want = op->value; break;
		case RS_SHIFT: want = (t->committed >= 0 ? t->committed : t->lo) + op->value; break;
		case RS_DATETIME:
		case RS_DURATION:
			want = !q[i].err && q[i].offset >= 0 ? q[i].offset : t->hi;
			break;
		default: want = t->target; break;
		}
		if (want < t->lo) {
			want = t->lo;
			c = true;
		} else if (want > t->hi) {
			want = t->hi;
			c = true;
		}
		clamped += c;
		t->target = want;
	}
	if (clamped)
		kq_warn("%d offset%s moved into the log's range [start, end]", clamped,
			clamped == 1 ? "" : "s");
	free(q);
}

static void
print_plan(const struct opts *op, const struct ginfo *g)
{
	static const char *const hdr[] = { "TOPIC", "PARTITION", "CURRENT", "NEW" };
	struct kq_table tbl = { 4, NULL, 0 };
	struct kq_buf b = { 0 };
	int i;

	for (i = 0; i < g->ntps; i++) {
		const struct gtp *t = &g->tps[i];

		if (op->export_csv) {
			printf("%s,%d,%lld\n", t->topic, t->partition, (long long)t->target);
		} else if (op->json) {
			kq_buf_addc(&b, '{');
			json_field(&b, "group", g->group, false);
			json_field(&b, "topic", t->topic, true);
			kq_buf_addf(&b, ",\"partition\":%d", t->partition);
			json_num(&b, "current", t->committed);
			json_num(&b, "new", t->target);
			kq_buf_addc(&b, '}');
			kq_cli_json_line(&b);
		} else {
			char *cells[4] = { kq_xstrdup(t->topic), kq_xasprintf("%d", t->partition),
					   num(t->committed), num(t->target) };

			kq_table_row(&tbl, cells);
		}
	}
	if (!op->export_csv && !op->json)
		kq_table_print(&tbl, hdr, !op->no_headers);
	kq_buf_free(&b);
}

/* A per-partition error of OffsetCommit or OffsetDelete; topic is the broker's. */
static void
topic_error(const char *group, struct kq_str topic, int32_t partition, int16_t e)
{
	char *name = dup_str(topic);

	if (e == KQ_E_GROUP_SUBSCRIBED_TO_TOPIC)
		kq_error("group '%s' is consuming '%s'; stop its members first", group, name);
	else
		kq_error("group '%s': '%s' partition %d: %s", group, name, (int)partition,
			 kq_err_str(e));
	free(name);
	kq_cli_set_status(kq_cli_exit_for(e));
}

static void
commit_plan(const struct ginfo *g)
{
	struct kq_OffsetCommitRequest req;
	struct kq_OffsetCommitResponse resp;
	struct kq_OffsetCommitRequest_OffsetCommitRequestTopic *topics;
	struct kq_OffsetCommitRequest_OffsetCommitRequestPartition *parts;
	struct kq_arena a = { 0 };
	int i, nt = 0, r, failed = 0;
	int32_t j, k;

	topics = kq_xcalloc((size_t)g->ntps + 1, sizeof(*topics));
	parts = kq_xcalloc((size_t)g->ntps + 1, sizeof(*parts));
	for (i = 0; i < g->ntps; i++) {
		if (i == 0 || strcmp(g->tps[i].topic, g->tps[i - 1].topic) != 0) {
			kq_OffsetCommitRequest_OffsetCommitRequestTopic_init(&topics[nt]);
			topics[nt].Name = kq_str_c(g->tps[i].topic);
			topics[nt].Partitions = &parts[i];
			nt++;
		}
		kq_OffsetCommitRequest_OffsetCommitRequestPartition_init(&parts[i]);
		parts[i].PartitionIndex = g->tps[i].partition;
		parts[i].CommittedOffset = g->tps[i].target;
		parts[i].CommittedLeaderEpoch = -1;
		parts[i].CommittedMetadata = kq_str_c("");
		topics[nt - 1].Partitions_count++;
	}
	kq_OffsetCommitRequest_init(&req);
	req.GroupId = kq_str_c(g->group);
	req.GenerationIdOrMemberEpoch = -1;	/* an admin commit, from outside the group */
	req.MemberId = kq_str_c("");
	req.GroupInstanceId = KQ_STR_NULL;
	req.RetentionTimeMs = -1;
	req.Topics = topics;
	req.Topics_count = nt;
	r = coord_call(g->group, KQ_API_OFFSET_COMMIT, 7, 2, &req, &a, &resp, NULL);
	free(topics);
	free(parts);
	if (r != 0)
		die_group(g->group, r);
	for (j = 0; j < resp.Topics_count; j++)
		for (k = 0; k < resp.Topics[j].Partitions_count; k++) {
			int16_t e = resp.Topics[j].Partitions[k].ErrorCode;

			if (!e)
				continue;
			failed++;
			if (e == KQ_E_UNKNOWN_MEMBER_ID || e == KQ_E_ILLEGAL_GENERATION ||
			    e == KQ_E_REBALANCE_IN_PROGRESS) {
				/* A member joined between our look and the commit. */
				if (kq_cli_exit_status != KQ_EXIT_CONFLICT)
					kq_error("group '%s' became active; stop its members before "
						 "resetting offsets", g->group);
				kq_cli_set_status(KQ_EXIT_CONFLICT);
				continue;
			}
			topic_error(g->group, resp.Topics[j].Name,
				    resp.Topics[j].Partitions[k].PartitionIndex, e);
		}
	kq_arena_free(&a);
	if (!failed)
		kq_debug("group '%s': %d offset%s committed", g->group, g->ntps,
			 g->ntps == 1 ? "" : "s");
}

static int
cmd_reset(const struct opts *op)
{
	struct ginfo g;
	int i;

	memset(&g, 0, sizeof(g));
	g.group = op->args[0];
	describe_group(&g);
	fetch_offsets(&g);
	gtp_merge(&g);
	if (g.nmembers > 0) {
		struct kq_buf ids = { 0 };

		for (i = 0; i < g.nmembers && i < 5; i++)
			kq_buf_addf(&ids, "%s%s", i ? ", " : "", g.members[i].id);
		if (g.nmembers > 5)
			kq_buf_adds(&ids, ", ...");
		kq_die(KQ_EXIT_CONFLICT, "group '%s' has %d active member%s (%s); stop %s before "
		       "resetting offsets", g.group, g.nmembers, g.nmembers == 1 ? "" : "s",
		       kq_buf_cstr(&ids), g.nmembers == 1 ? "it" : "them");
	}
	if (op->reset == RS_FILE) {
		struct ginfo pick = { 0 };

		read_plan(op, &pick);
		adopt_targets(&g, &pick);	/* a partition listed twice: the later line wins */
	} else {
		reset_targets(op, &g);
	}
	if (g.ntps == 0)
		kq_die(KQ_EXIT_NOTFOUND, "group '%s': nothing to reset", g.group);
	fetch_ends(&g, true);
	/* For --from-file the file's offsets are the wish, kept within the log. */
	plan(op, &g);
	print_plan(op, &g);
	if (op->execute)
		commit_plan(&g);
	else if (!op->export_csv)
		kq_note("dry run; add --execute to apply");
	ginfo_free(&g);
	return kq_cli_exit_status;
}

/* ---- delete, delete-offsets ---- */

static bool
confirm(const struct opts *op)
{
	struct kq_buf q = { 0 };
	bool yes;
	int i;

	kq_buf_addf(&q, "delete %s", op->nargs > 1 ? "groups " : "group ");
	for (i = 0; i < op->nargs; i++)
		kq_buf_addf(&q, "%s'%s'", i ? ", " : "", op->args[i]);
	kq_buf_addf(&q, " and %s committed offsets?", op->nargs > 1 ? "their" : "its");
	yes = kq_cli_confirm(op->yes, kq_buf_cstr(&q));
	kq_buf_free(&q);
	return yes;
}

static int
cmd_delete(const struct opts *op)
{
	int i;

	for (i = 0; i < op->nargs; i++) {
		struct kq_DeleteGroupsRequest req;
		struct kq_DeleteGroupsResponse resp;
		struct kq_str name = kq_str_c(op->args[i]);
		struct kq_arena a = { 0 };
		int r, e;

		kq_DeleteGroupsRequest_init(&req);
		req.GroupsNames = &name;
		req.GroupsNames_count = 1;
		r = coord_call(op->args[i], KQ_API_DELETE_GROUPS, 1, 0, &req, &a, &resp, NULL);
		if (r != 0)
			die_group(op->args[i], r);
		e = resp.Results_count == 1 ? resp.Results[0].ErrorCode : KQ_E_UNKNOWN_SERVER_ERROR;
		kq_arena_free(&a);
		if (e == KQ_E_GROUP_ID_NOT_FOUND) {
			kq_error("group '%s' does not exist", op->args[i]);
		} else if (e == KQ_E_NON_EMPTY_GROUP) {
			kq_error("group '%s' has active members; stop them before deleting it",
				 op->args[i]);
		} else if (e) {
			kq_error("cannot delete group '%s': %s", op->args[i], kq_err_str(e));
		} else {
			kq_debug("deleted group '%s'", op->args[i]);
			continue;
		}
		kq_cli_set_status(kq_cli_exit_for(e));
	}
	return kq_cli_exit_status;
}

static int
cmd_delete_offsets(const struct opts *op)
{
	struct kq_OffsetDeleteRequest req;
	struct kq_OffsetDeleteResponse resp;
	struct kq_OffsetDeleteRequest_OffsetDeleteRequestTopic *topics;
	struct kq_arena a = { 0 };
	const char *group = op->args[0];
	int i, r;
	int32_t j, k;

	topics = kq_xcalloc((size_t)op->ntsel, sizeof(*topics));
	for (i = 0; i < op->ntsel; i++) {
		const char *names[1] = { op->tsel[i].topic };
		const struct kq_metadata *md;
		const struct kq_md_topic *mt;

		r = kq_client_metadata(client, names, 1, false, &md);
		if (r < 0)
			kq_cli_die_client(client, r);
		mt = kq_md_topic(md, op->tsel[i].topic);
		if (!mt || mt->err == KQ_E_UNKNOWN_TOPIC_OR_PARTITION)
			kq_die(KQ_EXIT_NOTFOUND, "topic '%s' does not exist", op->tsel[i].topic);
		kq_OffsetDeleteRequest_OffsetDeleteRequestTopic_init(&topics[i]);
		topics[i].Name = kq_str_c(op->tsel[i].topic);
		topics[i].Partitions = kq_arena_alloc(&a, (size_t)(mt->n_parts + 1) *
						      sizeof(*topics[i].Partitions));
		topics[i].Partitions_count = mt->n_parts;
		for (j = 0; j < mt->n_parts; j++)
			topics[i].Partitions[j].PartitionIndex = mt->parts[j].id;
	}
	kq_OffsetDeleteRequest_init(&req);
	req.GroupId = kq_str_c(group);
	req.Topics = topics;
	req.Topics_count = op->ntsel;
	r = coord_call(group, KQ_API_OFFSET_DELETE, 0, 0, &req, &a, &resp, NULL);
	free(topics);
	if (r != 0)
		die_group(group, r);
	if (resp.ErrorCode == KQ_E_GROUP_ID_NOT_FOUND)
		kq_die(KQ_EXIT_NOTFOUND, "group '%s' does not exist", group);
	if (resp.ErrorCode)
		die_group(group, resp.ErrorCode);
	for (j = 0; j < resp.Topics_count; j++)
		for (k = 0; k < resp.Topics[j].Partitions_count; k++) {
			int16_t e = resp.Topics[j].Partitions[k].ErrorCode;

			if (!e)
				continue;
			topic_error(group, resp.Topics[j].Name,
				    resp.Topics[j].Partitions[k].PartitionIndex, e);
			/* the same error for every partition of a topic: say it once */
			break;
		}
	kq_arena_free(&a);
	return kq_cli_exit_status;
}

int
main(int argc, char **argv)
{
	static struct opts op;	/* until exit */
	int st = 0;

	kq_cli_init(PROG);
	parse_opts(argc, argv, &op);
	if (op.cmd == CMD_DELETE && !confirm(&op))
		kq_die(KQ_EXIT_FAIL, "nothing deleted");
	connect_or_die(&op);
	switch (op.cmd) {
	case CMD_LIST: st = cmd_list(&op); break;
	case CMD_DESCRIBE: st = cmd_describe(&op); break;
	case CMD_LAG: st = cmd_lag(&op); break;
	case CMD_RESET: st = cmd_reset(&op); break;
	case CMD_DELETE: st = cmd_delete(&op); break;
	case CMD_DELETE_OFFSETS: st = cmd_delete_offsets(&op); break;
	}
	kq_client_free(client);
	kq_cli_exit(st ? st : kq_cli_exit_status);
}
