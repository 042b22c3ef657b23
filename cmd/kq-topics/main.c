/*
 * kq-topics - list, describe, create, alter and delete topics (CLI.md
 * section 8).
 */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/base/base.h"
#include "../../common/cli/admin.h"
#include "../../common/cli/cli.h"
#include "../../common/cli/format.h"
#include "../../common/net/client.h"
#include "../../common/proto/proto.h"

static const char usage_text[] =
"Usage: kq-topics [OPTIONS] list [-l] [--internal] [PATTERN]\n"
"       kq-topics [OPTIONS] describe [TOPIC...] [--configs] [--overrides]\n"
"                 [--under-replicated] [--unavailable] [--under-min-isr] [--at-min-isr]\n"
"       kq-topics [OPTIONS] create TOPIC... [-p N] [-r N] [-c KEY=VAL]... [--if-not-exists]\n"
"       kq-topics [OPTIONS] alter TOPIC [-p N] [-c KEY=VAL]... [--delete-config KEY]...\n"
"       kq-topics [OPTIONS] delete TOPIC... [--if-exists] [-y]\n";

static const char help_head[] =
"List, describe, create, alter and delete Kafka topics.\n"
"\n"
"Examples:\n"
"  kq-topics create logs -p 3 -c retention.ms=86400000\n"
"  kq-topics describe logs\n"
"  kq-topics list 'tmp-*' | xargs -r kq-topics delete -y\n"
"\n"
"Commands:\n"
"  list [PATTERN]        one topic name per line; PATTERN is a shell glob\n"
"  describe [TOPIC...]   TOPIC PARTITION LEADER REPLICAS ISR START-OFFSET END-OFFSET\n"
"                        for each partition (all topics if none is named)\n"
"  create TOPIC...       create topics (on the controller)\n"
"  alter TOPIC           add partitions, set or remove config overrides\n"
"  delete TOPIC...       delete topics\n";

static const char help_tail[] =
"\n"
"Exit status: 0 ok, 1 failure, 2 usage, 3 topic not found, 4 topic already\n"
"exists, 6 no broker reachable within --timeout, 7 not authorized.\n";

enum cmd { CMD_LIST, CMD_DESCRIBE, CMD_CREATE, CMD_ALTER, CMD_DELETE };

static const char *const cmd_names[] = { "list", "describe", "create", "alter", "delete" };

/* Which commands an option applies to (bit per enum cmd); 0x1f = all. */
#define ALL 0x1f
#define B(c) (1 << (c))

enum {
	OPT_INTERNAL = 256, OPT_CONFIGS, OPT_OVERRIDES, OPT_UNDER_REP, OPT_UNAVAIL,
	OPT_UNDER_MIN, OPT_AT_MIN, OPT_DELETE_CONFIG, OPT_IF_NOT_EXISTS, OPT_IF_EXISTS,
};

static const struct kq_opt opts[] = {
	KQ_OPT_SECTION("list options:"),
	KQ_OPT_FLAG('l', NULL, 0,
	  "add PARTITIONS, RF, START/END offset totals and an\napproximate record count"),
	KQ_OPT_FLAG(0, "internal", OPT_INTERNAL,
	  "include internal topics (__consumer_offsets)"),

	KQ_OPT_SECTION("describe options:"),
	KQ_OPT_FLAG(0, "configs", OPT_CONFIGS,
	  "print TOPIC KEY=VALUE SOURCE lines (source: topic,\nbroker, default) instead of "
	  "partitions"),
	KQ_OPT_FLAG(0, "overrides", OPT_OVERRIDES,
	  "with --configs, only the topic's own overrides"),
	KQ_OPT_FLAG(0, "under-replicated", OPT_UNDER_REP,
	  "only partitions whose ISR is smaller than the replicas"),
	KQ_OPT_FLAG(0, "unavailable", OPT_UNAVAIL, "only partitions without a leader"),
	KQ_OPT_FLAG(0, "under-min-isr", OPT_UNDER_MIN,
	  "only partitions whose ISR is below min.insync.replicas"),
	KQ_OPT_FLAG(0, "at-min-isr", OPT_AT_MIN,
	  "only partitions whose ISR is exactly min.insync.replicas"),

	KQ_OPT_SECTION("create and alter options:"),
	KQ_OPT_VALUE('p', "partitions", 0, "N",
	  "partition count (create: broker default; alter: the new\ntotal, which can only grow)"),
	KQ_OPT_VALUE('r', "replication-factor", 0, "N",
	  "replicas per partition (create; broker default)"),
	KQ_OPT_VALUE('c', "config", 0, "KEY=VAL", "topic config override; repeatable"),
	KQ_OPT_VALUE(0, "delete-config", OPT_DELETE_CONFIG, "KEY",
	  "remove a topic config override (alter); repeatable"),
	KQ_OPT_FLAG(0, "if-not-exists", OPT_IF_NOT_EXISTS,
	  "an existing topic is not an error (create)"),

	KQ_OPT_SECTION("delete options:"),
	KQ_OPT_FLAG(0, "if-exists", OPT_IF_EXISTS, "a missing topic is not an error"),
	KQ_OPT_FLAG('y', "yes", 0,
	  "do not ask; needed when stdin or stderr is not a terminal"),

	KQ_ADMIN_OPTS("config-file"),
};

struct kv {
	char *key, *value;
};

struct opts {
	enum cmd cmd;
	const char *brokers;
	int64_t timeout_ms;
	bool json, no_headers;
	bool long_list, internal;
	bool configs, overrides, under_rep, unavail, under_min, at_min;
	int32_t partitions;	/* -1 unset */
	int16_t rf;		/* -1 unset */
	struct kv *cfg;
	int n_cfg;
	char **del_cfg;
	int n_del;
	bool if_not_exists, if_exists, yes;
	char **args;		/* operands after the command */
	int n_args;
};

/* Options seen, with the commands each is valid for, for a clear usage error. */
struct seen {
	const char *name;
	unsigned mask;
};

static struct kq_client *client;
static int64_t req_timeout = 30000;

/* ---- option parsing ---- */

static void
check_applies(const struct seen *s, int n, enum cmd cmd)
{
	int i;

	for (i = 0; i < n; i++)
		if (!(s[i].mask & B(cmd)))
			kq_usage_error("option %s does not apply to '%s'", s[i].name,
				       cmd_names[cmd]);
}

static void
parse_opts(int argc, char **argv, struct opts *op)
{
	struct seen seen[64];
	int nseen = 0, c, i;
	int64_t v;
	const char *timeout_arg = NULL, *cmd;
	char *eq;

	memset(op, 0, sizeof(*op));
	op->partitions = -1;
	op->rf = -1;
	op->timeout_ms = 30000;
#define SEEN(nm, m) do { if (nseen < (int)KQ_ARRAY_LEN(seen)) \
	seen[nseen++] = (struct seen){ (nm), (m) }; } while (0)
	argv = kq_cli_config_argv(&argc, argv, kq_opt_longopts(opts), "config-file");
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
		case 'l': op->long_list = true; SEEN("-l", B(CMD_LIST)); break;
		case OPT_INTERNAL: op->internal = true; SEEN("--internal", B(CMD_LIST)); break;
		case OPT_CONFIGS: op->configs = true; SEEN("--configs", B(CMD_DESCRIBE)); break;
		case OPT_OVERRIDES:
			op->overrides = true;
			SEEN("--overrides", B(CMD_DESCRIBE));
			break;
		case OPT_UNDER_REP:
			op->under_rep = true;
			SEEN("--under-replicated", B(CMD_DESCRIBE));
			break;
		case OPT_UNAVAIL:
			op->unavail = true;
			SEEN("--unavailable", B(CMD_DESCRIBE));
			break;
		case OPT_UNDER_MIN:
			op->under_min = true;
			SEEN("--under-min-isr", B(CMD_DESCRIBE));
			break;
		case OPT_AT_MIN: op->at_min = true; SEEN("--at-min-isr", B(CMD_DESCRIBE)); break;
		case 'p':
			if (kq_cli_parse_int(optarg, 1, INT32_MAX, &v) < 0)
				kq_usage_error("bad partition count '%s' (expected a positive integer)",
					       optarg);
			op->partitions = (int32_t)v;
			SEEN("-p", B(CMD_CREATE) | B(CMD_ALTER));
			break;
		case 'r':
			if (kq_cli_parse_int(optarg, 1, INT16_MAX, &v) < 0)
				kq_usage_error("bad replication factor '%s' (expected 1..32767)",
					       optarg);
			op->rf = (int16_t)v;
			SEEN("-r", B(CMD_CREATE));
			break;
		case 'c':
			eq = strchr(optarg, '=');
			if (!eq || eq == optarg)
				kq_usage_error("bad config '%s' (expected KEY=VALUE)", optarg);
			op->cfg = kq_xrealloc(op->cfg, (size_t)(op->n_cfg + 1) * sizeof(*op->cfg));
			op->cfg[op->n_cfg].key = kq_xstrndup(optarg, (size_t)(eq - optarg));
			op->cfg[op->n_cfg].value = kq_xstrdup(eq + 1);
			op->n_cfg++;
			SEEN("-c", B(CMD_CREATE) | B(CMD_ALTER));
			break;
		case OPT_DELETE_CONFIG:
			if (!*optarg || strchr(optarg, '='))
				kq_usage_error("bad --delete-config '%s' (expected a config name)",
					       optarg);
			op->del_cfg = kq_xrealloc(op->del_cfg,
						  (size_t)(op->n_del + 1) * sizeof(*op->del_cfg));
			op->del_cfg[op->n_del++] = optarg;
			SEEN("--delete-config", B(CMD_ALTER));
			break;
		case OPT_IF_NOT_EXISTS:
			op->if_not_exists = true;
			SEEN("--if-not-exists", B(CMD_CREATE));
			break;
		case OPT_IF_EXISTS: op->if_exists = true; SEEN("--if-exists", B(CMD_DELETE)); break;
		case 'y': op->yes = true; SEEN("-y", B(CMD_DELETE)); break;
		}
	}
#undef SEEN
	if (timeout_arg && kq_cli_parse_duration_ms(timeout_arg, &op->timeout_ms) < 0)
		kq_usage_error("bad --timeout '%s' (durations need a unit: 250ms 10s 5m 2h 7d 1h30m)",
			       timeout_arg);
	if (optind >= argc)
		kq_usage_error("no command given (list, describe, create, alter or delete)");
	cmd = argv[optind++];
	for (i = 0; i < (int)KQ_ARRAY_LEN(cmd_names); i++)
		if (strcmp(cmd, cmd_names[i]) == 0)
			break;
	if (i == (int)KQ_ARRAY_LEN(cmd_names))
		kq_usage_error("unknown command '%s' (commands: list, describe, create, alter, delete)",
			       cmd);
	op->cmd = (enum cmd)i;
	op->args = argv + optind;
	op->n_args = argc - optind;
	check_applies(seen, nseen, op->cmd);
	op->brokers = kq_cli_brokers(op->brokers);

	switch (op->cmd) {
	case CMD_LIST:
		if (op->n_args > 1)
			kq_usage_error("list takes at most one PATTERN");
		break;
	case CMD_DESCRIBE:
		if (op->overrides)
			op->configs = true;
		if (op->configs && (op->under_rep || op->unavail || op->under_min || op->at_min))
			kq_usage_error("--configs does not combine with the partition filters");
		break;
	case CMD_CREATE:
	case CMD_DELETE:
		if (op->n_args == 0)
			kq_usage_error("%s needs at least one TOPIC", cmd_names[op->cmd]);
		break;
	case CMD_ALTER:
		if (op->n_args != 1)
			kq_usage_error("alter takes exactly one TOPIC");
		if (op->partitions < 0 && op->n_cfg == 0 && op->n_del == 0)
			kq_usage_error("alter needs -p, -c or --delete-config");
		break;
	}
	if (op->cmd == CMD_CREATE || op->cmd == CMD_ALTER || op->cmd == CMD_DELETE) {
		for (i = 0; i < op->n_args; i++)
			if (!kq_topic_valid(op->args[i], strlen(op->args[i])))
				kq_usage_error("invalid topic name '%s' (1-249 of [A-Za-z0-9._-], "
					       "not '.' or '..')", op->args[i]);
	}
}

/* ---- errors ---- */

/* "broker message" or the standard text for a Kafka error. */
static const char *
err_text(int16_t code, struct kq_str msg, char *buf, size_t len)
{
	if (msg.len > 0) {
		snprintf(buf, len, "%.*s", (int)KQ_MIN(msg.len, 400), msg.p);
		return buf;
	}
	return kq_err_str(code);
}

/* ---- output ---- */

static void
json_str(struct kq_buf *b, const char *s)
{
	if (s)
		kq_json_str(b, s, strlen(s));
	else
		kq_buf_adds(b, "null");
}

static void
json_ints(struct kq_buf *b, const int32_t *v, int n)
{
	int i;

	kq_buf_addc(b, '[');
	for (i = 0; i < n; i++)
		kq_buf_addf(b, i ? ",%d" : "%d", v[i]);
	kq_buf_addc(b, ']');
}

static char *
ints_str(const int32_t *v, int n)
{
	struct kq_buf b = { 0 };
	int i;

	for (i = 0; i < n; i++)
		kq_buf_addf(&b, i ? ",%d" : "%d", v[i]);
	if (n == 0)
		kq_buf_adds(&b, "-");
	return (char *)kq_buf_cstr(&b);
}

static char *
off_str(int err, int64_t off)
{
	return err ? kq_xstrdup("-") : kq_xasprintf("%lld", (long long)off);
}

/* ---- common steps ---- */


static bool
is_internal(const struct kq_md_topic *t)
{
	return t->internal || strcmp(t->name, "__consumer_offsets") == 0 ||
	       strcmp(t->name, "__transaction_state") == 0;
}

static int
cmp_topic_ptr(const void *a, const void *b)
{
	const struct kq_md_topic *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/*
 * Metadata for the named topics (all if n == 0), topics sorted by name.
 * Missing named topics are reported (exit 3) and left out.
 */
static const struct kq_md_topic **
get_topics(const struct opts *op, char **names, int n, bool all_internal, int *count,
	   const struct kq_metadata **mdp)
{
	const struct kq_metadata *md;
	const struct kq_md_topic **v;
	int i, k = 0, r;

	r = kq_client_metadata(client, n ? (const char *const *)names : NULL, n, false, &md);
	if (r < 0)
		kq_cli_die_client(client, r);
	kq_debug("metadata: %d brokers, controller %d, %d topics", md->n_brokers,
		 md->controller_id, md->n_topics);
	v = kq_xcalloc((size_t)md->n_topics + 1, sizeof(*v));
	if (n) {
		for (i = 0; i < n; i++) {
			const struct kq_md_topic *t = kq_md_topic(md, names[i]);
			int j;

			for (j = 0; j < i; j++)
				if (strcmp(names[j], names[i]) == 0)
					break;
			if (j < i)
				continue;
			if (!t || t->err == KQ_E_UNKNOWN_TOPIC_OR_PARTITION) {
				kq_error("topic '%s' does not exist", names[i]);
				kq_cli_set_status(KQ_EXIT_NOTFOUND);
				continue;
			}
			if (t->err && t->err != KQ_E_LEADER_NOT_AVAILABLE) {
				kq_error("topic '%s': %s", names[i], kq_err_str(t->err));
				kq_cli_set_status(kq_cli_exit_for(t->err));
				continue;
			}
			v[k++] = t;
		}
	} else {
		for (i = 0; i < md->n_topics; i++) {
			const struct kq_md_topic *t = &md->topics[i];

			if (!all_internal && is_internal(t))
				continue;
			v[k++] = t;
		}
	}
	qsort(v, (size_t)k, sizeof(*v), cmp_topic_ptr);
	*count = k;
	*mdp = md;
	(void)op;
	return v;
}

/* Start and end offsets of every partition of topics: reqs[2*i], reqs[2*i+1]. */
static struct kq_lo_req *
get_offsets(const struct kq_md_topic **topics, int n, size_t *nreq)
{
	struct kq_lo_req *reqs;
	size_t k = 0, total = 0;
	int i, j, r;

	for (i = 0; i < n; i++)
		total += (size_t)topics[i]->n_parts;
	reqs = kq_xcalloc(total * 2 + 1, sizeof(*reqs));
	for (i = 0; i < n; i++) {
		for (j = 0; j < topics[i]->n_parts; j++) {
			reqs[k].topic = topics[i]->name;
			reqs[k].partition = topics[i]->parts[j].id;
			reqs[k].timestamp = KQ_OFFSET_EARLIEST;
			k++;
			reqs[k] = reqs[k - 1];
			reqs[k].timestamp = KQ_OFFSET_LATEST;
			k++;
		}
	}
	r = kq_client_list_offsets_many(client, reqs, k);
	if (r < 0)
		kq_cli_die_client(client, r);
	for (i = 0; i < (int)k; i++) {
		if (reqs[i].err) {
			kq_warn("cannot read offsets of '%s' partition %d: %s", reqs[i].topic,
				reqs[i].partition, reqs[i].err < 0 && kq_client_errstr(client)[0] ?
				kq_client_errstr(client) : kq_err_str(reqs[i].err));
			break;
		}
	}
	*nreq = k;
	return reqs;
}

/* ---- list ---- */

static int
cmd_list(const struct opts *op)
{
	static const char *const hdr[] = { "TOPIC", "PARTITIONS", "RF", "START-OFFSETS",
					   "END-OFFSETS", "APPROX-RECORDS" };
	const struct kq_metadata *md;
	const struct kq_md_topic **topics, **sel;
	struct kq_lo_req *reqs = NULL;
	struct kq_buf b = { 0 };
	struct kq_table tbl = { .ncol = 6 };
	const char *pat = op->n_args ? op->args[0] : NULL;
	size_t nreq = 0, q = 0;
	int n, i, j, k = 0;

	topics = get_topics(op, NULL, 0, op->internal, &n, &md);
	sel = kq_xcalloc((size_t)n + 1, sizeof(*sel));
	for (i = 0; i < n; i++)
		if (!pat || fnmatch(pat, topics[i]->name, 0) == 0)
			sel[k++] = topics[i];
	if (op->long_list)
		reqs = get_offsets(sel, k, &nreq);
	for (i = 0; i < k; i++) {
		const struct kq_md_topic *t = sel[i];
		int64_t start = 0, end = 0;
		int rf = 0;
		bool bad = false;

		if (!op->long_list) {
			if (op->json) {
				kq_buf_adds(&b, "{\"topic\":");
				json_str(&b, t->name);
				kq_buf_addc(&b, '}');
				kq_cli_json_line(&b);
			} else {
				printf("%s\n", t->name);
			}
			continue;
		}
		for (j = 0; j < t->n_parts; j++) {
			rf = KQ_MAX(rf, t->parts[j].n_replicas);
			if (reqs[q].err || reqs[q + 1].err)
				bad = true;
			start += reqs[q].offset;
			end += reqs[q + 1].offset;
			q += 2;
		}
		if (op->json) {
			kq_buf_adds(&b, "{\"topic\":");
			json_str(&b, t->name);
			kq_buf_addf(&b, ",\"partitions\":%d,\"replication_factor\":%d", t->n_parts, rf);
			if (bad)
				kq_buf_adds(&b, ",\"start_offsets\":null,\"end_offsets\":null,"
					    "\"approx_records\":null}");
			else
				kq_buf_addf(&b, ",\"start_offsets\":%lld,\"end_offsets\":%lld,"
					    "\"approx_records\":%lld}", (long long)start,
					    (long long)end, (long long)(end - start));
			kq_cli_json_line(&b);
		} else {
			char *row[6];

			row[0] = kq_xstrdup(t->name);
			row[1] = kq_xasprintf("%d", t->n_parts);
			row[2] = kq_xasprintf("%d", rf);
			row[3] = off_str(bad, start);
			row[4] = off_str(bad, end);
			row[5] = off_str(bad, end - start);
			kq_table_row(&tbl, row);
		}
	}
	if (op->long_list && !op->json)
		kq_table_print(&tbl, hdr, !op->no_headers);
	kq_buf_free(&b);
	free(reqs);
	free(sel);
	free(topics);
	return 0;
}

/* ---- describe ---- */

static const char *
source_name(int version, const struct kq_DescribeConfigsResponse_DescribeConfigsResourceResult *c)
{
	if (version == 0)
		return c->IsDefault ? "default" : "topic";
	switch (c->ConfigSource) {
	case 1: return "topic";
	case 2: case 3: case 4: return "broker";
	case 5: return "default";
	default: return "unknown";
	}
}

/*
 * DescribeConfigs for topics (resource type 2); keys NULL = all.  Answer
 * decoded into resp with views into arena/conn valid until the next call.
 */
static int
describe_configs(const struct kq_md_topic **topics, int n, const char *key,
		 struct kq_arena *a, struct kq_DescribeConfigsResponse *resp, int *versionp)
{
	struct kq_DescribeConfigsRequest req;
	struct kq_DescribeConfigsRequest_DescribeConfigsResource *res;
	struct kq_str keystr;
	struct kq_conn *conn;
	int i, v, r;

	r = kq_client_any_conn(client, &conn);
	if (r < 0)
		kq_cli_die_client(client, r);
	v = kq_conn_version(conn, KQ_API_DESCRIBE_CONFIGS, 3);
	if (v < 0)
		kq_die(KQ_EXIT_FAIL, "the broker does not support DescribeConfigs");
	res = kq_xcalloc((size_t)n + 1, sizeof(*res));
	keystr = kq_str_c(key);
	for (i = 0; i < n; i++) {
		kq_DescribeConfigsRequest_DescribeConfigsResource_init(&res[i]);
		res[i].ResourceType = 2;
		res[i].ResourceName = kq_str_c(topics[i]->name);
		res[i].ConfigurationKeys = key ? &keystr : NULL;
		res[i].ConfigurationKeys_count = key ? 1 : -1;
	}
	kq_DescribeConfigsRequest_init(&req);
	req.Resources = res;
	req.Resources_count = n;
	req.IncludeSynonyms = false;
	r = kq_conn_call(conn, KQ_API_DESCRIBE_CONFIGS, (int16_t)v, &req, a, resp,
			 req_timeout);
	free(res);
	if (r < 0) {
		kq_error("DescribeConfigs: %s", kq_conn_errstr(conn));
		return r;
	}
	*versionp = v;
	return 0;
}

static int
cmd_describe_configs(const struct opts *op, const struct kq_md_topic **topics, int n)
{
	static const char *const hdr[] = { "TOPIC", "CONFIG", "SOURCE" };
	struct kq_DescribeConfigsResponse resp;
	struct kq_arena a = { 0 };
	struct kq_table tbl = { .ncol = 3 };
	struct kq_buf b = { 0 };
	char ebuf[512];
	int i, j, v;

	if (n == 0)
		return 0;
	if (describe_configs(topics, n, NULL, &a, &resp, &v) < 0) {
		kq_arena_free(&a);
		return KQ_EXIT_UNAVAILABLE;
	}
	for (i = 0; i < resp.Results_count; i++) {
		const struct kq_DescribeConfigsResponse_DescribeConfigsResult *res = &resp.Results[i];
		char *name = kq_str_dup(res->ResourceName);

		if (!name)
			name = kq_xstrdup("");
		if (res->ErrorCode) {
			kq_error("topic '%s': %s", name,
				 err_text(res->ErrorCode, res->ErrorMessage, ebuf, sizeof(ebuf)));
			kq_cli_set_status(kq_cli_exit_for(res->ErrorCode));
			free(name);
			continue;
		}
		for (j = 0; j < res->Configs_count; j++) {
			const struct kq_DescribeConfigsResponse_DescribeConfigsResourceResult *c =
				&res->Configs[j];
			const char *src = source_name(v, c);
			char *key = kq_str_dup(c->Name), *val = kq_str_dup(c->Value);

			if (op->overrides && strcmp(src, "topic") != 0) {
				free(key);
				free(val);
				continue;
			}
			if (!key)
				key = kq_xstrdup("");
			if (op->json) {
				kq_buf_adds(&b, "{\"topic\":");
				json_str(&b, name);
				kq_buf_adds(&b, ",\"key\":");
				json_str(&b, key);
				kq_buf_adds(&b, ",\"value\":");
				json_str(&b, c->IsSensitive ? NULL : val);
				kq_buf_addf(&b, ",\"source\":\"%s\",\"sensitive\":%s}", src,
					    c->IsSensitive ? "true" : "false");
				kq_cli_json_line(&b);
			} else {
				char *row[3];

				row[0] = kq_xstrdup(name);
				row[1] = kq_xasprintf("%s=%s", key, c->IsSensitive ? "(sensitive)" :
						      val ? val : "");
				row[2] = kq_xstrdup(src);
				kq_table_row(&tbl, row);
			}
			free(key);
			free(val);
		}
		free(name);
	}
	if (!op->json)
		kq_table_print(&tbl, hdr, !op->no_headers);
	kq_buf_free(&b);
	kq_arena_free(&a);
	return 0;
}

/* min.insync.replicas of each topic (1 when unknown), for the ISR filters. */
static int *
min_isr_of(const struct kq_md_topic **topics, int n)
{
	struct kq_DescribeConfigsResponse resp;
	struct kq_arena a = { 0 };
	int *v = kq_xcalloc((size_t)n + 1, sizeof(int)), i, j, k, ver;
	int64_t x;

	for (i = 0; i < n; i++)
		v[i] = 1;
	if (n == 0 || describe_configs(topics, n, "min.insync.replicas", &a, &resp, &ver) < 0) {
		kq_arena_free(&a);
		return v;
	}
	for (i = 0; i < resp.Results_count; i++) {
		const struct kq_DescribeConfigsResponse_DescribeConfigsResult *res = &resp.Results[i];

		for (k = 0; k < n; k++)
			if (kq_str_eq(res->ResourceName, topics[k]->name))
				break;
		if (k == n || res->ErrorCode)
			continue;
		for (j = 0; j < res->Configs_count; j++) {
			char *val = kq_str_dup(res->Configs[j].Value);

			if (kq_str_eq(res->Configs[j].Name, "min.insync.replicas") && val &&
			    kq_cli_parse_int(val, 1, INT32_MAX, &x) == 0)
				v[k] = (int)x;
			free(val);
		}
	}
	kq_arena_free(&a);
	return v;
}

static bool
keep_partition(const struct opts *op, const struct kq_md_partition *p, int min_isr)
{
	bool any = op->under_rep || op->unavail || op->under_min || op->at_min;

	if (!any)
		return true;
	if (op->under_rep && p->n_isr < p->n_replicas)
		return true;
	if (op->unavail && p->leader < 0)
		return true;
	if (op->under_min && p->n_isr < min_isr)
		return true;
	if (op->at_min && p->n_isr == min_isr)
		return true;
	return false;
}

static int
cmd_describe(const struct opts *op)
{
	static const char *const hdr[] = { "TOPIC", "PARTITION", "LEADER", "REPLICAS", "ISR",
					   "START-OFFSET", "END-OFFSET" };
	const struct kq_metadata *md;
	const struct kq_md_topic **topics;
	struct kq_lo_req *reqs;
	struct kq_table tbl = { .ncol = 7 };
	struct kq_buf b = { 0 };
	int *min_isr = NULL;
	size_t nreq, q = 0;
	int n, i, j;

	topics = get_topics(op, op->args, op->n_args, op->n_args > 0, &n, &md);
	if (n == 0 && op->n_args > 0) {
		free(topics);
		return kq_cli_exit_status;	/* all named topics are missing */
	}
	if (op->configs) {
		int r = cmd_describe_configs(op, topics, n);

		free(topics);
		return r;
	}
	if (op->under_min || op->at_min)
		min_isr = min_isr_of(topics, n);
	reqs = get_offsets(topics, n, &nreq);
	for (i = 0; i < n; i++) {
		const struct kq_md_topic *t = topics[i];

		for (j = 0; j < t->n_parts; j++, q += 2) {
			const struct kq_md_partition *p = &t->parts[j];
			const struct kq_lo_req *lo = &reqs[q], *hi = &reqs[q + 1];

			if (!keep_partition(op, p, min_isr ? min_isr[i] : 1))
				continue;
			if (op->json) {
				kq_buf_adds(&b, "{\"topic\":");
				json_str(&b, t->name);
				kq_buf_addf(&b, ",\"partition\":%d,\"leader\":%d,\"replicas\":",
					    p->id, p->leader);
				json_ints(&b, p->replicas, p->n_replicas);
				kq_buf_adds(&b, ",\"isr\":");
				json_ints(&b, p->isr, p->n_isr);
				if (lo->err)
					kq_buf_adds(&b, ",\"start_offset\":null");
				else
					kq_buf_addf(&b, ",\"start_offset\":%lld", (long long)lo->offset);
				if (hi->err)
					kq_buf_adds(&b, ",\"end_offset\":null");
				else
					kq_buf_addf(&b, ",\"end_offset\":%lld", (long long)hi->offset);
				if (p->err) {
					kq_buf_adds(&b, ",\"error\":");
					json_str(&b, kq_err_name(p->err));
				}
				kq_buf_addc(&b, '}');
				kq_cli_json_line(&b);
			} else {
				char *row[7];

				row[0] = kq_xstrdup(t->name);
				row[1] = kq_xasprintf("%d", p->id);
				row[2] = p->leader < 0 ? kq_xstrdup("-") :
					 kq_xasprintf("%d", p->leader);
				row[3] = ints_str(p->replicas, p->n_replicas);
				row[4] = ints_str(p->isr, p->n_isr);
				row[5] = off_str(lo->err, lo->offset);
				row[6] = off_str(hi->err, hi->offset);
				kq_table_row(&tbl, row);
			}
		}
	}
	if (!op->json)
		kq_table_print(&tbl, hdr, !op->no_headers);
	kq_buf_free(&b);
	free(min_isr);
	free(reqs);
	free(topics);
	return 0;
}

/* ---- create ---- */

static void
json_result(const struct opts *op, const char *topic, const char *result)
{
	struct kq_buf b = { 0 };

	if (!op->json)
		return;
	kq_buf_adds(&b, "{\"topic\":");
	json_str(&b, topic);
	kq_buf_adds(&b, ",\"result\":");
	json_str(&b, result);
	kq_buf_addc(&b, '}');
	kq_cli_json_line(&b);
	kq_buf_free(&b);
}

/*
 * Send an admin request to the controller, following NOT_CONTROLLER once
 * or twice through a metadata refresh.  not_controller() tells whether the
 * decoded answer says so.
 */
static int
controller_call(int16_t api, int16_t our_max, int16_t our_min, const void *req,
		struct kq_arena *a, void *resp, bool (*not_controller)(const void *resp),
		int *versionp)
{
	struct kq_conn *conn;
	int tries, v, r = 0;

	for (tries = 0; tries < 3; tries++) {
		r = kq_client_controller_conn(client, &conn);
		if (r != 0)
			kq_cli_die_client(client, r);
		v = kq_conn_version(conn, api, our_max);
		if (v < our_min)
			return KQ_ERR_UNSUPPORTED;
		kq_arena_reset(a);
		r = kq_conn_call(conn, api, (int16_t)v, req, a, resp, req_timeout);
		if (r < 0) {
			kq_error("%s: %s", kq_api_name(api), kq_conn_errstr(conn));
			return r;
		}
		*versionp = v;
		if (!not_controller || !not_controller(resp))
			return 0;
		kq_debug("%s: not the controller; refreshing metadata", kq_conn_name(conn));
		if ((r = kq_client_refresh(client, NULL)) < 0)
			kq_cli_die_client(client, r);
	}
	return 0;
}

static bool
create_not_controller(const void *p)
{
	const struct kq_CreateTopicsResponse *resp = p;
	int32_t i;

	for (i = 0; i < resp->Topics_count; i++)
		if (resp->Topics[i].ErrorCode == KQ_E_NOT_CONTROLLER)
			return true;
	return false;
}

static int
cmd_create(const struct opts *op)
{
	struct kq_CreateTopicsRequest req;
	struct kq_CreateTopicsResponse resp;
	struct kq_CreateTopicsRequest_CreatableTopic *ts;
	struct kq_CreateTopicsRequest_CreatableTopicConfig *cs;
	struct kq_conn *conn;
	struct kq_arena a = { 0 };
	char ebuf[512];
	int i, j, v, r;

	r = kq_client_controller_conn(client, &conn);
	if (r != 0)
		kq_cli_die_client(client, r);
	v = kq_conn_version(conn, KQ_API_CREATE_TOPICS, 4);
	ts = kq_xcalloc((size_t)op->n_args, sizeof(*ts));
	cs = kq_xcalloc((size_t)op->n_cfg + 1, sizeof(*cs));
	for (j = 0; j < op->n_cfg; j++) {
		kq_CreateTopicsRequest_CreatableTopicConfig_init(&cs[j]);
		cs[j].Name = kq_str_c(op->cfg[j].key);
		cs[j].Value = kq_str_c(op->cfg[j].value);
	}
	for (i = 0; i < op->n_args; i++) {
		kq_CreateTopicsRequest_CreatableTopic_init(&ts[i]);
		ts[i].Name = kq_str_c(op->args[i]);
		/* -1 = broker default, understood from v4; older brokers need numbers */
		ts[i].NumPartitions = op->partitions > 0 ? op->partitions : v >= 4 ? -1 : 1;
		ts[i].ReplicationFactor = op->rf > 0 ? op->rf : v >= 4 ? -1 : 1;
		ts[i].Assignments_count = 0;
		ts[i].Configs = cs;
		ts[i].Configs_count = op->n_cfg;
	}
	kq_CreateTopicsRequest_init(&req);
	req.Topics = ts;
	req.Topics_count = op->n_args;
	req.timeoutMs = (int32_t)KQ_MIN(req_timeout, INT32_MAX);
	r = controller_call(KQ_API_CREATE_TOPICS, 4, 0, &req, &a, &resp, create_not_controller, &v);
	free(ts);
	free(cs);
	if (r == KQ_ERR_UNSUPPORTED)
		kq_die(KQ_EXIT_FAIL, "the broker does not support CreateTopics");
	if (r < 0)
		kq_cli_exit(kq_cli_exit_for(r));
	for (i = 0; i < resp.Topics_count; i++) {
		const struct kq_CreateTopicsResponse_CreatableTopicResult *t = &resp.Topics[i];
		char *name = kq_str_dup(t->Name);

		if (!name)
			name = kq_xstrdup("?");
		if (t->ErrorCode == 0) {
			kq_debug("created topic '%s'", name);
			json_result(op, name, "created");
		} else if (t->ErrorCode == KQ_E_TOPIC_ALREADY_EXISTS && op->if_not_exists) {
			kq_debug("topic '%s' already exists", name);
			json_result(op, name, "exists");
		} else if (t->ErrorCode == KQ_E_TOPIC_ALREADY_EXISTS) {
			kq_error("topic '%s' already exists (add --if-not-exists to ignore)", name);
			kq_cli_set_status(KQ_EXIT_CONFLICT);
		} else {
			kq_error("cannot create topic '%s': %s", name,
				 err_text(t->ErrorCode, t->ErrorMessage, ebuf, sizeof(ebuf)));
			kq_cli_set_status(kq_cli_exit_for(t->ErrorCode));
		}
		free(name);
	}
	if (resp.Topics_count < op->n_args) {
		kq_error("the broker answered for %d of %d topics", resp.Topics_count, op->n_args);
		kq_cli_set_status(KQ_EXIT_FAIL);
	}
	kq_arena_free(&a);
	return kq_cli_exit_status;
}

/* ---- alter ---- */

static bool
partitions_not_controller(const void *p)
{
	const struct kq_CreatePartitionsResponse *resp = p;
	int32_t i;

	for (i = 0; i < resp->Results_count; i++)
		if (resp->Results[i].ErrorCode == KQ_E_NOT_CONTROLLER)
			return true;
	return false;
}

static int
alter_partitions(const struct opts *op, const struct kq_md_topic *t)
{
	struct kq_CreatePartitionsRequest req;
	struct kq_CreatePartitionsRequest_CreatePartitionsTopic tp;
	struct kq_CreatePartitionsResponse resp;
	struct kq_arena a = { 0 };
	char ebuf[512];
	int v, r, i;

	if (op->partitions < t->n_parts)
		kq_usage_error("topic '%s' has %d partitions; partitions can only be added, "
			       "not removed", t->name, t->n_parts);
	if (op->partitions == t->n_parts) {
		kq_debug("topic '%s' already has %d partitions", t->name, t->n_parts);
		return 0;
	}
	kq_CreatePartitionsRequest_CreatePartitionsTopic_init(&tp);
	tp.Name = kq_str_c(t->name);
	tp.Count = op->partitions;
	tp.Assignments = NULL;
	tp.Assignments_count = -1;
	kq_CreatePartitionsRequest_init(&req);
	req.Topics = &tp;
	req.Topics_count = 1;
	req.TimeoutMs = (int32_t)KQ_MIN(req_timeout, INT32_MAX);
	r = controller_call(KQ_API_CREATE_PARTITIONS, 1, 0, &req, &a, &resp,
			    partitions_not_controller, &v);
	if (r == KQ_ERR_UNSUPPORTED) {
		kq_error("the broker does not support adding partitions (CreatePartitions)");
		return KQ_EXIT_FAIL;
	}
	if (r < 0)
		return kq_cli_exit_for(r);
	r = 0;
	for (i = 0; i < resp.Results_count; i++) {
		if (resp.Results[i].ErrorCode) {
			kq_error("cannot add partitions to '%s': %s", t->name,
				 err_text(resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage,
					  ebuf, sizeof(ebuf)));
			r = kq_cli_exit_for(resp.Results[i].ErrorCode);
		}
	}
	kq_arena_free(&a);
	return r;
}

/* IncrementalAlterConfigs v0: SET (0) and DELETE (1) per key. */
static int
alter_configs_incremental(const struct opts *op, const char *topic, struct kq_conn *conn)
{
	struct kq_IncrementalAlterConfigsRequest req;
	struct kq_IncrementalAlterConfigsRequest_AlterConfigsResource res;
	struct kq_IncrementalAlterConfigsRequest_AlterableConfig *cs;
	struct kq_IncrementalAlterConfigsResponse resp;
	struct kq_arena a = { 0 };
	char ebuf[512];
	int i, k = 0, r;

	cs = kq_xcalloc((size_t)(op->n_cfg + op->n_del) + 1, sizeof(*cs));
	for (i = 0; i < op->n_cfg; i++, k++) {
		kq_IncrementalAlterConfigsRequest_AlterableConfig_init(&cs[k]);
		cs[k].Name = kq_str_c(op->cfg[i].key);
		cs[k].ConfigOperation = 0;
		cs[k].Value = kq_str_c(op->cfg[i].value);
	}
	for (i = 0; i < op->n_del; i++, k++) {
		kq_IncrementalAlterConfigsRequest_AlterableConfig_init(&cs[k]);
		cs[k].Name = kq_str_c(op->del_cfg[i]);
		cs[k].ConfigOperation = 1;
		cs[k].Value = KQ_STR_NULL;
	}
	kq_IncrementalAlterConfigsRequest_AlterConfigsResource_init(&res);
	res.ResourceType = 2;
	res.ResourceName = kq_str_c(topic);
	res.Configs = cs;
	res.Configs_count = k;
	kq_IncrementalAlterConfigsRequest_init(&req);
	req.Resources = &res;
	req.Resources_count = 1;
	r = kq_conn_call(conn, KQ_API_INCREMENTAL_ALTER_CONFIGS, 0, &req, &a, &resp, req_timeout);
	free(cs);
	if (r < 0) {
		kq_error("IncrementalAlterConfigs: %s", kq_conn_errstr(conn));
		kq_arena_free(&a);
		return kq_cli_exit_for(r);
	}
	r = 0;
	for (i = 0; i < resp.Responses_count; i++) {
		if (resp.Responses[i].ErrorCode) {
			kq_error("cannot change configs of '%s': %s", topic,
				 err_text(resp.Responses[i].ErrorCode, resp.Responses[i].ErrorMessage,
					  ebuf, sizeof(ebuf)));
			r = kq_cli_exit_for(resp.Responses[i].ErrorCode);
		}
	}
	kq_arena_free(&a);
	return r;
}

/*
 * AlterConfigs replaces all of a topic's overrides, so read the current
 * ones first and send the merged set.
 */
static int
alter_configs_full(const struct opts *op, const struct kq_md_topic *t, struct kq_conn *conn,
		   int version)
{
	struct kq_DescribeConfigsResponse dresp;
	struct kq_AlterConfigsRequest req;
	struct kq_AlterConfigsRequest_AlterConfigsResource res;
	struct kq_AlterConfigsRequest_AlterableConfig *cs = NULL;
	struct kq_AlterConfigsResponse resp;
	struct kq_arena a = { 0 }, a2 = { 0 };
	char ebuf[512];
	int i, j, k = 0, v, r, ncap;

	if (describe_configs(&t, 1, NULL, &a, &dresp, &v) < 0) {
		kq_arena_free(&a);
		return KQ_EXIT_UNAVAILABLE;
	}
	ncap = op->n_cfg + 1;
	for (i = 0; i < dresp.Results_count; i++)
		ncap += KQ_MAX(dresp.Results[i].Configs_count, 0);
	cs = kq_xcalloc((size_t)ncap, sizeof(*cs));
	for (i = 0; i < dresp.Results_count; i++) {
		const struct kq_DescribeConfigsResponse_DescribeConfigsResult *dr = &dresp.Results[i];

		if (dr->ErrorCode) {
			kq_error("topic '%s': %s", t->name,
				 err_text(dr->ErrorCode, dr->ErrorMessage, ebuf, sizeof(ebuf)));
			kq_arena_free(&a);
			free(cs);
			return kq_cli_exit_for(dr->ErrorCode);
		}
		for (j = 0; j < dr->Configs_count; j++) {
			const struct kq_DescribeConfigsResponse_DescribeConfigsResourceResult *c =
				&dr->Configs[j];
			bool drop = false;
			int d;

			if (strcmp(source_name(v, c), "topic") != 0)
				continue;
			for (d = 0; d < op->n_del; d++)
				if (kq_str_eq(c->Name, op->del_cfg[d]))
					drop = true;
			for (d = 0; d < op->n_cfg; d++)
				if (kq_str_eq(c->Name, op->cfg[d].key))
					drop = true;
			if (drop)
				continue;
			kq_AlterConfigsRequest_AlterableConfig_init(&cs[k]);
			cs[k].Name = c->Name;
			cs[k].Value = c->Value;
			k++;
		}
	}
	for (i = 0; i < op->n_cfg; i++, k++) {
		kq_AlterConfigsRequest_AlterableConfig_init(&cs[k]);
		cs[k].Name = kq_str_c(op->cfg[i].key);
		cs[k].Value = kq_str_c(op->cfg[i].value);
	}
	kq_AlterConfigsRequest_AlterConfigsResource_init(&res);
	res.ResourceType = 2;
	res.ResourceName = kq_str_c(t->name);
	res.Configs = cs;
	res.Configs_count = k;
	kq_AlterConfigsRequest_init(&req);
	req.Resources = &res;
	req.Resources_count = 1;
	/*
	 * The views in cs point into the DescribeConfigs answer, which lives in
	 * conn's buffer until the next request on conn: encoding happens in
	 * kq_conn_enqueue before anything is received, so they are still valid.
	 */
	r = kq_conn_call(conn, KQ_API_ALTER_CONFIGS, (int16_t)version, &req, &a2, &resp,
			 req_timeout);
	free(cs);
	kq_arena_free(&a);
	if (r < 0) {
		kq_error("AlterConfigs: %s", kq_conn_errstr(conn));
		kq_arena_free(&a2);
		return kq_cli_exit_for(r);
	}
	r = 0;
	for (i = 0; i < resp.Responses_count; i++) {
		if (resp.Responses[i].ErrorCode) {
			kq_error("cannot change configs of '%s': %s", t->name,
				 err_text(resp.Responses[i].ErrorCode, resp.Responses[i].ErrorMessage,
					  ebuf, sizeof(ebuf)));
			r = kq_cli_exit_for(resp.Responses[i].ErrorCode);
		}
	}
	kq_arena_free(&a2);
	return r;
}

static int
cmd_alter(const struct opts *op)
{
	const struct kq_metadata *md;
	const struct kq_md_topic **topics;
	struct kq_conn *conn;
	int n, r = 0, v;

	topics = get_topics(op, op->args, 1, true, &n, &md);
	if (n == 0)
		return kq_cli_exit_status;
	if (op->n_cfg || op->n_del) {
		r = kq_client_any_conn(client, &conn);
		if (r != 0)
			kq_cli_die_client(client, r);
		if (kq_conn_version(conn, KQ_API_INCREMENTAL_ALTER_CONFIGS, 0) == 0) {
			r = alter_configs_incremental(op, topics[0]->name, conn);
		} else if ((v = kq_conn_version(conn, KQ_API_ALTER_CONFIGS, 1)) >= 0) {
			r = alter_configs_full(op, topics[0], conn, v);
		} else {
			kq_error("the broker does not support changing topic configs "
				 "(neither AlterConfigs nor IncrementalAlterConfigs)");
			r = KQ_EXIT_FAIL;
		}
		if (r)
			kq_cli_set_status(r);
	}
	if (r == 0 && op->partitions > 0) {
		r = alter_partitions(op, topics[0]);
		if (r)
			kq_cli_set_status(r);
	}
	if (kq_cli_exit_status == 0)
		json_result(op, topics[0]->name, "altered");
	free(topics);
	return kq_cli_exit_status;
}

/* ---- delete ---- */

static bool
confirm(const struct opts *op)
{
	struct kq_buf q = { 0 };
	bool ok;
	int i;

	kq_buf_addf(&q, "delete %s", op->n_args > 1 ? "topics " : "topic ");
	for (i = 0; i < op->n_args; i++)
		kq_buf_addf(&q, "%s'%s'", i ? ", " : "", op->args[i]);
	kq_buf_addf(&q, " and all %s data?", op->n_args > 1 ? "their" : "its");
	ok = kq_cli_confirm(op->yes, kq_buf_cstr(&q));
	kq_buf_free(&q);
	return ok;
}

static bool
delete_not_controller(const void *p)
{
	const struct kq_DeleteTopicsResponse *resp = p;
	int32_t i;

	for (i = 0; i < resp->Responses_count; i++)
		if (resp->Responses[i].ErrorCode == KQ_E_NOT_CONTROLLER)
			return true;
	return false;
}

static int
cmd_delete(const struct opts *op)
{
	struct kq_DeleteTopicsRequest req;
	struct kq_DeleteTopicsResponse resp;
	struct kq_str *names;
	struct kq_arena a = { 0 };
	char ebuf[512];
	int i, v, r;

	if (!confirm(op)) {
		kq_error("not confirmed; nothing deleted");
		return KQ_EXIT_FAIL;
	}
	names = kq_xcalloc((size_t)op->n_args, sizeof(*names));
	for (i = 0; i < op->n_args; i++)
		names[i] = kq_str_c(op->args[i]);
	kq_DeleteTopicsRequest_init(&req);
	req.TopicNames = names;
	req.TopicNames_count = op->n_args;
	req.TimeoutMs = (int32_t)KQ_MIN(req_timeout, INT32_MAX);
	r = controller_call(KQ_API_DELETE_TOPICS, 3, 0, &req, &a, &resp, delete_not_controller, &v);
	free(names);
	if (r == KQ_ERR_UNSUPPORTED)
		kq_die(KQ_EXIT_FAIL, "the broker does not support DeleteTopics");
	if (r < 0)
		kq_cli_exit(kq_cli_exit_for(r));
	for (i = 0; i < resp.Responses_count; i++) {
		const struct kq_DeleteTopicsResponse_DeletableTopicResult *t = &resp.Responses[i];
		char *name = kq_str_dup(t->Name);

		if (!name)
			name = kq_xstrdup("?");
		if (t->ErrorCode == 0) {
			kq_debug("deleted topic '%s'", name);
			json_result(op, name, "deleted");
		} else if (t->ErrorCode == KQ_E_UNKNOWN_TOPIC_OR_PARTITION && op->if_exists) {
			kq_debug("topic '%s' does not exist", name);
			json_result(op, name, "missing");
		} else if (t->ErrorCode == KQ_E_UNKNOWN_TOPIC_OR_PARTITION) {
			kq_error("topic '%s' does not exist", name);
			kq_cli_set_status(KQ_EXIT_NOTFOUND);
		} else {
			kq_error("cannot delete topic '%s': %s", name,
				 err_text(t->ErrorCode, t->ErrorMessage, ebuf, sizeof(ebuf)));
			kq_cli_set_status(kq_cli_exit_for(t->ErrorCode));
		}
		free(name);
	}
	kq_arena_free(&a);
	return kq_cli_exit_status;
}

/* ---- main ---- */

static int
run(const struct opts *op)
{
	int r = 0;

	client = kq_cli_connect(op->brokers, op->timeout_ms);
	if (op->timeout_ms)
		req_timeout = op->timeout_ms;
	switch (op->cmd) {
	case CMD_LIST: r = cmd_list(op); break;
	case CMD_DESCRIBE: r = cmd_describe(op); break;
	case CMD_CREATE: r = cmd_create(op); break;
	case CMD_ALTER: r = cmd_alter(op); break;
	case CMD_DELETE: r = cmd_delete(op); break;
	}
	kq_client_free(client);
	return r ? r : kq_cli_exit_status;
}

int
main(int argc, char **argv)
{
	static struct opts op;	/* until exit */

	kq_cli_init("kq-topics");
	parse_opts(argc, argv, &op);
	kq_cli_exit(run(&op));
}
