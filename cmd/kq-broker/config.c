/*
 * config.c - server.properties keys and topic-level configs.  Both live in
 * tables so that --config, -X and DescribeConfigs read the same list.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

struct broker_config cfg;

enum ctype {
	CT_I32, CT_I64, CT_I16, CT_BOOL, CT_STR, CT_FLUSH, CT_LISTENER, CT_ADVLISTENER,
	CT_HOURS, CT_MINUTES, CT_POLICY, CT_RATIO, CT_IGNORE
};

struct ckey {
	const char *name;
	enum ctype type;
	size_t off;
	int64_t min, max;
};

#define F(x) offsetof(struct broker_config, x)
static const struct ckey keys[] = {
	{ "listeners", CT_LISTENER, 0, 0, 0 },
	{ "advertised.listeners", CT_ADVLISTENER, 0, 0, 0 },
	{ "log.dirs", CT_STR, F(data_dir), 0, 0 },
	{ "log.dir", CT_STR, F(data_dir), 0, 0 },
	{ "broker.id", CT_I32, F(node_id), 0, INT32_MAX },
	{ "node.id", CT_I32, F(node_id), 0, INT32_MAX },
	{ "zookeeper.connect", CT_STR, F(zookeeper), 0, 0 },
	{ "num.partitions", CT_I32, F(num_partitions), 1, 10000 },
	{ "kq.max.partitions", CT_I32, F(max_partitions), 1, 1000000 },
	{ "zookeeper.session.timeout.ms", CT_I32, F(zk_session_ms), 1, INT32_MAX },
	{ "reserved.broker.max.id", CT_I32, F(reserved_broker_max_id), 0, INT32_MAX },
	{ "default.replication.factor", CT_I16, F(default_rf), 1, INT16_MAX },
	{ "auto.create.topics.enable", CT_BOOL, F(auto_create), 0, 0 },
	{ "delete.topic.enable", CT_BOOL, F(delete_topic_enable), 0, 0 },
	{ "log.flush", CT_FLUSH, F(flush_mode), 0, 0 },
	{ "log.segment.bytes", CT_I64, F(segment_bytes), 1024, INT32_MAX },
	{ "log.roll.ms", CT_I64, F(segment_ms), 1, INT64_MAX / 2 },
	{ "log.roll.hours", CT_HOURS, F(segment_ms), 1, INT32_MAX },
	{ "log.retention.ms", CT_I64, F(retention_ms), -1, INT64_MAX / 2 },
	{ "log.retention.minutes", CT_MINUTES, F(retention_ms), -1, INT32_MAX },
	{ "log.retention.hours", CT_HOURS, F(retention_ms), -1, INT32_MAX },
	{ "log.retention.bytes", CT_I64, F(retention_bytes), -1, INT64_MAX },
	{ "message.max.bytes", CT_I32, F(message_max_bytes), 0, INT32_MAX },
	{ "socket.request.max.bytes", CT_I32, F(socket_request_max_bytes), 1024, INT32_MAX },
	{ "log.index.interval.bytes", CT_I32, F(index_interval_bytes), 0, INT32_MAX },
	{ "log.index.size.max.bytes", CT_I32, F(segment_index_bytes), 4096, INT32_MAX },
	{ "min.insync.replicas", CT_I32, F(min_insync_replicas), 1, INT32_MAX },
	{ "connections.max.idle.ms", CT_I32, F(connections_max_idle_ms), -1, INT32_MAX },
	{ "max.connections", CT_I32, F(max_connections), 1, 1000000 },
	{ "socket.listen.backlog.size", CT_I32, F(listen_backlog), 1, 65535 },
	{ "kq.request.read.timeout.ms", CT_I32, F(request_read_timeout_ms), 0, INT32_MAX },
	{ "kq.loop.stall.ms", CT_I32, F(loop_stall_ms), 0, INT32_MAX },
	{ "kq.checkpoint.interval.ms", CT_I32, F(checkpoint_interval_ms), 100, INT32_MAX },
	{ "offsets.topic.num.partitions", CT_I32, F(offsets_partitions), 1, 10000 },
	{ "group.min.session.timeout.ms", CT_I32, F(group_min_session_ms), 1, INT32_MAX },
	{ "group.max.session.timeout.ms", CT_I32, F(group_max_session_ms), 1, INT32_MAX },
	{ "group.initial.rebalance.delay.ms", CT_I32, F(group_initial_delay_ms), 0, INT32_MAX },
	{ "group.max.size", CT_I32, F(group_max_size), 1, INT32_MAX },
	{ "offset.metadata.max.bytes", CT_I32, F(offset_metadata_max), 0, INT32_MAX },
	{ "log.retention.check.interval.ms", CT_I64, F(retention_check_ms), 10, INT32_MAX },
	{ "log.cleanup.policy", CT_POLICY, F(cleanup_policy), 0, 0 },
	{ "log.cleaner.enable", CT_BOOL, F(cleaner_enable), 0, 0 },
	{ "log.cleaner.backoff.ms", CT_I64, F(cleaner_backoff_ms), 1, INT32_MAX },
	{ "log.cleaner.min.cleanable.ratio", CT_RATIO, F(cleaner_min_ratio), 0, 0 },
	{ "log.cleaner.delete.retention.ms", CT_I64, F(cleaner_delete_retention_ms), 0,
	  INT64_MAX },
	{ "log.cleaner.min.compaction.lag.ms", CT_I64, F(cleaner_min_lag_ms), 0, INT64_MAX },
	{ "log.cleaner.max.compaction.lag.ms", CT_I64, F(cleaner_max_lag_ms), 1, INT64_MAX },
	{ "log.flush.interval.messages", CT_I64, F(flush_messages), 1, INT64_MAX },
	{ "log.flush.interval.ms", CT_I64, F(flush_ms), 0, INT64_MAX },
	/* Accepted so existing server.properties files load without warnings. */
	{ "log.cleaner.threads", CT_IGNORE, 0, 0, 0 },
	{ "log.cleaner.dedupe.buffer.size", CT_IGNORE, 0, 0, 0 },
	{ "num.network.threads", CT_IGNORE, 0, 0, 0 },
	{ "num.io.threads", CT_IGNORE, 0, 0, 0 },
	{ "socket.send.buffer.bytes", CT_IGNORE, 0, 0, 0 },
	{ "socket.receive.buffer.bytes", CT_IGNORE, 0, 0, 0 },
	{ "num.recovery.threads.per.data.dir", CT_IGNORE, 0, 0, 0 },
	{ "offsets.topic.replication.factor", CT_IGNORE, 0, 0, 0 },
	{ "transaction.state.log.replication.factor", CT_IGNORE, 0, 0, 0 },
	{ "transaction.state.log.min.isr", CT_IGNORE, 0, 0, 0 },
	{ "zookeeper.connection.timeout.ms", CT_IGNORE, 0, 0, 0 },
	{ "offsets.retention.minutes", CT_IGNORE, 0, 0, 0 },
};
#undef F

void
config_defaults(struct broker_config *c)
{
	memset(c, 0, sizeof(*c));
	c->listen_host = kq_xstrdup("localhost");
	c->listen_port = 9092;
	c->data_dir = kq_xstrdup("./kq-data");
	c->node_id = 0;
	c->zk_session_ms = 18000;
	c->reserved_broker_max_id = 1000;
	c->num_partitions = 1;
	c->max_partitions = 100000;
	c->default_rf = 1;
	c->auto_create = true;
	c->delete_topic_enable = true;
	c->flush_mode = KQ_FLUSH_ACK;
	c->segment_bytes = 1073741824;
	c->segment_ms = 7LL * 24 * 3600 * 1000;
	c->retention_ms = 7LL * 24 * 3600 * 1000;
	c->retention_bytes = -1;
	c->message_max_bytes = 1048588;
	c->socket_request_max_bytes = KQ_FRAME_MAX_DEFAULT;
	c->index_interval_bytes = 4096;
	c->segment_index_bytes = 10485760;
	c->min_insync_replicas = 1;
	c->max_connections = 10000;
	c->connections_max_idle_ms = 600000;
	c->request_read_timeout_ms = 5000;
	c->listen_backlog = 4096;
	c->loop_stall_ms = 100;
	c->checkpoint_interval_ms = 5000;
	c->offsets_partitions = 50;
	c->group_min_session_ms = 6000;
	c->group_max_session_ms = 1800000;
	c->group_initial_delay_ms = 3000;
	c->group_max_size = INT32_MAX;
	c->offset_metadata_max = 4096;
	c->retention_check_ms = 300000;
	c->cleanup_policy = POLICY_DELETE;
	c->cleaner_enable = true;
	c->cleaner_backoff_ms = 15000;
	c->cleaner_min_ratio = 0.5;
	c->cleaner_delete_retention_ms = 86400000;
	c->cleaner_min_lag_ms = 0;
	c->cleaner_max_lag_ms = INT64_MAX;
	c->flush_messages = INT64_MAX;
	c->flush_ms = INT64_MAX;
}

/* "delete", "compact", "compact,delete" (any order, blanks allowed): POLICY_* bits or -1. */
static int
parse_policy(const char *s)
{
	int bits = 0;
	size_t n;

	for (;;) {
		while (*s == ' ')
			s++;
		n = strcspn(s, ", ");
		if (n == 6 && strncmp(s, "delete", 6) == 0)
			bits |= POLICY_DELETE;
		else if (n == 7 && strncmp(s, "compact", 7) == 0)
			bits |= POLICY_COMPACT;
		else
			return -1;
		s += n;
		while (*s == ' ')
			s++;
		if (*s == '\0')
			return bits;
		if (*s++ != ',')
			return -1;
	}
}

static const char *
policy_name(int bits)
{
	return bits == (POLICY_DELETE | POLICY_COMPACT) ? "compact,delete" :
	       bits == POLICY_COMPACT ? "compact" : "delete";
}

/* A ratio in [0, 1]. */
static int
parse_ratio(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || !(v >= 0.0 && v <= 1.0))
		return -1;
	*out = v;
	return 0;
}

static int
parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* "HOST:PORT", "[v6]:PORT", or "PLAINTEXT://HOST:PORT" (first of a list). */
static int
parse_hostport(const char *s, char **host, int *port)
{
	const char *p = strstr(s, "://");
	const char *colon, *end;
	char *h;
	int64_t v;
	char pbuf[16];
	size_t n;

	if (p)
		s = p + 3;
	end = strchr(s, ',');
	if (!end)
		end = s + strlen(s);
	if (*s == '[') {
		const char *rb = memchr(s, ']', (size_t)(end - s));

		if (!rb || rb[1] != ':')
			return -1;
		h = kq_xstrndup(s + 1, (size_t)(rb - s - 1));
		colon = rb + 1;
	} else {
		colon = NULL;
		for (p = s; p < end; p++)
			if (*p == ':')
				colon = p;
		if (!colon)
			return -1;
		h = kq_xstrndup(s, (size_t)(colon - s));
	}
	n = (size_t)(end - colon - 1);
	if (n == 0 || n >= sizeof(pbuf)) {
		free(h);
		return -1;
	}
	memcpy(pbuf, colon + 1, n);
	pbuf[n] = '\0';
	if (parse_i64(pbuf, 0, 65535, &v) < 0) {
		free(h);
		return -1;
	}
	if (*h == '\0') {
		free(h);
		h = kq_xstrdup("0.0.0.0");
	}
	*host = h;
	*port = (int)v;
	return 0;
}

int
config_set(struct broker_config *c, const char *key, const char *value, char *msg, size_t msglen)
{
	const struct ckey *k = NULL;
	char *base = (char *)c;
	int64_t v;
	size_t i;

	for (i = 0; i < KQ_ARRAY_LEN(keys); i++)
		if (strcmp(keys[i].name, key) == 0) {
			k = &keys[i];
			break;
		}
	if (!k)
		return 0;
	switch (k->type) {
	case CT_I32:
	case CT_I16:
	case CT_I64:
	case CT_HOURS:
	case CT_MINUTES:
		if (parse_i64(value, k->min, k->max, &v) < 0)
			goto bad;
		if (k->type == CT_I32)
			*(int32_t *)(base + k->off) = (int32_t)v;
		else if (k->type == CT_I16)
			*(int16_t *)(base + k->off) = (int16_t)v;
		else if (k->type == CT_I64)
			*(int64_t *)(base + k->off) = v;
		else if (k->type == CT_HOURS)
			*(int64_t *)(base + k->off) = v < 0 ? -1 : v * 3600000;
		else
			*(int64_t *)(base + k->off) = v < 0 ? -1 : v * 60000;
		return 1;
	case CT_BOOL:
		if (strcmp(value, "true") == 0)
			*(bool *)(base + k->off) = true;
		else if (strcmp(value, "false") == 0)
			*(bool *)(base + k->off) = false;
		else
			goto bad;
		return 1;
	case CT_STR: {
		char **sp = (char **)(base + k->off);
		const char *val = value;

		if (*value == '\0')
			goto bad;
		/* log.dirs may list several dirs; standalone uses the first. */
		if (strcmp(key, "log.dirs") == 0 && strchr(value, ',')) {
			free(*sp);
			*sp = kq_xstrndup(value, (size_t)(strchr(value, ',') - value));
			return 1;
		}
		free(*sp);
		*sp = kq_xstrdup(val);
		return 1;
	}
	case CT_FLUSH:
		if (strcmp(value, "ack") == 0)
			c->flush_mode = KQ_FLUSH_ACK;
		else if (strcmp(value, "os") == 0)
			c->flush_mode = KQ_FLUSH_OS;
		else
			goto bad;
		return 1;
	case CT_LISTENER: {
		char *h;
		int port;

		if (parse_hostport(value, &h, &port) < 0)
			goto bad;
		free(c->listen_host);
		c->listen_host = h;
		c->listen_port = port;
		return 1;
	}
	case CT_ADVLISTENER: {
		char *h;
		int port;

		if (parse_hostport(value, &h, &port) < 0)
			goto bad;
		free(c->adv_host);
		c->adv_host = h;
		c->adv_port = port;
		return 1;
	}
	case CT_POLICY: {
		int bits = parse_policy(value);

		if (bits < 0)
			goto bad;
		*(int *)(base + k->off) = bits;
		return 1;
	}
	case CT_RATIO:
		if (parse_ratio(value, (double *)(base + k->off)) < 0)
			goto bad;
		return 1;
	case CT_IGNORE:
		return 1;
	}
bad:
	snprintf(msg, msglen, "bad value for %s: '%s'", key, value);
	return -1;
}

int
config_load_file(struct broker_config *c, const char *path, char *msg, size_t msglen)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int lineno = 0;

	if (!f) {
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *eq, *end, *k, *v;
		int rc;

		lineno++;
		p[strcspn(p, "\r\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#' || *p == '!')
			continue;
		eq = strpbrk(p, "=:");
		if (!eq) {
			kq_log_warnx("%s:%d: no '=' in line, ignored", path, lineno);
			continue;
		}
		*eq = '\0';
		k = p;
		v = eq + 1;
		for (end = eq; end > k && (end[-1] == ' ' || end[-1] == '\t'); end--)
			end[-1] = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		for (end = v + strlen(v); end > v && (end[-1] == ' ' || end[-1] == '\t'); end--)
			end[-1] = '\0';
		rc = config_set(c, k, v, msg, msglen);
		if (rc < 0) {
			char tmp[512];

			snprintf(tmp, sizeof(tmp), "%s:%d: %s", path, lineno, msg);
			snprintf(msg, msglen, "%s", tmp);
			fclose(f);
			return -1;
		}
		if (rc == 0)
			kq_log_warnx("%s:%d: unknown key '%s' ignored", path, lineno, k);
	}
	fclose(f);
	return 0;
}

void
config_each(const struct broker_config *c,
	    void (*fn)(void *arg, const char *key, const char *value), void *arg)
{
	const char *base = (const char *)c;
	char v[512];
	size_t i;

	for (i = 0; i < KQ_ARRAY_LEN(keys); i++) {
		const struct ckey *k = &keys[i];

		switch (k->type) {
		case CT_I32:
			snprintf(v, sizeof(v), "%d", *(const int32_t *)(base + k->off));
			break;
		case CT_I16:
			snprintf(v, sizeof(v), "%d", *(const int16_t *)(base + k->off));
			break;
		case CT_I64:
			snprintf(v, sizeof(v), "%lld", (long long)*(const int64_t *)(base + k->off));
			break;
		case CT_BOOL:
			snprintf(v, sizeof(v), "%s", *(const bool *)(base + k->off) ? "true" : "false");
			break;
		case CT_STR: {
			const char *s = *(char *const *)(base + k->off);

			if (!s)
				continue;
			snprintf(v, sizeof(v), "%s", s);
			break;
		}
		case CT_FLUSH:
			snprintf(v, sizeof(v), "%s", c->flush_mode == KQ_FLUSH_OS ? "os" : "ack");
			break;
		case CT_POLICY:
			snprintf(v, sizeof(v), "%s", policy_name(*(const int *)(base + k->off)));
			break;
		case CT_RATIO:
			snprintf(v, sizeof(v), "%g", *(const double *)(base + k->off));
			break;
		case CT_LISTENER:
			snprintf(v, sizeof(v), "PLAINTEXT://%s:%d", c->listen_host,
				 B.listen_port ? B.listen_port : c->listen_port);
			break;
		case CT_ADVLISTENER:
			snprintf(v, sizeof(v), "PLAINTEXT://%s:%d", B.adv_host ? B.adv_host : "",
				 B.adv_port);
			break;
		default:
			continue;
		}
		fn(arg, k->name, v);
	}
}

/* ---- topic configs ---- */

enum tkind { TK_LONG, TK_INT, TK_POLICY, TK_RATIO, TK_TSTYPE, TK_COMPRESSION, TK_BOOL };

struct tkey {
	const char *name;
	enum tkind kind;
	size_t off;		/* into struct topic_config */
	size_t size;		/* of that field: numbers may be stored wider than checked */
	int64_t min;
};

#define T(x) offsetof(struct topic_config, x), sizeof(((struct topic_config *)0)->x)
static const struct tkey tkeys[] = {
	{ "cleanup.policy", TK_POLICY, T(cleanup_policy), 0 },
	{ "compression.type", TK_COMPRESSION, 0, 0, 0 },
	{ "delete.retention.ms", TK_LONG, T(delete_retention_ms), 0 },
	{ "flush.messages", TK_LONG, T(flush_messages), 1 },
	{ "flush.ms", TK_LONG, T(flush_ms), 0 },
	{ "index.interval.bytes", TK_INT, T(index_interval_bytes), 0 },
	{ "max.compaction.lag.ms", TK_LONG, T(max_compaction_lag_ms), 1 },
	{ "max.message.bytes", TK_INT, T(max_message_bytes), 0 },
	{ "message.timestamp.type", TK_TSTYPE, 0, 0, 0 },
	{ "min.cleanable.dirty.ratio", TK_RATIO, T(min_cleanable_ratio), 0 },
	{ "min.compaction.lag.ms", TK_LONG, T(min_compaction_lag_ms), 0 },
	{ "min.insync.replicas", TK_INT, T(min_insync_replicas), 1 },
	{ "retention.bytes", TK_LONG, T(retention_bytes), -1 },
	{ "retention.ms", TK_LONG, T(retention_ms), -1 },
	{ "segment.bytes", TK_INT, T(segment_bytes), 14 },
	{ "segment.index.bytes", TK_INT, T(segment_index_bytes), 4096 },
	{ "segment.ms", TK_LONG, T(segment_ms), 1 },
	{ "unclean.leader.election.enable", TK_BOOL, 0, 0, 0 },
};
#undef T

static const struct tkey *
tkey_find(const char *key)
{
	size_t i;

	for (i = 0; i < KQ_ARRAY_LEN(tkeys); i++)
		if (strcmp(tkeys[i].name, key) == 0)
			return &tkeys[i];
	return NULL;
}

const char *const *
topic_config_keys(int *n)
{
	static const char *names[KQ_ARRAY_LEN(tkeys)];
	size_t i;

	for (i = 0; i < KQ_ARRAY_LEN(tkeys); i++)
		names[i] = tkeys[i].name;
	*n = (int)KQ_ARRAY_LEN(tkeys);
	return names;
}

int
topic_config_check(const char *key, const char *value, char *msg, size_t msglen)
{
	const struct tkey *k = tkey_find(key);
	int64_t v;
	double r;

	if (!k) {
		snprintf(msg, msglen, "Unknown topic config name: %s", key);
		return KQ_E_INVALID_CONFIG;
	}
	if (!value) {
		snprintf(msg, msglen, "Null value for %s", key);
		return KQ_E_INVALID_CONFIG;
	}
	switch (k->kind) {
	case TK_LONG:
		if (parse_i64(value, k->min, INT64_MAX, &v) == 0)
			return 0;
		break;
	case TK_INT:
		if (parse_i64(value, k->min, INT32_MAX, &v) == 0)
			return 0;
		break;
	case TK_POLICY:
		if (parse_policy(value) > 0)
			return 0;
		break;
	case TK_RATIO:
		if (parse_ratio(value, &r) == 0)
			return 0;
		break;
	case TK_TSTYPE:
		if (strcmp(value, "CreateTime") == 0 || strcmp(value, "LogAppendTime") == 0)
			return 0;
		break;
	case TK_COMPRESSION:
		/* kq stores batches as produced; it never recompresses. */
		if (strcmp(value, "producer") == 0)
			return 0;
		break;
	case TK_BOOL:
		if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)
			return 0;
		break;
	}
	snprintf(msg, msglen, "Invalid value %s for configuration %s", value, key);
	return KQ_E_INVALID_CONFIG;
}

static void
set_num(struct topic_config *tc, const struct tkey *k, int64_t v)
{
	if (k->size == sizeof(int64_t))
		*(int64_t *)((char *)tc + k->off) = v;
	else
		*(int32_t *)((char *)tc + k->off) = (int32_t)v;
}

/* A topic's config without overrides, from broker config c. */
static void
topic_config_base(struct topic_config *tc, const struct broker_config *c)
{
	tc->segment_bytes = c->segment_bytes;
	tc->segment_ms = c->segment_ms;
	tc->retention_ms = c->retention_ms;
	tc->retention_bytes = c->retention_bytes;
	tc->max_message_bytes = c->message_max_bytes;
	tc->min_insync_replicas = c->min_insync_replicas;
	tc->index_interval_bytes = c->index_interval_bytes;
	tc->segment_index_bytes = c->segment_index_bytes;
	tc->cleanup_policy = c->cleanup_policy;
	tc->min_cleanable_ratio = c->cleaner_min_ratio;
	tc->delete_retention_ms = c->cleaner_delete_retention_ms;
	tc->min_compaction_lag_ms = c->cleaner_min_lag_ms;
	tc->max_compaction_lag_ms = c->cleaner_max_lag_ms;
	tc->flush_messages = c->flush_messages;
	tc->flush_ms = c->flush_ms;
	tc->log_append_time = false;
}

void
topic_config_build(struct topic_config *tc, char **ks, char **vs, int n)
{
	int i;

	topic_config_base(tc, &cfg);
	for (i = 0; i < n; i++) {
		const struct tkey *k = tkey_find(ks[i]);
		int64_t v;
		int bits;

		if (!k)
			continue;
		switch (k->kind) {
		case TK_INT:
		case TK_LONG:
			if (parse_i64(vs[i], k->min, k->kind == TK_INT ? INT32_MAX : INT64_MAX,
				      &v) == 0)
				set_num(tc, k, v);
			break;
		case TK_POLICY:
			if ((bits = parse_policy(vs[i])) > 0)
				tc->cleanup_policy = bits;
			break;
		case TK_RATIO:
			(void)parse_ratio(vs[i], &tc->min_cleanable_ratio);
			break;
		case TK_TSTYPE:
			tc->log_append_time = strcmp(vs[i], "LogAppendTime") == 0;
			break;
		default:
			break;
		}
	}
}

char *
topic_config_default(const char *key)
{
	const struct tkey *k = tkey_find(key);
	struct topic_config tc;

	if (!k)
		return NULL;
	topic_config_build(&tc, NULL, NULL, 0);
	switch (k->kind) {
	case TK_POLICY:
		return kq_xstrdup(policy_name(tc.cleanup_policy));
	case TK_RATIO:
		return kq_xasprintf("%g", tc.min_cleanable_ratio);
	case TK_TSTYPE:
		return kq_xstrdup("CreateTime");
	case TK_COMPRESSION:
		return kq_xstrdup("producer");
	case TK_BOOL:
		return kq_xstrdup("false");
	default:
		break;
	}
	if (k->size == sizeof(int64_t))
		return kq_xasprintf("%lld", (long long)*(int64_t *)((char *)&tc + k->off));
	return kq_xasprintf("%d", *(int32_t *)((char *)&tc + k->off));
}

int
topic_config_default_source(const char *key)
{
	static struct broker_config builtin;
	static bool have_builtin;
	const struct tkey *k = tkey_find(key);
	struct topic_config now, dflt;

	if (!k || k->size == 0)
		return KQ_CONFIG_SOURCE_DEFAULT;
	if (!have_builtin) {
		config_defaults(&builtin);
		have_builtin = true;
	}
	topic_config_base(&now, &cfg);
	topic_config_base(&dflt, &builtin);
	return memcmp((char *)&now + k->off, (char *)&dflt + k->off, k->size) != 0 ?
		KQ_CONFIG_SOURCE_STATIC_BROKER : KQ_CONFIG_SOURCE_DEFAULT;
}
